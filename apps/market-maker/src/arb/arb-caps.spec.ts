import { type Candle, Dec, VirtualScheduler, dec } from '@mm/domain';
import { type FundingPoint, SimExchange, SimSpotExchange, defaultSpotRules, defaultSymbolRules } from '@mm/sim-exchange';
import { type ArbThresholds, CountingMetrics, FundingArbStrategy, type GridEngineSettings, InMemoryArbJournal, InMemoryStateStore, type PairSpec, SharedPortfolioLimiter, buildGridEngine } from '@mm/trading';
import { arbExposure, arbPortfolioKey, portfolioCapCheck } from './arb-runner';

/**
 * Acceptance 7 of issue 10: the grid (BTCUSDT) and the funding arbitrage (ETHUSDT, spot + perp legs)
 * of one market maker share ONE SharedPortfolioLimiter — the grid's exposure uses the cap, and the
 * arbitrage's entry (screened through the app's `portfolioCapCheck`) is blocked by it; without the
 * grid's exposure the same entry goes through. Real parts: in-process sims, a real grid engine.
 */
const H = 3_600_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % H);
const flat = (symbol: string, p: string, n: number): Candle[] =>
  Array.from({ length: n }, (_, i) => ({ symbol, openTimeMs: T0 + i * 60_000, open: dec(p), high: dec(p), low: dec(p), close: dec(p), volume: dec('10'), closed: true }));
const funding: FundingPoint[] = [-16 * H, -8 * H, 2 * H, 10 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec('0.0005') }));

const THRESHOLDS: ArbThresholds = {
  entryApr: dec('0.10'),
  exitApr: dec('0.02'),
  minAboveThresholdMs: 0,
  minLeadBeforeFundingMs: 0,
  expectedHoldMs: 7 * 24 * H,
  basisHaircutApr: dec('0.02'),
  maxLegPriceSpread: dec('0.01'),
  maxFundingAgeMs: 5 * 60_000,
};

function gridSettings(symbol: string): GridEngineSettings {
  return {
    instanceId: 'mm1',
    params: { symbol, mode: 'long', inventorySkewFactor: dec('0'), priceInterval: dec('100'), orderNotional: dec('250'), minOrderValue: dec('10'), buyWindow: 5, sellWindow: 5, safetyBufferRatio: dec('0.1'), maxActiveOrders: 50, cancelHysteresisLevels: 1 },
    makerFee: dec('0.0002'),
    takerFee: dec('0.0005'),
    reconcileIntervalMs: 3_600_000,
    pendingTimeoutMs: 600_000,
    stalePriceMs: 600_000,
    dynamicInterval: null,
    maxLeverage: 20,
    reconcileTolerancePct: dec('5'),
    cancelForeignOrders: false,
    marginLockMs: 10_000,
    cleaner: { maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false },
    clientIdSecret: 'arb-caps-spec-secret-0001',
    risk: {
      symbol,
      breaker: { maxConsecutiveLosses: 0, drawdownWindowMs: 3_600_000, maxDrawdownAbs: new Dec(0), maxDrawdownPct: new Dec(0), latencyWindowMs: 60_000, maxLatencyP99Ms: 0, minLatencySamples: 20, maxPriceAgeMs: 0, maxOrderStreamAgeMs: 0, cooldownMs: 0, halfOpenProbeMs: 60_000 },
      monitor: null,
      exposure: { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) },
      keepExitsOnTrip: true,
    },
    executor: { ratePerSec: 20, burst: 20, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 },
  };
}

