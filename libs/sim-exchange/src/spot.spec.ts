import * as fs from 'node:fs';
import { Dec, VenueError, type Candle } from '@mm/domain';
import { fundingFromWire, fundingToWire } from '@mm/contracts';
import { DEFAULT_SPOT_BASIS, SimSpotExchange, defaultSpotRules, deriveSpotCandles, loadKlineCsv } from './index';

const DATA = '/work/shared/data/market';
const SPOT_BTC = `${DATA}/binance-spot-BTCUSDT-1m-20250520-20250624.csv`;
const PERP_BTC = `${DATA}/binance-usdm-BTCUSDT-1m-20250504-20250624.csv`;
const H = 3_600_000;
const d = (s: string | number) => new Dec(s);

/** The first `n` data rows of a klines CSV, parsed here independently of the loader. */
function rawRows(file: string, n: number): { t: number; open: string; high: string; low: string; close: string }[] {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(120 * (n + 2));
  const len = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  const lines = buf.subarray(0, len).toString('utf8').split('\n').slice(1, n + 1);
  return lines.map((l) => {
    const [t, open, high, low, close] = l.split(',');
    return { t: Number(t), open, high, low, close };
  });
}

/** Flat candles at `price` from `t0`, one a minute. */
const flat = (symbol: string, t0: number, n: number, price: string): Candle[] =>
  Array.from({ length: n }, (_, i) => ({ symbol, openTimeMs: t0 + i * 60_000, open: d(price), high: d(price), low: d(price), close: d(price), volume: d(1), closed: true }));

/** ceil(a × b) to 8 decimals, in integer arithmetic on the decimal strings (independent of decimal.js rounding). */
function ceil8(a: string, b: string): bigint {
  const scaled = (s: string): [bigint, number] => {
    const [i, f = ''] = s.split('.');
    return [BigInt(i + f), f.length];
  };
  const [x, fx] = scaled(a);
  const [y, fy] = scaled(b);
  const num = x * y; // scale 10^(fx+fy)
  const e = fx + fy - 8;
  if (e <= 0) return num * 10n ** BigInt(-e);
  const div = 10n ** BigInt(e);
  return (num + div - 1n) / div; // units of 1e-8
}
const from8 = (units: bigint) => new Dec(units.toString()).div(1e8);

