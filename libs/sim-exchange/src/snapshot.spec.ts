import { Dec, type Candle, type OrderEvent } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from './index';

const T0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000);
const BTC = defaultSymbolRules('BTCUSDT');
const d = (s: string) => new Dec(s);
const candle = (i: number, o: string, h: string, l: string, c: string): Candle => ({
  symbol: 'BTCUSDT', openTimeMs: T0 + i * 60_000, open: d(o), high: d(h), low: d(l), close: d(c), volume: d('10'), closed: true,
});
/** Flat at 100000 for 3 minutes, then a gap down to 99500 (crossing buys at 99600+). */
const CANDLES = [
  candle(0, '100000', '100000', '100000', '100000'),
  candle(1, '100000', '100000', '100000', '100000'),
  candle(2, '100000', '100000', '100000', '100000'),
  candle(3, '100000', '100000', '100000', '100000'),
  candle(4, '99500', '99500', '99500', '99500'),
  candle(5, '99500', '99500', '99500', '99500'),
];
const sim = () => new SimExchange({ symbols: [{ rules: BTC, candles: CANDLES }], manual: true, historyCandles: 1 });
const buy = (price: string, cid: string) => ({ symbol: 'BTCUSDT', side: 'BUY' as const, type: 'LIMIT' as const, quantity: d('0.002'), price: d(price), clientOrderId: cid });

describe('SimExchange state snapshot/restore', () => {
  it('round-trips orders, trades, account and replay position through JSON; resting orders keep matching', async () => {
    const a = sim();
    let changes = 0;
    a.onStateChange(() => changes++);
    await a.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.003') }); // taker fill: position 0.003
    await a.placeOrder(buy('99700', 'b1'));
    const b2 = await a.placeOrder(buy('99400', 'b2'));
    await a.placeOrder(buy('99000', 'b3'));
    await a.cancelOrder('BTCUSDT', (await a.getOrder('BTCUSDT', { clientOrderId: 'b3' })).orderId);
    expect(changes).toBeGreaterThanOrEqual(6); // NEW+FILLED, 3×NEW, CANCELED
    a.advance(90_000); // still flat
    const saved = JSON.parse(JSON.stringify(a.snapshotState()));
    expect(saved.marketTimeMs).toBe(T0 + 60_000 + 90_000);

    const b = sim();
    b.restoreState(saved);
    expect(b.status().marketTimeMs).toBe(saved.marketTimeMs);
    expect(b.snapshotState()).toEqual(saved);
    expect((await b.getOpenOrders('BTCUSDT')).map((o) => o.clientOrderId)).toEqual(['b1', 'b2']);
    expect((await b.getOrder('BTCUSDT', { clientOrderId: 'b3' })).status).toBe('CANCELED');
    expect((await b.getPositions('BTCUSDT'))[0].size.toString()).toBe('0.003');
    expect((await b.getAccount()).totalWalletBalance.toString()).toBe((await a.getAccount()).totalWalletBalance.toString());
    expect(b.allTrades().map((t) => t.tradeId)).toEqual(a.allTrades().map((t) => t.tradeId));
    // Idempotent client order id and fresh ids continue after the restored ones.
    expect((await b.placeOrder(buy('99700', 'b1'))).orderId).toBe((await a.getOrder('BTCUSDT', { clientOrderId: 'b1' })).orderId);
    const next = await b.placeOrder(buy('99100', 'b4'));
    expect(Number(next.orderId)).toBeGreaterThan(Number(b2.orderId));

    // The gap down crosses b1 (99700) but not b2 (99400): b1 fills as maker at its limit.
    const events: OrderEvent[] = [];
    b.watchOrders({ next: (e) => events.push(e) });
    b.advance(120_000);
    const fill = events.find((e) => e.order.clientOrderId === 'b1' && e.order.status === 'FILLED');
    expect(fill?.lastTrade?.price.toString()).toBe('99700');
    expect((await b.getPositions('BTCUSDT'))[0].size.toString()).toBe('0.005');
    expect((await b.getOrder('BTCUSDT', { clientOrderId: 'b2' })).status).toBe('NEW');
  });

  it('rejects malformed state and restoring into a venue that already traded', async () => {
    const good = sim().snapshotState();
    expect(() => sim().restoreState({ ...good, version: 2 })).toThrow(/invalid sim state: version/);
    expect(() => sim().restoreState({ ...good, account: { ...good.account, wallet: 'lots' } })).toThrow(/account\.wallet: must be a decimal/);
    const a = sim();
    await a.placeOrder(buy('99000', 'x'));
    const st = a.snapshotState();
    expect(() => sim().restoreState({ ...st, orders: [{ ...st.orders[0], symbol: 'NOPE' }] })).toThrow(/unknown symbol/);
    expect(() => a.restoreState(good)).toThrow(/already started or traded/);
  });

  it('emits a synchronous price burst with consecutive timestamps (test hook)', () => {
    const s = sim();
    const seen: number[] = [];
    s.watchPrice('BTCUSDT', { next: (p) => seen.push(p.timestampMs) });
    const r = s.emitPriceBurst('BTCUSDT', 1000);
    expect(seen.length).toBe(1000);
    expect(seen[0]).toBe(r.firstTimestampMs);
    expect(seen.every((t, i) => t === r.firstTimestampMs + i)).toBe(true);
  });
});

