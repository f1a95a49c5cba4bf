import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dec, type Candle, type OrderEvent } from '@mm/domain';
import {
  BINANCE_BTCUSDT_TIERS,
  BINANCE_ETHUSDT_TIERS,
  DEFAULT_MARGIN_TIERS,
  SimExchange,
  SymbolFileListError,
  crossLiquidationPrice,
  defaultSymbolRules,
  loadMarkPriceCsv,
  loadSimDataSet,
  maintenanceMargin,
  parseSymbolFiles,
  tierFor,
  type MarginTier,
} from './index';

const d = (s: string | number) => new Dec(s);
const MIN = 60_000;
const T0 = 1_700_000_040_000 - (1_700_000_040_000 % MIN);
const MARKET = path.resolve(__dirname, '../../../../shared/data/market');

function flat(symbol: string, from: number, n: number, price: string): Candle[] {
  return Array.from({ length: n }, (_, i) => ({ symbol, openTimeMs: from + i * MIN, open: d(price), high: d(price), low: d(price), close: d(price), volume: d(100), closed: true }));
}

/** Linear move from `a` to `b` over `n` candles (open = previous close). */
function ramp(symbol: string, from: number, n: number, a: number, b: number): Candle[] {
  const out: Candle[] = [];
  for (let i = 0; i < n; i++) {
    const o = a + ((b - a) * i) / n;
    const c = a + ((b - a) * (i + 1)) / n;
    out.push({ symbol, openTimeMs: from + i * MIN, open: d(o.toFixed(1)), high: d(Math.max(o, c).toFixed(1)), low: d(Math.min(o, c).toFixed(1)), close: d(c.toFixed(1)), volume: d(100), closed: true });
  }
  return out;
}

describe('maintenance-margin brackets', () => {
  it('derive the maintenance amounts (cum) of a recorded Binance leverageBracket response (BTCUSDT)', () => {
    // `cum` of each bracket as GET /fapi/v1/leverageBracket returned it for BTCUSDT
    const recordedCum = ['0', '50', '1300', '46300', '546300', '2546300', '5046300', '8046300', '28046300', '103046300'];
    expect(BINANCE_BTCUSDT_TIERS.map((t) => t.cum.toString())).toEqual(recordedCum);
    expect(BINANCE_ETHUSDT_TIERS.map((t) => t.cum.toString())).toEqual(recordedCum);
  });

  it('maintenance margin = notional × mmr − cum of the bracket, continuous at bracket edges', () => {
    expect(maintenanceMargin(BINANCE_BTCUSDT_TIERS, d(10_000)).toString()).toBe('40'); // 0.4 %
    expect(maintenanceMargin(BINANCE_BTCUSDT_TIERS, d(60_000)).toString()).toBe('250'); // 60 000 × 0.5 % − 50
    expect(maintenanceMargin(BINANCE_BTCUSDT_TIERS, d(0)).toString()).toBe('0');
    for (const table of [BINANCE_BTCUSDT_TIERS, BINANCE_ETHUSDT_TIERS, DEFAULT_MARGIN_TIERS] as MarginTier[][]) {
      for (let i = 1; i < table.length; i++) {
        const edge = table[i].floor;
        const below = edge.mul(table[i - 1].mmr).minus(table[i - 1].cum);
        const above = edge.mul(table[i].mmr).minus(table[i].cum);
        expect(above.minus(below).abs().lt('1e-30')).toBe(true);
        expect(tierFor(table, edge)).toBe(table[i - 1]);
        expect(tierFor(table, edge.plus('0.01'))).toBe(table[i]);
      }
    }
  });
});