describe('SimSpotExchange: orders against the real Binance spot BTCUSDT path', () => {
  const HIST = 5;
  const rows = rawRows(SPOT_BTC, 3000);
  const venue = () =>
    new SimSpotExchange({ symbols: [{ rules: defaultSpotRules('BTCUSDT'), candles: { csvPath: SPOT_BTC } }], balances: { USDT: d('100000') }, historyCandles: HIST });

  it('a post-only BUY limit below the last price rests, then fills at its price (maker) in the first minute whose low reaches it', async () => {
    const v = venue();
    const last = d(rows[HIST - 1].close);
    expect((await v.getLatestPrice('BTCUSDT')).eq(last)).toBe(true);
    expect(v.clock.now()).toBe(rows[HIST].t);
    const price = last.mul('0.998').toDecimalPlaces(2, Dec.ROUND_DOWN);
    const hit = rows.findIndex((r, i) => i >= HIST && d(r.low).lte(price));
    expect(hit).toBeGreaterThan(HIST); // the test data must contain the touch
    const o = await v.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: d('0.01'), price, postOnly: true, clientOrderId: 'spot-buy-1' });
    expect(o.status).toBe('NEW');
    const fills: number[] = [];
    v.watchOrders({ next: (e) => e.lastTrade && fills.push(e.lastTrade.timestampMs) });
    // one minute before the touching candle: still open
    v.advance(rows[hit].t - 1 - v.clock.now());
    expect((await v.getOrder('BTCUSDT', { clientOrderId: 'spot-buy-1' })).status).toBe('NEW');
    v.advance(60_000);
    const done = await v.getOrder('BTCUSDT', { clientOrderId: 'spot-buy-1' });
    expect(done.status).toBe('FILLED');
    expect(done.avgPrice.eq(price)).toBe(true);
    expect(fills).toHaveLength(1);
    expect(fills[0]).toBeGreaterThanOrEqual(rows[hit].t);
    expect(fills[0]).toBeLessThan(rows[hit].t + 60_000);
    const fee = price.mul('0.01').mul('0.001').toDecimalPlaces(8, Dec.ROUND_HALF_UP);
    expect(done.trades[0].maker).toBe(true);
    expect(done.trades[0].fee.eq(fee)).toBe(true);
    expect((await v.getBalance('USDT')).eq(d('100000').sub(price.mul('0.01')).sub(fee))).toBe(true);
    expect((await v.getBalance('BTC')).eq('0.01')).toBe(true);
    expect(v.balances().find((b) => b.asset === 'USDT')!.locked.isZero()).toBe(true);
  });

  it('a SELL limit above every high of the window stays open; cancel releases its base', async () => {
    const v = new SimSpotExchange({ symbols: [{ rules: defaultSpotRules('BTCUSDT'), candles: { csvPath: SPOT_BTC } }], balances: { USDT: d('1000'), BTC: d('0.1') }, historyCandles: HIST });
    const maxHigh = rows.slice(HIST, 600).reduce((m, r) => Dec.max(m, d(r.high)), d(0));
    const o = await v.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: d('0.05'), price: maxHigh.add('0.01') });
    v.advance(rows[600].t - v.clock.now() - 1);
    expect((await v.getOrder('BTCUSDT', { orderId: o.orderId })).status).toBe('NEW');
    expect(v.balances().find((b) => b.asset === 'BTC')!.locked.eq('0.05')).toBe(true);
    await v.cancelOrder('BTCUSDT', o.orderId);
    const btc = v.balances().find((b) => b.asset === 'BTC')!;
    expect(btc.free.eq('0.1') && btc.locked.isZero()).toBe(true);
  });

  it('rejects a crossing post-only order; a MARKET BUY fills at the last price with the taker fee', async () => {
    const v = venue();
    const last = d(rows[HIST - 1].close);
    await expect(v.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: d('0.01'), price: last, timeInForce: 'GTX' })).rejects.toMatchObject({
      reason: 'POST_ONLY_WOULD_TAKE',
    });
    const o = await v.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.2') });
    expect(o.status).toBe('FILLED');
    expect(o.avgPrice.eq(last)).toBe(true);
    const fee = last.mul('0.2').mul('0.001').toDecimalPlaces(8, Dec.ROUND_HALF_UP);
    expect(o.trades[0].maker).toBe(false);
    expect((await v.getBalance('USDT')).eq(d('100000').sub(last.mul('0.2')).sub(fee))).toBe(true);
    // a SELL beyond the free base without margin is refused, naming the shortfall
    await expect(v.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: d('0.3') })).rejects.toMatchObject({ reason: 'INSUFFICIENT_MARGIN' });
    await expect(v.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: d('0.000001') })).rejects.toMatchObject({ field: 'quantity' });
  });

  it('the documented default basis matches the real data: mean perp ÷ spot − 1 over 3 000 overlapping minutes is within 2 bp of it', () => {
    const spot = rawRows(SPOT_BTC, 3000);
    const perp = new Map(rawRows(PERP_BTC, 80_000).map((r) => [r.t, r.close]));
    let sum = d(0);
    let n = 0;
    for (const s of spot) {
      const p = perp.get(s.t);
      if (p === undefined) continue;
      sum = sum.add(d(p).div(s.close).sub(1));
      n++;
    }
    expect(n).toBeGreaterThan(2900);
    expect(sum.div(n).sub(DEFAULT_SPOT_BASIS).abs().lt('0.0002')).toBe(true);
  });
});

