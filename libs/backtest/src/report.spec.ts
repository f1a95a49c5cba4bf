import { Dec } from '@mm/domain';
import { breakerTime, buildReport, dailyCloses, dailyReturns, downsampleLine, drawdown, renderReportJson, renderSummaryTable, sharpe, sortino, type BacktestResult, type EquitySample } from './index';

const d = (v: string | number) => new Dec(v);
const H = 3_600_000;
const D0 = Date.UTC(2025, 4, 4);
const D = 24 * H;

function sample(timeMs: number, equity: number, extra: Partial<EquitySample> = {}): EquitySample {
  const z = d(0);
  return { timeMs, equity: d(equity), realized: z, unrealized: z, fees: z, funding: z, inventoryQty: z, inventoryNotional: z, ...extra };
}

// 1000 → 1100 (peak) → 990 (−110, −10 %) → 1050 → 1120 (new peak after 25 h) → 1000 (−120, −10.714 %, never recovers: 22 h)
const CURVE = [sample(D0 + H, 1000), sample(D0 + 2 * H, 1100), sample(D0 + 5 * H, 990), sample(D + D0 + H, 1050), sample(D0 + D + 3 * H, 1120), sample(D0 + 2 * D + H, 1000)];

describe('drawdown', () => {
  it('absolute, relative and duration (peak to recovery, or to the end when never recovered)', () => {
    const dd = drawdown(CURVE);
    expect(dd.maxAbs.toString()).toBe('120');
    expect(dd.maxPct.toDecimalPlaces(8).toString()).toBe('0.10714286');
    expect(dd.peakMs).toBe(D0 + D + 3 * H);
    expect(dd.troughMs).toBe(D0 + 2 * D + H);
    expect(dd.maxDurationMs).toBe(25 * H);
    // the unrecovered tail is the longest when it lasts longer
    expect(drawdown([...CURVE, sample(D0 + 4 * D, 1110)]).maxDurationMs).toBe(4 * D - (D + 3 * H));
    expect(drawdown([sample(0, 5), sample(1, 6)])).toMatchObject({ maxDurationMs: 0 });
    expect(drawdown([sample(0, 5), sample(1, 6)]).maxAbs.toString()).toBe('0');
  });
});

describe('daily returns, Sharpe and Sortino', () => {
  it('daily closes start from the starting balance and take the last sample of each UTC day', () => {
    const c = dailyCloses(CURVE, d(1000));
    expect(c.map((x) => [x.dayMs - D0, x.equity.toString()])).toEqual([
      [-D, '1000'],
      [0, '990'],
      [D, '1120'],
      [2 * D, '1000'],
    ]);
    const r = dailyReturns(c);
    expect(r[0]).toBeCloseTo(-0.01, 12);
    expect(r[1]).toBeCloseTo(1120 / 990 - 1, 12);
    expect(r[2]).toBeCloseTo(1000 / 1120 - 1, 12);
  });
  it('Sharpe = mean / sample stdev × √365; Sortino = mean / downside deviation × √365 (hand-computed)', () => {
    // mean 0.01; sample variance 0.001/3; stdev 0.0182574; 0.01/0.0182574 × 19.1049732 = 10.4642
    expect(sharpe([0.02, 0, -0.01, 0.03])).toBeCloseTo(10.4642, 3);
    // downside deviation √(0.0001/4) = 0.005; 0.01/0.005 × 19.1049732 = 38.2099
    expect(sortino([0.02, 0, -0.01, 0.03])).toBeCloseTo(38.2099, 3);
    expect(sharpe([0.01])).toBeUndefined();
    expect(sharpe([0.01, 0.01])).toBeUndefined();
    expect(sortino([0.01, 0.02])).toBeUndefined();
  });
});

describe('breaker time', () => {
  it('sums each reason and the union for the total; open intervals run to the end', () => {
    const b = breakerTime(
      [
        { fromMs: 0, toMs: 10, reason: 'drawdown' },
        { fromMs: 5, toMs: 20, reason: 'crash_guard' },
        { fromMs: 30, reason: 'drawdown' },
      ],
      0,
      40,
    );
    expect(b).toEqual({ totalMs: 30, byReason: { drawdown: 20, crash_guard: 15 } });
  });
});

