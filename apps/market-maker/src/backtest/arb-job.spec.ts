import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { executeArbJob, loadArbConfig } from './arb-job';

/** The funding-arb backtest's config and file handling (the runs themselves: test/backtest/arb-backtest.e2e-spec.ts). */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arb-job-'));
const M = path.resolve(__dirname, '../../../../../shared/data/market');
const yaml = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

describe('loadArbConfig', () => {
  it('defaults without a file', () => {
    const c = loadArbConfig(undefined);
    expect(c.thresholds.entry_apr).toBe('0.05');
    expect(c.fees.spot.taker).toBe('0.001');
    expect(c.step_ms).toBe(60_000);
  });
  it.each([
    ['thresholds:\n  entry_aprr: 0.1\n', /^config error: thresholds\.entry_aprr: unknown key$/],
    ['thresholds:\n  entry_apr: "0.01"\n  exit_apr: "0.02"\n', /^config error: thresholds\.exit_apr: must be ≤ thresholds\.entry_apr$/],
    ['order_qty: { BTCUSDT: "-1" }\n', /^config error: order_qty\.BTCUSDT: must be > 0$/],
    ['fees:\n  perp:\n    taker: abc\n', /^config error: fees\.perp\.taker: must be a decimal number$/],
    ['step_ms: 10\n', /^config error: step_ms: /],
    ['- a\n- b\n', /top level must be a mapping$/],
  ])('%j → %s', (text, msg) => {
    expect(() => loadArbConfig(yaml(`c${Math.random()}.yaml`, text))).toThrow(msg);
  });
  it('a missing file names it', () => {
    expect(() => loadArbConfig(path.join(dir, 'nope.yaml'))).toThrow(/nope\.yaml: file not found$/);
  });
});

describe('executeArbJob', () => {
  const perp = path.join(M, 'binance-usdm-BTCUSDT-1m-20250504-20250624.csv');
  const funding = path.join(M, 'binance-usdm-BTCUSDT-funding-rate-8h.csv');
  it('order_qty must be a multiple of the coarser step size (perp 0.001 BTC)', async () => {
    const cfg = yaml('q.yaml', 'order_qty: { BTCUSDT: "0.0505" }\n');
    await expect(executeArbJob({ symbols: ['BTCUSDT'], data: perp, funding, config: cfg })).rejects.toThrow(/^config error: order_qty\.BTCUSDT: must be a multiple of the step size 0\.001$/);
  });
  it('without --spot-data the spot path is derived from the perp (basis −4.5 bp) and the run books the perp funding', async () => {
    const cfg = yaml('d.yaml', 'order_qty: { BTCUSDT: "0.01" }\nthresholds: { entry_apr: "-1", exit_apr: "-1" }\n');
    const { run, report } = await executeArbJob({ symbols: ['BTCUSDT'], data: perp, funding, config: cfg, fromMs: Date.parse('2025-05-10T00:00:00Z'), toMs: Date.parse('2025-05-11T00:00:00Z') });
    expect(run.source?.['BTCUSDT.spot']).toMatch(/^derived from the perp path/);
    expect(report.symbols[0].entries).toBe(1);
    // the replay starts after 20 history candles (00:20), so the settlements at 08:00 and 16:00 (24:00 is the exclusive end)
    expect(report.symbols[0].fundingPayments).toBe(2);
    // the spot fill is the derived price: perp ÷ (1 − 0.00045), 0.01 tick → above the perp's
    const spot = run.fills.find((f) => f.market === 'spot')!;
    const p = run.fills.find((f) => f.market === 'perp')!;
    expect(spot.timeMs).toBe(p.timeMs);
    expect(spot.price.gt(p.price)).toBe(true);
  });
});