describe('cross-margin liquidation price (Binance formula)', () => {
  it('single long, hand-computed: (300 − 0.1 × 100000) / (0.1 × 0.004 − 0.1) = 97389.558…', () => {
    const lp = crossLiquidationPrice({ wallet: d(300), othersMaintenance: d(0), othersUnrealized: d(0), size: d('0.1'), entry: d(100_000), tiers: BINANCE_BTCUSDT_TIERS });
    expect(lp.toFixed(6)).toBe('97389.558233'); // 9700 / 0.0996
    // at LP the margin balance equals the maintenance margin
    const mb = d(300).plus(lp.minus(100_000).mul('0.1'));
    expect(mb.minus(maintenanceMargin(BINANCE_BTCUSDT_TIERS, lp.mul('0.1'))).abs().lt('1e-40')).toBe(true);
  });

  it('single short: (1000 + 1 × 2000) / (1 × 0.004 + 1) = 2988.047…', () => {
    const lp = crossLiquidationPrice({ wallet: d(1000), othersMaintenance: d(0), othersUnrealized: d(0), size: d(-1), entry: d(2000), tiers: BINANCE_ETHUSDT_TIERS });
    expect(lp.toFixed(6)).toBe(d(3000).div('1.004').toFixed(6));
  });

  it('moves to the bracket of the notional at the liquidation price', () => {
    // 1 BTC at 100 000, wallet 10 000: bracket 1 gives 90 361 (notional > 50 000) → bracket 2: (10000 + 50 − 100000) / (0.005 − 1)
    const lp = crossLiquidationPrice({ wallet: d(10_000), othersMaintenance: d(0), othersUnrealized: d(0), size: d(1), entry: d(100_000), tiers: BINANCE_BTCUSDT_TIERS });
    expect(lp.toFixed(8)).toBe(d(89_950).div('0.995').toFixed(8));
  });

  it('accounts for the other positions (TMM1, UPNL1) and is 0 when the account cannot be liquidated', () => {
    const lp = crossLiquidationPrice({ wallet: d(500), othersMaintenance: d(8), othersUnrealized: d(-50), size: d('0.1'), entry: d(100_000), tiers: BINANCE_BTCUSDT_TIERS });
    // (500 − 8 − 50 − 10000) / (0.0004 − 0.1)
    expect(lp.toFixed(8)).toBe(d(-9558).div('-0.0996').toFixed(8));
    expect(crossLiquidationPrice({ wallet: d(1_000_000), othersMaintenance: d(0), othersUnrealized: d(0), size: d('0.1'), entry: d(100_000), tiers: BINANCE_BTCUSDT_TIERS }).toString()).toBe('0');
  });
});

