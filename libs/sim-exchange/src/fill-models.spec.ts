import { Dec, type Candle, type Fill, type OrderEvent, type OrderRequest } from '@mm/domain';
import { ArrayEventSource, SimExchange, bookEvents, defaultSymbolRules, loadBookTickerCsv, loadTradesCsv, mergeEvents, tradeEvents, type MarketEvent } from './index';

const T0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000);
const BTC = defaultSymbolRules('BTCUSDT');
const d = (s: string | number) => new Dec(s);
const TRADES = '/work/shared/data/market/tick/binance-usdm-BTCUSDT-20240808T2354-2400-trades.csv';
const BOOK = '/work/shared/data/market/tick/binance-usdm-BTCUSDT-20240808T2354-2400-bookTicker.csv';

function candle(i: number, o: string, h: string, l: string, c: string, v = '10'): Candle {
  return { symbol: 'BTCUSDT', openTimeMs: T0 + i * 60_000, open: d(o), high: d(h), low: d(l), close: d(c), volume: d(v), closed: true };
}
const limit = (side: 'BUY' | 'SELL', qty: string, price: string, more: Partial<OrderRequest> = {}): OrderRequest => ({
  symbol: 'BTCUSDT',
  side,
  type: 'LIMIT',
  quantity: d(qty),
  price: d(price),
  ...more,
});
function fills(s: SimExchange): Fill[] {
  const out: Fill[] = [];
  s.watchOrders({ next: (e: OrderEvent) => e.lastTrade && out.push(e.lastTrade) });
  return out;
}

describe('kline fill models', () => {
  // c1 dips exactly to 99900; c2 dips to 99899.9 (one tick through); c3 and c4 dip further, volume 1 BTC each
  const CANDLES = [
    candle(0, '100000', '100010', '99990', '100000'),
    candle(1, '100000', '100100', '99900', '100050', '1'),
    candle(2, '100050', '100100', '99899.9', '100000', '1'),
    candle(3, '100000', '100100', '99800', '100000', '1'),
    candle(4, '100000', '100100', '99800', '100000', '1'),
  ];
  const make = (fillModel: 'touch' | 'conservative', volumeShare?: number) =>
    new SimExchange({ symbols: [{ rules: BTC, candles: CANDLES }], manual: true, historyCandles: 1, fillModel, volumeShare });

  it('touch: a path that reaches the limit fills the order in full', async () => {
    const s = make('touch');
    const f = fills(s);
    await s.placeOrder(limit('BUY', '0.3', '99900'));
    s.advance(60_000);
    expect(f.map((x) => [x.quantity.toString(), x.price.toString(), x.maker])).toEqual([['0.3', '99900', true]]);
  });

  it('conservative: no fill at a touch; through by one tick fills at the limit, capped by the volume share, partially', async () => {
    const s = make('conservative', 0.1);
    const f = fills(s);
    const o = await s.placeOrder(limit('BUY', '0.25', '99900'));
    s.advance(60_000); // c1 touches 99900 only
    expect(f).toHaveLength(0);
    s.advance(60_000); // c2 trades through by one tick: 10 % of 1 BTC = 0.1
    expect(f.map((x) => [x.quantity.toString(), x.price.toString()])).toEqual([['0.1', '99900']]);
    let st = await s.getOrder('BTCUSDT', { orderId: o.orderId });
    expect(st.status).toBe('PARTIALLY_FILLED');
    expect((await s.getOpenOrders('BTCUSDT')).map((x) => x.orderId)).toEqual([o.orderId]);
    s.advance(60_000); // c3: another 0.1
    s.advance(60_000); // c4: the last 0.05
    expect(f.map((x) => x.quantity.toString())).toEqual(['0.1', '0.1', '0.05']);
    st = await s.getOrder('BTCUSDT', { orderId: o.orderId });
    expect(st.status).toBe('FILLED');
    expect(st.executedQty.toString()).toBe('0.25');
    expect((await s.getAccount()).positions.find((p) => p.symbol === 'BTCUSDT')!.size.toString()).toBe('0.25');
  });

  it('conservative: the volume cap is shared by all resting orders of the candle, best price first', async () => {
    const s = make('conservative', 0.1);
    const f = fills(s);
    const a = await s.placeOrder(limit('BUY', '0.06', '99890'));
    const b = await s.placeOrder(limit('BUY', '0.06', '99950'));
    s.advance(120_000); // c1 goes through 99950 (low 99900) but not 99890; c2 (low 99899.9) neither
    s.advance(60_000); // c3 low 99800: goes through both, 0.1 BTC to share
    const byOrder = (id: string) => f.filter((x) => x.orderId === id).reduce((t, x) => t.plus(x.quantity), d('0'));
    // c1 gave b its 0.06 (cap 0.1); c3 gives a 0.06 of its 0.1
    expect(byOrder(b.orderId).toString()).toBe('0.06');
    expect(byOrder(a.orderId).toString()).toBe('0.06');
    expect(f.map((x) => x.timestampMs)[0]).toBeLessThan(T0 + 2 * 60_000);
  });

  it('rejects a bad volume share or model', () => {
    expect(() => make('conservative', 0)).toThrow(/volumeShare/);
    expect(() => make('nope' as 'touch')).toThrow(/fillModel/);
  });
});