async function run(withGrid: boolean) {
  const perp = new SimExchange({
    symbols: [
      { rules: defaultSymbolRules('BTCUSDT'), candles: flat('BTCUSDT', '100000', 120) },
      { rules: defaultSymbolRules('ETHUSDT'), candles: flat('ETHUSDT', '2000', 120), fundingRates: funding },
    ],
    manual: true,
    historyCandles: 20,
    tickIntervalMs: 1000,
    initialBalance: dec('100000'),
  });
  const spot = new SimSpotExchange({ name: 'simspot', symbols: [{ rules: defaultSpotRules('ETHUSDT'), candles: flat('ETHUSDT', '2000', 120) }], balances: { USDT: dec('100000') }, historyCandles: 20 });
  const scheduler = new VirtualScheduler(perp.clock.now());
  // grid: 5 buys of 0.002 BTC at ≈ 99 900 … 99 500 ≈ 997 of opening notional; the arbitrage entry
  // is 2 legs × 0.05 ETH × 2000 = 200: 997 + 200 > 1150, 200 alone is not
  const portfolio = new SharedPortfolioLimiter({ maxTotalNotional: dec('1150'), maxTotalOpenOrderNotional: dec('0') });
  const grid = buildGridEngine({ venue: perp, store: new InMemoryStateStore('BTCUSDT', () => scheduler.now()), scheduler, metrics: new CountingMetrics(), portfolio }, gridSettings('BTCUSDT'));
  if (withGrid) {
    await grid.start();
    await grid.whenIdle();
  }
  const base = { symbol: 'ETHUSDT', execution: { type: 'MARKET' } as const, defaultFundingIntervalMs: 8 * H };
  const pair: PairSpec = {
    symbol: 'ETHUSDT',
    orderQty: dec('0.05'),
    legs: {
      a: { ...base, venue: spot, kind: 'spot', makerFee: dec('0.001'), takerFee: dec('0.001'), borrowRateHourly: dec(0), canShort: false },
      b: { ...base, venue: perp, kind: 'perp', makerFee: dec('0.0002'), takerFee: dec('0.0005'), borrowRateHourly: dec(0), canShort: true },
    },
  };
  const strategy = new FundingArbStrategy(
    { pairs: [pair], thresholds: THRESHOLDS, decisionIntervalMs: 60_000, fundingPollMs: 60_000, firstLeg: 'long', maxSendAttempts: 3, retryDelayMs: 30_000, maxEntryAttemptsPerFunding: 1 },
    { scheduler, journal: new InMemoryArbJournal(), caps: portfolioCapCheck(portfolio) },
  );
  await strategy.start();
  await strategy.whenIdle();
  const status = strategy.status()[0];
  const perpEth = (await perp.getPositions('ETHUSDT'))[0]?.size ?? new Dec(0);
  const spotEth = spot.balances().find((b) => b.asset === 'ETH')?.free ?? new Dec(0);
  strategy.stop();
  if (withGrid) await grid.stop(false);
  return { status, perpEth, spotEth, portfolio, perp, gridOpen: (await perp.getOpenOrders('BTCUSDT')).length };
}

describe('grid and funding arbitrage under one portfolio limiter (issue 10 acceptance 7)', () => {
  it('the grid uses the total-notional cap: the arbitrage entry is blocked, nothing is sent on either leg', async () => {
    const r = await run(true);
    expect(r.gridOpen).toBe(5);
    expect(r.status.lastDecision?.action).toBe('none');
    expect(r.status.lastDecision?.reasons.join(' ')).toMatch(/entry blocked: portfolio cap: portfolio_total_notional/);
    expect(r.status.position).toEqual({ a: '0', b: '0' });
    expect(r.perpEth.toString()).toBe('0');
    expect(r.spotEth.toString()).toBe('0');
    expect(r.portfolio.blockedBySymbol[arbPortfolioKey('ETHUSDT')]?.portfolio_total_notional).toBe(1);
  });

  it('without the grid exposure the same entry goes through: long 0.05 spot, short 0.05 perp; its exposure then limits the grid', async () => {
    const r = await run(false);
    expect(r.gridOpen).toBe(0);
    expect(r.status.position).toEqual({ a: '0.05', b: '-0.05' });
    expect(r.perpEth.toString()).toBe('-0.05');
    expect(r.spotEth.toString()).toBe('0.05');
    expect(r.portfolio.blocked.portfolio_total_notional).toBeUndefined();

    // the other way round: the arbitrage's gross legs (0.1 ETH × 2000 = 200) are in the book the grid
    // consults; with 1150 of cap the grid's fifth ≈ 200 buy no longer fits (4 × ≈ 200 + 200 ≤ 1150 < 5 × ≈ 200 + 200)
    r.portfolio.report(arbPortfolioKey('ETHUSDT'), arbExposure({ a: new Dec(r.status.position.a), b: new Dec(r.status.position.b) }, dec('2000'), false, dec('0.05')));
    expect(r.portfolio.snapshot().symbols[arbPortfolioKey('ETHUSDT')]).toEqual({ positionNotional: '200.00', openOpeningNotional: '0.00' });
    const scheduler = new VirtualScheduler(r.perp.clock.now());
    const grid = buildGridEngine({ venue: r.perp, store: new InMemoryStateStore('BTCUSDT', () => scheduler.now()), scheduler, metrics: new CountingMetrics(), portfolio: r.portfolio }, gridSettings('BTCUSDT'));
    await grid.start();
    await grid.whenIdle();
    expect((await r.perp.getOpenOrders('BTCUSDT')).length).toBe(4);
    expect(r.portfolio.blockedBySymbol.BTCUSDT?.portfolio_total_notional).toBeGreaterThanOrEqual(1);
    await grid.stop(false);
  });
});
