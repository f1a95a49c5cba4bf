import { Dec, type ExchangeVenue, type FundingRate, VenueError, VirtualScheduler, dec } from '@mm/domain';
import { type FundingPoint, type KlineFillModel, SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { type OhlcRow, candlesFromRows } from '@mm/testing';
import {
  type ArbJournal,
  type ArbThresholds,
  FundingArbStrategy,
  type FundingArbSettings,
  FundingMonitor,
  InMemoryArbJournal,
  type JournalEntry,
  type LegSpec,
  type PairSpec,
  type PortfolioCapCheck,
  stepClientOrderId,
  workflowId,
} from './index';

/**
 * The funding-arb core over two in-process SimExchange venues on market time (real order matching,
 * real margin checks, real funding settlement): long perp on venue A, short perp on venue B, one
 * VirtualScheduler following both sims' clock. Faults are injected at the edges only: a venue
 * wrapper that stops answering funding, a journal wrapper that "crashes" at a chosen append.
 */

const H = 3_600_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % H); // on the hour
const HISTORY = 20;
const START = T0 + HISTORY * 60_000; // replay start (market time when the test begins)
const FT = T0 + 2 * H; // next funding settlement on both venues
const SYMBOL = 'BTCUSDT';

/** 1-minute candles swinging ±20 around 100 000 (so resting orders one or two ticks away trade through). */
const rows = (n: number): OhlcRow[] => Array.from({ length: n }, () => ['100000', '100020', '99980', '100000'] as OhlcRow);

/** Past settlements 8 h apart (history → the actual interval), then the rate settling at FT. */
const funding = (past: string, atFT: string): FundingPoint[] => [
  { fundingTimeMs: T0 - 16 * H, rate: dec(past) },
  { fundingTimeMs: T0 - 8 * H, rate: dec(past) },
  { fundingTimeMs: FT, rate: dec(atFT) },
  { fundingTimeMs: FT + 8 * H, rate: dec(atFT) },
];

interface VenueOpts {
  name: string;
  rates: FundingPoint[];
  balance?: string;
  fillModel?: KlineFillModel;
  volumeShare?: number;
}
const sim = (o: VenueOpts) =>
  new SimExchange({
    name: o.name,
    symbols: [{ rules: defaultSymbolRules(SYMBOL), candles: candlesFromRows(SYMBOL, T0, rows(8 * 60)), fundingRates: o.rates }],
    manual: true,
    historyCandles: HISTORY,
    initialBalance: dec(o.balance ?? '100000'),
    fillModel: o.fillModel,
    volumeShare: o.volumeShare,
  });

/** A venue whose funding answers can be switched off (a stopped feed) or replaced (a spot-like leg). */
function feedControl(v: SimExchange, answer?: (f: FundingRate) => FundingRate) {
  const ctl = { stopped: false, calls: 0 };
  const venue = new Proxy(v, {
    get(target, key) {
      if (key === 'getFundingRate')
        return async (symbol: string) => {
          ctl.calls++;
          if (ctl.stopped) throw new VenueError('UNAVAILABLE', 'funding feed stopped');
          const f = await target.getFundingRate(symbol);
          return answer ? answer(f) : f;
        };
      const val = Reflect.get(target, key, target) as unknown;
      return typeof val === 'function' ? (val as (...a: unknown[]) => unknown).bind(target) : val;
    },
  }) as ExchangeVenue;
  return { venue, ctl };
}

const leg = (venue: ExchangeVenue, over: Partial<LegSpec> = {}): LegSpec => ({
  venue,
  symbol: SYMBOL,
  kind: 'perp',
  makerFee: dec('0.0002'),
  takerFee: dec('0.0005'),
  borrowRateHourly: dec('0'),
  canShort: true,
  execution: { type: 'MARKET' },
  defaultFundingIntervalMs: 8 * H,
  ...over,
});

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

/** A journal that fails one chosen append: before writing it ("crash before") or after ("crash after"). */
class CrashingJournal implements ArbJournal {
  crashed = false;
  constructor(
    private readonly inner: ArbJournal,
    private readonly when: (e: JournalEntry) => boolean,
    private readonly mode: 'before' | 'after',
  ) {}
  async append(e: JournalEntry): Promise<void> {
    if (!this.crashed && this.when(e)) {
      this.crashed = true;
      if (this.mode === 'after') await this.inner.append(e);
      throw new Error('simulated crash');
    }
    return this.inner.append(e);
  }
  entries(): Promise<JournalEntry[]> {
    return this.inner.entries();
  }
}

