import { type Candle, Dec, VirtualScheduler, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { correctionLevel } from './reconciler';
import { type AlertSink, type GridEngine, type GridEngineSettings, CountingMetrics, InMemoryStateStore, buildGridEngine } from './index';

/**
 * The engine from libs/trading on market time: a manual SimExchange, a VirtualScheduler that follows
 * the sim's clock and an InMemoryStateStore. No wall-clock timer is involved, so hours of market time
 * (breaker windows, cooldowns, reconciliation periods) pass in well under a second of wall time.
 */

const T0 = 1_700_000_000_000;
type Row = [string, string, string, string];
const flat = (p: string, n: number): Row[] => Array.from({ length: n }, () => [p, p, p, p]);
const candles = (rows: Row[]): Candle[] =>
  rows.map(([o, h, l, c], i) => ({ symbol: 'BTCUSDT', openTimeMs: T0 + i * 60_000, open: dec(o), high: dec(h), low: dec(l), close: dec(c), volume: dec('10'), closed: true }));

function settings(over: { breaker?: Partial<GridEngineSettings['risk']['breaker']>; reconcileTolerancePct?: string; reconcileIntervalMs?: number } = {}): GridEngineSettings {
  return {
    instanceId: 'mm1',
    params: {
      symbol: 'BTCUSDT',
      mode: 'long',
      inventorySkewFactor: dec('0'),
      priceInterval: dec('100'),
      orderNotional: dec('250'),
      minOrderValue: dec('10'),
      buyWindow: 5,
      sellWindow: 5,
      safetyBufferRatio: dec('0.1'),
      maxActiveOrders: 50,
      cancelHysteresisLevels: 1,
    },
    makerFee: dec('0.0002'),
    takerFee: dec('0.0005'),
    reconcileIntervalMs: over.reconcileIntervalMs ?? 3_600_000,
    pendingTimeoutMs: 600_000,
    stalePriceMs: 600_000,
    dynamicInterval: null,
    maxLeverage: 20,
    reconcileTolerancePct: dec(over.reconcileTolerancePct ?? '5'),
    cancelForeignOrders: false,
    marginLockMs: 10_000,
    cleaner: { maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false },
    risk: {
      symbol: 'BTCUSDT',
      breaker: {
        maxConsecutiveLosses: 0,
        drawdownWindowMs: 3_600_000,
        maxDrawdownAbs: new Dec(0),
        maxDrawdownPct: new Dec(0),
        latencyWindowMs: 60_000,
        maxLatencyP99Ms: 0,
        minLatencySamples: 20,
        maxPriceAgeMs: 0,
        maxOrderStreamAgeMs: 0,
        cooldownMs: 0,
        halfOpenProbeMs: 60_000,
        ...over.breaker,
      },
      monitor: null,
      exposure: { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) },
      keepExitsOnTrip: true,
    },
    executor: { ratePerSec: 20, burst: 20, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 },
  };
}

interface Run {
  sim: SimExchange;
  scheduler: VirtualScheduler;
  engine: GridEngine;
  store: InMemoryStateStore;
  metrics: CountingMetrics;
  /** Alerts with the market time they were raised at. */
  alerts: { kind: string; title: string; atMs: number }[];
  /** Advances the sim by `ms` of market time in 1 s steps; the scheduler follows, the engine settles after each. */
  step(ms: number, stepMs?: number): Promise<void>;
}

async function run(rows: Row[], s: GridEngineSettings): Promise<Run> {
  const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: candles(rows) }], manual: true, historyCandles: 20, tickIntervalMs: 1000 });
  const scheduler = new VirtualScheduler(sim.clock.now());
  const store = new InMemoryStateStore('BTCUSDT', () => scheduler.now());
  const metrics = new CountingMetrics();
  const alerts: Run['alerts'] = [];
  const sink: AlertSink = { notify: (e) => alerts.push({ kind: e.kind, title: e.title, atMs: scheduler.now() }) };
  let fatal: Error | undefined;
  const engine = buildGridEngine({ venue: sim, store, scheduler, metrics, alerts: sink, onFatal: (e) => (fatal = e) }, s);
  await engine.start();
  await engine.whenIdle();
  const settle = async () => {
    await engine.whenIdle();
    if (fatal) throw fatal;
  };
  return {
    sim,
    scheduler,
    engine,
    store,
    metrics,
    alerts,
    async step(ms, stepMs = 1000) {
      for (let t = 0; t < ms; t += stepMs) {
        sim.advance(Math.min(stepMs, ms - t));
        await scheduler.advanceToAsync(sim.clock.now(), settle);
      }
    },
  };
}

