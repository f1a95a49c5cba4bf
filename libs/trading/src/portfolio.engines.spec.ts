import { type Candle, Dec, VirtualScheduler, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { type GridEngineSettings, CountingMetrics, InMemoryStateStore, SharedPortfolioLimiter, buildGridEngine } from './index';

/**
 * Two symbol engines of one account on one in-process sim (as a backtest runs them), sharing one
 * SharedPortfolioLimiter on market time: the cap binds across symbols.
 */
const T0 = 1_700_000_000_000;
const flat = (symbol: string, p: string, n: number): Candle[] =>
  Array.from({ length: n }, (_, i) => ({ symbol, openTimeMs: T0 + i * 60_000, open: dec(p), high: dec(p), low: dec(p), close: dec(p), volume: dec('10'), closed: true }));

function settings(symbol: string, interval: string, notional: string): GridEngineSettings {
  return {
    instanceId: 'mm1',
    params: { symbol, mode: 'long', inventorySkewFactor: dec('0'), priceInterval: dec(interval), orderNotional: dec(notional), minOrderValue: dec('10'), buyWindow: 5, sellWindow: 5, safetyBufferRatio: dec('0.1'), maxActiveOrders: 50, cancelHysteresisLevels: 1 },
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
    clientIdSecret: `portfolio-spec-secret-${symbol}`,
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

describe('portfolio limiter shared by two symbol engines (backtest path)', () => {
  it('BTC takes the cap first; the ETH opening orders that would break it are not sent and are counted', async () => {
    const sim = new SimExchange({
      symbols: [
        { rules: defaultSymbolRules('BTCUSDT'), candles: flat('BTCUSDT', '100000', 60) },
        { rules: defaultSymbolRules('ETHUSDT'), candles: flat('ETHUSDT', '2000', 60) },
      ],
      manual: true,
      historyCandles: 20,
      tickIntervalMs: 1000,
    });
    const scheduler = new VirtualScheduler(sim.clock.now());
    // BTC: 5 buys of 0.002 ≈ 997 pending; cap 1 150 leaves room for one ≈100 ETH order, not two
    const portfolio = new SharedPortfolioLimiter({ maxTotalNotional: dec('1150'), maxTotalOpenOrderNotional: dec('0') });
    const metrics = { BTCUSDT: new CountingMetrics(), ETHUSDT: new CountingMetrics() };
    const btc = buildGridEngine({ venue: sim, store: new InMemoryStateStore('BTCUSDT', () => scheduler.now()), scheduler, metrics: metrics.BTCUSDT, portfolio }, settings('BTCUSDT', '100', '250'));
    const eth = buildGridEngine({ venue: sim, store: new InMemoryStateStore('ETHUSDT', () => scheduler.now()), scheduler, metrics: metrics.ETHUSDT, portfolio }, settings('ETHUSDT', '4', '100'));
    await btc.start();
    await btc.whenIdle();
    await eth.start();
    await eth.whenIdle();
    for (let i = 0; i < 5; i++) {
      sim.advance(1000);
      await scheduler.advanceToAsync(sim.clock.now(), async () => {
        await btc.whenIdle();
        await eth.whenIdle();
      });
    }
    const open = await sim.getOpenOrders();
    const notional = (s: string) => open.filter((o) => o.symbol === s && !o.reduceOnly).reduce((a, o) => a.plus(o.price.mul(o.quantity)), new Dec(0));
    expect(notional('BTCUSDT').toNumber()).toBeGreaterThan(900);
    expect(notional('ETHUSDT').gt(0)).toBe(true);
    expect(notional('BTCUSDT').plus(notional('ETHUSDT')).lte(1150)).toBe(true);
    expect(metrics.ETHUSDT.counts['blocked:portfolio_total_notional']).toBeGreaterThan(0);
    expect(eth.snapshot().risk.blocked.portfolio_total_notional).toBeGreaterThan(0);
    expect(portfolio.snapshot().blockedBySymbol.ETHUSDT?.portfolio_total_notional).toBeGreaterThan(0);
    // without the shared limiter the same ETH engine would quote its whole buy window (5 orders)
    expect(open.filter((o) => o.symbol === 'ETHUSDT' && o.side === 'BUY').length).toBeLessThan(5);
    await btc.stop(false);
    await eth.stop(false);
  });
});
