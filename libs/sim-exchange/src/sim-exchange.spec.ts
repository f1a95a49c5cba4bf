import { Dec, VenueError, type Candle, type OrderEvent, type OrderRequest, type SymbolRules } from '@mm/domain';
import { SimExchange, defaultSymbolRules, type SimExchangeOptions } from './index';

const T0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000); // a minute boundary
const T1 = T0 + 60_000; // replay starts here (historyCandles: 1)
const BTC = defaultSymbolRules('BTCUSDT');
const d = (s: string) => new Dec(s);

function candle(i: number, o: string, h: string, l: string, c: string, v = '10'): Candle {
  return { symbol: 'BTCUSDT', openTimeMs: T0 + i * 60_000, open: d(o), high: d(h), low: d(l), close: d(c), volume: d(v), closed: true };
}

/**
 * c1 path (1 s samples): 100000 → 99900 (−5/s, low at 20 s) → 100100 (high at 39 s) → 100050 (−2.5/s, close at 59 s).
 * c2 path: 100050 → 100150 (high at 20 s) → 99950 (low at 39 s) → 100000.
 */
const CANDLES = [
  candle(0, '99990', '100010', '99980', '100000'),
  candle(1, '100000', '100100', '99900', '100050'),
  candle(2, '100050', '100150', '99950', '100000'),
];

function sim(extra: Partial<SimExchangeOptions> = {}, rules: SymbolRules = BTC): SimExchange {
  return new SimExchange({ symbols: [{ rules, candles: CANDLES }], manual: true, historyCandles: 1, ...extra });
}

const limit = (side: 'BUY' | 'SELL', qty: string, price: string, more: Partial<OrderRequest> = {}): OrderRequest => ({
  symbol: 'BTCUSDT',
  side,
  type: 'LIMIT',
  quantity: d(qty),
  price: d(price),
  ...more,
});
const market = (side: 'BUY' | 'SELL', qty: string, more: Partial<OrderRequest> = {}): OrderRequest => ({
  symbol: 'BTCUSDT',
  side,
  type: 'MARKET',
  quantity: d(qty),
  ...more,
});

async function rejection(p: Promise<unknown>): Promise<VenueError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(VenueError);
    return e as VenueError;
  }
  throw new Error('expected a rejection');
}

describe('SimExchange start state and history', () => {
  it('starts at the first replay candle open with history before it', async () => {
    const s = sim();
    expect(s.status()).toEqual({ duplicateClientOrderIds: 0, marketTimeMs: T1, finished: false, candlesReplayed: 0 });
    expect((await s.getLatestPrice('BTCUSDT')).toString()).toBe('100000');
    const k = await s.getHistoricalKlines('BTCUSDT', '1m', 10);
    expect(k.map((c) => [c.openTimeMs, c.closed, c.open.toString(), c.close.toString()])).toEqual([
      [T0, true, '99990', '100000'],
      [T1, false, '100000', '100000'],
    ]);
    expect(s.marketType).toBe('futures');
    expect(s.name).toBe('sim');
    expect(await s.getSymbols()).toEqual(['BTCUSDT']);
    const a = await s.getAccount();
    expect([a.asset, a.totalWalletBalance.toString(), a.availableBalance.toString(), a.leverage]).toEqual(['USDT', '10000', '10000', 10]);
  });

  it('replays to the end, closes candles and then stays', async () => {
    const s = sim();
    const closed: Candle[] = [];
    s.watchKlines('BTCUSDT', '1m', { next: (c) => c.closed && closed.push(c) });
    let finished = 0;
    s.onFinished(() => finished++);
    s.advance(60_000);
    expect(s.status()).toEqual({ duplicateClientOrderIds: 0, marketTimeMs: T1 + 60_000, finished: false, candlesReplayed: 1 });
    expect(closed.map((c) => c.openTimeMs)).toEqual([T1]);
    s.runToEnd();
    expect(s.status()).toEqual({ duplicateClientOrderIds: 0, marketTimeMs: T0 + 3 * 60_000, finished: true, candlesReplayed: 2 });
    expect(finished).toBe(1);
    expect((await s.getLatestPrice('BTCUSDT')).toString()).toBe('100000');
    s.advance(600_000);
    expect(s.status().marketTimeMs).toBe(T0 + 3 * 60_000);
    const k = await s.getHistoricalKlines('BTCUSDT', '1m', 2);
    expect(k.map((c) => [c.openTimeMs, c.closed])).toEqual([
      [T1, true],
      [T1 + 60_000, true],
    ]);
    await expect(s.getHistoricalKlines('BTCUSDT', '5m', 2)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'interval' });
    expect(() => s.watchKlines('BTCUSDT', '1h', { next: () => undefined })).toThrow(/^interval:/);
  });
});