describe('GridEngine on market time (VirtualScheduler + SimExchange + InMemoryStateStore)', () => {
  it('a 1-market-hour drawdown window trips the breaker, which cools down and closes on market time', async () => {
    // The 99950/99850/99750 buys fill on the dip; marked at 99700 they lose 0.5 + 0.3 + 0.1 (+ fees) > 0.5 USDT.
    const rows: Row[] = [...flat('100050', 23), ['100050', '100050', '99690', '99700'], ...flat('99700', 300)];
    const r = await run(rows, settings({ breaker: { maxDrawdownAbs: new Dec('0.5'), drawdownWindowMs: 3_600_000, cooldownMs: 1_800_000, halfOpenProbeMs: 600_000 } }));
    const start = r.scheduler.now();
    const wallStart = process.hrtime.bigint();
    await r.step(5 * 60_000);
    const snap = r.engine.snapshot();
    expect(snap.risk.breaker).toMatchObject({ state: 'OPEN', reason: 'drawdown_abs' });
    const trippedAt = snap.risk.breaker.trippedAtMs!;
    // Tripped in market time, minutes after the start; the venue holds no opening orders any more.
    expect(trippedAt).toBeGreaterThan(start);
    expect(trippedAt).toBeLessThanOrEqual(r.scheduler.now());
    expect((await r.sim.getOpenOrders('BTCUSDT')).filter((o) => o.side === 'BUY')).toEqual([]);
    expect(r.metrics.counts['trips:drawdown_abs']).toBe(1);
    // 29 market minutes later it is still open (cooldown 30 min)...
    await r.step(trippedAt + 29 * 60_000 - r.scheduler.now(), 10_000);
    expect(r.engine.snapshot().risk.breaker.state).toBe('OPEN');
    // ...then half-open (riskCheck every market second), then closed after the 10 min probe.
    await r.step(trippedAt + 31 * 60_000 - r.scheduler.now(), 10_000);
    expect(r.engine.snapshot().risk.breaker.state).toBe('HALF_OPEN');
    await r.step(trippedAt + 45 * 60_000 - r.scheduler.now(), 10_000);
    expect(r.engine.snapshot().risk.breaker.state).toBe('CLOSED');
    const reset = r.alerts.find((a) => a.kind === 'breaker_reset')!;
    const tripped = r.alerts.find((a) => a.kind === 'breaker_tripped')!;
    expect(tripped.atMs).toBe(trippedAt);
    // Closed at trip + cooldown + probe, to the market second (the risk check runs every 1000 ms of market time).
    expect(reset.atMs - trippedAt).toBeGreaterThanOrEqual(40 * 60_000);
    expect(reset.atMs - trippedAt).toBeLessThanOrEqual(40 * 60_000 + 10_000);
    // Quoting resumed: opening buys are back on the venue.
    expect((await r.sim.getOpenOrders('BTCUSDT')).some((o) => o.side === 'BUY')).toBe(true);
    // Over 45 market minutes passed; no wall-clock timer was waited on.
    expect(r.scheduler.now() - start).toBeGreaterThanOrEqual(45 * 60_000);
    const wallMs = Number(process.hrtime.bigint() - wallStart) / 1e6;
    expect(wallMs).toBeLessThan(r.scheduler.now() - start);
    await r.engine.stop(false);
  });

  it.each([
    ['1 market hour', 3_600_000, 'CLOSED'],
    ['1 market day', 86_400_000, 'OPEN'],
  ])('drawdown is judged over a window of %s on market time: a loss spread over 2-hour steps trips only the long window', async (_name, windowMs, expected) => {
    // The price steps down 100 every 120 market minutes, each step just through one more buy level;
    // each step loses less than 0.6 USDT, all three together more.
    const rows: Row[] = [...flat('100050', 23)];
    for (let k = 1; k <= 3; k++) rows.push(...flat(String(100050 - 100 * k - 10), 120));
    const r = await run(rows, settings({ breaker: { maxDrawdownAbs: new Dec('0.6'), drawdownWindowMs: windowMs, cooldownMs: 0 } }));
    await r.step(3 * 120 * 60_000 - 60_000, 10_000);
    expect(r.engine.snapshot().inventory).toBe('0.006');
    expect(r.engine.snapshot().risk.breaker.state).toBe(expected);
    await r.engine.stop(false);
  });

  it('inventory corrections land on the planner lattice (anchor + n·I), not on multiples of I', async () => {
    // Anchor 100050; after the dip the last price is 99700, between the planner levels 99750 and 99650.
    const rows: Row[] = [...flat('100050', 23), ['100050', '100050', '99690', '99700'], ...flat('99700', 300)];
    const r = await run(rows, settings({ reconcileTolerancePct: '50' }));
    await r.step(5 * 60_000);
    const snap = r.engine.snapshot();
    expect(snap.anchorPrice).toBe('100050');
    expect(snap.inventory).toBe('0.006');
    // Someone else buys 0.002 on our account: 0.002 / 0.008 = 25 % < 50 %.
    await r.sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.002') });
    expect((await r.engine.reconcileNow())!.action).toBe('awaiting_confirmation');
    expect((await r.engine.reconcileNow())!.action).toBe('corrected');
    expect(r.engine.snapshot().inventory).toBe('0.008');
    const held = r.engine.listSlots().filter((s) => s.positionQty !== '0');
    const offLattice = held.filter((s) => !new Dec(s.level).minus('100050').mod(100).isZero());
    expect(offLattice).toEqual([]);
    // The 0.002 went into the highest free flat slot at or below 99700 on the anchor lattice.
    const added = held.filter((s) => !['99950', '99850', '99750'].includes(s.level));
    expect(added).toHaveLength(1);
    expect(new Dec(added[0].level).lte(99650)).toBe(true);
    expect(added[0].positionQty).toBe('0.002');
    await r.engine.stop(false);
  });

  it('a periodic reconciliation on an unchanged sim venue reuses the last clean pass; an order change on the venue makes it query again', async () => {
    const r = await run(flat('100050', 200), settings({ reconcileIntervalMs: 60_000 }));
    await r.step(10 * 60_000, 10_000);
    // The grid rests, nothing fills: after the first clean pass the periodic ones need no venue query.
    const skips = r.engine.reconcileSkips;
    expect(skips).toBeGreaterThanOrEqual(8);
    const last = r.engine.lastReconciliation!;
    expect(last.action).toBe('none');
    expect(last.atMs).toBeGreaterThan(r.scheduler.now() - 60_000);
    expect(last.venuePosition).toBe('0');
    // Someone else buys on our account: the venue's order state changes, the next pass looks and sees it.
    await r.sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.002') });
    await r.step(60_000, 10_000);
    expect(r.engine.reconcileSkips).toBe(skips);
    expect(r.engine.lastReconciliation).toMatchObject({ action: 'awaiting_confirmation', venuePosition: '0.002', localPosition: '0' });
    await r.step(60_000, 10_000);
    expect(r.engine.lastReconciliation!.action).toBe('breaker_tripped');
    await r.engine.stop(false);
  });

  it('correctionLevel: anchor lattice below (up) and above (down) the price', () => {
    const L = (p: string, k: number, up: boolean) => correctionLevel(dec(p), dec('100050'), dec('100'), k, up).toString();
    expect([L('99700', 1, true), L('99700', 2, true), L('99700', 1, false), L('99700', 2, false)]).toEqual(['99650', '99550', '99750', '99850']);
    expect(L('99650', 1, true)).toBe('99650');
    expect(L('100120', 1, true)).toBe('100050');
  });
});