interface Harness {
  a: SimExchange;
  b: SimExchange;
  scheduler: VirtualScheduler;
  journal: InMemoryArbJournal;
  alerts: { kind: string; title: string }[];
  strategy: FundingArbStrategy;
  /** A new strategy instance over the same journal and venues (a restart). */
  restart(journal?: ArbJournal): Promise<FundingArbStrategy>;
  step(ms: number, stepMs?: number): Promise<void>;
  positions(): Promise<{ a: Dec; b: Dec }>;
}

async function harness(o: {
  a?: Partial<VenueOpts>;
  b?: Partial<VenueOpts>;
  legA?: Partial<LegSpec>;
  legB?: Partial<LegSpec>;
  venueA?: (s: SimExchange) => ExchangeVenue;
  venueB?: (s: SimExchange) => ExchangeVenue;
  thresholds?: Partial<ArbThresholds>;
  journal?: (inner: InMemoryArbJournal) => ArbJournal;
  caps?: PortfolioCapCheck;
  qty?: string;
  decisionIntervalMs?: number;
  maxEntryAttempts?: number;
  /** Runs on the venues before the strategy starts. */
  setup?: (a: SimExchange, b: SimExchange) => Promise<void>;
}): Promise<Harness> {
  // A pays 0.01 % per 8 h, B 0.05 %: short B / long A earns (0.0005 − 0.0001) × 1095 = 43.8 % gross a year
  const a = sim({ name: 'venueA', rates: funding('0.0001', '0.0001'), ...o.a });
  const b = sim({ name: 'venueB', rates: funding('0.0005', '0.0005'), ...o.b });
  const scheduler = new VirtualScheduler(a.clock.now());
  const journal = new InMemoryArbJournal();
  const alerts: Harness['alerts'] = [];
  const pair: PairSpec = { symbol: SYMBOL, legs: { a: leg(o.venueA ? o.venueA(a) : a, o.legA), b: leg(o.venueB ? o.venueB(b) : b, o.legB) }, orderQty: dec(o.qty ?? '0.05') };
  const settings: FundingArbSettings = {
    pairs: [pair],
    thresholds: { ...THRESHOLDS, ...o.thresholds },
    decisionIntervalMs: o.decisionIntervalMs ?? 7 * 60_000,
    fundingPollMs: 60_000,
    firstLeg: 'long',
    maxSendAttempts: 3,
    retryDelayMs: 30_000,
    maxEntryAttemptsPerFunding: o.maxEntryAttempts ?? 1,
  };
  const make = (j: ArbJournal) => new FundingArbStrategy(settings, { scheduler, journal: j, caps: o.caps, alerts: { notify: (e) => alerts.push({ kind: e.kind, title: e.title }) } });
  const h: Harness = {
    a,
    b,
    scheduler,
    journal,
    alerts,
    strategy: make(o.journal ? o.journal(journal) : journal),
    async restart(j = journal) {
      h.strategy.stop();
      h.strategy = make(j);
      await h.strategy.start();
      await h.strategy.whenIdle();
      return h.strategy;
    },
    async step(ms, stepMs = 10_000) {
      for (let t = 0; t < ms; t += stepMs) {
        const d = Math.min(stepMs, ms - t);
        a.advance(d);
        b.advance(d);
        await scheduler.advanceToAsync(a.clock.now(), () => h.strategy.whenIdle());
      }
    },
    async positions() {
      const size = async (v: SimExchange) => (await v.getPositions(SYMBOL))[0]?.size ?? new Dec(0);
      return { a: await size(a), b: await size(b) };
    },
  };
  await o.setup?.(a, b);
  await h.strategy.start();
  await h.strategy.whenIdle();
  return h;
}

/** Every client order id the venues saw, with how often (the sims keep one order per client order id). */
const clientIds = (...v: SimExchange[]) => v.flatMap((s) => s.allOrders().map((x) => x.clientOrderId));
const entryId = workflowId(SYMBOL, 'entry', 'b', FT, 1);

