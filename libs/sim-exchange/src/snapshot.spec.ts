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