describe('SimSpotExchange: spot path derived from the perpetual', () => {
  it('spot = perp ÷ (1 + basis) on the tick grid; orders fill on the derived path', async () => {
    const perp = loadKlineCsv(PERP_BTC, 'BTCUSDT').slice(0, 100);
    const v = new SimSpotExchange({
      symbols: [{ rules: defaultSpotRules('BTCUSDT'), derivedFrom: { perpCandles: perp, basis: d('-0.001') } }],
      balances: { USDT: d('10000') },
      historyCandles: 10,
    });
    // independent: close 9 of the perp ÷ 0.999, to 2 decimals
    const expected = d(perp[9].close.toString()).div('0.999').toDecimalPlaces(2);
    expect((await v.getLatestPrice('BTCUSDT')).eq(expected)).toBe(true);
    expect(deriveSpotCandles(perp, d('0.01'))[0].open.eq(perp[0].open.div(d(1).add(DEFAULT_SPOT_BASIS)).toDecimalPlaces(2))).toBe(true);
    v.advance(30 * 60_000);
    const o = await v.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.001') });
    // market time is candle 40's open: its first path point (the open) has been reached
    expect(o.avgPrice.eq(d(perp[40].open.toString()).div('0.999').toDecimalPlaces(2))).toBe(true);
  });
});

describe('SimSpotExchange: margin borrowing and hourly interest (REQ-ARB-007)', () => {
  const T0 = 1_750_000_000_000 - (1_750_000_000_000 % H) + 17 * 60_000; // 17 min past an hour
  const RATE = '0.000004166667'; // ≈ 3.65 % a year, per hour: P × r is never on the 8-dp grid
  const mk = (usdt = '100000') =>
    new SimSpotExchange({
      symbols: [{ rules: defaultSpotRules('BTCUSDT'), candles: flat('BTCUSDT', T0, 40 * 60, '100000') }],
      balances: { USDT: d(usdt) },
      hourlyInterest: { BTC: d(RATE), USDT: d('0.000001') },
      autoBorrow: true,
    });

  it('a short SELL borrows the base; interest is booked at each hour boundary, rounded up, exactly as an integer computation', async () => {
    const v = mk();
    const o = await v.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: d('0.5'), clientOrderId: 'short-1' });
    expect(o.status).toBe('FILLED');
    let btc = v.balances().find((b) => b.asset === 'BTC')!;
    expect(btc.borrowed.eq('0.5') && btc.free.isZero()).toBe(true);
    // 40 min: no boundary yet
    v.advance(40 * 60_000 - 1);
    expect(v.balances().find((b) => b.asset === 'BTC')!.interest.isZero()).toBe(true);
    // 10 h from the sale → 10 boundaries
    v.advance(10 * H - (40 * 60_000 - 1));
    const perHour = ceil8('0.5', RATE);
    btc = v.balances().find((b) => b.asset === 'BTC')!;
    expect(btc.interest.eq(from8(perHour * 10n))).toBe(true);
    expect(perHour).toBe(209n); // 0.5 × 0.000004166667 = 0.0000020833335 → 0.00000209
    // the margin position (getPositions and getAccount): net = −(principal + interest owed), base units
    for (const [p] of [await v.getPositions('BTCUSDT'), (await v.getAccount()).positions]) {
      expect(p.symbol).toBe('BTCUSDT');
      expect([p.size.toString(), p.borrowed!.toString(), p.borrowInterest!.toString()]).toEqual([from8(-(50_000_000n + perHour * 10n)).toString(), '0.5', from8(perHour * 10n).toString()]);
    }

    // BUY 0.2 back: auto-repay takes the interest first, then principal
    await v.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.2') });
    btc = v.balances().find((b) => b.asset === 'BTC')!;
    const principal2 = 50_000_000n - (20_000_000n - perHour * 10n); // 1e-8 units
    expect(btc.interest.isZero()).toBe(true);
    expect(btc.borrowed.eq(from8(principal2))).toBe(true);
    v.advance(5 * H);
    const perHour2 = ceil8(from8(principal2).toFixed(8), RATE);
    btc = v.balances().find((b) => b.asset === 'BTC')!;
    expect(btc.interest.eq(from8(perHour2 * 5n))).toBe(true);
    expect(btc.interestAccrued.eq(from8(perHour * 10n + perHour2 * 5n))).toBe(true);

    // explicit repay of everything after buying the rest back
    const debt = btc.borrowed.add(btc.interest);
    await v.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.31') });
    btc = v.balances().find((b) => b.asset === 'BTC')!;
    expect(btc.borrowed.isZero() && btc.interest.isZero()).toBe(true);
    expect(btc.free.eq(d('0.31').sub(debt))).toBe(true);
    v.advance(3 * H);
    expect(v.balances().find((b) => b.asset === 'BTC')!.interestAccrued.eq(from8(perHour * 10n + perHour2 * 5n))).toBe(true);
  });

  it('explicit borrow/repay of the quote asset; repay pays interest before principal', async () => {
    const v = mk('1000');
    await v.borrow('USDT', d('500'));
    v.advance(2 * H); // boundaries at +43 min and +1 h 43 min
    let u = v.balances().find((b) => b.asset === 'USDT')!;
    expect(u.interest.eq(from8(ceil8('500', '0.000001') * 2n))).toBe(true);
    await v.repay('USDT', d('100'));
    u = v.balances().find((b) => b.asset === 'USDT')!;
    expect(u.interest.isZero()).toBe(true);
    expect(u.borrowed.eq(d('500').sub(d('100').sub(from8(ceil8('500', '0.000001') * 2n))))).toBe(true);
    await expect(v.repay('USDT', d('5000'))).rejects.toMatchObject({ field: 'amount' });
    await expect(v.borrow('ETH', d('1'))).rejects.toMatchObject({ field: 'asset' });
  });

  it('refuses a borrow beyond equity × (maxLeverage − 1) with INSUFFICIENT_MARGIN', async () => {
    const v = mk('10000');
    const err = await v.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: d('0.3') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueError);
    expect((err as VenueError).reason).toBe('INSUFFICIENT_MARGIN');
    expect(v.balances().find((b) => b.asset === 'BTC')!.borrowed.isZero()).toBe(true);
    const ok = await v.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: d('0.15') });
    expect(ok.status).toBe('FILLED');
  });
});

