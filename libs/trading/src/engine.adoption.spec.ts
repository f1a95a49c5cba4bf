import { type Candle, Dec, VirtualScheduler, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { distributePosition } from './reconciler';
import { type AlertSink, type GridEngineSettings, CountingMetrics, InMemoryStateStore, buildGridEngine } from './index';

/**
 * Issue 9, acceptance 6 — a venue position opened before the market maker starts, with an empty
 * database, becomes sell slots by the upstream rule (§2.6 RestoreFromExchangePosition) and is closed
 * by take-profits; no breaker trip. In-process on market time: SimExchange + GridEngine + VirtualScheduler.
 */
const MIN = 60_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % MIN);

/** 30 flat history candles at 100 000, 5 flat, then a steady rise of 50 per minute for 60 minutes (each candle O = L, H = C). */
function candles(): Candle[] {
  const out: Candle[] = [];
  const c = (i: number, o: number, cl: number): Candle => ({ symbol: 'BTCUSDT', openTimeMs: T0 + i * MIN, open: dec(String(o)), high: dec(String(Math.max(o, cl))), low: dec(String(Math.min(o, cl))), close: dec(String(cl)), volume: dec('10'), closed: true });
  let i = 0;
  for (; i < 35; i++) out.push(c(i, 100000, 100000));
  for (let k = 0; k < 60; k++, i++) out.push(c(i, 100000 + 50 * k, 100000 + 50 * (k + 1)));
  return out;
}

function settings(): GridEngineSettings {
  return {
    instanceId: 'mm1',
    params: {
      symbol: 'BTCUSDT', mode: 'long', inventorySkewFactor: dec('0'), priceInterval: dec('200'), orderNotional: dec('250'), minOrderValue: dec('10'),
      buyWindow: 5, sellWindow: 5, safetyBufferRatio: dec('0.1'), maxActiveOrders: 50, cancelHysteresisLevels: 1,
    },
    makerFee: dec('0.0002'), takerFee: dec('0.0005'), reconcileIntervalMs: 60_000, pendingTimeoutMs: 600_000, stalePriceMs: 600_000,
    dynamicInterval: null, maxLeverage: 20, reconcileTolerancePct: dec('5'), cancelForeignOrders: false, marginLockMs: 10_000,
    cleaner: { maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false },
    stressCheck: { move: dec('0.25'), maintenanceRate: dec('0.005') },
    risk: {
      symbol: 'BTCUSDT',
      breaker: {
        maxConsecutiveLosses: 5, drawdownWindowMs: 3_600_000, maxDrawdownAbs: new Dec(500), maxDrawdownPct: new Dec('0.05'),
        latencyWindowMs: 60_000, maxLatencyP99Ms: 0, minLatencySamples: 20,
        maxPriceAgeMs: 5 * MIN, maxOrderStreamAgeMs: 30_000, cooldownMs: 0, halfOpenProbeMs: 60_000, conditionRecoveryMs: 60_000,
      },
      monitor: null,
      exposure: { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) },
      keepExitsOnTrip: true,
    },
    executor: { ratePerSec: 20, burst: 20, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 },
  };
}

describe('distributePosition (upstream §2.6 RestoreFromExchangePosition)', () => {
  const rules = { stepSize: dec('0.001') };
  it('splits Q over n = ceil(Q / q0) levels above the anchor by t_k = round(notional / level_k), the last slot the remainder', () => {
    // q0 = round(250 / 100000 = 0.0025) = 0.003 → n = ceil(0.01 / 0.003) = 4; t_k = 0.002 each → shares round(0.0025) = 0.003, remainder 0.001.
    const parts = distributePosition(dec('0.01'), dec('100000'), dec('200'), dec('250'), rules);
    expect(parts.map((p) => [p.level.toString(), p.quantity.toString()])).toEqual([
      ['100200', '0.003'],
      ['100400', '0.003'],
      ['100600', '0.003'],
      ['100800', '0.001'],
    ]);
  });
  it('sums exactly to Q, mirrors a short position below the anchor, and rejects bad inputs', () => {
    const q = dec('0.0537');
    const parts = distributePosition(q, dec('30000'), dec('25'), dec('100'), { stepSize: dec('0.0001') });
    expect(parts.reduce((a, p) => a.plus(p.quantity), new Dec(0)).toString()).toBe(q.toString());
    expect(parts.every((p) => p.quantity.gt(0) && p.level.gt(30000))).toBe(true);
    const short = distributePosition(dec('-0.01'), dec('100000'), dec('200'), dec('250'), rules);
    expect(short.map((p) => p.level.toString())).toEqual(['99800', '99600', '99400', '99200']);
    expect(short.reduce((a, p) => a.plus(p.quantity), new Dec(0)).toString()).toBe('-0.01');
    expect(distributePosition(dec('0'), dec('100000'), dec('200'), dec('250'), rules)).toEqual([]);
    expect(() => distributePosition(dec('1'), dec('0'), dec('200'), dec('250'), rules)).toThrow(/anchor 0/);
  });
});

