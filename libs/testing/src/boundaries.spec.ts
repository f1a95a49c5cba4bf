import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './processes';

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [p] : [];
  });
}

const importsOf = (f: string) => [...fs.readFileSync(f, 'utf8').matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]);

describe('library boundaries', () => {
  it('apps never import @mm/testing at run time', () => {
    const files = tsFiles(path.join(ROOT, 'apps'));
    expect(files.length).toBeGreaterThan(20);
    expect(files.filter((f) => importsOf(f).some((i) => i === '@mm/testing' || i.includes('libs/testing')))).toEqual([]);
  });

  it('libs/trading imports no app code, no Nest, no TypeORM and no @mm/testing', () => {
    const files = tsFiles(path.join(ROOT, 'libs/trading/src'));
    expect(files.length).toBeGreaterThan(5);
    const bad = files.flatMap((f) => importsOf(f).filter((i) => i.includes('apps/') || i.startsWith('@nestjs') || i === 'typeorm' || i === '@mm/testing').map((i) => `${path.basename(f)}: ${i}`));
    expect(bad).toEqual([]);
  });

  it('bench/ and test/ reach into no app internals for the engine', () => {
    const files = [...tsFiles(path.join(ROOT, 'bench')), ...tsFiles(path.join(ROOT, 'test'))];
    const bad = files.flatMap((f) => importsOf(f).filter((i) => /apps\/market-maker\/src\/engine\/(grid-engine|order-executor|risk-controller)/.test(i)).map((i) => `${path.relative(ROOT, f)}: ${i}`));
    expect(bad).toEqual([]);
  });
});
