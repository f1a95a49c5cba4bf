/**
 * Issue 9, acceptance 6, with the engine as the app builds it (config mapping, real SQLite store,
 * Prometheus metrics): a venue position opened before the market maker starts, with an empty
 * database, becomes sell slots (upstream §2.6) and is closed by take-profits; no breaker trip.
 */
import { Dec, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { candles, flat, startEngine } from '../support/engine-harness';

jest.setTimeout(60_000);

/** Flat at 100 000, then one candle per minute up 100, to 101 000. */
const RALLY: [string, string, string, string][] = [
  ...flat('100000', 25),
  ...Array.from({ length: 10 }, (_, k): [string, string, string, string] => [String(100000 + 100 * k), String(100000 + 100 * (k + 1)), String(100000 + 100 * k), String(100000 + 100 * (k + 1))]),
  ...flat('101000', 60),
];

describe('acceptance 6: adoption of a venue position at startup (app config, SQLite)', () => {
  it('adopts 0.006 BTC as sell slots, shows them in the snapshot and SQLite, closes them by take-profits, no breaker', async () => {
    const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: candles(1_700_000_000_000, RALLY) }], manual: true, historyCandles: 20, tickIntervalMs: 1000 });
    const pre = await sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.006'), clientOrderId: 'manual-open-1' });
    expect(pre.status).toBe('FILLED');

    const h = await startEngine({ sim });
    try {
      const s = h.engine.snapshot();
      // q0 = round(250 / 100 000) = 0.003 → n = 2 slots at 100 100 and 100 200, 0.003 each (t_k = 0.002 → round(0.002 × 0.006 / 0.004) = 0.003).
      expect(s.adoption).toMatchObject({ quantity: '0.006', slots: [{ level: '100100', quantity: '0.003' }, { level: '100200', quantity: '0.003' }] });
      expect(s.inventory).toBe('0.006');
      const rows = await h.ds.query(`SELECT level, position_qty AS qty FROM grid_slot WHERE CAST(position_qty AS REAL) > 0 ORDER BY level`);
      expect(rows.map((r: { level: string; qty: string }) => `${Number(r.level)}:${Number(r.qty)}`)).toEqual(['100100:0.003', '100200:0.003']);
      // Margin gauges are exported (fractions) once the engine has read the account.
      const text = await h.registry.metrics();
      expect(text).toMatch(/market_maker_margin_ratio\{symbol="BTCUSDT"\} [0-9.e-]+/);

      await h.step(20 * 60_000);
      const sells = h.sim.allOrders().filter((o) => o.side === 'SELL' && o.status === 'FILLED');
      expect(sells.map((o) => o.price.toString()).sort()).toEqual(expect.arrayContaining(['100200', '100300']));
      expect(sells.every((o) => o.reduceOnly)).toBe(true);
      const venue = (await h.sim.getPositions('BTCUSDT'))[0]?.size ?? new Dec(0);
      expect(venue.toString()).toBe(h.engine.inventory().toString());
      const slots = h.engine.listSlots();
      expect(slots.find((x) => x.level === '100100')?.positionQty).toBe('0');
      expect(slots.find((x) => x.level === '100200')?.positionQty).toBe('0');
      const rec = await h.engine.reconcileNow();
      expect(rec?.divergence).toBe('0');
      expect(h.alerts.filter((a) => a.kind === 'breaker_tripped')).toEqual([]);
      expect(h.engine.snapshot().risk.breaker.state).toBe('CLOSED');
      expect(new Dec(h.engine.snapshot().realizedPnl).gt(0)).toBe(true);
    } finally {
      await h.stop();
    }
  });
});