describe('tick-level replay (shared Binance BTCUSDT trades and bookTicker, 2024-08-08 23:54–24:00)', () => {
  const trades = loadTradesCsv(TRADES);
  const sim = (events: MarketEvent[] | ReturnType<typeof tradeEvents>) =>
    new SimExchange({
      symbols: [{ rules: BTC, events: Array.isArray(events) ? new ArrayEventSource(events) : events }],
      manual: true,
      initialBalance: d('1000000'),
    });

  it('a resting buy fills only on trades printing through its price, at its price, never more than the traded quantity', async () => {
    const minTicks = Math.min(...trades.map((t) => Math.round(t.price.toNumber() * 10)));
    const min = d(minTicks).div(10);
    // one tick above the lowest print: only trades at the lowest price go through it
    const lim = min.plus('0.1');
    const s = sim(tradeEvents(trades, 'BTCUSDT'));
    const f = fills(s);
    await s.placeOrder(limit('BUY', '50', lim.toString()));
    s.runToEnd();
    const through = trades.filter((t) => t.price.lt(lim));
    expect(through.length).toBeGreaterThan(0);
    const tradedThrough = through.reduce((a, t) => a.plus(t.qty), d('0'));
    expect(f.length).toBeGreaterThan(0);
    const filled = f.reduce((a, x) => a.plus(x.quantity), d('0'));
    // 50 BTC is far more than printed through: the fill equals what traded through (floored to the step)
    expect(filled.toString()).toBe(tradedThrough.toString());
    for (const x of f) {
      expect(x.price.eq(lim)).toBe(true);
      expect(x.maker).toBe(true);
      const sameMs = through.filter((t) => t.timeMs === x.timestampMs).reduce((a, t) => a.plus(t.qty), d('0'));
      expect(x.quantity.lte(sameMs)).toBe(true);
    }
    expect((await s.getOpenOrders('BTCUSDT'))[0].status).toBe('PARTIALLY_FILLED');
  });

  it('no fill when trades print at the limit but not through it', async () => {
    const minTicks = Math.min(...trades.map((t) => Math.round(t.price.toNumber() * 10)));
    const s = sim(tradeEvents(trades, 'BTCUSDT'));
    const f = fills(s);
    await s.placeOrder(limit('BUY', '0.01', d(minTicks).div(10).toString()));
    s.runToEnd();
    expect(trades.some((t) => t.price.eq(d(minTicks).div(10)))).toBe(true);
    expect(f).toHaveLength(0);
    expect(s.status().finished).toBe(true);
  });

  it('partial fills are bounded by each trade: 0.003 BTC prints through, an order of 1.1 gets 0.003', async () => {
    const ev = (t: number, p: string, q: string): MarketEvent => ({ kind: 'trade', timeMs: T0 + t, symbol: 'BTCUSDT', price: d(p), qty: d(q), isBuyerMaker: true });
    const s = sim([ev(0, '100000.2', '1'), ev(1000, '100000', '5'), ev(2000, '99999.9', '0.003'), ev(3000, '100000.1', '1')]);
    const f = fills(s);
    const o = await s.placeOrder(limit('BUY', '1.1', '100000'));
    expect(o.status).toBe('NEW');
    s.runToEnd();
    // 5 BTC printed AT the limit (no fill), 0.003 through it
    expect(f.map((x) => [x.quantity.toString(), x.price.toString(), x.maker, x.timestampMs - T0])).toEqual([['0.003', '100000', true, 2000]]);
  });

  it('book ticker drives bid/ask: post-only crossing checks against the ask, taker fills at the ask, aggregated candles', async () => {
    const book = loadBookTickerCsv(BOOK);
    const s = new SimExchange({
      symbols: [{ rules: BTC, events: mergeEvents(bookEvents(book, 'BTCUSDT'), tradeEvents(trades, 'BTCUSDT')) }],
      manual: true,
      initialBalance: d('1000000'),
    });
    const b0 = book[0];
    // at the start the book is b0: a post-only buy at the ask would take
    await expect(s.placeOrder(limit('BUY', '0.01', b0.askPrice.toString(), { postOnly: true }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const rest = await s.placeOrder(limit('BUY', '0.01', b0.bidPrice.toString(), { postOnly: true }));
    expect(rest.status).toBe('NEW');
    const taker = await s.placeOrder(limit('BUY', '0.01', b0.askPrice.plus(5).toString()));
    expect(taker.status).toBe('FILLED');
    expect(taker.avgPrice.toString()).toBe(b0.askPrice.toString());
    const steps: number[] = [];
    for (let i = 0; i < 5; i++) steps.push(s.stepNext()!);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    s.runToEnd();
    const k = await s.getHistoricalKlines('BTCUSDT', '1m', 100);
    // 23:54:16 → the last book update: one-minute candles built from the prices, volume = traded qty
    const last = book[book.length - 1].timeMs;
    const minutes = k.map((c) => c.openTimeMs);
    expect(new Date(minutes[0]).toISOString().slice(11, 16)).toBe('23:54');
    expect(minutes[minutes.length - 1]).toBe(last - (last % 60_000));
    for (let i = 1; i < minutes.length; i++) expect(minutes[i] - minutes[i - 1]).toBe(60_000);
    expect(k.every((c) => c.closed && c.low.lte(c.open) && c.high.gte(c.close))).toBe(true);
    const vol = k.reduce((a, c) => a.plus(c.volume), d('0'));
    expect(vol.toString()).toBe(trades.reduce((a, t) => a.plus(t.qty), d('0')).toString());
  });
});

describe('stepNext: one market instant at a time', () => {
  it('kline replay: each call processes the next path instant and delivers its price; undefined at the end', () => {
    const candles = [candle(0, '100000', '100010', '99990', '100000'), candle(1, '100000', '100100', '99900', '100050'), candle(2, '100050', '100100', '99950', '100000')];
    const s = new SimExchange({ symbols: [{ rules: BTC, candles }], manual: true, historyCandles: 1, tickIntervalMs: 10_000 });
    const prices: number[] = [];
    s.watchPrice('BTCUSDT', { next: (p) => prices.push(p.timestampMs) });
    const steps: number[] = [];
    expect(s.nextEventTimeMs()).toBe(T0 + 60_000 + 10_000);
    for (let t = s.stepNext(); t !== undefined; t = s.stepNext()) steps.push(t - T0);
    // 10 s path points of candles 1 and 2 (the opening point of candle 1 was processed at construction)
    expect(steps).toEqual([70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180].map((x) => x * 1000));
    expect(prices.map((t) => t - T0)).toEqual([70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170].map((x) => x * 1000));
    expect(s.status().finished).toBe(true);
    expect(s.nextEventTimeMs()).toBe(Infinity);
    expect(s.lastEmittedInstantMs).toBe(T0 + 180_000);
  });
});