describe('sim liquidation', () => {
  const H = 100;
  const BTC = defaultSymbolRules('BTCUSDT');
  // 100 000 flat, then −25 % within 10 minutes, then flat at 75 000
  const crash = [...flat('BTCUSDT', T0, H + 5, '100000'), ...ramp('BTCUSDT', T0 + (H + 5) * MIN, 10, 100_000, 75_000), ...flat('BTCUSDT', T0 + (H + 15) * MIN, 10, '75000')];

  function venue(liquidationFeeRate?: Dec): SimExchange {
    return new SimExchange({ symbols: [{ rules: BTC, candles: crash, leverage: 50 }], manual: true, initialBalance: d(300), historyCandles: H, liquidationFeeRate });
  }

  it('liquidates a leveraged long whose margin runs out, at the mark, with the clearance fee, and says so in the streams', async () => {
    const s = venue();
    const events: OrderEvent[] = [];
    const accounts: Dec[] = [];
    s.watchOrders({ next: (e) => events.push(e) });
    s.watchAccount({ next: (a) => accounts.push(a.totalWalletBalance) });
    await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.1') });
    const resting = await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: d('0.002'), price: d(90_000) });
    const wallet = d(300).minus(d(10_000).mul('0.0005')); // taker fee 5
    const [pos] = await s.getPositions('BTCUSDT');
    const lp = wallet.minus(10_000).div(d('0.0004').minus('0.1')); // hand formula, bracket 1
    expect(pos.liquidationPrice.toString()).toBe(lp.div('0.1').ceil().mul('0.1').toString()); // on the tick, rounded up for a long
    const acc = await s.getAccount();
    expect(acc.totalMaintenanceMargin!.toString()).toBe('40'); // 10 000 × 0.4 %
    expect(acc.totalInitialMargin!.toString()).toBe('200'); // 10 000 / 50
    expect(acc.marginRatio!.toString()).toBe(d(40).div(295).toDecimalPlaces(6).toString());

    s.runToEnd();
    const liq = s.liquidations();
    expect(liq).toHaveLength(1);
    const l = liq[0];
    expect(l).toMatchObject({ symbol: 'BTCUSDT', side: 'SELL' });
    expect(l.quantity.toString()).toBe('0.1');
    // closed at the first path price at or below the liquidation price (a path step is ≤ 125 USDT here)
    expect(l.price.lte(lp)).toBe(true);
    expect(l.price.gt(lp.minus(200))).toBe(true);
    expect(l.marginBalance.lte(l.maintenanceMargin)).toBe(true);
    const fee = l.price.mul('0.1').mul('0.0125');
    const left = wallet.plus(l.price.minus(100_000).mul('0.1'));
    expect(l.fee.toString()).toBe((fee.gt(left) ? Dec.max(left, 0) : fee).toString());
    expect(l.clientOrderId).toMatch(/^autoclose-\d+-BTCUSDT$/);
    // the resting buy was cancelled first, then the autoclose order filled
    const cancelled = events.findIndex((e) => e.order.orderId === resting.orderId && e.order.status === 'CANCELED');
    const filled = events.findIndex((e) => e.order.clientOrderId === l.clientOrderId && e.order.status === 'FILLED');
    expect(cancelled).toBeGreaterThan(-1);
    expect(filled).toBeGreaterThan(cancelled);
    expect(events[filled].lastTrade!.fee.toString()).toBe(l.fee.toString());
    const after = await s.getAccount();
    expect(after.positions[0].size.toString()).toBe('0');
    expect(after.totalWalletBalance.gte(0)).toBe(true);
    expect(after.totalWalletBalance.toString()).toBe(Dec.max(left.minus(l.fee), 0).toDecimalPlaces(8).toString());
    expect(accounts[accounts.length - 1].toString()).toBe(after.totalWalletBalance.toString());
  });

  it('with liquidation off the same crash leaves the account under water (what the issue observed)', async () => {
    const s = venue(d(-1));
    await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.1') });
    s.runToEnd();
    expect(s.liquidations()).toHaveLength(0);
    const acc = await s.getAccount();
    // 295 + (75 000 − 100 000) × 0.1 = −2205
    expect(acc.totalMarginBalance.toString()).toBe('-2205');
  });

  it('a well-margined position is not liquidated by the same crash', async () => {
    const s = new SimExchange({ symbols: [{ rules: BTC, candles: crash }], manual: true, initialBalance: d(5000), historyCandles: H });
    await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.1') });
    s.runToEnd();
    expect(s.liquidations()).toHaveLength(0);
    expect((await s.getAccount()).totalMarginBalance.toString()).toBe('2495');
  });

  it('cross margin: a loss on one symbol liquidates the whole account (both positions close)', async () => {
    const eth = [...flat('ETHUSDT', T0, H + 30, '2000')];
    const s = new SimExchange({
      symbols: [{ rules: BTC, candles: crash, leverage: 50 }, { rules: defaultSymbolRules('ETHUSDT'), candles: eth, leverage: 50 }],
      manual: true,
      initialBalance: d(400),
      historyCandles: H,
    });
    await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.1') });
    await s.placeOrder({ symbol: 'ETHUSDT', side: 'SELL', type: 'MARKET', quantity: d('1') });
    s.runToEnd();
    expect(s.liquidations().map((l) => l.symbol).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect((await s.getPositions()).every((p) => p.size.isZero())).toBe(true);
  });
});

