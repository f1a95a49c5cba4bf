import * as path from 'node:path';
import { renderReportJson } from '@mm/backtest';
import { executeJob } from './backtest-job';

// repo root = four levels up; the shared data sits next to the repository (../shared)
const DATA = path.resolve(__dirname, '../../../..', '../shared/data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv');
const slice = { data: DATA, toMs: Date.parse('2025-05-05T06:00:00Z') };

describe('backtest reconcile cadence (--reconcile-ms)', () => {
  it('defaults to 60 s of market time, echoes it, and makes the same fills as the live 5 s cadence on this slice', async () => {
    const def = await executeJob(slice, undefined, true);
    const live = await executeJob({ ...slice, reconcileIntervalMs: 5000 }, undefined, true);
    expect(def.report.source).toMatchObject({ reconcileIntervalMs: '60000' });
    expect(live.report.source).toMatchObject({ reconcileIntervalMs: '5000' });
    expect(def.run.fills.length).toBeGreaterThan(0);
    const fills = (r: typeof def) => r.run.fills.map((f) => `${f.timeMs} ${f.clientOrderId} ${f.side} ${f.price} ${f.qty}`);
    expect(fills(def)).toEqual(fills(live));
    // and the same input gives the same report, byte for byte
    const again = await executeJob(slice, undefined, true);
    expect(renderReportJson(again.report)).toBe(renderReportJson(def.report));
  }, 120_000);

  it('rejects a cadence below 100 ms', async () => {
    await expect(executeJob({ ...slice, reconcileIntervalMs: 50 }, undefined, true)).rejects.toThrow(/reconcileIntervalMs must be an integer ≥ 100/);
  });
});