describe('matching', () => {
  it('a resting buy fills when price reaches the limit, not one tick above it', async () => {
    const s = sim();
    const hit = await s.placeOrder(limit('BUY', '0.002', '99900'));
    const miss = await s.placeOrder(limit('BUY', '0.002', '99899.9'));
    s.advance(19_000); // price 99905
    expect((await s.getOrder('BTCUSDT', { orderId: hit.orderId })).status).toBe('NEW');
    s.advance(1_000); // price 99900 = low
    const o = await s.getOrder('BTCUSDT', { orderId: hit.orderId });
    expect(o.status).toBe('FILLED');
    expect(o.avgPrice.toString()).toBe('99900');
    expect(o.trades).toHaveLength(1);
    const f = o.trades[0];
    expect([f.price.toString(), f.quantity.toString(), f.fee.toString(), f.feeAsset, f.maker, f.timestampMs]).toEqual([
      '99900',
      '0.002',
      '0.03996', // 199.8 × 0.0002
      'USDT',
      true,
      T1 + 20_000,
    ]);
    s.runToEnd(); // c2 low is 99950: the 99899.9 buy never fills
    expect((await s.getOrder('BTCUSDT', { orderId: miss.orderId })).status).toBe('NEW');
  });

  it('a resting sell fills at the high, not one tick below it', async () => {
    const s = sim();
    const hit = await s.placeOrder(limit('SELL', '0.002', '100100'));
    const miss = await s.placeOrder(limit('SELL', '0.002', '100150.1'));
    s.advance(38_000);
    expect((await s.getOrder('BTCUSDT', { orderId: hit.orderId })).status).toBe('NEW');
    s.advance(1_000);
    const o = await s.getOrder('BTCUSDT', { orderId: hit.orderId });
    expect([o.status, o.trades[0].price.toString(), o.trades[0].timestampMs]).toEqual(['FILLED', '100100', T1 + 39_000]);
    s.runToEnd();
    expect((await s.getOrder('BTCUSDT', { orderId: miss.orderId })).status).toBe('NEW');
    expect((await s.getOpenOrders('BTCUSDT')).map((x) => x.orderId)).toEqual([miss.orderId]);
  });

  it('fills multiple levels in price priority on a single move', async () => {
    const s = sim();
    const a = await s.placeOrder(limit('BUY', '0.002', '99950'));
    const b = await s.placeOrder(limit('BUY', '0.002', '99990'));
    const c = await s.placeOrder(limit('BUY', '0.002', '99990'));
    s.advance(20_000);
    expect(s.allTrades().map((t) => [t.orderId, t.price.toString(), t.timestampMs])).toEqual([
      [b.orderId, '99990', T1 + 2_000],
      [c.orderId, '99990', T1 + 2_000],
      [a.orderId, '99950', T1 + 10_000],
    ]);
  });

  it('rejects a post-only order that would take; rests one tick away', async () => {
    const s = sim();
    const e = await rejection(s.placeOrder(limit('BUY', '0.002', '100000', { postOnly: true })));
    expect([e.code, e.field, e.reason, e.message]).toEqual([
      'INVALID_ARGUMENT',
      'post_only',
      'POST_ONLY_WOULD_TAKE',
      'post_only: order would immediately match and take',
    ]);
    const e2 = await rejection(s.placeOrder(limit('SELL', '0.002', '99000', { timeInForce: 'GTX' })));
    expect(e2.reason).toBe('POST_ONLY_WOULD_TAKE');
    const ok = await s.placeOrder(limit('BUY', '0.002', '99999.9', { postOnly: true }));
    expect([ok.status, ok.timeInForce, ok.postOnly]).toEqual(['NEW', 'GTX', true]);
    expect(s.allOrders()).toHaveLength(1);
  });

  it('a crossing limit takes at the current price with the taker fee', async () => {
    const s = sim();
    const o = await s.placeOrder(limit('BUY', '0.002', '100500'));
    expect([o.status, o.executedQty.toString(), o.avgPrice.toString(), o.price.toString()]).toEqual(['FILLED', '0.002', '100000', '100500']);
    const f = o.trades[0];
    expect([f.price.toString(), f.fee.toString(), f.maker, f.timestampMs]).toEqual(['100000', '0.1', false, T1]); // 200 × 0.0005
    const m = await s.placeOrder(market('SELL', '0.001'));
    expect([m.status, m.price.toString(), m.avgPrice.toString(), m.trades[0].fee.toString()]).toEqual([
      'FILLED',
      '0',
      '100000',
      '0.05',
    ]);
    expect((await s.getBalance('USDT')).toString()).toBe('9999.85');
  });

  it('IOC/FOK limits that cannot fill expire; crossing ones fill', async () => {
    const s = sim();
    const events: string[] = [];
    s.watchOrders({ next: (e) => events.push(e.order.status) });
    const ioc = await s.placeOrder(limit('BUY', '0.002', '99000', { timeInForce: 'IOC' }));
    expect(ioc.status).toBe('EXPIRED');
    const fok = await s.placeOrder(limit('BUY', '0.002', '100000', { timeInForce: 'FOK' }));
    expect(fok.status).toBe('FILLED');
    expect(events).toEqual(['NEW', 'EXPIRED', 'NEW', 'FILLED']);
    expect(await s.getOpenOrders()).toEqual([]);
  });
});