describe('funding at the mark price', () => {
  const BTC = defaultSymbolRules('BTCUSDT');
  const ETH = defaultSymbolRules('ETHUSDT');
  const H = 10;
  const F1 = T0 + (H + 5) * MIN;
  const F2 = T0 + (H + 20) * MIN;

  it('pays −Σ size × mark × rate (mark from the samples, else the last price), booked exactly and reported', async () => {
    const s = new SimExchange({
      symbols: [
        {
          rules: BTC,
          candles: ramp('BTCUSDT', T0, H + 40, 100_000, 101_000),
          fundingRates: [{ fundingTimeMs: F1 + 1, rate: d('0.00012345') }, { fundingTimeMs: F2, rate: d('-0.00006789') }],
          markPrices: [{ timeMs: F1, price: d('100123.45678901') }],
        },
        { rules: ETH, candles: ramp('ETHUSDT', T0, H + 40, 2000, 1900), fundingRates: [{ fundingTimeMs: F2, rate: d('0.0001') }], markPrices: [{ timeMs: F2, price: d('1950.12345678') }] },
      ],
      manual: true,
      historyCandles: H,
    });
    const funding: { symbol: string; rate: string; t: number }[] = [];
    s.watchFundingRate('BTCUSDT', { next: (f) => funding.push({ symbol: f.symbol, rate: f.rate.toString(), t: f.timestampMs }) });
    await s.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: d('0.013') });
    await s.placeOrder({ symbol: 'ETHUSDT', side: 'SELL', type: 'MARKET', quantity: d('0.7') });
    const w0 = d(s.snapshotState().account.wallet);
    // BTC's last price at F2: the open of ramp candle 30 = 100 000 + 1000 × 30 / 50
    const lastAtF2 = d('100600');
    s.advance(F2 - s.status().marketTimeMs);
    // independent: BTC at F1 pays at the sample, at F2 (no sample) at the last price; ETH at its sample
    const expected = d('0.013').mul('100123.45678901').mul('0.00012345').neg()
      .plus(d('0.013').mul(lastAtF2).mul('-0.00006789').neg())
      .plus(d('-0.7').mul('1950.12345678').mul('0.0001').neg());
    const w1 = d(s.snapshotState().account.wallet);
    expect(w1.minus(w0).toString()).toBe(expected.toString());
    const acc = await s.getAccount();
    expect(acc.fundingPnl!.toString()).toBe(expected.toDecimalPlaces(8).toString());
    // per symbol (issue 9): each position carries its own funding; Σ = the account's
    const expBtc = d('0.013').mul('100123.45678901').mul('0.00012345').neg().plus(d('0.013').mul(lastAtF2).mul('-0.00006789').neg());
    const expEth = d('-0.7').mul('1950.12345678').mul('0.0001').neg();
    const byPos = Object.fromEntries(acc.positions.map((p) => [p.symbol, p.fundingPnl!.toString()]));
    expect(byPos).toEqual({ BTCUSDT: expBtc.toDecimalPlaces(8).toString(), ETHUSDT: expEth.toDecimalPlaces(8).toString() });
    // kept across a saved/restored sim state
    const saved = s.snapshotState();
    expect(saved.account.positions.find((p) => p.symbol === 'ETHUSDT')!.fundingPnl).toBe(expEth.toString());
    expect(acc.totalWalletBalance.decimalPlaces()).toBeLessThanOrEqual(8);
    expect(funding.map((f) => f.rate)).toEqual(['0.00012345', '-0.00006789']);
    expect((await s.getHistoricalFundingRates('BTCUSDT', 10)).map((f) => [f.timestampMs, f.rate.toString()])).toEqual([
      [F1 + 1, '0.00012345'], // Binance-style jitter: still settles at the F1 mark sample
      [F2, '-0.00006789'],
    ]);
  });

  it('loads the real 8 h mark-price file: the close of each row is the mark at the next funding time', () => {
    const marks = loadMarkPriceCsv(path.join(MARKET, 'binance-usdm-BTCUSDT-markprice-8h.csv'));
    const byTime = new Map(marks.map((m) => [m.timeMs, m.price.toString()]));
    expect(byTime.get(1741276800000)).toBe('90776.94748889'); // first row's open
    expect(byTime.get(1741276800000 + 8 * 3_600_000)).toBe('89887.9'); // first row's close
  });
});

