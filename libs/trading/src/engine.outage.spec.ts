import { type Candle, Dec, VirtualScheduler, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules, loadKlineCsv } from '@mm/sim-exchange';
import { type AlertSink, type GridEngineSettings, CountingMetrics, InMemoryStateStore, buildGridEngine } from './index';

/**
 * Issue 9, acceptance 8 — an exchange outage replayed on market time: real BTCUSDT 1m candles
 * (../shared) with 45 minutes of flat zero-volume candles followed by 45 missing minutes.
 * The stale-price breaker (max price age 5 market minutes, cooldown 0) must open during the gap and
 * close after the feed has been healthy for condition_recovery_ms; trading resumes; the crash guard
 * does not fire on the first candle after the gap.
 */
const FILE = `${__dirname}/../../../../shared/data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv`;
const MIN = 60_000;
const HISTORY = 30;
const PRE = 120;
const DEAD = 45;
const MISSING = 45;
const POST = 240;
const RECOVERY_MS = 60_000;

function settings(): GridEngineSettings {
  return {
    instanceId: 'mm1',
    params: {
      symbol: 'BTCUSDT', mode: 'long', inventorySkewFactor: dec('0'), priceInterval: dec('50'), orderNotional: dec('250'), minOrderValue: dec('10'),
      buyWindow: 5, sellWindow: 5, safetyBufferRatio: dec('0.1'), maxActiveOrders: 50, cancelHysteresisLevels: 1,
    },
    makerFee: dec('0.0002'), takerFee: dec('0.0005'), reconcileIntervalMs: 600_000, pendingTimeoutMs: 600_000, stalePriceMs: 600_000,
    dynamicInterval: null, maxLeverage: 20, reconcileTolerancePct: dec('5'), cancelForeignOrders: false, marginLockMs: 10_000,
    cleaner: { maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false },
    risk: {
      symbol: 'BTCUSDT',
      breaker: {
        maxConsecutiveLosses: 0, drawdownWindowMs: 3_600_000, maxDrawdownAbs: new Dec(0), maxDrawdownPct: new Dec(0),
        latencyWindowMs: 60_000, maxLatencyP99Ms: 0, minLatencySamples: 20,
        maxPriceAgeMs: 5 * MIN, maxOrderStreamAgeMs: 30_000, cooldownMs: 0, halfOpenProbeMs: 60_000, conditionRecoveryMs: RECOVERY_MS,
      },
      // The crash guard on its defaults (clear at ⅔ of the trigger, 10 min hold, 5 min max candle gap).
      monitor: { symbols: [], averageWindow: 20, volumeMultiplier: dec('3'), policy: 'all', recoveryThreshold: 1 },
      exposure: { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) },
      keepExitsOnTrip: true,
    },
    executor: { ratePerSec: 20, burst: 20, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 },
  };
}

/** A window of real candles where the first candle after the gap closes below the pre-gap price (the old rule's trap). */
function craft(all: Candle[]): { candles: Candle[]; gapStartMs: number; resumeMs: number } {
  for (let start = 1440; start + HISTORY + PRE + DEAD + MISSING + POST < all.length; start += 60) {
    const w = all.slice(start, start + HISTORY + PRE + DEAD + MISSING + POST);
    const g = HISTORY + PRE;
    const last = w[g - 1]!;
    const firstAfter = w[g + DEAD + MISSING]!;
    if (!firstAfter.close.lt(last.close)) continue;
    const dead = w.slice(g, g + DEAD).map((c) => ({ ...c, open: last.close, high: last.close, low: last.close, close: last.close, volume: new Dec(0) }));
    const candles = [...w.slice(0, g), ...dead, ...w.slice(g + DEAD + MISSING)];
    return { candles, gapStartMs: w[g]!.openTimeMs, resumeMs: firstAfter.openTimeMs };
  }
  throw new Error('no suitable window');
}