describe('funding-arb on two SimExchange venues (long perp A, short perp B)', () => {
  it('funding monitor: current rate, next funding time and the actual interval (venue history, then observed, else the default)', async () => {
    // venue A has no settled history before the start; venue B has two settlements 8 h apart
    const a = sim({ name: 'venueA', rates: [{ fundingTimeMs: FT, rate: dec('0.0002') }, { fundingTimeMs: FT + 8 * H, rate: dec('0.0003') }] });
    const b = sim({ name: 'venueB', rates: funding('0.0005', '0.0004') });
    const scheduler = new VirtualScheduler(a.clock.now());
    const pair: PairSpec = { symbol: SYMBOL, legs: { a: leg(a, { defaultFundingIntervalMs: 4 * H }), b: leg(b) }, orderQty: dec('0.01') };
    const updates: string[] = [];
    const m = new FundingMonitor([pair], scheduler, { pollMs: 60_000, maxAgeMs: 5 * 60_000, onStreamUpdate: (sym) => updates.push(sym) });
    await m.start();
    let snap = m.snapshot(SYMBOL);
    expect(snap.stale).toEqual([]);
    expect(snap.legs.a).toMatchObject({ nextFundingTimeMs: FT, intervalMs: 4 * H, intervalSource: 'default', receivedAtMs: START });
    expect(snap.legs.a!.rate.toString()).toBe('0');
    expect(snap.legs.b).toMatchObject({ nextFundingTimeMs: FT, intervalMs: 8 * H, intervalSource: 'history' });
    expect(snap.legs.b!.rate.toString()).toBe('0.0005');
    for (let t = START; t < FT + 60_000; t += 60_000) {
      a.advance(60_000);
      b.advance(60_000);
      scheduler.advanceTo(a.clock.now());
      await m.idle();
    }
    snap = m.snapshot(SYMBOL);
    expect(snap.legs.a).toMatchObject({ nextFundingTimeMs: FT + 8 * H, intervalMs: 8 * H, intervalSource: 'observed' });
    expect(snap.legs.a!.rate.toString()).toBe('0.0002');
    expect(snap.legs.b!.rate.toString()).toBe('0.0004');
    expect(updates).toEqual([SYMBOL, SYMBOL]); // one settlement event per venue at FT
    // polling stops → the readings age into staleness
    m.stop();
    scheduler.advanceBy(5 * 60_000 + 1);
    expect(m.snapshot(SYMBOL).stale).toEqual([`leg a: funding data ${5 * 60_000 + 1 + (a.clock.now() - snap.legs.a!.receivedAtMs)} ms old > 300000 ms`, expect.stringMatching(/^leg b: funding data \d+ ms old > 300000 ms$/)]);
  });

  it('enters both legs with deterministic client order ids, the hedge sized from the first leg’s fill', async () => {
    const h = await harness({});
    expect(h.a.clock.now()).toBe(START);
    await h.step(60_000);
    const pos = await h.positions();
    expect(pos.a.toString()).toBe('0.05');
    expect(pos.b.toString()).toBe('-0.05');
    expect(clientIds(h.a)).toEqual([stepClientOrderId(entryId, 'f')]);
    expect(clientIds(h.b)).toEqual([stepClientOrderId(entryId, 'h')]);
    expect(entryId).toBe(`fa-BTCUSDT-Eb-${FT.toString(36)}-1`);
    const wf = h.strategy.listWorkflows();
    expect(wf).toHaveLength(1);
    expect(wf[0].finished).toEqual({ result: 'hedged', detail: 'both legs 0.05' });
    expect(h.strategy.status()[0]).toMatchObject({ position: { a: '0.05', b: '-0.05' }, inFlight: null });
    // no second entry while the position is open (decisions keep running: hold)
    await h.step(30 * 60_000);
    expect(h.a.allOrders()).toHaveLength(1);
    expect(h.strategy.status()[0].lastDecision).toMatchObject({ action: 'none', reasons: ['hold'] });
    // funding at FT is paid on both venues by the sim; short B receives 0.05 × 100000 × 0.0005 = 2.5, long A pays 0.5
    await h.step(FT - h.scheduler.now() + 10_000);
    expect(h.b.fundingPnl().toString()).toBe('2.5');
    expect(h.a.fundingPnl().toString()).toBe('-0.5');
    h.strategy.stop();
  });

  it('REQ-ARB-004: the first leg only partly fills (maker LIMIT, rest cancelled) → the hedge is sized from its executed quantity', async () => {
    const h = await harness({
      a: { fillModel: 'conservative', volumeShare: 0.001 },
      legA: { execution: { type: 'LIMIT', offset: dec('0.0001'), timeoutMs: 150_000 } },
    });
    await h.step(5 * 60_000);
    const first = h.a.allOrders()[0];
    expect(first).toMatchObject({ clientOrderId: stepClientOrderId(entryId, 'f'), side: 'BUY', type: 'LIMIT', status: 'CANCELED' });
    expect(first.executedQty.gt(0) && first.executedQty.lt('0.05')).toBe(true);
    const hedge = h.b.allOrders()[0];
    expect(hedge).toMatchObject({ clientOrderId: stepClientOrderId(entryId, 'h'), side: 'SELL', type: 'MARKET', status: 'FILLED' });
    expect(hedge.quantity.toString()).toBe(first.executedQty.toString());
    const pos = await h.positions();
    expect(pos.a.plus(pos.b).isZero()).toBe(true);
    h.strategy.stop();
  });

  it('acceptance 4: the second leg is rejected by the venue → the first leg is unwound with its executed quantity', async () => {
    // venue B holds 100 USDT: 0.05 BTC at 10× needs 500 USDT initial margin → INSUFFICIENT_MARGIN (real margin check)
    const h = await harness({ b: { balance: '100' } });
    await h.step(60_000);
    const pos = await h.positions();
    expect(pos.a.isZero()).toBe(true);
    expect(pos.b.isZero()).toBe(true);
    const unwind = h.a.allOrders().find((x) => x.clientOrderId === stepClientOrderId(entryId, 'u'))!;
    expect(unwind).toMatchObject({ side: 'SELL', reduceOnly: true, status: 'FILLED' });
    expect(unwind.executedQty.toString()).toBe('0.05');
    const wf = h.strategy.listWorkflows()[0];
    expect(wf.steps.h!.outcome).toMatchObject({ status: 'REJECTED', executedQty: '0' });
    expect(wf.steps.h!.outcome!.error).toMatch(/INSUFFICIENT_MARGIN/);
    expect(wf.finished!.result).toBe('compensated');
    expect(h.alerts.map((x) => x.kind)).toContain('arb_compensation');
    // no retry before the next funding time (one attempt per funding time): no fee churn
    await h.step(30 * 60_000);
    expect(h.a.allOrders()).toHaveLength(2);
    expect(h.strategy.status()[0].lastDecision!.reasons).toEqual([`entry blocked: 1 entry attempt(s) already made for funding time ${FT}`]);
    h.strategy.stop();
  });

  it('an unwind the venue also rejects: workflow failed, CRITICAL alert, and no new entry on top of the lone leg', async () => {
    const h = await harness({
      b: { balance: '100' },
      maxEntryAttempts: 5,
      venueA: (s) =>
        new Proxy(s, {
          get(target, key) {
            if (key === 'placeOrder')
              return async (req: Parameters<SimExchange['placeOrder']>[0]) => {
                if (req.clientOrderId?.endsWith('-u')) throw new VenueError('FAILED_PRECONDITION', 'reduce-only rejected (injected)', { reason: 'REDUCE_ONLY_REJECTED' });
                return target.placeOrder(req);
              };
            const val = Reflect.get(target, key, target) as unknown;
            return typeof val === 'function' ? (val as (...a: unknown[]) => unknown).bind(target) : val;
          },
        }) as ExchangeVenue,
    });
    await h.step(30 * 60_000);
    const wf = h.strategy.listWorkflows();
    expect(wf).toHaveLength(1);
    expect(wf[0].finished).toEqual({ result: 'failed', detail: 'hedge executed 0; unwound 0 of 0.05' });
    expect(h.alerts.some((x) => x.kind === 'arb_compensation' && x.title.includes('unwind incomplete'))).toBe(true);
    expect(h.strategy.status()[0]).toMatchObject({ position: { a: '0.05', b: '0' }, lastDecision: { reasons: ['hold'] } });
    expect(h.a.allOrders().filter((x) => x.clientOrderId.endsWith('-f'))).toHaveLength(1);
    h.strategy.stop();
  });

  it('with two attempts per funding time, a second entry after a compensated one gets fresh client order ids (attempt 2)', async () => {
    const h = await harness({ b: { balance: '100' }, maxEntryAttempts: 2 });
    await h.step(8 * 60_000); // start + the 7-minute decision
    const second = workflowId(SYMBOL, 'entry', 'b', FT, 2);
    expect(clientIds(h.a)).toEqual([stepClientOrderId(entryId, 'f'), stepClientOrderId(entryId, 'u'), stepClientOrderId(second, 'f'), stepClientOrderId(second, 'u')]);
    expect(h.strategy.listWorkflows().map((w) => w.finished!.result)).toEqual(['compensated', 'compensated']);
    expect(h.a.status().duplicateClientOrderIds + h.b.status().duplicateClientOrderIds).toBe(0);
    h.strategy.stop();
  });

  it('acceptance 4: the second leg only partly fills → the first leg is trimmed to match', async () => {
    // B's hedge is a maker LIMIT resting one tick-ish above the price; B's conservative fill model fills at most
    // 1 % of a candle's volume (10 × 0.01 = 0.01 BTC) per candle; the rest is cancelled after 150 s.
    const h = await harness({
      b: { fillModel: 'conservative', volumeShare: 0.001 },
      legB: { execution: { type: 'LIMIT', offset: dec('0.0001'), timeoutMs: 150_000 } },
    });
    await h.step(5 * 60_000);
    const wf = h.strategy.listWorkflows()[0];
    expect(wf.finished?.result).toBe('hedged');
    const hedge = h.b.allOrders()[0];
    expect(hedge).toMatchObject({ clientOrderId: stepClientOrderId(entryId, 'h'), type: 'LIMIT', status: 'CANCELED' });
    expect(hedge.executedQty.gt(0) && hedge.executedQty.lt('0.05')).toBe(true);
    const trim = h.a.allOrders().find((x) => x.clientOrderId === stepClientOrderId(entryId, 't'))!;
    expect(trim.executedQty.toString()).toBe(new Dec('0.05').minus(hedge.executedQty).toString());
    const pos = await h.positions();
    expect(pos.a.toString()).toBe(hedge.executedQty.toString());
    expect(pos.b.toString()).toBe(hedge.executedQty.neg().toString());
    expect(h.strategy.status()[0].position).toEqual({ a: pos.a.toString(), b: pos.b.toString() });
    h.strategy.stop();
  });

  it('a venue reply that does not match its intent is foreign: not adopted, the first leg is unwound', async () => {
    // someone else's resting order already carries the hedge's client order id, with another size and price
    const h = await harness({
      setup: async (_a, b) => {
        await b.placeOrder({ symbol: SYMBOL, side: 'SELL', type: 'LIMIT', price: dec('120000'), quantity: dec('0.002'), clientOrderId: stepClientOrderId(entryId, 'h') });
      },
    });
    await h.step(60_000);
    const wf = h.strategy.listWorkflows()[0];
    expect(wf.steps.h!.outcome).toMatchObject({ status: 'FOREIGN', executedQty: '0' });
    expect(wf.steps.h!.outcome!.error).toContain('quantity 0.002 ≠ 0.05');
    expect(wf.finished!.result).toBe('compensated');
    expect((await h.b.getOpenOrders(SYMBOL)).map((x) => x.quantity.toString())).toEqual(['0.002']); // left alone
    expect((await h.positions()).a.isZero()).toBe(true);
    expect(h.alerts.map((x) => x.kind)).toEqual(expect.arrayContaining(['foreign_order', 'arb_compensation']));
    h.strategy.stop();
  });

  it.each([
    ['before the hedge intent is journaled', (e: JournalEntry) => e.t === 'intent' && e.intent.step === 'h', 'before' as const],
    ['after the hedge intent is journaled, before it is sent', (e: JournalEntry) => e.t === 'intent' && e.intent.step === 'h', 'after' as const],
    ['after the hedge was sent, before its outcome is journaled', (e: JournalEntry) => e.t === 'outcome' && e.outcome.clientOrderId.endsWith('-h'), 'before' as const],
  ])('restart mid-workflow (crash %s): a new instance over the journal resumes without sending any client order id twice', async (_name, when, mode) => {
    let crashing: CrashingJournal | undefined;
    const h = await harness({ journal: (inner) => (crashing = new CrashingJournal(inner, when, mode)) });
    await h.step(60_000);
    expect(crashing!.crashed).toBe(true);
    expect(h.strategy.haltReason).toMatch(/simulated crash/);
    expect(h.alerts.map((x) => x.kind)).toContain('storage_fault');
    const before = h.strategy.listWorkflows()[0];
    expect(before.finished).toBeUndefined();
    // the crashed instance is gone; a new one starts over the same (durable) journal
    await h.restart();
    await h.step(60_000);
    const wf = h.strategy.listWorkflows();
    expect(wf).toHaveLength(1);
    expect(wf[0].finished).toEqual({ result: 'hedged', detail: 'both legs 0.05' });
    const pos = await h.positions();
    expect([pos.a.toString(), pos.b.toString()]).toEqual(['0.05', '-0.05']);
    const ids = clientIds(h.a, h.b);
    expect(ids).toEqual([stepClientOrderId(entryId, 'f'), stepClientOrderId(entryId, 'h')]);
    expect(h.a.status().duplicateClientOrderIds + h.b.status().duplicateClientOrderIds).toBe(0);
    h.strategy.stop();
  });

  it('restart after a crash between the legs, second leg then rejected → the restarted instance compensates', async () => {
    let crashing: CrashingJournal | undefined;
    const h = await harness({ b: { balance: '100' }, journal: (inner) => (crashing = new CrashingJournal(inner, (e) => e.t === 'intent' && e.intent.step === 'h', 'before')) });
    await h.step(60_000);
    expect(crashing!.crashed).toBe(true);
    expect((await h.positions()).a.toString()).toBe('0.05'); // unhedged until the restart
    await h.restart();
    await h.step(60_000);
    expect(h.strategy.listWorkflows()[0].finished!.result).toBe('compensated');
    const pos = await h.positions();
    expect(pos.a.isZero() && pos.b.isZero()).toBe(true);
    expect(new Set(clientIds(h.a, h.b)).size).toBe(clientIds(h.a, h.b).length);
    h.strategy.stop();
  });

  it('restart while a maker hedge rests on the venue: the new instance finds it by client order id, cancels the rest at its deadline and trims', async () => {
    const h = await harness({
      b: { fillModel: 'conservative', volumeShare: 0.001 },
      legB: { execution: { type: 'LIMIT', offset: dec('0.0001'), timeoutMs: 150_000 } },
    });
    await h.step(60_000);
    expect(h.b.allOrders()[0].status).toMatch(/^(NEW|PARTIALLY_FILLED)$/);
    h.strategy.stop(); // the process dies with the hedge resting
    await h.restart();
    await h.step(4 * 60_000);
    const wf = h.strategy.listWorkflows()[0];
    expect(wf.finished!.result).toBe('hedged');
    const hedge = h.b.allOrders()[0];
    expect(hedge.status).toBe('CANCELED');
    expect(hedge.updateTimeMs).toBe(START + 150_000); // cancelled at the journaled deadline, by the new instance
    const pos = await h.positions();
    expect(pos.a.plus(pos.b).isZero() && pos.a.gt(0)).toBe(true);
    expect(clientIds(h.a, h.b)).toEqual([stepClientOrderId(entryId, 'f'), stepClientOrderId(entryId, 't'), stepClientOrderId(entryId, 'h')]);
    expect(h.a.status().duplicateClientOrderIds + h.b.status().duplicateClientOrderIds).toBe(0);
    h.strategy.stop();
  });

  it('a lost reply (the venue took the hedge, the answer timed out) is found by client order id, not sent twice', async () => {
    let lost = 1;
    const h = await harness({
      venueB: (s) =>
        new Proxy(s, {
          get(target, key) {
            if (key === 'placeOrder')
              return async (req: Parameters<SimExchange['placeOrder']>[0]) => {
                const o = await target.placeOrder(req);
                if (lost-- > 0) throw new VenueError('UNAVAILABLE', 'deadline exceeded');
                return o;
              };
            const val = Reflect.get(target, key, target) as unknown;
            return typeof val === 'function' ? (val as (...a: unknown[]) => unknown).bind(target) : val;
          },
        }) as ExchangeVenue,
    });
    await h.step(60_000);
    expect(lost).toBe(0); // placeOrder on B was called once: the retry looked the id up instead of sending again
    expect(h.strategy.listWorkflows()[0].finished!.result).toBe('hedged');
    expect(clientIds(h.b)).toEqual([stepClientOrderId(entryId, 'h')]);
    expect(h.b.status().duplicateClientOrderIds).toBe(0);
    expect((await h.positions()).b.toString()).toBe('-0.05');
    h.strategy.stop();
  });

  it('restart mid-exit (crash between the exit legs): the new instance closes the second leg; both flat, no id twice', async () => {
    let crashing: CrashingJournal | undefined;
    const h = await harness({
      b: { rates: funding('0.0005', '0.0001') },
      decisionIntervalMs: 24 * H,
      journal: (inner) => (crashing = new CrashingJournal(inner, (e) => e.t === 'intent' && e.intent.step === 'y', 'before')),
    });
    await h.step(60_000);
    await h.step(FT - h.scheduler.now() + 10_000);
    expect(crashing!.crashed).toBe(true);
    let pos = await h.positions();
    expect([pos.a.toString(), pos.b.toString()]).toEqual(['0', '-0.05']); // first exit leg closed, second still open
    await h.restart();
    await h.step(10_000);
    const exit = h.strategy.listWorkflows().find((w) => w.kind === 'exit')!;
    expect(exit.finished).toEqual({ result: 'exited', detail: 'closed 0.05 / 0.05' });
    pos = await h.positions();
    expect(pos.a.isZero() && pos.b.isZero()).toBe(true);
    const ids = clientIds(h.a, h.b);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(4);
    h.strategy.stop();
  });

  it('acceptance 5: a stopped funding feed blocks entries (reason recorded); entry follows once it resumes', async () => {
    let ctl!: { stopped: boolean; calls: number };
    const h = await harness({
      thresholds: { minAboveThresholdMs: 10 * 60_000 },
      venueA: (s) => {
        const f = feedControl(s);
        ctl = f.ctl;
        f.ctl.stopped = true;
        return f.venue;
      },
    });
    await h.step(30 * 60_000);
    expect(h.a.allOrders()).toHaveLength(0);
    expect(h.b.allOrders()).toHaveLength(0);
    expect(h.strategy.status()[0].lastDecision!.reasons).toEqual(['entry blocked: funding stale', 'leg a: no funding data (last error: funding feed stopped)']);
    ctl.stopped = false;
    await h.step(2 * 60_000);
    expect(h.a.allOrders()).toHaveLength(0); // APR has not held 10 min yet
    await h.step(6 * 60_000); // the 7-minute decision at +35 min sees fresh data and starts the 10-minute clock
    expect(h.a.allOrders()).toHaveLength(0);
    expect(h.strategy.status()[0].lastDecision!.reasons[0]).toBe('entry waits: APR above threshold for 0 ms < 600000 ms');
    await h.step(14 * 60_000);
    expect((await h.positions()).a.toString()).toBe('0.05');
    // the feed stops again with a position open: the data ages past 5 min → stale, and the strategy holds
    ctl.stopped = true;
    await h.step(12 * 60_000);
    const reasons = h.strategy.status()[0].lastDecision!.reasons;
    expect(reasons[0]).toBe('hold: funding stale');
    expect(reasons[1]).toMatch(/^leg a: funding data \d+ ms old > 300000 ms/);
    expect(ctl.calls).toBeGreaterThan(40);
    h.strategy.stop();
  });

  it('upstream bug 5: a leg without funding stream updates (spot-like: rate 0, next funding 0) is not stale; decisions are taken', async () => {
    // Leg A answers like a spot market: rate 0, next funding time 0; no funding stream event reaches
    // anyone before the first settlement. The upstream skipped every decision in this setup.
    const streamEvents: FundingRate[] = [];
    const h = await harness({
      legA: { kind: 'spot', canShort: false },
      venueA: (s) => feedControl(s, (f) => ({ ...f, rate: dec('0'), predictedRate: dec('0'), nextFundingTimeMs: 0 })).venue,
    });
    h.a.watchFundingRate(SYMBOL, { next: (f) => streamEvents.push(f) });
    h.b.watchFundingRate(SYMBOL, { next: (f) => streamEvents.push(f) });
    await h.step(10 * 60_000);
    expect(streamEvents).toHaveLength(0);
    const last = h.strategy.status()[0].lastDecision!;
    expect(last.reasons).toEqual(['hold']);
    // it entered: short B (0.0005 × 1095 = 0.5475 gross), long A with no funding
    expect(h.strategy.listWorkflows()[0].finished!.result).toBe('hedged');
    expect(last.grossApr).toBe('0.5475');
    h.strategy.stop();
  });

  it('upstream bug 4: a funding update that makes the spread converge exits from the update path without deadlock', async () => {
    // At FT venue B's rate drops to A's (0.0001): spread 0 → exit. The sim's funding stream delivers the
    // settlement; the monitor's update triggers the decision, which runs the exit in the same task.
    // decisions only at start and on funding updates (the timer is 24 h away)
    const h = await harness({ b: { rates: funding('0.0005', '0.0001') }, decisionIntervalMs: 24 * H });
    await h.step(60_000);
    expect((await h.positions()).b.toString()).toBe('-0.05');
    await h.step(FT - h.scheduler.now(), 10_000);
    await h.step(10_000);
    const exit = h.strategy.listWorkflows().find((w) => w.kind === 'exit')!;
    expect(exit).toBeDefined();
    expect(exit.finished).toEqual({ result: 'exited', detail: 'closed 0.05 / 0.05' });
    const started = (await h.journal.entries()).find((e) => e.t === 'started' && e.kind === 'exit')!;
    // the scheduler follows the sims after each 10 s step, so the update arrived during the step to FT
    expect(started.atMs).toBe(FT - 10_000);
    expect(exit.fundingTimeMs).toBe(FT + 8 * H); // the next funding time is recorded on this path
    expect(h.strategy.status()[0]).toMatchObject({ inFlight: null, position: { a: '0', b: '0' } });
    const pos = await h.positions();
    expect(pos.a.isZero() && pos.b.isZero()).toBe(true);
    expect(h.b.allOrders().find((x) => x.clientOrderId === stepClientOrderId(exit.id, 'y'))).toMatchObject({ side: 'BUY', reduceOnly: true, status: 'FILLED' });
    h.strategy.stop();
  });

  it('portfolio caps refuse the entry (reason recorded); at most one workflow per symbol in flight', async () => {
    const asked: string[] = [];
    const h = await harness({ caps: { checkEntry: (r) => (asked.push(`${r.symbol} ${r.quantity} ${r.notional}`), 'max total notional 1000 USDT') } });
    await h.step(20 * 60_000);
    expect(h.a.allOrders()).toHaveLength(0);
    expect(asked[0]).toBe('BTCUSDT 0.05 5000');
    expect(h.strategy.status()[0].lastDecision!.reasons).toEqual(['entry blocked: portfolio cap: max total notional 1000 USDT']);
    h.strategy.stop();

    // a maker hedge rests: while it is in flight, decisions (timer and funding updates) start nothing new
    const h2 = await harness({ legB: { execution: { type: 'LIMIT', offset: dec('0.05'), timeoutMs: 30 * 60_000 } } });
    await h2.step(20 * 60_000);
    expect(h2.strategy.status()[0]).toMatchObject({ inFlight: entryId, lastDecision: { reasons: ['workflow in flight'] } });
    expect(h2.a.allOrders()).toHaveLength(1);
    await h2.step(15 * 60_000);
    // the far hedge never filled: cancelled at its deadline, first leg unwound
    expect(h2.strategy.listWorkflows()[0].finished!.result).toBe('compensated');
    h2.strategy.stop();
  });
});