describe('VirtualScheduler', () => {
  it('fires timers in due order (ties by creation), intervals re-arm, clear works, time never goes back', async () => {
    const { VirtualScheduler: VS } = await import('@mm/domain');
    const s = new VS(1000);
    const seen: string[] = [];
    s.setTimeout(() => seen.push(`b@${s.now()}`), 20);
    s.setTimeout(() => seen.push(`a@${s.now()}`), 10);
    s.setTimeout(() => seen.push(`c@${s.now()}`), 20);
    const iv = s.setInterval(() => seen.push(`i@${s.now()}`), 15);
    const gone = s.setTimeout(() => seen.push('never'), 5);
    s.clear(gone);
    s.advanceTo(1031);
    expect(seen).toEqual(['a@1010', 'i@1015', 'b@1020', 'c@1020', 'i@1030']);
    expect(s.now()).toBe(1031);
    s.clear(iv);
    s.advanceBy(100);
    expect(seen).toHaveLength(5);
    expect(() => s.advanceTo(10)).toThrow(/back in time/);
    // A timer set while advancing fires in the same advance when due before the target.
    s.setTimeout(() => s.setTimeout(() => seen.push(`nested@${s.now()}`), 5), 5);
    s.advanceBy(20);
    expect(seen[5]).toBe(`nested@${1131 + 10}`);
  });
});
