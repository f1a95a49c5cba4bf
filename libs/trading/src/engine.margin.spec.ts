import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dec, VirtualScheduler, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules, loadKlineCsv } from '@mm/sim-exchange';
import { type AlertSink, type GridEngineSettings, CountingMetrics, InMemoryStateStore, buildGridEngine } from './index';
import type { MarginGuardSettings } from './margin-guard';

/**
 * Issue 9, acceptance 5 — a crafted CSV with a −25 % crash within 10 minutes, a leveraged (20×)
 * trailing long grid on a 300 USDT account, run in-process on market time (SimExchange with its
 * cross-margin liquidation engine + GridEngine + VirtualScheduler). With the margin breakers the
 * engine stops opening, then exits nearest the market with reduce-only orders, and the sim never
 * liquidates; with the breakers off, the same run is liquidated by the sim.
 */
const MIN = 60_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % MIN);
const HISTORY = 30;

/** 30 history + 20 calm candles around 100 000, 10 candles −2.5 % each (−25 % in 10 minutes), 30 flat at the bottom. */
function writeCrashCsv(dir: string): string {
  const rows: string[] = ['open_time_ms,open,high,low,close,volume_base'];
  let t = T0;
  const push = (o: number, h: number, l: number, c: number) => {
    rows.push(`${t},${o},${h},${l},${c},50`);
    t += MIN;
  };
  for (let i = 0; i < HISTORY + 20; i++) push(100000, 100050, 99950, 100000);
  let p = 100000;
  for (let i = 0; i < 10; i++) {
    const next = 100000 - 2500 * (i + 1);
    push(p, p, next, next);
    p = next;
  }
  for (let i = 0; i < 30; i++) push(75000, 75050, 74950, 75000);
  const file = join(dir, 'btc-crash-25pct.csv');
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

const MARGIN: MarginGuardSettings = {
  stopOpeningMarginRatio: dec('0.5'),
  reduceMarginRatio: dec('0.7'),
  stopOpeningLiquidationDistance: dec('0.15'),
  reduceLiquidationDistance: dec('0.08'),
  checkIntervalMs: 1000,
  recoveryMs: 300_000,
  reduceFraction: dec('0.25'),
  exitSlippage: dec('0.005'),
};

function settings(margin: MarginGuardSettings | null, stressCheck: GridEngineSettings['stressCheck'] = null): GridEngineSettings {
  return {
    instanceId: 'mm1',
    params: {
      symbol: 'BTCUSDT', mode: 'long', inventorySkewFactor: dec('0'), priceInterval: dec('200'), orderNotional: dec('200'), minOrderValue: dec('10'),
      buyWindow: 10, sellWindow: 10, safetyBufferRatio: dec('0.1'), maxActiveOrders: 50, cancelHysteresisLevels: 1,
    },
    makerFee: dec('0.0002'), takerFee: dec('0.0005'), reconcileIntervalMs: 600_000, pendingTimeoutMs: 600_000, stalePriceMs: 600_000,
    dynamicInterval: null, maxLeverage: 20, reconcileTolerancePct: dec('5'), cancelForeignOrders: false, marginLockMs: 10_000,
    cleaner: { maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false },
    // The stress-move startup check would (rightly) refuse this grid on 300 USDT; this test is about
    // what happens at runtime when such a grid runs anyway, so it is off here (see engine.safety.spec.ts).
    stressCheck,
    risk: {
      symbol: 'BTCUSDT',
      // Every other breaker off: only the margin breakers act.
      breaker: {
        maxConsecutiveLosses: 0, drawdownWindowMs: 3_600_000, maxDrawdownAbs: new Dec(0), maxDrawdownPct: new Dec(0),
        latencyWindowMs: 60_000, maxLatencyP99Ms: 0, minLatencySamples: 20,
        maxPriceAgeMs: 0, maxOrderStreamAgeMs: 0, cooldownMs: 0, halfOpenProbeMs: 60_000,
      },
      monitor: null,
      exposure: { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) },
      keepExitsOnTrip: true,
      margin,
    },
    executor: { ratePerSec: 20, burst: 20, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 },
  };
}

async function crash(file: string, margin: MarginGuardSettings | null) {
  const sim = new SimExchange({
    symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: loadKlineCsv(file, 'BTCUSDT') }],
    manual: true, historyCandles: HISTORY, tickIntervalMs: 1000, initialBalance: dec('300'), leverage: 20,
  });
  const scheduler = new VirtualScheduler(sim.clock.now());
  const store = new InMemoryStateStore('BTCUSDT', () => scheduler.now());
  const metrics = new CountingMetrics();
  const alerts: { kind: string; title: string; message: string; atMs: number }[] = [];
  const sink: AlertSink = { notify: (e) => alerts.push({ kind: e.kind, title: e.title, message: e.message, atMs: scheduler.now() }) };
  let fatal: Error | undefined;
  const engine = buildGridEngine({ venue: sim, store, scheduler, metrics, alerts: sink, onFatal: (e) => (fatal = e) }, settings(margin));
  await engine.start();
  const settle = async () => {
    await engine.whenIdle();
    if (fatal) throw fatal;
  };
  await settle();
  let maxInventory = new Dec(0);
  for (let next = sim.nextEventTimeMs(); Number.isFinite(next); next = sim.nextEventTimeMs()) {
    await scheduler.advanceToAsync(next, settle);
    sim.stepNext();
    await settle();
    const inv = engine.inventory();
    if (inv.gt(maxInventory)) maxInventory = inv;
  }
  const account = await sim.getAccount();
  const snapshot = engine.snapshot();
  await engine.stop(false);
  return { sim, engine, metrics, alerts, account, snapshot, maxInventory, liquidations: sim.liquidations() };
}