describe('acceptance 8: a 90-minute outage on market time (SimExchange + GridEngine + VirtualScheduler)', () => {
  it('the stale-price breaker opens in the gap and closes after the recovery time; trading resumes; no crash-guard trip after the gap', async () => {
    const { candles, gapStartMs, resumeMs } = craft(loadKlineCsv(FILE, 'BTCUSDT'));
    // The crafted file really has 45 dead and 45 missing minutes.
    expect(candles.filter((c) => c.volume.isZero())).toHaveLength(DEAD);
    expect(resumeMs - gapStartMs).toBe((DEAD + MISSING) * MIN);
    expect(candles.some((c) => c.openTimeMs === resumeMs - MIN)).toBe(false);

    const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles }], manual: true, historyCandles: HISTORY, tickIntervalMs: 1000 });
    const scheduler = new VirtualScheduler(sim.clock.now());
    const store = new InMemoryStateStore('BTCUSDT', () => scheduler.now());
    const metrics = new CountingMetrics();
    const alerts: { kind: string; title: string; message: string; atMs: number }[] = [];
    const sink: AlertSink = { notify: (e) => alerts.push({ kind: e.kind, title: e.title, message: e.message, atMs: scheduler.now() }) };
    let fatal: Error | undefined;
    const engine = buildGridEngine({ venue: sim, store, scheduler, metrics, alerts: sink, onFatal: (e) => (fatal = e) }, settings());
    await engine.start();
    await engine.whenIdle();
    const settle = async () => {
      await engine.whenIdle();
      if (fatal) throw fatal;
    };
    /**
     * Steps the sim one market instant at a time; before each instant the scheduler catches up to it,
     * firing every timer due on the way (the 1 s risk watchdog keeps running through the missing
     * minutes, where the sim has no event at all), and the engine settles after each.
     */
    const runTo = async (t: number) => {
      for (let next = sim.nextEventTimeMs(); next <= t; next = sim.nextEventTimeMs()) {
        await scheduler.advanceToAsync(next, settle);
        sim.stepNext();
        await settle();
      }
      if (t > scheduler.now()) await scheduler.advanceToAsync(t, settle);
    };

    await runTo(gapStartMs);
    expect(engine.snapshot().risk.breaker.state).toBe('CLOSED');
    const placedBefore = (metrics.counts['placed:BUY'] ?? 0) + (metrics.counts['placed:SELL'] ?? 0);
    expect(placedBefore).toBeGreaterThan(0);

    await runTo(resumeMs);
    const snapGap = engine.snapshot().risk.breaker;
    expect(snapGap).toMatchObject({ state: 'OPEN', reason: 'stale_price' });
    // Opened during the missing minutes: > 5 market minutes after the last price tick.
    // The sim still ticks the flat zero-volume candles, so the price goes stale only in the missing
    // minutes: tripped 5 market minutes (+ ≤ 1 s watchdog period) after the last dead-minute tick.
    expect(snapGap.trippedAtMs! - (gapStartMs + (DEAD + 5) * MIN)).toBeGreaterThanOrEqual(-1_000);
    expect(snapGap.trippedAtMs! - (gapStartMs + (DEAD + 5) * MIN)).toBeLessThanOrEqual(1_000);
    expect((await sim.getOpenOrders('BTCUSDT')).filter((o) => o.side === 'BUY')).toEqual([]);
    const fillsAtResume = (metrics.counts['fills:BUY'] ?? 0) + (metrics.counts['fills:SELL'] ?? 0);
    const placedAtResume = (metrics.counts['placed:BUY'] ?? 0) + (metrics.counts['placed:SELL'] ?? 0);

    await runTo(resumeMs + POST * MIN - MIN);
    const reset = alerts.find((a) => a.kind === 'breaker_reset');
    expect(reset).toBeDefined();
    // Closed after the feed had been healthy for the recovery time (ticks resume at resumeMs; watchdog every 1 s, steps of 10 s).
    // Ticks resume at resumeMs; the watchdog runs every market second: closed 60–61 s later.
    expect(reset!.message).toContain(`stale_price healthy since ${resumeMs} `);
    expect(reset!.atMs - resumeMs).toBeGreaterThanOrEqual(RECOVERY_MS);
    expect(reset!.atMs - resumeMs).toBeLessThanOrEqual(RECOVERY_MS + 1_000);
    expect(reset!.message).toMatch(/stale_price healthy/);
    expect(alerts.filter((a) => a.kind === 'breaker_tripped')).toHaveLength(1);
    expect(metrics.counts['trips:stale_price']).toBe(1);
    expect(engine.snapshot().risk.breaker.state).toBe('CLOSED');
    // Trading resumed: orders placed and filled after the gap.
    const placedAfter = (metrics.counts['placed:BUY'] ?? 0) + (metrics.counts['placed:SELL'] ?? 0) - placedAtResume;
    const fillsAfter = (metrics.counts['fills:BUY'] ?? 0) + (metrics.counts['fills:SELL'] ?? 0) - fillsAtResume;
    expect(placedAfter).toBeGreaterThan(0);
    expect(fillsAfter).toBeGreaterThan(0);
    // The crash guard did not fire on the first candles after the gap.
    const crash = alerts.filter((a) => a.title === 'Crash guard triggered' && a.atMs >= resumeMs && a.atMs <= resumeMs + 5 * MIN);
    expect(crash).toEqual([]);
    await engine.stop(false);
  }, 120_000);
});