describe('validation', () => {
  it('names the field at fault', async () => {
    const s = sim();
    const cases: [OrderRequest, string, string | undefined, RegExp][] = [
      [{ ...limit('BUY', '0.002', '99000'), symbol: 'FOOUSDT' }, 'symbol', 'UNKNOWN_SYMBOL', /^symbol: /],
      [limit('BUY', '0', '99000'), 'quantity', 'FILTER_VIOLATION', /^quantity: must be > 0/],
      [limit('BUY', '-0.002', '99000'), 'quantity', 'FILTER_VIOLATION', /^quantity: /],
      [limit('BUY', '0.0025', '99000'), 'quantity', 'FILTER_VIOLATION', /^quantity: 0\.0025 is not a multiple of the step size 0\.001/],
      [limit('BUY', '0.002', '99000.05'), 'price', 'FILTER_VIOLATION', /^price: 99000\.05 is not a multiple of the tick size 0\.1/],
      [limit('BUY', '0.002', '0'), 'price', 'FILTER_VIOLATION', /^price: /],
      [{ ...limit('BUY', '0.002', '1'), price: undefined }, 'price', 'FILTER_VIOLATION', /^price: /],
      [limit('BUY', '0.001', '99000'), 'quantity', 'FILTER_VIOLATION', /^quantity: notional 99 .*minimum notional 100/],
      [market('BUY', '0.0009'), 'quantity', 'FILTER_VIOLATION', /^quantity: /],
    ];
    for (const [req, field, reason, msg] of cases) {
      const e = await rejection(s.placeOrder(req));
      expect([e.code, e.field, e.reason]).toEqual(['INVALID_ARGUMENT', field, reason]);
      expect(e.message).toMatch(msg);
    }
    expect(s.allOrders()).toHaveLength(0);
  });

  it('enforces minQty separately from the step', async () => {
    const s = sim({}, { ...BTC, minQty: d('0.005') });
    const e = await rejection(s.placeOrder(limit('BUY', '0.004', '99000')));
    expect([e.field, e.message]).toEqual(['quantity', 'quantity: 0.004 is below the minimum quantity 0.005']);
    expect((await s.placeOrder(limit('BUY', '0.005', '99000'))).status).toBe('NEW');
  });
});