describe('acceptance 6: adopting a venue position at startup with an empty database', () => {
  it('the position becomes sell slots, their take-profits close it, and no breaker trips', async () => {
    const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: candles() }], manual: true, historyCandles: 30, tickIntervalMs: 1000 });
    // Opened by hand before the market maker exists (not one of its client order ids).
    const manual = await sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.01'), clientOrderId: 'by-hand-1' });
    expect(manual.status).toBe('FILLED');
    const before = (await sim.getPositions('BTCUSDT'))[0]!;
    expect(before.size.toString()).toBe('0.01');

    const scheduler = new VirtualScheduler(sim.clock.now());
    const store = new InMemoryStateStore('BTCUSDT', () => scheduler.now());
    expect((await store.load()).strategy).toBeNull();
    const metrics = new CountingMetrics();
    const alerts: { kind: string; title: string }[] = [];
    const logs: string[] = [];
    const sink: AlertSink = { notify: (e) => alerts.push({ kind: e.kind, title: e.title }) };
    const logger = () => ({ log: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) });
    let fatal: Error | undefined;
    const engine = buildGridEngine({ venue: sim, store, scheduler, metrics, alerts: sink, logger, onFatal: (e) => (fatal = e) }, settings());
    await engine.start();
    await engine.whenIdle();

    // Adopted: 4 FILLED slots above the anchor, by the upstream rule, logged and in the snapshot.
    const snap = engine.snapshot();
    expect(snap.anchorPrice).toBe('100000');
    expect(snap.inventory).toBe('0.01');
    expect(snap.adoption).toMatchObject({ quantity: '0.01', slots: [
      { level: '100200', quantity: '0.003' }, { level: '100400', quantity: '0.003' }, { level: '100600', quantity: '0.003' }, { level: '100800', quantity: '0.001' },
    ] });
    const adoptedLevels = ['100200', '100400', '100600', '100800'];
    const slots = engine.listSlots();
    for (const l of adoptedLevels) expect(slots.find((s) => s.level === l)?.positionQty).not.toBe('0');
    expect(logs.some((m) => m.includes('adopted venue position 0.01 BTCUSDT'))).toBe(true);
    // The durable store has them too (a restart would not adopt twice).
    const stored = await store.load();
    expect(stored.strategy?.anchorPrice.toString()).toBe('100000');
    expect(stored.slots.filter((s) => s.positionQty.gt(0)).map((s) => s.level.toString()).sort()).toEqual(adoptedLevels);

    const settle = async () => {
      await engine.whenIdle();
      if (fatal) throw fatal;
    };
    for (let next = sim.nextEventTimeMs(); Number.isFinite(next); next = sim.nextEventTimeMs()) {
      await scheduler.advanceToAsync(next, settle);
      sim.stepNext();
      await settle();
    }
    await engine.reconcileNow();

    // Closed by take-profits: reduce-only sells of our own at slot + I, all filled; the adopted slots are empty.
    const sells = sim.allOrders().filter((o) => o.side === 'SELL' && o.status === 'FILLED' && o.clientOrderId !== 'by-hand-1');
    const soldPrices = sells.map((o) => o.price.toString());
    for (const p of ['100400', '100600', '100800', '101000']) expect(soldPrices).toContain(p);
    expect(sells.every((o) => o.reduceOnly)).toBe(true);
    const after = engine.listSlots();
    for (const l of adoptedLevels) expect(after.find((s) => s.level === l)?.positionQty).toBe('0');
    // Realized PnL of the adopted inventory: the four take-profits above the 100 000 entry, net of fees.
    expect(new Dec(engine.snapshot().realizedPnl).gt(0)).toBe(true);
    // Venue and engine agree; no breaker ever opened.
    const venue = (await sim.getPositions('BTCUSDT'))[0]?.size ?? new Dec(0);
    expect(venue.toString()).toBe(engine.inventory().toString());
    expect(engine.lastReconciliation?.divergence).toBe('0');
    expect(alerts.filter((a) => a.kind === 'breaker_tripped')).toEqual([]);
    expect(metrics.counts['trips:reconciliation'] ?? 0).toBe(0);
    expect(engine.snapshot().risk.breaker.state).toBe('CLOSED');
    await engine.stop(false);
  }, 120_000);
});

describe('engine equity and PnL include funding (and every fee)', () => {
  it('funding charged by the venue on the adopted position is in /status fundingPnl and equity; equity matches the venue margin balance', async () => {
    // Flat at 100 000 (no fill: buys rest below, take-profits above); a funding rate of +0.1 % settles 20 minutes in.
    const flat: Candle[] = Array.from({ length: 70 }, (_, i) => ({ symbol: 'BTCUSDT', openTimeMs: T0 + i * MIN, open: dec('100000'), high: dec('100000'), low: dec('100000'), close: dec('100000'), volume: dec('10'), closed: true }));
    const fundingTimeMs = T0 + 50 * MIN;
    const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: flat, fundingRates: [{ fundingTimeMs, rate: dec('0.001') }] }], manual: true, historyCandles: 30, tickIntervalMs: 1000 });
    await sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.01'), clientOrderId: 'by-hand-1' });
    const scheduler = new VirtualScheduler(sim.clock.now());
    const engine = buildGridEngine({ venue: sim, store: new InMemoryStateStore('BTCUSDT', () => scheduler.now()), scheduler }, settings());
    await engine.start();
    const settle = () => engine.whenIdle();
    const equityAtStart = new Dec(engine.snapshot().equity!);
    expect(engine.snapshot().fundingPnl).toBe('0');
    for (let next = sim.nextEventTimeMs(); Number.isFinite(next); next = sim.nextEventTimeMs()) {
      await scheduler.advanceToAsync(next, settle);
      sim.stepNext();
      await settle();
    }
    await scheduler.advanceToAsync(scheduler.now() + 61_000, settle);
    // The long paid position notional × rate = 0.01 × 100 000 × 0.001 = 1 USDT (independently computed).
    expect(sim.fundingPnl().toString()).toBe('-1');
    const snap = engine.snapshot();
    expect(snap.fundingPnl).toBe('-1');
    expect(snap.fills).toBe(0);
    expect(new Dec(snap.equity!).minus(equityAtStart).toString()).toBe('-1');
    // With no trade since start, the engine's equity is the venue's margin balance (wallet + unrealized at mark).
    const account = await sim.getAccount();
    expect(new Dec(snap.equity!).toString()).toBe(account.totalMarginBalance.toString());
    await engine.stop(false);
  }, 60_000);
});