describe('SimExchange: ended orders are kept up to retainTerminalOrders', () => {
  it('keeps every open order and the last N ended ones (queries, snapshots); older ones are forgotten', async () => {
    const v = new SimExchange({ symbols: [{ rules: BTC, candles: CANDLES }], manual: true, historyCandles: 1, retainTerminalOrders: 3 });
    const open = await v.placeOrder(buy('99100', 'keep-open'));
    for (let i = 0; i < 8; i++) {
      const o = await v.placeOrder(buy(String(99000 - i * 10), `c${i}`));
      await v.cancelOrder('BTCUSDT', o.orderId);
    }
    // the open order and the last three cancelled ones (c5, c6, c7), in placement order
    expect(v.allOrders().map((o) => o.clientOrderId)).toEqual(['keep-open', 'c5', 'c6', 'c7']);
    expect((await v.getOrder('BTCUSDT', { clientOrderId: 'c6' })).status).toBe('CANCELED');
    await expect(v.getOrder('BTCUSDT', { clientOrderId: 'c0' })).rejects.toThrow();
    expect((await v.getOrder('BTCUSDT', { orderId: open.orderId })).status).toBe('NEW');
    // a retained id is still deduplicated; a forgotten one may be used again (a new order)
    expect((await v.placeOrder(buy('98000', 'c7'))).status).toBe('CANCELED');
    const again = await v.placeOrder(buy('98000', 'c0'));
    expect(again.status).toBe('NEW');
    // the snapshot carries only what is retained, and restores
    const saved = JSON.parse(JSON.stringify(v.snapshotState()));
    expect(saved.orders.map((o: { clientOrderId: string }) => o.clientOrderId)).toEqual(['keep-open', 'c5', 'c6', 'c7', 'c0']);
    const w = new SimExchange({ symbols: [{ rules: BTC, candles: CANDLES }], manual: true, historyCandles: 1, retainTerminalOrders: 3 });
    w.restoreState(saved);
    expect(w.snapshotState()).toEqual(saved);
    // open orders are never forgotten, however many end after them
    for (let i = 0; i < 10; i++) await v.cancelOrder('BTCUSDT', (await v.placeOrder(buy('97000', `d${i}`))).orderId);
    expect((await v.getOrder('BTCUSDT', { clientOrderId: 'keep-open' })).status).toBe('NEW');
    expect(v.allOrders()).toHaveLength(2 + 3);
  });

  it('rejects a bad retainTerminalOrders', () => {
    expect(() => new SimExchange({ symbols: [{ rules: BTC, candles: CANDLES }], manual: true, retainTerminalOrders: -1 })).toThrow(/retainTerminalOrders/);
  });
});
