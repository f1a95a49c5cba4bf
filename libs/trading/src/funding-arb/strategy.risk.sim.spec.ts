import { Dec, type ExchangeVenue, VenueError, VirtualScheduler, dec } from '@mm/domain';
import { type FundingPoint, type KlineFillModel, SimExchange, SimSpotExchange, defaultSpotRules, defaultSymbolRules } from '@mm/sim-exchange';
import { type OhlcRow, candlesFromRows } from '@mm/testing';
import {
  type ArbJournal,
  type ArbRiskSettings,
  type ArbThresholds,
  FundingArbStrategy,
  InMemoryArbJournal,
  type JournalEntry,
  type LegSpec,
  type PairSpec,
  YEAR_MS,
  stepClientOrderId,
  validateArbRisk,
  workflowId,
} from './index';

/**
 * Position management of the funding-arb strategy (issue 10 "Position management", acceptance 6) on
 * the in-process sims: a spot leg (SimSpotExchange) and a perp leg (SimExchange with its real
 * cross-margin liquidation engine), one VirtualScheduler on their market time. Price paths are
 * crafted per venue; faults are injected only at the venue edge (a wrapper rejecting one client
 * order id suffix).
 */

const H = 3_600_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % H);
const HISTORY = 20;
const START = T0 + HISTORY * 60_000;
const FT = T0 + 2 * H;
const SYMBOL = 'BTCUSDT';
const RATE = '0.000004166667';

/** Minute closes → 1-minute rows (open = previous close, ±20 wiggle so resting orders near the price trade). */
function rowsFrom(closes: number[]): OhlcRow[] {
  let prev = closes[0];
  return closes.map((c) => {
    const r: OhlcRow = [String(prev), String(Math.max(prev, c) + 20), String(Math.min(prev, c) - 20), String(c)];
    prev = c;
    return r;
  });
}
/** Piecewise-linear minute closes through `[minute, price]` waypoints (integers), flat after the last. */
function path(total: number, ...pts: [number, number][]): number[] {
  return Array.from({ length: total }, (_, m) => {
    const i = pts.findIndex(([pm]) => pm > m);
    if (i === -1) return pts[pts.length - 1][1];
    if (i === 0) return pts[0][1];
    const [m0, p0] = pts[i - 1];
    const [m1, p1] = pts[i];
    return Math.round(p0 + ((p1 - p0) * (m - m0)) / (m1 - m0));
  });
}
const FLAT = path(12 * 60, [0, 100000]);
const funding = (r: string): FundingPoint[] => [-16 * H, -8 * H, 2 * H, 10 * H, 18 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec(r) }));

const THRESHOLDS: ArbThresholds = {
  entryApr: dec('0.10'),
  exitApr: dec('0.02'),
  minAboveThresholdMs: 0,
  minLeadBeforeFundingMs: 10 * 60_000,
  expectedHoldMs: 7 * 24 * H,
  basisHaircutApr: dec('0.02'),
  maxLegPriceSpread: dec('0.001'),
  maxFundingAgeMs: 5 * 60_000,
};
const RISK: ArbRiskSettings = {
  deltaTolerance: dec('0.001'),
  maxRebalanceAttemptsPerFunding: 2,
  maxAdverseBasis: dec('0.05'),
  emergencyLiquidationDistance: dec('0.10'),
  emergencyMarginRatio: dec('0.8'),
  stopOpeningLiquidationDistance: dec('0.15'),
  stopOpeningMarginRatio: dec('0.5'),
  pollMs: 10_000,
  recoveryMs: H,
};

/** A venue that records the client order id of every placeOrder call in `sent`. */
function counting(v: ExchangeVenue, sent: string[]): ExchangeVenue {
  return new Proxy(v, {
    get(target, key) {
      if (key === 'placeOrder')
        return (req: Parameters<ExchangeVenue['placeOrder']>[0]) => {
          sent.push(req.clientOrderId ?? '');
          return target.placeOrder(req);
        };
      const val = Reflect.get(target, key, target) as unknown;
      return typeof val === 'function' ? (val as (...a: unknown[]) => unknown).bind(target) : val;
    },
  }) as ExchangeVenue;
}

