/**
 * Test order: longest suites first. With two workers (the unit specs in `npm test`, see
 * scripts/test.sh) the long ones overlap and the short ones fill the gaps (longest-processing-time-
 * first scheduling); in band it puts the slow e2e specs, which fail most expensively, early. Jest's
 * own order on a fresh clone is by file size. Weights are seconds measured on a CI run (2 cores); a suite not listed
 * weighs its file size in kB ÷ 10, so new long suites still come early enough.
 */
const Sequencer = require('@jest/test-sequencer').default;
const fs = require('node:fs');
const path = require('node:path');

const WEIGHTS = {
  'test/market-maker/symbols.e2e-spec.ts': 270,
  'test/e2e/replay-reproducible.e2e-spec.ts': 247,
  'test/backtest/backtest-cli.e2e-spec.ts': 223,
  'test/market-maker/crash.e2e-spec.ts': 195,
  'test/market-maker/arb-crash.e2e-spec.ts': 150,
  'test/conformance/ccxt-venues.e2e-spec.ts': 104,
  'test/bench/bench-smoke.e2e-spec.ts': 93,
  'test/exchange-connector/multisim.e2e-spec.ts': 88,
  'test/backtest/arb-backtest.e2e-spec.ts': 85,
  'test/e2e/stack.e2e-spec.ts': 84,
  'test/exchange-connector/backpressure.e2e-spec.ts': 66,
  'test/market-maker/adoption-stack.e2e-spec.ts': 55,
  'test/market-maker/parity.e2e-spec.ts': 53,
  'test/security/storage-loss.e2e-spec.ts': 46,
  'apps/market-maker/src/backtest/quiet-band.spec.ts': 40,
};

class LongestFirst extends Sequencer {
  sort(tests) {
    const root = path.resolve(__dirname, '../..');
    const weight = (t) => {
      const rel = path.relative(root, t.path).split(path.sep).join('/');
      if (WEIGHTS[rel] !== undefined) return WEIGHTS[rel];
      try {
        return fs.statSync(t.path).size / 10_000;
      } catch {
        return 0;
      }
    };
    return [...tests].sort((a, b) => weight(b) - weight(a) || (a.path < b.path ? -1 : 1));
  }
}

module.exports = LongestFirst;