describe('order ids and lifecycle', () => {
  it('generates ids and returns the existing order for a known clientOrderId', async () => {
    const s = sim();
    const a = await s.placeOrder(limit('BUY', '0.002', '99000'));
    expect([a.orderId, a.clientOrderId]).toEqual(['1000001', 'sim-1']);
    const b = await s.placeOrder(limit('BUY', '0.002', '99100', { clientOrderId: 'grid-1' }));
    const again = await s.placeOrder(limit('SELL', '0.005', '101000', { clientOrderId: 'grid-1' }));
    expect(again).toEqual(b);
    expect(b.orderId).toBe('1000002');
    await s.cancelOrder('BTCUSDT', b.orderId);
    const third = await s.placeOrder(limit('BUY', '0.002', '99100', { clientOrderId: 'grid-1' }));
    expect([third.orderId, third.status]).toEqual(['1000002', 'CANCELED']);
    expect(s.allOrders()).toHaveLength(2);
    expect(s.status().duplicateClientOrderIds).toBe(2);
    expect((await s.getOrder('BTCUSDT', { clientOrderId: 'grid-1' })).orderId).toBe('1000002');
    await expect(s.getOrder('BTCUSDT', { clientOrderId: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(s.getOrder('BTCUSDT', { orderId: '42' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('cancel rules', async () => {
    const s = sim();
    const a = await s.placeOrder(limit('BUY', '0.002', '99000'));
    const c = await s.cancelOrder('BTCUSDT', a.orderId);
    expect(c.status).toBe('CANCELED');
    const again = await rejection(s.cancelOrder('BTCUSDT', a.orderId));
    expect([again.code, again.reason, again.message]).toEqual(['FAILED_PRECONDITION', 'ORDER_NOT_OPEN', `order ${a.orderId} is CANCELED`]);
    const unknown = await rejection(s.cancelOrder('BTCUSDT', '999'));
    expect([unknown.code, unknown.reason]).toEqual(['NOT_FOUND', 'ORDER_NOT_FOUND']);
    const filled = await s.placeOrder(market('BUY', '0.002'));
    expect((await rejection(s.cancelOrder('BTCUSDT', filled.orderId))).message).toBe(`order ${filled.orderId} is FILLED`);
    await s.placeOrder(limit('BUY', '0.002', '99000'));
    await s.placeOrder(limit('SELL', '0.002', '101000'));
    const all = await s.cancelAllOrders('BTCUSDT');
    expect(all.map((o) => o.status)).toEqual(['CANCELED', 'CANCELED']);
    expect(await s.getOpenOrders()).toEqual([]);
    s.runToEnd(); // cancelled orders never fill
    expect(s.allTrades()).toHaveLength(1);
  });

  it('emits NEW then FILLED with lastTrade, and CANCELED', async () => {
    const s = sim();
    const ev: OrderEvent[] = [];
    s.watchOrders({ next: (e) => ev.push(e) });
    s.watchOrders({
      next: () => {
        throw new Error('bad observer');
      },
    });
    const taker = await s.placeOrder(limit('BUY', '0.002', '100000'));
    const rest = await s.placeOrder(limit('BUY', '0.002', '99950'));
    const cancelMe = await s.placeOrder(limit('SELL', '0.002', '101000'));
    await s.cancelOrder('BTCUSDT', cancelMe.orderId);
    s.advance(10_000);
    expect(ev.map((e) => [e.order.orderId, e.order.status, e.lastTrade?.price.toString()])).toEqual([
      [taker.orderId, 'NEW', undefined],
      [taker.orderId, 'FILLED', '100000'],
      [rest.orderId, 'NEW', undefined],
      [cancelMe.orderId, 'NEW', undefined],
      [cancelMe.orderId, 'CANCELED', undefined],
      [rest.orderId, 'FILLED', '99950'],
    ]);
    const last = ev[5];
    expect(last.lastTrade).toEqual(last.order.trades[0]);
    expect(last.order.executedQty.toString()).toBe('0.002');
  });
});

describe('position, PnL and wallet', () => {
  it('averages entry, realizes PnL on reduce and flip, and keeps the wallet identity', async () => {
    const s = sim();
    await s.placeOrder(market('BUY', '0.002')); // 100000, fee 0.1
    await s.placeOrder(limit('BUY', '0.002', '99950')); // fills at 10 s, fee 0.03998
    const flip = await s.placeOrder(limit('SELL', '0.006', '100100')); // fills at 39 s, fee 0.12012
    s.advance(20_000);
    let [p] = await s.getPositions('BTCUSDT');
    expect([p.size.toString(), p.entryPrice.toString()]).toEqual(['0.004', '99975']); // 399.9 / 0.004
    s.advance(40_000); // to the close of c1: 100050
    const f = (await s.getOrder('BTCUSDT', { orderId: flip.orderId })).trades[0];
    expect([f.realizedPnl.toString(), f.fee.toString()]).toEqual(['0.5', '0.12012']); // (100100 − 99975) × 0.004
    [p] = await s.getPositions('BTCUSDT');
    expect([p.size.toString(), p.entryPrice.toString(), p.markPrice.toString(), p.unrealizedPnl.toString()]).toEqual([
      '-0.002',
      '100100',
      '100050',
      '0.1',
    ]);
    // wallet = 10000 + 0.5 − 0.1 − 0.03998 − 0.12012
    let a = await s.getAccount();
    expect([a.totalWalletBalance.toString(), a.totalMarginBalance.toString(), a.realizedPnl.toString()]).toEqual([
      '10000.2399',
      '10000.3399',
      '0.5',
    ]);
    // available = 10000.3399 − 0.002 × 100050 / 10 = 10000.3399 − 20.01
    expect(a.availableBalance.toString()).toBe('9980.3299');
    // reduce the short by half at 100050: realized (100050 − 100100) × 0.001 × −1 = 0.05, fee 0.050025
    const r = await s.placeOrder(market('BUY', '0.001'));
    expect([r.trades[0].realizedPnl.toString(), r.trades[0].fee.toString()]).toEqual(['0.05', '0.050025']);
    [p] = await s.getPositions('BTCUSDT');
    expect([p.size.toString(), p.entryPrice.toString()]).toEqual(['-0.001', '100100']);
    a = await s.getAccount();
    expect(a.totalWalletBalance.toString()).toBe('10000.239875');
    const trades = s.allTrades();
    const identity = trades.reduce((w, t) => w.plus(t.realizedPnl).minus(t.fee), d('10000'));
    expect(identity.eq(a.totalWalletBalance)).toBe(true);
    expect(a.realizedPnl.toString()).toBe('0.55');
  });

  it('streams positions per symbol and for all symbols', async () => {
    const s = sim();
    const one: string[] = [];
    const all: string[] = [];
    s.watchPositions('BTCUSDT', { next: (p) => one.push(p.size.toString()) });
    s.watchPositions('', { next: (p) => all.push(`${p.symbol}:${p.size}`) });
    await s.placeOrder(market('BUY', '0.002'));
    await s.placeOrder(market('SELL', '0.003'));
    expect(one).toEqual(['0.002', '-0.001']);
    expect(all).toEqual(['BTCUSDT:0.002', 'BTCUSDT:-0.001']);
    expect(() => s.watchPositions('NOPE', { next: () => undefined })).toThrow(/unknown symbol/);
  });

  it('lets an observer trade from inside a fill event (grid-style re-quote)', async () => {
    const s = sim();
    s.watchOrders({
      next: (e) => {
        if (e.order.status === 'FILLED' && e.order.side === 'BUY')
          void s.placeOrder(limit('SELL', '0.002', e.order.price.plus(100).toString(), { clientOrderId: 'tp' }));
      },
    });
    await s.placeOrder(limit('BUY', '0.002', '99950')); // fills at 10 s
    s.advance(60_000);
    const tp = await s.getOrder('BTCUSDT', { clientOrderId: 'tp' });
    expect([tp.status, tp.createdAtMs, tp.trades[0].price.toString(), tp.trades[0].realizedPnl.toString()]).toEqual([
      'FILLED',
      T1 + 10_000,
      '100050',
      '0.2', // (100050 − 99950) × 0.002
    ]);
  });

  it('closing to flat resets the entry', async () => {
    const s = sim();
    await s.placeOrder(market('BUY', '0.002'));
    await s.placeOrder(market('SELL', '0.002'));
    const [p] = await s.getPositions();
    expect([p.size.toString(), p.entryPrice.toString(), p.unrealizedPnl.toString()]).toEqual(['0', '0', '0']);
  });
});

describe('reduce-only', () => {
  it('rejects orders that would not reduce the position', async () => {
    const s = sim();
    let e = await rejection(s.placeOrder(market('SELL', '0.002', { reduceOnly: true })));
    expect([e.code, e.field, e.reason]).toEqual(['INVALID_ARGUMENT', 'reduce_only', 'REDUCE_ONLY_REJECTED']);
    await s.placeOrder(market('BUY', '0.002'));
    e = await rejection(s.placeOrder(limit('SELL', '0.003', '100100', { reduceOnly: true })));
    expect(e.reason).toBe('REDUCE_ONLY_REJECTED');
    e = await rejection(s.placeOrder(limit('BUY', '0.001', '99000', { reduceOnly: true })));
    expect(e.reason).toBe('REDUCE_ONLY_REJECTED');
    // reduce-only is exempt from min notional: 0.001 × 99990 = 99.99 < 100; it crosses and takes at 100000
    const small = await s.placeOrder(limit('SELL', '0.001', '99990', { reduceOnly: true }));
    expect([small.status, small.avgPrice.toString()]).toEqual(['FILLED', '100000']);
  });

  it('clips to the position at fill time, or expires when flat', async () => {
    const s = sim();
    const ev: string[] = [];
    s.watchOrders({ next: (x) => ev.push(`${x.order.clientOrderId}:${x.order.status}`) });
    await s.placeOrder(market('BUY', '0.003'));
    const clip = await s.placeOrder(limit('SELL', '0.002', '100020', { reduceOnly: true, clientOrderId: 'clip' }));
    const gone = await s.placeOrder(limit('SELL', '0.002', '100100', { reduceOnly: true, clientOrderId: 'gone' }));
    await s.placeOrder(market('SELL', '0.002', { clientOrderId: 'm' })); // position 0.001 left
    s.runToEnd();
    const c = await s.getOrder('BTCUSDT', { orderId: clip.orderId });
    expect([c.status, c.executedQty.toString(), c.trades[0].price.toString()]).toEqual(['EXPIRED', '0.001', '100020']);
    const g = await s.getOrder('BTCUSDT', { orderId: gone.orderId });
    expect([g.status, g.executedQty.toString()]).toEqual(['EXPIRED', '0']);
    expect((await s.getPositions('BTCUSDT'))[0].size.toString()).toBe('0');
    expect(ev.filter((x) => !x.startsWith('sim-'))).toEqual([
      'clip:NEW',
      'gone:NEW',
      'm:NEW',
      'm:FILLED',
      'clip:PARTIALLY_FILLED',
      'clip:EXPIRED',
      'gone:EXPIRED',
    ]);
  });
});

describe('margin', () => {
  it('rejects orders needing more initial margin than available', async () => {
    const s = sim({ initialBalance: d('100') });
    await s.placeOrder(limit('BUY', '0.005', '99000')); // 495 / 10 = 49.5
    expect((await s.getAccount()).availableBalance.toString()).toBe('50.5');
    const e = await rejection(s.placeOrder(limit('BUY', '0.006', '99000'))); // 59.4 > 50.5
    expect([e.code, e.reason]).toEqual(['FAILED_PRECONDITION', 'INSUFFICIENT_MARGIN']);
    expect(e.message).toMatch(/^insufficient margin: order needs 59\.4 USDT initial margin, available 50\.5 USDT/);
    expect((await s.placeOrder(limit('BUY', '0.005', '99000'))).status).toBe('NEW'); // 49.5 ≤ 50.5
    const m = await rejection(s.placeOrder(market('BUY', '0.001'))); // 10 > 1
    expect(m.reason).toBe('INSUFFICIENT_MARGIN');
  });

  it('reduce-only and position-reducing takers need no margin', async () => {
    const s = sim({ initialBalance: d('30'), leverage: 1 });
    await expect(s.placeOrder(market('BUY', '0.001'))).rejects.toMatchObject({ reason: 'INSUFFICIENT_MARGIN' });
    const s2 = sim({ initialBalance: d('25') });
    await s2.placeOrder(market('BUY', '0.002')); // 20 margin, fee 0.1 → available 4.9
    expect((await s2.getAccount()).availableBalance.toString()).toBe('4.9');
    expect((await s2.placeOrder(market('SELL', '0.002'))).status).toBe('FILLED');
  });
});

describe('funding', () => {
  it('pays −size × mark × rate at the funding time and reports the rate', async () => {
    const fundingRates = [
      { fundingTimeMs: T0 + 30_000, rate: d('0.0003') }, // before replay start: history, not paid
      { fundingTimeMs: T1 + 30_000, rate: d('0.0001') },
    ];
    const s = new SimExchange({ symbols: [{ rules: BTC, candles: CANDLES, fundingRates }], manual: true, historyCandles: 1 });
    expect((await s.getFundingRate('BTCUSDT')).rate.toString()).toBe('0.0003');
    expect((await s.getFundingRate('BTCUSDT')).nextFundingTimeMs).toBe(T1 + 30_000);
    const events: string[] = [];
    s.watchFundingRate('BTCUSDT', { next: (f) => events.push(`${f.timestampMs}:${f.rate}`) });
    const wallets: string[] = [];
    s.watchAccount({ next: (a) => wallets.push(a.totalWalletBalance.toString()) });
    await s.placeOrder(market('BUY', '0.002')); // fee 0.1
    s.advance(30_000); // price at 30 s is 100005.3
    expect(events).toEqual([`${T1 + 30_000}:0.0001`]);
    // −0.002 × 100005.3 × 0.0001 = −0.02000106
    expect((await s.getBalance('USDT')).toString()).toBe('9999.87999894');
    expect(wallets).toEqual(['9999.9', '9999.87999894']);
    const h = await s.getHistoricalFundingRates('BTCUSDT', 10);
    expect(h.map((x) => [x.timestampMs, x.rate.toString()])).toEqual([
      [T0 + 30_000, '0.0003'],
      [T1 + 30_000, '0.0001'],
    ]);
    const now = await s.getFundingRate('BTCUSDT');
    expect(now.rate.toString()).toBe('0.0001');
    expect(now.nextFundingTimeMs).toBe(Math.floor((T1 + 30_000) / 28_800_000) * 28_800_000 + 28_800_000);
  });

  it('a short receives positive funding; no data means rate 0 on the 8 h grid', async () => {
    const s = new SimExchange({
      symbols: [{ rules: BTC, candles: CANDLES, fundingRates: [{ fundingTimeMs: T1 + 1_000, rate: d('0.0001') }] }],
      manual: true,
      historyCandles: 1,
    });
    await s.placeOrder(market('SELL', '0.001')); // fee 0.05
    s.advance(1_000); // price 99995: +0.001 × 99995 × 0.0001 = 0.0099995
    expect((await s.getBalance('USDT')).toString()).toBe('9999.9599995');
    const n = sim();
    const f = await n.getFundingRate('BTCUSDT');
    expect([f.rate.toString(), f.nextFundingTimeMs % 28_800_000, f.nextFundingTimeMs > T1]).toEqual(['0', 0, true]);
    expect(await n.getHistoricalFundingRates('BTCUSDT', 5)).toEqual([]);
  });
});

describe('streams and timers', () => {
  it('coalesces price ticks per advance chunk, matching on every point', async () => {
    const s = sim({ tickIntervalMs: 250 });
    const ticks: string[] = [];
    s.watchPrice('BTCUSDT', { next: (t) => ticks.push(`${t.timestampMs - T1}:${t.price}`) });
    const forming: string[] = [];
    s.watchKlines('BTCUSDT', '1m', { next: (c) => !c.closed && forming.push(`${c.low}`) });
    s.advance(1_000);
    // 240 samples, low at sample 80 (20 s): −12.5 ticks per sample, halves rounded up
    expect(ticks).toEqual(['250:99998.8', '500:99997.5', '750:99996.3', '1000:99995']);
    expect(forming).toEqual(['99998.8', '99997.5', '99996.3', '99995']);
    const unsub = s.watchPrice('BTCUSDT', {
      next: () => {
        throw new Error('x');
      },
    });
    unsub();
    unsub();
    s.advance(250);
    expect(ticks).toHaveLength(5);
  });

  it('runs on timers at `speed`, coalescing ticks per wake but matching every point', async () => {
    const s = new SimExchange({ symbols: [{ rules: BTC, candles: CANDLES }], historyCandles: 1, speed: 60_000 });
    const done = new Promise<void>((resolve) => s.onFinished(resolve));
    const prices: number[] = [];
    s.watchPrice('BTCUSDT', { next: (t) => prices.push(t.timestampMs) });
    const buy = await s.placeOrder(limit('BUY', '0.002', '99900'));
    s.start();
    await done; // 120 s of market time at 60 000× ≈ 2 ms of wall time
    expect(s.status().finished).toBe(true);
    expect(prices.length).toBeGreaterThan(0);
    expect(prices.length).toBeLessThan(20); // coalesced per 15 ms wake, not 120 points
    const o = await s.getOrder('BTCUSDT', { orderId: buy.orderId });
    expect([o.status, o.trades[0].timestampMs]).toEqual(['FILLED', T1 + 20_000]);
    await s.close();
  });

  it('ticker and open interest are computed from replayed candles', async () => {
    const s = sim();
    s.runToEnd();
    const [t] = await s.getTickers();
    // window: c0, c1, c2 (all within 24 h); volume 30, quote volume 10 × (100000 + 100050 + 100000)
    expect([t.lastPrice, t.priceChange, t.priceChangePercent, t.volume, t.quoteVolume, t.openInterest].map(String)).toEqual([
      '100000',
      '10',
      '0.01',
      '30',
      '3000500',
      '30',
    ]);
    expect((await s.getOpenInterest('BTCUSDT')).toString()).toBe('30');
    await expect(s.getLatestPrice('NOPE')).rejects.toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_SYMBOL' });
  });
});

describe('random walk venue', () => {
  it('is deterministic per seed with history ending at the start minute', async () => {
    const make = (seed: number) =>
      new SimExchange({ symbols: [{ rules: BTC }], manual: true, seed, startTimeMs: T1 + 12_345 });
    const a = make(42);
    const b = make(42);
    const ka = await a.getHistoricalKlines('BTCUSDT', '1m', 1500);
    expect(ka).toHaveLength(101);
    expect(ka[100].openTimeMs).toBe(T1);
    expect(ka[0].openTimeMs).toBe(T1 - 100 * 60_000);
    expect(ka[100].closed).toBe(false);
    expect(ka[0].open.toString()).toBe('100000');
    a.advance(3_600_000);
    b.advance(3_600_000);
    const pa = (await a.getHistoricalKlines('BTCUSDT', '1m', 200)).map((c) => c.close.toString());
    const pb = (await b.getHistoricalKlines('BTCUSDT', '1m', 200)).map((c) => c.close.toString());
    expect(pa).toEqual(pb);
    const c = make(43);
    c.advance(3_600_000);
    expect((await c.getHistoricalKlines('BTCUSDT', '1m', 200)).map((x) => x.close.toString())).not.toEqual(pa);
    expect(a.status()).toEqual({ duplicateClientOrderIds: 0, marketTimeMs: T1 + 3_600_000, finished: false, candlesReplayed: 60 });
    expect(() => a.runToEnd()).toThrow(/random walks never end/);
  });
});
