/**
 * Jest: unit specs next to sources (*.spec.ts under apps/ and libs/), integration/e2e under test/
 * (*.e2e-spec.ts; they start dist/ apps, so `npm run build` first).
 *   npm test                         → build, proto check, scripts/test.sh (unit on two workers, then e2e in band)
 *   npm run test:unit                → jest --selectProjects unit
 *   npx jest --selectProjects e2e    → the e2e specs only
 * Both projects share the ts-jest transform and the @mm/<lib> path mapping from tsconfig.json.
 */
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true, diagnostics: false }] },
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  testTimeout: 60000,
  testSequencer: '<rootDir>/test/support/sequencer.js',
  projects: [
    { ...shared, displayName: 'unit', testRegex: '(apps|libs)/.*\\.spec\\.ts$' },
    { ...shared, displayName: 'e2e', testRegex: 'test/.*\\.e2e-spec\\.ts$' },
  ],
};