/** A venue whose placeOrder rejects client order ids ending with `suffix` (a venue-side rejection). */
function rejecting<T extends ExchangeVenue>(v: T, suffix: string): ExchangeVenue {
  return new Proxy(v, {
    get(target, key) {
      if (key === 'placeOrder')
        return async (req: Parameters<ExchangeVenue['placeOrder']>[0]) => {
          if (req.clientOrderId?.endsWith(suffix)) throw new VenueError('FAILED_PRECONDITION', 'rejected (injected)', { reason: 'FILTER_VIOLATION' });
          return target.placeOrder(req);
        };
      const val = Reflect.get(target, key, target) as unknown;
      return typeof val === 'function' ? (val as (...a: unknown[]) => unknown).bind(target) : val;
    },
  }) as ExchangeVenue;
}

/** A journal that fails the first append matching `when`, after writing it (the process dies right after). */
class CrashAfterJournal implements ArbJournal {
  crashed = false;
  constructor(
    private readonly inner: ArbJournal,
    private readonly when: (e: JournalEntry) => boolean,
  ) {}
  async append(e: JournalEntry): Promise<void> {
    await this.inner.append(e);
    if (!this.crashed && this.when(e)) {
      this.crashed = true;
      throw new Error('simulated crash');
    }
  }
  entries(): Promise<JournalEntry[]> {
    return this.inner.entries();
  }
}

interface Opts {
  crashWhen?: (e: JournalEntry) => boolean;
  perpRate?: string;
  spotCloses?: number[];
  perpCloses?: number[];
  perpBalance?: string;
  risk?: Partial<ArbRiskSettings> | null;
  perpLeg?: Partial<LegSpec>;
  spotLeg?: Partial<LegSpec>;
  perpFill?: { fillModel: KlineFillModel; volumeShare: number };
  wrapSpot?: (s: SimSpotExchange) => ExchangeVenue;
}

async function setup(o: Opts = {}) {
  const spot = new SimSpotExchange({
    name: 'simspot',
    symbols: [{ rules: defaultSpotRules(SYMBOL), candles: candlesFromRows(SYMBOL, T0, rowsFrom(o.spotCloses ?? FLAT)) }],
    balances: { USDT: dec('100000') },
    historyCandles: HISTORY,
    hourlyInterest: { BTC: dec(RATE) },
    autoBorrow: true,
  });
  const perp = new SimExchange({
    name: 'simperp',
    symbols: [{ rules: defaultSymbolRules(SYMBOL), candles: candlesFromRows(SYMBOL, T0, rowsFrom(o.perpCloses ?? FLAT)), fundingRates: funding(o.perpRate ?? '0.0005') }],
    manual: true,
    historyCandles: HISTORY,
    initialBalance: dec(o.perpBalance ?? '100000'),
    ...(o.perpFill ?? {}),
  });
  const base = { symbol: SYMBOL, execution: { type: 'MARKET' } as const, defaultFundingIntervalMs: 8 * H, canShort: true };
  const sent: string[] = [];
  const a: LegSpec = { ...base, venue: counting(o.wrapSpot ? o.wrapSpot(spot) : spot, sent), kind: 'spot', makerFee: dec('0.001'), takerFee: dec('0.001'), borrowRateHourly: dec(RATE), ...o.spotLeg };
  const b: LegSpec = { ...base, venue: counting(perp, sent), kind: 'perp', makerFee: dec('0.0002'), takerFee: dec('0.0005'), borrowRateHourly: dec(0), ...o.perpLeg };
  const pair: PairSpec = { symbol: SYMBOL, legs: { a, b }, orderQty: dec('0.05') };
  const scheduler = new VirtualScheduler(START);
  const journal = new InMemoryArbJournal();
  const alerts: { kind: string; level: string; title: string; message: string }[] = [];
  const crashing = o.crashWhen ? new CrashAfterJournal(journal, o.crashWhen) : undefined;
  const make = (j: ArbJournal = crashing ?? journal) => new FundingArbStrategy(
    {
      pairs: [pair],
      thresholds: THRESHOLDS,
      decisionIntervalMs: 7 * 60_000,
      fundingPollMs: 60_000,
      firstLeg: 'long',
      maxSendAttempts: 3,
      retryDelayMs: 30_000,
      maxEntryAttemptsPerFunding: 1,
      ...(o.risk === null ? {} : { risk: { ...RISK, ...o.risk } }),
    },
    { scheduler, journal: j, alerts: { notify: (e) => alerts.push({ kind: e.kind, level: e.level, title: e.title, message: e.message }) } },
  );
  const h = { strategy: make() };
  await h.strategy.start();
  await h.strategy.whenIdle();
  /** A new instance over the same journal and venues (a process restart). */
  const restart = async () => {
    h.strategy.stop();
    h.strategy = make(journal);
    await h.strategy.start();
    await h.strategy.whenIdle();
    return h.strategy;
  };
  const step = async (ms: number, stepMs = 10_000) => {
    for (let t = 0; t < ms; t += stepMs) {
      const d = Math.min(stepMs, ms - t);
      spot.advance(d);
      perp.advance(d);
      await scheduler.advanceToAsync(perp.clock.now(), () => h.strategy.whenIdle());
    }
  };
  const until = (atMs: number) => step(atMs - scheduler.now());
  const btc = () => spot.balances().find((x) => x.asset === 'BTC')!;
  const perpPos = async () => (await perp.getPositions(SYMBOL))[0];
  return {
    spot,
    perp,
    get strategy() {
      return h.strategy;
    },
    restart,
    sent,
    scheduler,
    journal,
    alerts,
    step,
    until,
    btc,
    perpPos,
  };
}