describe('SimSpotExchange: funding answers of a spot market (REQ-FUND-003/004)', () => {
  it('rate 0, next funding time 0, the receipt time, no predicted rate — also after the wire codec', async () => {
    const t0 = 1_750_000_000_000;
    const v = new SimSpotExchange({ symbols: [{ rules: defaultSpotRules('ETHUSDT'), candles: flat('ETHUSDT', t0, 120, '2500') }], balances: {} });
    v.advance(37 * 60_000 + 123);
    const f = await v.getFundingRate('ETHUSDT');
    expect(f.rate.isZero()).toBe(true);
    expect(f.nextFundingTimeMs).toBe(0);
    expect(f.timestampMs).toBe(t0 + 37 * 60_000 + 123);
    expect(f.predictedRate).toBeUndefined();
    const wire = fundingToWire(f, 'simspot');
    expect(wire.predictedRate).toBeUndefined();
    expect(wire.nextFundingTime).toBe('0');
    const back = fundingFromWire(wire);
    expect(back.predictedRate).toBeUndefined();
    expect(back.timestampMs).toBe(f.timestampMs);
    expect(await v.getHistoricalFundingRates('ETHUSDT')).toEqual([]);
    await expect(v.getFundingRate('BTCUSDT')).rejects.toMatchObject({ reason: 'UNKNOWN_SYMBOL' });
  });
});

describe('SimSpotExchange: configuration errors name the key', () => {
  const t0 = 1_750_000_000_000;
  const sym = [{ rules: defaultSpotRules('BTCUSDT'), candles: flat('BTCUSDT', t0, 10, '100000') }];
  it('rejects balances and interest rates for assets no spot symbol trades, and a symbol given two sources', () => {
    expect(() => new SimSpotExchange({ symbols: sym, balances: { BNB: d(1) } })).toThrow(/^balances\.BNB: not an asset of the spot symbols \(BTC, USDT\)$/);
    expect(() => new SimSpotExchange({ symbols: sym, balances: {}, hourlyInterest: { ETH: d('0.00001') } })).toThrow(/^hourlyInterest\.ETH: not an asset/);
    expect(() => new SimSpotExchange({ symbols: [{ ...sym[0], derivedFrom: { perpCandles: sym[0].candles } }], balances: {} })).toThrow(/symbols\.BTCUSDT: give exactly one of candles \/ derivedFrom/);
  });
});