describe('several symbols', () => {
  it('merges symbols on market time: one clock, candle closes in time order across symbols', () => {
    const a = flat('BTCUSDT', T0, 20, '100000');
    const b = flat('ETHUSDT', T0 + 3 * MIN, 20, '2000'); // starts later
    const s = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: a }, { rules: defaultSymbolRules('ETHUSDT'), candles: b }], manual: true, historyCandles: 2 });
    const closes: [string, number][] = [];
    for (const sym of ['BTCUSDT', 'ETHUSDT']) s.watchKlines(sym, '1m', { next: (c) => c.closed && closes.push([c.symbol, c.openTimeMs]) });
    let prev = -Infinity;
    for (let t = s.stepNext(); t !== undefined; t = s.stepNext()) {
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
    }
    for (let i = 1; i < closes.length; i++) expect(closes[i][1]).toBeGreaterThanOrEqual(closes[i - 1][1]);
    expect(closes.filter((c) => c[0] === 'ETHUSDT').length).toBeGreaterThan(10);
    expect(closes.filter((c) => c[0] === 'BTCUSDT').length).toBeGreaterThan(10);
    // the replay starts where every symbol has its history: the later symbol's start
    expect(closes[0][1]).toBeGreaterThanOrEqual(T0 + 5 * MIN);
  });

  it('scales default rules to the price level for symbols other than BTC/ETH', () => {
    const r = (sym: string, p: string) => {
      const x = defaultSymbolRules(sym, d(p));
      return [x.tickSize.toString(), x.stepSize.toString(), x.minQty.toString(), x.minNotional.toString()];
    };
    expect(r('SOLUSDT', '150')).toEqual(['0.01', '0.01', '0.01', '5']);
    expect(r('BNBUSDT', '600')).toEqual(['0.01', '0.01', '0.01', '6']);
    expect(r('DOGEUSDT', '0.2')).toEqual(['0.00001', '10', '10', '5']);
    expect(r('XUSDT', '100')).toEqual(['0.01', '0.1', '0.1', '10']);
    expect(r('BTCUSDT', '100000')).toEqual(['0.1', '0.001', '0.001', '100']);
    expect(r('ETHUSDT', '2000')).toEqual(['0.01', '0.001', '0.001', '20']);
    expect(() => defaultSymbolRules('XUSDT', d(0))).toThrow(/reference price/);
  });

  it('parses SYMBOL=path lists; a plain path belongs to the default symbol; bad lists name the setting', () => {
    expect([...parseSymbolFiles('BTCUSDT=a.csv, ETHUSDT=b.csv', 'BTCUSDT', 'SIM_DATA')]).toEqual([['BTCUSDT', 'a.csv'], ['ETHUSDT', 'b.csv']]);
    expect([...parseSymbolFiles('x/y.csv', 'SOLUSDT', 'SIM_DATA')]).toEqual([['SOLUSDT', 'x/y.csv']]);
    expect(parseSymbolFiles(undefined, 'BTCUSDT', 'SIM_DATA').size).toBe(0);
    expect(() => parseSymbolFiles('BTCUSDT=a.csv,btc=b.csv', 'BTCUSDT', 'SIM_DATA')).toThrow(SymbolFileListError);
    expect(() => parseSymbolFiles('BTCUSDT=a.csv,BTCUSDT=b.csv', 'BTCUSDT', 'SIM_FUNDING')).toThrow(/SIM_FUNDING: BTCUSDT is given twice/);
  });

  it('loads a data set: each symbol with its own funding, mark prices and rules; funding for a symbol without data is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simset-'));
    const sol = path.join(dir, 'sol.csv');
    fs.writeFileSync(sol, 'open_time_ms,open,high,low,close,volume_base\n' + [0, 1, 2].map((i) => `${T0 + i * MIN},150.12,150.5,149.9,150.2,10`).join('\n') + '\n');
    const set = loadSimDataSet({
      data: `BTCUSDT=${path.join(MARKET, 'binance-usdm-BTCUSDT-1m-20250504-20250624.csv')},SOLUSDT=${sol}`,
      funding: `BTCUSDT=${path.join(MARKET, 'binance-usdm-BTCUSDT-funding-rate-8h.csv')}`,
      markPrice: `BTCUSDT=${path.join(MARKET, 'binance-usdm-BTCUSDT-markprice-8h.csv')}`,
      defaultSymbol: 'BTCUSDT',
      maxCandles: 500,
    });
    expect(set.map((x) => x.symbol)).toEqual(['BTCUSDT', 'SOLUSDT']);
    expect(set[0].data.fundingRates!.length).toBeGreaterThan(100);
    expect(set[0].data.markPrices!.length).toBeGreaterThan(100);
    expect(set[1].data.fundingRates).toBeUndefined();
    expect(set[1].rules.tickSize.toString()).toBe('0.01');
    expect(set[0].rules.tickSize.toString()).toBe('0.1');
    expect(() => loadSimDataSet({ data: `SOLUSDT=${sol}`, funding: `ETHUSDT=${sol}`, defaultSymbol: 'BTCUSDT' })).toThrow(/SIM_FUNDING: ETHUSDT has no price data/);
    fs.rmSync(dir, { recursive: true });
  });
});