function syntheticResult(): BacktestResult {
  const z = d(0);
  return {
    symbol: 'BTCUSDT',
    startMs: D0,
    endMs: D0 + 3 * D,
    startingBalance: d(1000),
    fills: [
      { timeMs: D0 + H, symbol: 'BTCUSDT', side: 'BUY', price: d('100'), qty: d('1'), fee: d('0.02'), liquidity: 'maker' },
      { timeMs: D0 + 3 * H, symbol: 'BTCUSDT', side: 'SELL', price: d('110'), qty: d('1'), fee: d('0.022'), liquidity: 'maker' },
      { timeMs: D0 + D, symbol: 'BTCUSDT', side: 'BUY', price: d('105'), qty: d('1'), fee: d('0.0525'), liquidity: 'taker' },
      { timeMs: D0 + D + 5 * H, symbol: 'BTCUSDT', side: 'SELL', price: d('101'), qty: d('1'), fee: d('0.0202'), liquidity: 'maker' },
    ],
    roundTrips: [
      { symbol: 'BTCUSDT', direction: 'LONG', openTimeMs: D0 + H, closeTimeMs: D0 + 3 * H, qty: d(1), entryPrice: d(100), exitPrice: d(110), pnl: d(10), fees: d('0.042') },
      { symbol: 'BTCUSDT', direction: 'LONG', openTimeMs: D0 + D, closeTimeMs: D0 + D + 5 * H, qty: d(1), entryPrice: d(105), exitPrice: d(101), pnl: d(-4), fees: d('0.0727') },
    ],
    equity: [
      sample(D0, 1000),
      sample(D0 + 3 * H, 1009.958, { realized: d(10), fees: d('0.042') }),
      sample(D0 + D + 5 * H, 1005.8853, { realized: d(6), fees: d('0.1147') }),
      sample(D0 + 2 * D, 1005.9353, { realized: d(6), fees: d('0.1147'), funding: d('0.05') }),
      sample(D0 + 3 * D, 1005.9353 - 2, { realized: d(6), unrealized: d(-2), fees: d('0.1147'), funding: d('0.05'), inventoryQty: d(1), inventoryNotional: d(103) }),
    ],
    breakers: [{ fromMs: D0 + 2 * D, toMs: D0 + 2 * D + H, reason: 'max_drawdown' }],
    candles: [],
    config: { grid: { price_interval: '5', order_notional: d('100') }, a: 1 },
    source: { data: 'synthetic' },
  };
}

describe('buildReport', () => {
  it('computes the summary with exact decimals and the accounting identities', () => {
    const r = syntheticResult();
    const rep = buildReport(r);
    const m = rep.summary;
    expect(m.finalEquity).toBe('1003.9353');
    // final equity = start + realized + unrealized − fees + funding
    expect(d(m.startingBalance).plus(m.realizedPnl).plus(m.unrealizedPnl).minus(m.fees).plus(m.funding).toString()).toBe(m.finalEquity);
    expect(m.netPnl).toBe('3.9353');
    expect(m.returnOnCapital).toBe('0.00393530');
    // realized = Σ round-trip gross PnL; round-trip net = realized − fees
    expect(r.roundTrips.reduce((a, t) => a.plus(t.pnl), d(0)).toString()).toBe(m.realizedPnl);
    expect(m.roundTripNetPnl).toBe(d(m.realizedPnl).minus(m.fees).toString());
    expect(m.roundTrips).toBe(2);
    expect(m.winRate).toBe('0.5000');
    expect(m.avgHoldingMs).toBe(((2 + 5) * H) / 2);
    expect(m.fills).toBe(4);
    expect(m.makerFills).toBe(3);
    expect(m.takerFills).toBe(1);
    expect(m.fillsPerDay).toBe('1.33');
    expect(m.tradedNotional).toBe('416');
    expect(m.maxInventoryNotional).toBe('103');
    expect(m.maxDrawdown).toBe('6.0227');
    expect(m.breakerOpenMs).toBe(H);
    expect(m.breakerOpenByReason).toEqual({ max_drawdown: H });
    expect(rep.config).toEqual({ a: 1, grid: { order_notional: '100', price_interval: '5' } });
    expect(Object.keys(rep.config)).toEqual(['a', 'grid']);
    expect(rep.daily.map((x) => x.date)).toEqual(['2025-05-04', '2025-05-05', '2025-05-06', '2025-05-07']);
    expect(m.sharpe).not.toBeNull();
  });

  it('report.json is byte-identical for the same input, and the terminal table shows the values', () => {
    const a = renderReportJson(buildReport(syntheticResult()));
    const b = renderReportJson(buildReport(syntheticResult()));
    expect(a).toBe(b);
    expect(JSON.parse(a).summary.netPnl).toBe('3.9353');
    expect(a).not.toMatch(/e-\d/);
    const t = renderSummaryTable(buildReport(syntheticResult()));
    expect(t).toMatch(/\| Net PnL +\| +3\.94 \|/);
    expect(t).toMatch(/\| Win rate +\| +50\.0 % \|/);
    expect(t).toMatch(/\| Breaker open +\| +01:00:00 \(max_drawdown 01:00:00\) \|/);
  });
});

describe('downsampleLine', () => {
  it('keeps the extremes of every bucket, in time order, with strictly ascending seconds', () => {
    const pts = Array.from({ length: 10_000 }, (_, i) => ({ timeMs: i * 1000, value: i === 7777 ? -500 : Math.sin(i / 100) }));
    const out = downsampleLine(pts, 100);
    expect(out.length).toBeLessThanOrEqual(300);
    expect(out.some((p) => p.value === -500 && p.time === 7777)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i].time).toBeGreaterThan(out[i - 1].time);
    expect(out[out.length - 1].time).toBe(9999);
  });
});