const entryId = workflowId(SYMBOL, 'entry', 'b', FT, 1);
const exitId = workflowId(SYMBOL, 'exit', 'b', FT, 1);

describe('funding-arb position management (spot leg + perp leg on the sims)', () => {
  it('risk settings out of range are refused naming the key', async () => {
    expect(() => validateArbRisk({ ...RISK, pollMs: 0 })).toThrow('risk.pollMs must be > 0 ms, got 0');
    expect(() => validateArbRisk({ ...RISK, emergencyLiquidationDistance: dec(0) })).toThrow('risk.emergencyLiquidationDistance must be > 0, got 0');
    expect(() => validateArbRisk({ ...RISK, stopOpeningLiquidationDistance: dec('0.05') })).toThrow('risk.stopOpeningLiquidationDistance must be ≥ risk.emergencyLiquidationDistance');
    expect(() => validateArbRisk({ ...RISK, stopOpeningMarginRatio: dec('0.9') })).toThrow('risk.stopOpeningMarginRatio must be ≤ risk.emergencyMarginRatio');
    expect(() => validateArbRisk({ ...RISK, deltaTolerance: dec('-0.1') })).toThrow('risk.deltaTolerance must be ≥ 0');
    expect(() => validateArbRisk({ ...RISK, maxRebalanceAttemptsPerFunding: 0 })).toThrow('risk.maxRebalanceAttemptsPerFunding must be an integer ≥ 1, got 0');
    expect(() => validateArbRisk(RISK)).not.toThrow();
    // the strategy validates at construction
    await expect(setup({ risk: { pollMs: -1 } })).rejects.toThrow('risk.pollMs must be > 0 ms, got -1');
  });

  // 100 000 flat for the first hour, then +500 per minute for an hour (→ 130 000) on both legs:
  // a short perp of 0.05 BTC on 1 000 USDT is liquidated by the sim near 119 500.
  const SPIKE = path(12 * 60, [0, 100000], [60, 100000], [120, 130000]);

  it('acceptance 6: a price spike against the short perp → emergency exit closes both legs before the sim liquidates; without position management the sim liquidates', async () => {
    // control run: same path, same account, no position management → the venue liquidates the perp leg
    const control = await setup({ spotCloses: SPIKE, perpCloses: SPIKE, perpBalance: '1000', risk: null });
    await control.step(30_000);
    expect((await control.perpPos()).size.toString()).toBe('-0.05');
    await control.until(T0 + 130 * 60_000);
    expect(control.perp.liquidations()).toHaveLength(1);
    expect(control.perp.liquidations()[0].side).toBe('BUY');
    control.strategy.stop();

    const h = await setup({ spotCloses: SPIKE, perpCloses: SPIKE, perpBalance: '1000' });
    await h.step(30_000);
    const entered = await h.perpPos();
    expect(entered.size.toString()).toBe('-0.05');
    expect(h.btc().free.toString()).toBe('0.05');
    const liq = entered.liquidationPrice;
    // the venue's liquidation price is ~19.5 % above: beyond the 15 % stop-opening limit at entry
    expect(liq.minus(entered.markPrice).div(entered.markPrice).gt('0.15')).toBe(true);
    await h.until(T0 + 130 * 60_000);

    // the sim never liquidated; both legs are flat on the venues
    expect(h.perp.liquidations()).toEqual([]);
    expect((await h.perpPos()).size.isZero()).toBe(true);
    expect(h.btc().free.add(h.btc().locked).isZero()).toBe(true);
    expect(h.btc().borrowed.isZero()).toBe(true);

    const wfs = h.strategy.listWorkflows();
    expect(wfs.map((w) => [w.kind, w.exitReason ?? null, w.finished?.result])).toEqual([
      ['entry', null, 'hedged'],
      ['exit', 'emergency', 'exited'],
    ]);
    // perp first, reduce-only; then the spot leg sells exactly what it holds
    const x = await h.perp.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(exitId, 'x') });
    expect(x).toMatchObject({ side: 'BUY', type: 'MARKET', reduceOnly: true, status: 'FILLED' });
    expect(x.executedQty.toString()).toBe('0.05');
    const y = await h.spot.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(exitId, 'y') });
    expect(y).toMatchObject({ side: 'SELL', status: 'FILLED', reduceOnly: false });
    expect(y.executedQty.toString()).toBe('0.05');
    // it fired once the distance crossed the 10 % limit (polled every 10 s at +500/min), not before
    const lastLiq = new Dec(wfs[1].detail!.match(/liquidation price ([0-9.]+)/)![1]);
    const distanceAtExit = lastLiq.minus(x.avgPrice).div(x.avgPrice);
    expect(distanceAtExit.lte('0.10')).toBe(true);
    expect(distanceAtExit.gt('0.095')).toBe(true);
    expect(x.avgPrice.lt(liq)).toBe(true);
    expect(h.alerts.filter((a) => a.kind === 'arb_emergency_exit').map((a) => a.level)).toEqual(['CRITICAL', 'CRITICAL']);
    // entries stay blocked while the margin guard recovers
    const st = h.strategy.status()[0];
    expect(st).toMatchObject({ position: { a: '0', b: '0' }, state: 'flat', netDelta: '0' });
    expect(st.entriesBlocked).toMatch(/^margin guard of leg b: /);
    expect(h.strategy.divergences(SYMBOL)).toEqual([]);
    expect(h.alerts.filter((a) => a.kind === 'reconciliation_divergence')).toEqual([]);
    h.strategy.stop();
  });

  it('a venue liquidation the strategy did not make (emergency limits out of reach) shows as a divergence of the perp leg, alerted once', async () => {
    const h = await setup({
      spotCloses: SPIKE,
      perpCloses: SPIKE,
      perpBalance: '1000',
      risk: { emergencyLiquidationDistance: dec('0.0001'), stopOpeningLiquidationDistance: dec('0.0001'), emergencyMarginRatio: dec('5'), stopOpeningMarginRatio: dec('5') },
    });
    await h.until(T0 + 130 * 60_000);
    expect(h.perp.liquidations()).toHaveLength(1);
    expect(h.strategy.listWorkflows()).toHaveLength(1);
    expect(h.strategy.divergences(SYMBOL)).toEqual(['leg b (simperp BTCUSDT): venue position 0 ≠ journal -0.05']);
    expect(h.alerts.filter((a) => a.kind === 'reconciliation_divergence')).toHaveLength(1);
    h.strategy.stop();
  });

  it('crash right after the emergency exit closed the perp leg: the restarted instance closes the spot leg; no client order id twice, no liquidation', async () => {
    const h = await setup({
      spotCloses: SPIKE,
      perpCloses: SPIKE,
      perpBalance: '1000',
      crashWhen: (e) => e.t === 'outcome' && e.outcome.clientOrderId === stepClientOrderId(exitId, 'x'),
    });
    await h.until(T0 + 90 * 60_000);
    expect(h.strategy.haltReason).toBe('journal append failed: simulated crash');
    // the perp leg is closed, the spot leg still held: the exit workflow is unfinished in the journal
    expect((await h.perpPos()).size.isZero()).toBe(true);
    expect(h.btc().free.toString()).toBe('0.05');
    expect(h.strategy.listWorkflows()[1]).toMatchObject({ exitReason: 'emergency' });
    expect(h.strategy.listWorkflows()[1].finished).toBeUndefined();
    await h.restart();
    expect(h.btc().free.isZero()).toBe(true);
    expect(h.strategy.listWorkflows()[1]).toMatchObject({ exitReason: 'emergency', finished: { result: 'exited' } });
    await h.until(T0 + 130 * 60_000);
    expect(h.perp.liquidations()).toEqual([]);
    // the new instance's margin guards start closed; the journal's emergency exit still blocks re-entry (past FT a new funding time would allow one)
    expect(h.strategy.status()[0].entriesBlocked).toMatch(/^emergency exit at \d+: entries blocked until \d+ \(risk\.recoveryMs\)$/);
    // every placement the venues received, in order: each client order id exactly once
    expect(h.sent).toEqual([`${entryId}-f`, `${entryId}-h`, `${exitId}-x`, `${exitId}-y`]);
    h.strategy.stop();
  });

  it('emergency exit on the account margin ratio (liquidation-distance limit out of reach)', async () => {
    const h = await setup({
      spotCloses: SPIKE,
      perpCloses: SPIKE,
      perpBalance: '1000',
      risk: { emergencyLiquidationDistance: dec('0.0001'), stopOpeningLiquidationDistance: dec('0.0001'), emergencyMarginRatio: dec('0.3'), stopOpeningMarginRatio: dec('0.2') },
    });
    await h.until(T0 + 130 * 60_000);
    expect(h.perp.liquidations()).toEqual([]);
    expect((await h.perpPos()).size.isZero()).toBe(true);
    expect(h.btc().free.isZero()).toBe(true);
    const exit = h.strategy.listWorkflows()[1];
    expect(exit).toMatchObject({ kind: 'exit', exitReason: 'emergency', finished: { result: 'exited' } });
    expect(exit.detail).toMatch(/^margin ratio 0\.[0-9]+ ≥ reduce limit 0\.3/);
    h.strategy.stop();
  });

  it('toxic basis: the perp leg rallies 0.6 % over spot → exit on a basis loss ≥ 0.4 % of notional; accounting books that basis loss exactly', async () => {
    // spot flat; perp flat for 40 min, then +600 over 30 min (the short perp loses against the long spot)
    const perpCloses = path(12 * 60, [0, 100000], [60, 100000], [90, 100600]);
    const h = await setup({ perpCloses, risk: { maxAdverseBasis: dec('0.004') } });
    await h.until(T0 + 70 * 60_000);
    expect(h.strategy.listWorkflows()).toHaveLength(1); // 0.2 % against us: held
    await h.until(T0 + 100 * 60_000);
    const wfs = h.strategy.listWorkflows();
    expect(wfs.map((w) => [w.kind, w.exitReason ?? null, w.finished?.result])).toEqual([
      ['entry', null, 'hedged'],
      ['exit', 'toxic_basis', 'exited'],
    ]);
    expect((await h.perpPos()).size.isZero()).toBe(true);
    expect(h.btc().free.isZero()).toBe(true);
    // realized basis from the venues' fills: spot (sell − buy) + perp (sell − buy), × 0.05
    const o = async (v: ExchangeVenue, id: string, s: 'f' | 'h' | 'x' | 'y') => (await v.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(id, s) })).avgPrice;
    const spotIn = await o(h.spot, entryId, 'f');
    const perpIn = await o(h.perp, entryId, 'h');
    const spotOut = await o(h.spot, exitId, 'x');
    const perpOut = await o(h.perp, exitId, 'y');
    const basis = spotOut.minus(spotIn).plus(perpIn.minus(perpOut)).mul('0.05');
    expect(basis.lte(dec('-0.004').mul(spotIn).mul('0.05'))).toBe(true);
    expect(basis.gt(dec('-0.0045').mul(spotIn).mul('0.05'))).toBe(true); // first poll past the limit
    const acc = await h.strategy.accounting(SYMBOL);
    expect(acc.basisPnl).toBe(basis.toString());
    expect(acc.openBasisPnl).toBe('0');
    expect(acc.state).toBe('flat');
    h.strategy.stop();
  });

  it('operator exit: requestExit closes both legs (deterministic ids) and pauses entries until resumeEntries', async () => {
    const h = await setup();
    await h.step(60_000);
    expect(() => h.strategy.requestExit('ETHUSDT', 'x')).toThrow('unknown symbol ETHUSDT');
    h.strategy.requestExit(SYMBOL, 'desk closes BTC');
    await h.step(10_000);
    const wfs = h.strategy.listWorkflows();
    expect(wfs[1]).toMatchObject({ id: exitId, kind: 'exit', exitReason: 'operator', detail: 'operator: desk closes BTC', finished: { result: 'exited' } });
    // spot (the long, firstLeg) sells its 0.05 first, then the perp buys back reduce-only
    expect(await h.spot.getOrder(SYMBOL, { clientOrderId: `${exitId}-x` })).toMatchObject({ side: 'SELL', status: 'FILLED' });
    expect(await h.perp.getOrder(SYMBOL, { clientOrderId: `${exitId}-y` })).toMatchObject({ side: 'BUY', reduceOnly: true, status: 'FILLED' });
    expect((await h.perpPos()).size.isZero()).toBe(true);
    expect(h.btc().free.isZero()).toBe(true);
    // past FT the next funding time allows a new entry attempt — but entries are paused
    await h.until(FT + 30 * 60_000);
    expect(h.strategy.listWorkflows()).toHaveLength(2);
    expect(h.strategy.status()[0].lastDecision?.reasons[0]).toBe('entry blocked: entries paused (operator: desk closes BTC)');
    // the pause survives a restart (rebuilt from the journal: the last workflow is an operator exit)
    await h.restart();
    await h.step(8 * 60_000);
    expect(h.strategy.listWorkflows()).toHaveLength(2);
    expect(h.strategy.status()[0].entriesBlocked).toBe('entries paused (operator: desk closes BTC)');
    h.strategy.resumeEntries(SYMBOL);
    await h.step(8 * 60_000);
    const after = h.strategy.listWorkflows();
    expect(after.map((w) => w.id)).toEqual([entryId, exitId, workflowId(SYMBOL, 'entry', 'b', FT + 8 * H, 1)]);
    expect((await h.perpPos()).size.toString()).toBe('-0.05');
    h.strategy.stop();
  });

  it('delta drift: hedge partly filled and the trim rejected → a rebalance trims the larger (spot) leg by the executed difference', async () => {
    const h = await setup({
      perpFill: { fillModel: 'conservative', volumeShare: 0.001 },
      perpLeg: { execution: { type: 'LIMIT', offset: dec('0.0001'), timeoutMs: 150_000 } },
      wrapSpot: (s) => rejecting(s, '-t'),
    });
    await h.step(5 * 60_000);
    const hedge = await h.perp.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(entryId, 'h') });
    expect(hedge.status).toBe('CANCELED');
    const e2 = hedge.executedQty;
    expect(e2.gt(0) && e2.lt('0.05')).toBe(true);
    const entry = h.strategy.listWorkflows()[0];
    expect(entry.steps.t?.outcome?.status).toBe('REJECTED');
    // spot long 0.05 vs perp short e2 until the next decision (7 min period)
    await h.step(10 * 60_000);
    const rbId = workflowId(SYMBOL, 'rebalance', 'b', FT, 1);
    const wfs = h.strategy.listWorkflows();
    expect(wfs.map((w) => [w.id, w.finished?.result])).toEqual([
      [entryId, 'hedged'],
      [rbId, 'rebalanced'],
    ]);
    const r = await h.spot.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(rbId, 'r') });
    expect(r).toMatchObject({ side: 'SELL', status: 'FILLED' });
    expect(r.executedQty.toString()).toBe(dec('0.05').minus(e2).toString());
    // venues: spot holds exactly what the perp is short
    expect(h.btc().free.toString()).toBe(e2.toString());
    expect((await h.perpPos()).size.toString()).toBe(e2.neg().toString());
    expect(h.strategy.status()[0]).toMatchObject({ netDelta: '0', state: 'open', inFlight: null });
    expect(h.alerts.some((a) => a.kind === 'arb_compensation' && a.title.includes('delta drift'))).toBe(true);
    // within tolerance now: no further rebalance
    await h.step(30 * 60_000);
    expect(h.strategy.listWorkflows()).toHaveLength(2);
    h.strategy.stop();
  });

  it('accounting (positive funding): funding received, fees per leg, basis PnL, predicted vs realized APR — each recomputed from the venues', async () => {
    const h = await setup();
    await h.step(30_000);
    await h.until(FT + 10 * 60_000);
    const acc = await h.strategy.accounting(SYMBOL);
    // funding: short 0.05 × mark 100000 × 0.0005 at FT
    expect(acc.fundingReceived).toBe('2.5');
    expect(acc.fundingReceived).toBe(h.perp.fundingPnl().toString());
    const f = await h.spot.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(entryId, 'f') });
    const hh = await h.perp.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(entryId, 'h') });
    const sum = (o: typeof f) => o.trades.reduce((s, t) => s.plus(t.fee), new Dec(0));
    expect(acc.legs.a).toMatchObject({ kind: 'spot', position: '0.05', fees: sum(f).toString(), feesSource: 'venue' });
    expect(acc.legs.b).toMatchObject({ kind: 'perp', position: '-0.05', fees: sum(hh).toString(), feesSource: 'venue' });
    expect(acc.legs.b.risk?.liquidationPrice).not.toBeNull();
    expect(acc.fees).toBe(sum(f).plus(sum(hh)).toString());
    const pa = await h.spot.getLatestPrice(SYMBOL);
    const pb = await h.perp.getLatestPrice(SYMBOL);
    const basis = pa.minus(f.avgPrice).mul('0.05').plus(hh.avgPrice.minus(pb).mul('0.05'));
    expect(acc.basisPnl).toBe(basis.toString());
    expect(acc.openBasisPnl).toBe(basis.toString());
    expect(acc.borrowInterest).toEqual({ asset: 'BTC', base: '0', quote: '0', paidBase: '0', source: 'estimate' });
    const net = dec('2.5').minus(acc.fees).plus(basis);
    expect(acc.netPnl).toBe(net.toString());
    // predicted: gross 0.0005 × 1095 − round-trip fees (0.001 + 0.0005) × 2 annualised over 7 d − haircut 0.02
    const predicted = dec('0.0005').mul(YEAR_MS).div(8 * H).minus(dec('0.003').mul(YEAR_MS).div(7 * 24 * H)).minus('0.02');
    expect(acc.predictedApr).toBe(predicted.toString());
    const entry = h.strategy.listWorkflows()[0];
    const exposure = f.executedQty.mul(f.avgPrice).mul(h.scheduler.now() - entry.startedAtMs!);
    expect(acc.exposureQuoteMs).toBe(exposure.toString());
    expect(acc.realizedApr).toBe(net.mul(YEAR_MS).div(exposure).toString());
    expect(acc).toMatchObject({ state: 'open', netDelta: '0', deltaTolerance: '0.001', inFlight: null, entriesBlocked: null });
    await expect(h.strategy.accounting('ETHUSDT')).rejects.toThrow('unknown symbol ETHUSDT');
    h.strategy.stop();
  });

  it('accounting (negative funding, margin short spot): borrow interest estimated from the journal equals what the sim charged; a venue source is used when given', async () => {
    const h = await setup({ perpRate: '-0.0005' });
    await h.step(60_000);
    await h.step(5 * H, 60_000);
    const interest = h.btc().interestAccrued;
    expect(interest.gt(0)).toBe(true);
    const acc = await h.strategy.accounting(SYMBOL);
    const px = await h.spot.getLatestPrice(SYMBOL);
    expect(acc.borrowInterest).toEqual({ asset: 'BTC', base: interest.toString(), quote: interest.mul(px).toString(), paidBase: '0', source: 'estimate' });
    expect(acc.legs.a.position).toBe('-0.05');
    expect(acc.fundingReceived).toBe('2.5'); // long perp receives 0.05 × 100000 × 0.0005
    h.strategy.stop();

    const v = await setup({ perpRate: '-0.0005', spotLeg: { borrowInterest: { interestAccrued: (asset) => (spotRef.balances().find((b) => b.asset === asset)?.interestAccrued ?? new Dec(0)) } } });
    const spotRef = v.spot;
    await v.step(60_000);
    await v.step(3 * H, 60_000);
    const acc2 = await v.strategy.accounting(SYMBOL);
    const i2 = v.btc().interestAccrued;
    expect(i2.gt(0)).toBe(true);
    expect(acc2.borrowInterest).toEqual({ asset: 'BTC', base: i2.toString(), quote: i2.mul(px).toString(), paidBase: '0', source: 'venue' });
    v.strategy.stop();
  });
});
