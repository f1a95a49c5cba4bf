import { Dec, type Candle, type Fill } from '@mm/domain';
import { SimExchange, defaultSymbolRules, loadFundingCsv, loadKlineCsv } from './index';

/** Replays the first 3000 real BTCUSDT minutes and checks fills against values computed from the raw candles. */
const KLINES = '/work/shared/data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv';
const FUNDING = '/work/shared/data/market/binance-usdm-BTCUSDT-funding-rate-8h.csv';
const N = 3000;
const H = 100;

describe('replay of real BTCUSDT data', () => {
  let candles: Candle[];
  beforeAll(() => {
    candles = loadKlineCsv(KLINES, 'BTCUSDT').slice(0, N);
  });

  it('starts after the history, fills exactly where the data says, and ends', async () => {
    const rules = defaultSymbolRules('BTCUSDT');
    const funding = loadFundingCsv(FUNDING);
    const s = new SimExchange({
      symbols: [{ rules, candles, fundingRates: funding }],
      manual: true,
      historyCandles: H,
      initialBalance: new Dec(100000),
    });
    const start = candles[H];
    expect(s.status()).toEqual({ duplicateClientOrderIds: 0, marketTimeMs: start.openTimeMs, finished: false, candlesReplayed: 0 });
    expect((await s.getLatestPrice('BTCUSDT')).eq(start.open)).toBe(true);
    const hist = await s.getHistoricalKlines('BTCUSDT', '1m', 1500);
    expect(hist).toHaveLength(H + 1);
    expect(hist[0].openTimeMs).toBe(candles[0].openTimeMs);
    expect(hist[H - 1].close.eq(candles[H - 1].close)).toBe(true);
    expect(hist[H]).toMatchObject({ openTimeMs: start.openTimeMs, closed: false });

    // independent expectations from the raw candles
    const replay = candles.slice(H);
    const minLow = Dec.min(...replay.map((c) => c.low));
    const maxHigh = Dec.max(...replay.map((c) => c.high));
    const firstAtOrBelow = (p: Dec) => replay.find((c) => c.low.lte(p))!;
    const firstAtOrAbove = (p: Dec) => replay.find((c) => c.high.gte(p))!;
    const tick = rules.tickSize;
    const q = new Dec('0.002');
    const buyHit = await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: q, price: minLow });
    const buyMiss = await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: q, price: minLow.minus(tick) });
    const sellHit = await s.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: q, price: maxHigh });
    const sellMiss = await s.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: q, price: maxHigh.plus(tick) });
    // a ladder around the start price, 150 USDT apart
    const base = start.open.div(100).floor().mul(100);
    const ladder = [];
    for (let i = 1; i <= 15; i++) {
      ladder.push(await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: q, price: base.minus(150 * i) }));
      ladder.push(await s.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: q, price: base.plus(150 * i) }));
    }

    const prices: number[] = [];
    s.watchPrice('BTCUSDT', { next: (t) => prices.push(t.timestampMs) });
    s.runToEnd();
    const last = candles[N - 1];
    expect(s.status()).toEqual({ duplicateClientOrderIds: 0, marketTimeMs: last.openTimeMs + 60_000, finished: true, candlesReplayed: N - H });
    expect((await s.getLatestPrice('BTCUSDT')).eq(last.close)).toBe(true);
    expect(prices.length).toBe((N - H) * 60 - 1); // one per path point; the first was processed before replay

    const check = async (id: string, expected: Candle | undefined, price: Dec) => {
      const o = await s.getOrder('BTCUSDT', { orderId: id });
      if (!expected) return expect(o.status).toBe('NEW');
      expect(o.status).toBe('FILLED');
      const f = o.trades[0];
      expect(f.price.eq(price) && f.maker).toBe(true);
      expect(f.timestampMs).toBeGreaterThanOrEqual(expected.openTimeMs);
      expect(f.timestampMs).toBeLessThan(expected.openTimeMs + 60_000);
      expect(f.fee.eq(price.mul(q).mul('0.0002'))).toBe(true);
    };
    await check(buyHit.orderId, firstAtOrBelow(minLow), minLow);
    await check(buyMiss.orderId, undefined, minLow);
    await check(sellHit.orderId, firstAtOrAbove(maxHigh), maxHigh);
    await check(sellMiss.orderId, undefined, maxHigh);
    for (const o of ladder) {
      const expected = o.side === 'BUY' ? firstAtOrBelow(o.price) : firstAtOrAbove(o.price);
      await check(o.orderId, expected, o.price);
    }
    expect(ladder.some((o) => o.side === 'BUY' && !firstAtOrBelow(o.price))).toBe(true); // not everything fills

    // wallet = initial + Σ realized − Σ fees + Σ funding, funding recomputed from trades and candle opens
    const trades: Fill[] = s.allTrades();
    let expected = new Dec(100000);
    for (const t of trades) expected = expected.plus(t.realizedPnl).minus(t.fee);
    const paid = funding.filter((f) => f.fundingTimeMs > start.openTimeMs && f.fundingTimeMs < last.openTimeMs + 60_000);
    expect(paid.length).toBeGreaterThanOrEqual(5);
    let withPosition = 0;
    for (const f of paid) {
      const size = trades
        .filter((t) => t.timestampMs <= f.fundingTimeMs)
        .reduce((a, t) => (t.side === 'BUY' ? a.plus(t.quantity) : a.minus(t.quantity)), new Dec(0));
      // funding times are 8 h minute opens plus a few ms of jitter (< 1 s path step): the mark is that candle's open
      const minute = Math.floor(f.fundingTimeMs / 60_000) * 60_000;
      const mark = candles.find((c) => c.openTimeMs === minute)!.open;
      expected = expected.minus(size.mul(mark).mul(f.rate));
      if (!size.isZero()) withPosition++;
    }
    expect(withPosition).toBeGreaterThanOrEqual(3);
    // the ledger is exact; reports are rounded to USDT's 8 dp (README "Several symbols, one account")
    expect(s.snapshotState().account.wallet).toBe(expected.toString());
    expect((await s.getBalance('USDT')).toString()).toBe(expected.toDecimalPlaces(8).toString());
    const hf = await s.getHistoricalFundingRates('BTCUSDT', 3);
    expect(hf.map((f) => f.timestampMs)).toEqual(paid.slice(-3).map((f) => f.fundingTimeMs));
  });
});