describe('acceptance 5: margin breakers de-risk a leveraged grid before the sim liquidates it (−25 % in 10 min, 300 USDT, 20×)', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mm-margin-'));
    file = writeCrashCsv(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('without the margin breakers the sim liquidates the account (the liquidation is real)', async () => {
    const r = await crash(file, null);
    expect(r.maxInventory.gt(0)).toBe(true);
    expect(r.liquidations.length).toBeGreaterThan(0);
    const liq = r.liquidations[0]!;
    expect(liq.symbol).toBe('BTCUSDT');
    expect(liq.clientOrderId.startsWith('autoclose-')).toBe(true);
    // Liquidated during the crash (after it started, while the price was still above the bottom).
    expect(liq.timeMs).toBeGreaterThanOrEqual(T0 + (HISTORY + 20) * MIN);
    expect(liq.timeMs).toBeLessThanOrEqual(T0 + (HISTORY + 30) * MIN);
    expect(liq.marginBalance.lte(liq.maintenanceMargin)).toBe(true);
    expect(r.snapshot.risk.margin).toEqual({ enabled: false });
  }, 120_000);

  it('with them the engine stops opening, exits nearest the market reduce-only, and the sim never liquidates', async () => {
    const off = await crash(file, null);
    const firstLiquidationMs = off.liquidations[0]!.timeMs;
    const r = await crash(file, MARGIN);
    expect(r.liquidations).toEqual([]);
    // The guard acted: it opened (opening stopped) and then sent reduce-only exits, before the time the unguarded run was liquidated.
    const tripped = r.alerts.filter((a) => a.title === 'Margin breaker tripped');
    expect(tripped.length).toBeGreaterThanOrEqual(1);
    expect(tripped[0]!.atMs).toBeLessThan(firstLiquidationMs);
    expect(r.snapshot.risk.margin).toMatchObject({ enabled: true });
    expect((r.snapshot.risk.margin as { exits: number }).exits).toBeGreaterThan(0);
    // The exits were reduce-only sells on the venue, and the position was cut (the crash ends at 75 000).
    const orders = r.sim.allOrders();
    expect(orders.some((o) => o.reduceOnly && o.side === 'SELL' && o.timeInForce === 'IOC' && o.status === 'FILLED')).toBe(true);
    const pos = r.account.positions.find((p) => p.symbol === 'BTCUSDT');
    expect(pos ? pos.size.lt(r.maxInventory) : true).toBe(true);
    // The account survives with money left; the unguarded one was wiped down to the liquidation.
    expect(r.account.totalMarginBalance.gt(0)).toBe(true);
    expect(r.account.totalMarginBalance.gt(off.account.totalMarginBalance)).toBe(true);
    // Margin gauges were reported (fractions).
    expect(r.metrics.marginRatio).not.toBeNull();
  }, 180_000);
});

describe('startup stress check: the account must survive its buy window to risk.stress_move', () => {
  const start = async (balance: string) => {
    const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT') }], manual: true, historyCandles: 30, tickIntervalMs: 1000, initialBalance: dec(balance), leverage: 20, startTimeMs: T0 });
    const scheduler = new VirtualScheduler(sim.clock.now());
    const engine = buildGridEngine({ venue: sim, store: new InMemoryStateStore('BTCUSDT', () => scheduler.now()), scheduler }, settings(MARGIN, { move: dec('0.25'), maintenanceRate: dec('0.005') }));
    try {
      await engine.start();
      return { ok: true as const, engine, sim };
    } catch (e) {
      return { ok: false as const, error: (e as Error).message, engine, sim };
    } finally {
      await engine.stop(false);
    }
  };
  it('a 300 USDT account is refused with the numbers; 10 000 USDT starts', async () => {
    const small = await start('300');
    expect(small.ok).toBe(false);
    expect(small.ok ? '' : small.error).toMatch(/^startup safety check failed: stress test: with equity 300, if the buy window \(grid\.buy_window 10 × grid\.order_notional 200, grid\.price_interval 200\) fills and the price falls risk\.stress_move 25 % from \d+(\.\d+)? to \d+(\.\d+)?, the loss \d+\.\d+ leaves equity -\d+\.\d+ ≤ maintenance margin/);
    // Nothing was placed on the refused start.
    expect(small.sim.allOrders()).toEqual([]);
    const big = await start('10000');
    expect(big.ok).toBe(true);
  }, 60_000);
});
