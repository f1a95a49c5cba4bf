import {
  type AccountSnapshot,
  Dec,
  type ExchangeVenue,
  type Order,
  type OrderRequest,
  type Scheduler,
  type Side,
  type SymbolRules,
  type TimerHandle,
  ZERO,
  isTerminal,
  isVenueError,
  roundToIncrement,
} from '@mm/domain';
import { MarginGuard } from '../margin-guard';
import { type AlertSink, noopAlerts } from '../ports';
import { type Decision, decide, legFeeRate, otherLeg } from './decision';
import { FundingMonitor, type PairFunding } from './funding-monitor';
import {
  type ArbJournal,
  type ExitReason,
  type JournalEntry,
  type OrderIntent,
  type OrderOutcome,
  type StepCode,
  type StepState,
  type WorkflowKind,
  type WorkflowResult,
  type WorkflowState,
  foldJournal,
  interestPaid,
  positionsFromJournal,
  signedFill,
} from './journal';
import {
  type ArbRiskSettings,
  type ArbThresholds,
  type LegId,
  type PairSpec,
  type PortfolioCapCheck,
  YEAR_MS,
  noPortfolioCaps,
  validateArbConfig,
  validateArbRisk,
} from './types';

const LEGS = ['a', 'b'] as const;
const HOUR_MS = 3_600_000;

/** Settings of {@link FundingArbStrategy}. Times in ms (scheduler time). */
export interface FundingArbSettings {
  pairs: PairSpec[];
  thresholds: ArbThresholds;
  /** How often each pair is evaluated (ms); funding stream updates also trigger an evaluation. */
  decisionIntervalMs: number;
  /** How often the funding monitor polls each leg (ms). */
  fundingPollMs: number;
  /** Which leg an entry sends first (and an exit closes first). Spot+perp pairs will want the spot leg first. */
  firstLeg: 'long' | 'short';
  /** Placement attempts per order on transient venue errors (each looks the client order id up first). */
  maxSendAttempts: number;
  /** Delay before an unfinished workflow is retried after a transient failure (ms). */
  retryDelayMs: number;
  /**
   * Entry workflows allowed per symbol and funding time (≥ 1). An entry that was compensated or
   * aborted is not retried beyond this before the next funding time, so a venue that keeps rejecting
   * the hedge does not churn fees.
   */
  maxEntryAttemptsPerFunding: number;
  /**
   * Position management (delta rebalance, toxic-basis and emergency exits). Absent: none of these
   * run (operator exits and the spread exits still do).
   */
  risk?: ArbRiskSettings;
}

export interface FundingArbDeps {
  scheduler: Scheduler;
  journal: ArbJournal;
  caps?: PortfolioCapCheck;
  alerts?: AlertSink;
}

/** Workflow state of one symbol: flat or open with nothing in flight, else the kind of the workflow in flight. */
export type ArbSymbolState = 'flat' | 'open' | 'entering' | 'exiting' | 'rebalancing';

/** Per-symbol status (for `/status`): position per leg, last decision, workflow in flight. */
export interface ArbSymbolStatus {
  symbol: string;
  /** Signed leg positions from the journal (base units, decimal strings). */
  position: Record<LegId, string>;
  inFlight: string | null;
  lastDecision?: { atMs: number; action: Decision['action']; reasons: string[]; netApr?: string; grossApr?: string };
  /** position(a) + position(b), base units, decimal string. */
  netDelta?: string;
  state?: ArbSymbolState;
  /** An exit waiting for the workflow in flight to finish (emergency / operator). */
  pendingExit?: { reason: ExitReason; detail: string };
  /** Why entries are blocked for this symbol beyond the decision (operator pause, margin guard), or null. */
  entriesBlocked?: string | null;
}

/** Margin reading of one perp leg (decimal strings; fractions), as the grid's `MarginGuard.snapshot()`. */
export type ArbLegRisk = ReturnType<MarginGuard['snapshot']>;

/** Accounting of one leg. Quote units unless named otherwise. */
export interface ArbLegAccounting {
  venue: string;
  kind: 'perp' | 'spot';
  symbol: string;
  /** Signed position from the journal (base units). */
  position: string;
  /** Last price (quote), null when the venue did not answer. */
  price: string | null;
  /** Σ fees of this leg's orders (quote). */
  fees: string;
  /** `venue`: every order's fee as the venue reported it; `estimate`: some from executed notional × the leg's fee rate. */
  feesSource: 'venue' | 'estimate';
  /** Price PnL of this leg: Σ −signed fill × fill price + position × last price (quote). */
  pricePnl: string;
  /** Margin reading of a perp leg (null for spot legs or before the first poll). */
  risk: ArbLegRisk | null;
}

/**
 * Per-symbol accounting of the funding arbitrage (decimal strings; quote = the legs' quote asset,
 * USDT). Over the whole journal history of the symbol.
 */
export interface ArbAccounting {
  symbol: string;
  state: ArbSymbolState;
  inFlight: { id: string; kind: WorkflowKind; exitReason?: ExitReason } | null;
  legs: Record<LegId, ArbLegAccounting>;
  /** position(a) + position(b), base units. */
  netDelta: string;
  /** The configured tolerance (base units), null without risk settings. */
  deltaTolerance: string | null;
  /** Σ over the perp legs of the venue's cumulative funding of the symbol (`Position.fundingPnl`, + received); null when no perp venue reports it. */
  fundingReceived: string | null;
  /**
   * Borrow interest of the short spot leg, in its base asset and valued at its last price (quote):
   * `base` accrued (venue or estimate), `paidBase` the part repaid by the exits' closing BUYs (journaled).
   */
  borrowInterest: { asset: string; base: string; quote: string; paidBase: string; source: 'venue' | 'estimate' | 'none' };
  /** Σ fees of both legs (quote). */
  fees: string;
  /** Σ price PnL of both legs (quote): what the basis between the legs made or lost. */
  basisPnl: string;
  /** Basis PnL of the position now open (since the symbol was last flat), quote. */
  openBasisPnl: string;
  /** funding − interest − fees + basis (quote). */
  netPnl: string;
  /** Net APR predicted by the decision of the last entry (fraction per year), null before any. */
  predictedApr: string | null;
  /** netPnl ÷ Σ(entry notional × time held) × year (fraction per year), null before any exposure. */
  realizedApr: string | null;
  /** Σ entry notional × time held, quote·ms (the realized APR's denominator). */
  exposureQuoteMs: string;
  lastDecision?: ArbSymbolStatus['lastDecision'];
  entriesBlocked: string | null;
}

const KIND_CODE: Record<WorkflowKind, string> = { entry: 'E', exit: 'X', rebalance: 'R' };

/**
 * Deterministic workflow id: `fa-<symbol>-<E|X|R><short leg>-<funding time, base 36>-<attempt>` (entry, exit, rebalance).
 * Client order ids append `-<step>` (REQ-ARB-003): the same workflow step always carries the same
 * id, so a resend after a crash is answered by the venue with the existing order.
 * @throws Error when the client order id would exceed 36 characters (Binance's limit).
 */
export function workflowId(symbol: string, kind: WorkflowKind, short: LegId, fundingTimeMs: number, attempt: number): string {
  const id = `fa-${symbol}-${KIND_CODE[kind]}${short}-${fundingTimeMs.toString(36)}-${attempt}`;
  if (id.length + 2 > 36) throw new Error(`client order id for ${id} would exceed 36 characters`);
  return id;
}

/** Client order id of one step. */
export const stepClientOrderId = (wfId: string, step: StepCode): string => `${wfId}-${step}`;

/** Thrown when the journal fails: the strategy halts (stops opening) and the workflow resumes on restart. */
class JournalFailure extends Error {}

/**
 * Funding-rate arbitrage, library core (issue 10, REQ-ARB-001..005): a funding monitor, the per-symbol
 * decision and durable two-leg workflows over two venue ports.
 *
 * All work runs on one serial task queue; a decision that exits runs the exit inside the same task
 * (no lock is taken twice, unlike the upstream's self-deadlock, bug 4). Every order is journaled
 * before it is sent and its outcome after; on `start()` unfinished workflows from the journal are
 * resumed: an order intent without an outcome is looked up by its client order id (found → adopted if it
 * matches the intent; not found → sent again with the same id), then the workflow continues or
 * compensates. Venue replies that do not match their intent (symbol, side, quantity, type,
 * reduce-only, client order id) are FOREIGN and never adopted.
 *
 * Position per symbol and leg = Σ executed fills of all journaled steps (signed). Never reads the wall clock.
 *
 * Position management (with `settings.risk`, see `ArbRiskSettings`): emergency exits on the perp
 * legs' liquidation distance / margin ratio (polled every `risk.pollMs`), operator exits
 * ({@link requestExit}), toxic-basis exits and delta rebalances; per-symbol accounting in
 * {@link accounting}.
 */
export class FundingArbStrategy {
  private readonly monitor: FundingMonitor;
  private readonly caps: PortfolioCapCheck;
  private readonly alerts: AlertSink;
  private readonly pairs = new Map<string, PairSpec>();
  private readonly rules = new Map<string, SymbolRules>();
  private workflows = new Map<string, WorkflowState>();
  private readonly inFlight = new Map<string, string>();
  private readonly parked = new Map<string, TimerHandle>();
  private readonly aboveSince = new Map<string, number>();
  private readonly last = new Map<string, ArbSymbolStatus['lastDecision']>();
  private chain: Promise<void> = Promise.resolve();
  private timer?: TimerHandle;
  private halted: string | null = null;
  private stopped = false;
  /** Margin guards of the perp legs, key `symbol:leg` (only with `settings.risk`). */
  private readonly guards = new Map<string, MarginGuard>();
  private riskTimer?: TimerHandle;
  /** Exits waiting to start (emergency over operator), per symbol. */
  private readonly pendingExit = new Map<string, { reason: ExitReason; detail: string; first?: LegId }>();
  /** Entries paused by an operator exit, per symbol (reason). */
  private readonly paused = new Map<string, string>();
  /** Perp legs whose venue position differs from the journal's (key `symbol:leg`), with the detail. */
  private readonly divergence = new Map<string, string>();
  /** Last account poll error per venue name. */
  readonly riskPollErrors = new Map<string, string>();

  constructor(
    private readonly settings: FundingArbSettings,
    private readonly deps: FundingArbDeps,
  ) {
    validateArbConfig(settings.pairs, settings.thresholds);
    if (!(settings.decisionIntervalMs > 0)) throw new Error(`decisionIntervalMs must be > 0 ms, got ${settings.decisionIntervalMs}`);
    if (!(settings.maxSendAttempts >= 1)) throw new Error(`maxSendAttempts must be ≥ 1, got ${settings.maxSendAttempts}`);
    if (!(Number.isInteger(settings.maxEntryAttemptsPerFunding) && settings.maxEntryAttemptsPerFunding >= 1))
      throw new Error(`maxEntryAttemptsPerFunding must be an integer ≥ 1, got ${settings.maxEntryAttemptsPerFunding}`);
    for (const p of settings.pairs) this.pairs.set(p.symbol, p);
    const r = settings.risk;
    if (r) {
      validateArbRisk(r);
      for (const p of settings.pairs)
        for (const id of LEGS)
          if (p.legs[id].kind === 'perp')
            this.guards.set(
              `${p.symbol}:${id}`,
              new MarginGuard(
                {
                  stopOpeningMarginRatio: r.stopOpeningMarginRatio,
                  reduceMarginRatio: r.emergencyMarginRatio,
                  stopOpeningLiquidationDistance: r.stopOpeningLiquidationDistance,
                  reduceLiquidationDistance: r.emergencyLiquidationDistance,
                  checkIntervalMs: r.pollMs,
                  recoveryMs: r.recoveryMs,
                  // the strategy closes both legs in full, not a fraction through the grid's exits
                  reduceFraction: new Dec(1),
                  exitSlippage: new Dec(0),
                },
                p.legs[id].symbol,
              ),
            );
    }
    this.caps = deps.caps ?? noPortfolioCaps;
    this.alerts = deps.alerts ?? noopAlerts;
    this.monitor = new FundingMonitor(settings.pairs, deps.scheduler, {
      pollMs: settings.fundingPollMs,
      maxAgeMs: settings.thresholds.maxFundingAgeMs,
      // a funding update evaluates its pair at once (the upstream's OnFundingUpdate path, without its lock)
      onStreamUpdate: (symbol) => this.enqueue(() => this.evaluate(symbol)),
    });
  }

  /** Loads the journal, starts the funding monitor, resumes unfinished workflows, evaluates every pair once and starts the decision timer. */
  async start(): Promise<void> {
    for (const p of this.settings.pairs)
      for (const id of ['a', 'b'] as const) this.rules.set(`${p.symbol}:${id}`, await p.legs[id].venue.getSymbolRules(p.legs[id].symbol));
    this.workflows = foldJournal(await this.deps.journal.entries());
    // an operator exit stays in force across a restart: entries of a symbol whose last workflow is
    // an operator exit stay paused until resumeEntries()
    const lastBySymbol = new Map<string, WorkflowState>();
    for (const wf of this.workflows.values()) lastBySymbol.set(wf.symbol, wf);
    for (const [symbol, wf] of lastBySymbol) if (wf.kind === 'exit' && wf.exitReason === 'operator' && this.pairs.has(symbol)) this.paused.set(symbol, wf.detail ?? 'operator');
    await this.monitor.start();
    for (const wf of this.workflows.values()) {
      if (wf.finished) continue;
      this.inFlight.set(wf.symbol, wf.id);
      this.enqueue(() => this.advance(wf));
    }
    this.evaluateAll();
    this.timer = this.deps.scheduler.setInterval(() => this.evaluateAll(), this.settings.decisionIntervalMs);
    if (this.settings.risk && this.guards.size) {
      this.enqueue(() => this.checkRisk());
      this.riskTimer = this.deps.scheduler.setInterval(() => this.enqueue(() => this.checkRisk()), this.settings.risk.pollMs);
    }
  }

  /** Stops timers and the monitor (unfinished workflows stay in the journal for the next start). */
  stop(): void {
    this.stopped = true;
    this.deps.scheduler.clear(this.timer);
    this.deps.scheduler.clear(this.riskTimer);
    for (const h of this.parked.values()) this.deps.scheduler.clear(h);
    this.parked.clear();
    this.monitor.stop();
  }

  /** Resolves when every task queued so far has run (the queue's current tail). */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Resolves once the task queue and the monitor's poll are empty and stay so across a few microtask
   * turns. A workflow parked on a scheduler timer (resting LIMIT leg, retry) is not waited for: with a
   * `VirtualScheduler`, advance time (`advanceToAsync(t, () => strategy.whenIdle())`). Never rejects.
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      const chain = this.chain;
      const poll = this.monitor.idle();
      await poll.catch(() => undefined);
      await chain.catch(() => undefined);
      for (let i = 0; i < 10; i++) await Promise.resolve();
      if (this.chain === chain && this.monitor.idle() === poll) return;
    }
  }

  /** Evaluates every pair now (also run by the decision timer). */
  evaluateAll(): void {
    for (const symbol of this.pairs.keys()) this.enqueue(() => this.evaluate(symbol));
  }

  /** Why the strategy stopped opening (journal failure), or null. */
  get haltReason(): string | null {
    return this.halted;
  }

  status(): ArbSymbolStatus[] {
    const pos = positionsFromJournal(this.workflows.values());
    return [...this.pairs.keys()].map((symbol) => {
      const p = pos.get(symbol) ?? { a: ZERO, b: ZERO };
      const pending = this.pendingExit.get(symbol);
      return {
        symbol,
        position: { a: p.a.toString(), b: p.b.toString() },
        inFlight: this.inFlight.get(symbol) ?? null,
        lastDecision: this.last.get(symbol),
        netDelta: p.a.plus(p.b).toString(),
        state: this.stateOf(symbol, p),
        ...(pending ? { pendingExit: { reason: pending.reason, detail: pending.detail } } : {}),
        entriesBlocked: this.entriesBlocked(symbol),
      };
    });
  }

  /**
   * Operator command: close both legs of `symbol` (an `exit` workflow with reason `operator`, once
   * the workflow in flight, if any, has finished) and pause its entries until {@link resumeEntries}.
   * Flat: only pauses entries. @throws Error for an unconfigured symbol.
   */
  requestExit(symbol: string, reason: string): void {
    if (!this.pairs.has(symbol)) throw new Error(`funding-arb requestExit: unknown symbol ${symbol}`);
    const detail = `operator: ${reason}`;
    this.paused.set(symbol, detail);
    if (this.pendingExit.get(symbol)?.reason !== 'emergency') this.pendingExit.set(symbol, { reason: 'operator', detail });
    this.enqueue(() => this.evaluate(symbol));
  }

  /** Lifts an operator pause of `symbol`'s entries. @throws Error for an unconfigured symbol. */
  resumeEntries(symbol: string): void {
    if (!this.pairs.has(symbol)) throw new Error(`funding-arb resumeEntries: unknown symbol ${symbol}`);
    this.paused.delete(symbol);
    if (this.pendingExit.get(symbol)?.reason === 'operator') this.pendingExit.delete(symbol);
  }

  /** Accounting of every configured symbol (see {@link accounting}). */
  async accountingAll(): Promise<ArbAccounting[]> {
    const out: ArbAccounting[] = [];
    for (const s of this.pairs.keys()) out.push(await this.accounting(s));
    return out;
  }

  /**
   * Per-symbol accounting (decimal strings), from the journal's executed quantities and prices plus
   * what the venues report:
   * - funding received: Σ over the perp legs of the venue's `Position.fundingPnl` of the leg's symbol
   *   (cumulative since the venue account started; the same figure the grid's account view shows);
   * - borrow interest: the leg's `borrowInterest` source when given, else an estimate from the journal with
   *   the sim's/Binance's hourly model: at each UTC hour boundary while the leg is short,
   *   ⌈|position| × borrowRateHourly⌉ (8 dp, base asset); valued at the leg's last price;
   * - fees per leg: Σ of the venue-reported fees of each order (a fee in the base asset is valued at
   *   its fill price), else executed notional × the leg's maker/taker rate;
   * - basis PnL: Σ legs (−Σ signed fill × fill price + position × last price);
   * - realized APR: (funding − interest − fees + basis) ÷ Σ(entry notional × time held) × 365 d;
   *   predicted APR: the net APR of the decision that made the last entry.
   * @throws Error for an unconfigured symbol.
   */
  async accounting(symbol: string): Promise<ArbAccounting> {
    const pair = this.pairs.get(symbol);
    if (!pair) throw new Error(`funding-arb accounting: unknown symbol ${symbol}`);
    const wfs = [...this.workflows.values()].filter((w) => w.symbol === symbol);
    const pos = positionsFromJournal(wfs).get(symbol) ?? { a: ZERO, b: ZERO };
    const now = this.deps.scheduler.now();
    const prices = await this.prices(pair);
    const legs = {} as Record<LegId, ArbLegAccounting>;
    let fees = ZERO;
    let basis = ZERO;
    let funding: Dec | null = null;
    for (const id of LEGS) {
      const spec = pair.legs[id];
      const rules = this.rule(symbol, id);
      let legFees = ZERO;
      let estimated = false;
      let cash = ZERO;
      for (const wf of wfs)
        for (const st of Object.values(wf.steps)) {
          if (!st?.outcome || st.intent.leg !== id) continue;
          const q = new Dec(st.outcome.executedQty);
          if (q.isZero()) continue;
          const px = new Dec(st.outcome.avgPrice);
          cash = cash.minus(signedFill(st).mul(px));
          if (st.outcome.fee !== undefined) {
            const f = new Dec(st.outcome.fee);
            legFees = legFees.plus(st.outcome.feeAsset === rules.baseAsset ? f.mul(px) : f);
          } else {
            estimated = true;
            legFees = legFees.plus(q.mul(px).mul(st.intent.type === 'MARKET' ? spec.takerFee : spec.makerFee));
          }
        }
      const price = prices[id];
      const pnl = price ? cash.plus(pos[id].mul(price)) : cash;
      fees = fees.plus(legFees);
      basis = basis.plus(pnl);
      if (spec.kind === 'perp') {
        try {
          const acct = await spec.venue.getAccount();
          const f = acct.positions.find((p) => p.symbol === spec.symbol)?.fundingPnl;
          if (f) funding = (funding ?? ZERO).plus(f);
        } catch {
          // funding unknown while the venue does not answer
        }
      }
      legs[id] = {
        venue: spec.venue.name,
        kind: spec.kind,
        symbol: spec.symbol,
        position: pos[id].toString(),
        price: price ? price.toString() : null,
        fees: legFees.toString(),
        feesSource: estimated ? 'estimate' : 'venue',
        pricePnl: pnl.toString(),
        risk: this.guards.get(`${symbol}:${id}`)?.snapshot() ?? null,
      };
    }
    const interest = await this.borrowInterest(pair, wfs, prices, now);
    // exposure: each entry's first-leg notional × time until the next exit finished (or now)
    let exposure = ZERO;
    let predicted: string | null = null;
    wfs.forEach((wf, i) => {
      if (wf.kind !== 'entry') return;
      const f = wf.steps.f?.outcome;
      if (!f || new Dec(f.executedQty).isZero()) return;
      if (wf.predictedApr) predicted = wf.predictedApr;
      const start = wf.startedAtMs ?? now;
      const exit = wfs.slice(i + 1).find((w) => w.kind === 'exit' && w.finished);
      const end = exit?.finishedAtMs ?? now;
      exposure = exposure.plus(new Dec(f.executedQty).mul(f.avgPrice).mul(Math.max(0, end - start)));
    });
    const net = (funding ?? ZERO).minus(interest.quote).minus(fees).plus(basis);
    const fl = this.inFlight.get(symbol);
    const flWf = fl ? this.workflows.get(fl) : undefined;
    return {
      symbol,
      state: this.stateOf(symbol, pos),
      inFlight: flWf ? { id: flWf.id, kind: flWf.kind, ...(flWf.exitReason ? { exitReason: flWf.exitReason } : {}) } : null,
      legs,
      netDelta: pos.a.plus(pos.b).toString(),
      deltaTolerance: this.tolerance(pair)?.toString() ?? null,
      fundingReceived: funding ? (funding as Dec).toString() : null,
      borrowInterest: { asset: interest.asset, base: interest.base.toString(), quote: interest.quote.toString(), paidBase: interest.paid.toString(), source: interest.source },
      fees: fees.toString(),
      basisPnl: basis.toString(),
      openBasisPnl: this.openBasisPnl(wfs, prices).toString(),
      netPnl: net.toString(),
      predictedApr: predicted,
      realizedApr: exposure.gt(0) ? net.mul(YEAR_MS).div(exposure).toString() : null,
      exposureQuoteMs: exposure.toString(),
      lastDecision: this.last.get(symbol),
      entriesBlocked: this.entriesBlocked(symbol),
    };
  }

  /** Workflows rebuilt from the journal plus this instance's steps (copies). */
  listWorkflows(): WorkflowState[] {
    return [...this.workflows.values()].map((w) => ({ ...w, steps: { ...w.steps } }));
  }

  // ------------------------------------------------------------------ decision

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.stopped) return;
      try {
        await task();
      } catch (e) {
        if (e instanceof JournalFailure) return; // already halted and alerted
        this.alerts.notify({ kind: 'strategy_crashed', level: 'ERROR', title: 'funding-arb task failed', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      }
    });
  }

  private async prices(pair: PairSpec): Promise<Record<LegId, Dec | undefined>> {
    const prices: Record<LegId, Dec | undefined> = { a: undefined, b: undefined };
    for (const id of LEGS) {
      try {
        prices[id] = await pair.legs[id].venue.getLatestPrice(pair.legs[id].symbol);
      } catch {
        prices[id] = undefined;
      }
    }
    return prices;
  }

  private tolerance(pair: PairSpec): Dec | null {
    return pair.deltaTolerance ?? this.settings.risk?.deltaTolerance ?? null;
  }

  private stateOf(symbol: string, pos: Record<LegId, Dec>): ArbSymbolState {
    const id = this.inFlight.get(symbol);
    const wf = id ? this.workflows.get(id) : undefined;
    if (wf) return wf.kind === 'entry' ? 'entering' : wf.kind === 'exit' ? 'exiting' : 'rebalancing';
    return pos.a.isZero() && pos.b.isZero() ? 'flat' : 'open';
  }

  /** Perp legs whose venue position differs from the journal's: `symbol` → details (empty when none). */
  divergences(symbol: string): string[] {
    return LEGS.map((id) => this.divergence.get(`${symbol}:${id}`)).filter((d): d is string => d !== undefined);
  }

  /** Why entries of `symbol` are blocked beyond the decision (operator pause, a perp leg's margin guard), or null. */
  private entriesBlocked(symbol: string): string | null {
    const p = this.paused.get(symbol);
    if (p) return `entries paused (${p})`;
    for (const id of LEGS) {
      const g = this.guards.get(`${symbol}:${id}`);
      if (g?.open) return `margin guard of leg ${id}: ${g.reason}`;
    }
    // from the journal, so it holds across a restart (the margin guards start closed)
    const r = this.settings.risk;
    if (r) {
      let at: number | undefined;
      for (const wf of this.workflows.values()) if (wf.symbol === symbol && wf.exitReason === 'emergency') at = wf.finishedAtMs ?? wf.startedAtMs;
      const now = this.deps.scheduler.now();
      if (at !== undefined && now < at + r.recoveryMs) return `emergency exit at ${at}: entries blocked until ${at + r.recoveryMs} (risk.recoveryMs)`;
    }
    return null;
  }

  /**
   * Price PnL (quote) of the position now open: the fills since the symbol was last flat after a
   * finished workflow, valued at `prices` (0 when flat or a price is unknown).
   */
  private openBasisPnl(wfs: WorkflowState[], prices: Record<LegId, Dec | undefined>): Dec {
    const p = { a: ZERO, b: ZERO };
    let cash = ZERO;
    for (const wf of wfs) {
      for (const st of Object.values(wf.steps)) {
        if (!st?.outcome) continue;
        const q = signedFill(st);
        p[st.intent.leg] = p[st.intent.leg].plus(q);
        cash = cash.minus(q.mul(st.outcome.avgPrice));
      }
      if (wf.finished && p.a.isZero() && p.b.isZero()) cash = ZERO;
    }
    if (p.a.isZero() && p.b.isZero()) return ZERO;
    if (!prices.a || !prices.b) return ZERO;
    return cash.plus(p.a.mul(prices.a)).plus(p.b.mul(prices.b));
  }

  /** Borrow interest of the pair's spot legs (see {@link accounting}). */
  private async borrowInterest(pair: PairSpec, wfs: WorkflowState[], prices: Record<LegId, Dec | undefined>, now: number) {
    for (const id of LEGS) {
      const spec = pair.legs[id];
      if (spec.kind !== 'spot' || !spec.canShort) continue;
      const asset = this.rule(pair.symbol, id).baseAsset;
      const px = prices[id] ?? ZERO;
      let paid = ZERO;
      for (const wf of wfs) for (const st of Object.values(wf.steps)) if (st?.intent.leg === id) paid = paid.plus(interestPaid(st));
      if (spec.borrowInterest) {
        const base = new Dec(await spec.borrowInterest.interestAccrued(asset));
        return { asset, base, quote: base.mul(px), paid, source: 'venue' as const };
      }
      // the interest the exits repaid (journaled: the venue's figure when it gave one) + the estimate of the open short
      const base = paid.plus(estimateBorrowInterest(sinceFlat(wfs, id), id, spec.borrowRateHourly, now));
      return { asset, base, quote: base.mul(px), paid, source: 'estimate' as const };
    }
    return { asset: '', base: ZERO, quote: ZERO, paid: ZERO, source: 'none' as const };
  }

  /**
   * One risk poll (on the scheduler, `risk.pollMs`): reads each perp venue's account once, feeds
   * every perp leg's margin guard, and starts an emergency exit for a symbol whose leg is past an
   * emergency limit while it holds a position.
   */
  private async checkRisk(): Promise<void> {
    const now = this.deps.scheduler.now();
    const accounts = new Map<ExchangeVenue, AccountSnapshot | null>();
    const trigger: string[] = [];
    for (const pair of this.pairs.values()) {
      for (const id of LEGS) {
        const guard = this.guards.get(`${pair.symbol}:${id}`);
        if (!guard) continue;
        const venue = pair.legs[id].venue;
        if (!accounts.has(venue)) {
          try {
            accounts.set(venue, await venue.getAccount());
            this.riskPollErrors.delete(venue.name);
          } catch (e) {
            accounts.set(venue, null);
            this.riskPollErrors.set(venue.name, e instanceof Error ? e.message : String(e));
          }
        }
        const account = accounts.get(venue);
        if (!account) continue;
        const pos = positionsFromJournal([...this.workflows.values()].filter((w) => w.symbol === pair.symbol)).get(pair.symbol);
        this.checkDivergence(pair, id, account, pos?.[id] ?? ZERO);
        const v = guard.read(account, now);
        if (!v.reduce) continue;
        if (!pos || (pos.a.isZero() && pos.b.isZero())) continue;
        if (this.pendingExit.get(pair.symbol)?.reason !== 'emergency') {
          this.pendingExit.set(pair.symbol, { reason: 'emergency', detail: v.detail, first: pos[id].isZero() ? otherLeg(id) : id });
          trigger.push(pair.symbol);
        }
      }
    }
    for (const symbol of trigger) await this.evaluate(symbol);
  }

  /**
   * Compares a perp leg's venue position with the journal's (nothing in flight): a difference
   * (a venue liquidation or ADL, a manual trade) is alerted once per distinct venue size
   * (`reconciliation_divergence`) and shown in `status()`; it is not adopted.
   */
  private checkDivergence(pair: PairSpec, id: LegId, account: AccountSnapshot, journaled: Dec): void {
    const key = `${pair.symbol}:${id}`;
    if (this.inFlight.has(pair.symbol)) return;
    const venueSize = account.positions.find((p) => p.symbol === pair.legs[id].symbol)?.size ?? ZERO;
    if (venueSize.eq(journaled)) {
      this.divergence.delete(key);
      return;
    }
    const detail = `leg ${id} (${pair.legs[id].venue.name} ${pair.legs[id].symbol}): venue position ${venueSize} ≠ journal ${journaled}`;
    if (this.divergence.get(key) === detail) return;
    this.divergence.set(key, detail);
    this.alerts.notify({ kind: 'reconciliation_divergence', level: 'ERROR', title: `funding-arb ${pair.symbol}: perp leg differs from the journal`, message: `${detail}; not adopted`, dedupeKey: `fa-div-${key}` });
  }

  private async evaluate(symbol: string): Promise<void> {
    const pair = this.pairs.get(symbol)!;
    const funding = this.monitor.snapshot(symbol);
    const pos = positionsFromJournal([...this.workflows.values()].filter((w) => w.symbol === symbol)).get(symbol) ?? { a: ZERO, b: ZERO };
    // Any leg open counts as a position (never enter on top of it): the short leg, or for a lone long
    // leg left by an incomplete unwind, the leg that would be short.
    const openShort: LegId | null = pos.a.isNegative() ? 'a' : pos.b.isNegative() ? 'b' : pos.a.gt(0) ? 'b' : pos.b.gt(0) ? 'a' : null;
    const prices = await this.prices(pair);
    const now = this.deps.scheduler.now();
    const busy = this.inFlight.has(symbol);
    if (!openShort) {
      if (this.pendingExit.has(symbol) && !busy) this.pendingExit.delete(symbol); // nothing left to close
    } else if (!busy) {
      // position management before the funding decision: emergency, operator, toxic basis
      const pending = this.pendingExit.get(symbol);
      if (pending) return this.startExit(pair, pos, funding, pending.reason, pending.detail, pending.first);
      const risk = this.settings.risk;
      const long = otherLeg(openShort);
      if (risk && prices.a && prices.b) {
        const basis = this.openBasisPnl(
          [...this.workflows.values()].filter((w) => w.symbol === symbol),
          prices,
        );
        const ref = pos[long].isZero() ? pos[openShort] : pos[long];
        const notional = ref.abs().mul(prices[pos[long].isZero() ? openShort : long]!);
        if (notional.gt(0) && basis.neg().gte(risk.maxAdverseBasis.mul(notional)))
          return this.startExit(pair, pos, funding, 'toxic_basis', `basis PnL ${basis.toFixed(8)} ≤ −${risk.maxAdverseBasis} × notional ${notional.toFixed(8)}`);
      }
    }
    let d = decide({ pair, thresholds: this.settings.thresholds, funding, prices, openShort, inFlight: this.inFlight.has(symbol), aboveSinceMs: this.aboveSince.get(symbol), nowMs: now });
    if (!openShort && d.apr && d.apr.netApr.gte(this.settings.thresholds.entryApr)) {
      if (!this.aboveSince.has(symbol)) this.aboveSince.set(symbol, now);
    } else if (!this.inFlight.has(symbol)) this.aboveSince.delete(symbol);
    if (d.action === 'enter' && this.halted) d = { action: 'none', apr: d.apr, reasons: [`entry blocked: halted (${this.halted})`] };
    const blocked = d.action === 'enter' ? this.entriesBlocked(symbol) : null;
    if (blocked) d = { action: 'none', apr: d.apr, reasons: [`entry blocked: ${blocked}`] };
    if (d.action === 'enter') {
      const mid = prices.a!.plus(prices.b!).div(2);
      const refusal = await this.caps.checkEntry({ symbol, quantity: pair.orderQty, notional: pair.orderQty.mul(mid) });
      if (refusal) d = { action: 'none', apr: d.apr, reasons: [`entry blocked: portfolio cap: ${refusal}`] };
    }
    this.last.set(symbol, { atMs: now, action: d.action, reasons: d.reasons, netApr: d.apr?.netApr.toString(), grossApr: d.apr?.grossApr.toString() });
    if (d.action === 'exit') return this.startExit(pair, pos, funding, 'spread', d.reasons.join('; '));
    if (d.action === 'none') {
      // hold: trim a drifted delta
      const tol = this.tolerance(pair);
      if (openShort && !busy && tol && this.settings.risk) {
        const delta = pos.a.plus(pos.b);
        if (delta.abs().gt(tol)) await this.startRebalance(pair, pos, funding, delta, tol);
      }
      return;
    }
    // entry
    const short = d.short;
    const legFunding = this.fundingTimeOf(funding, short);
    const first: LegId = this.settings.firstLeg === 'short' ? short : otherLeg(short);
    const quantity = roundToIncrement(pair.orderQty, this.rule(symbol, first).stepSize, 'down');
    if (!quantity.gt(0)) return;
    const attempt = this.nextAttempt(symbol, 'entry', short, legFunding);
    if (attempt > this.settings.maxEntryAttemptsPerFunding) {
      this.last.set(symbol, { ...this.last.get(symbol)!, action: 'none', reasons: [`entry blocked: ${attempt - 1} entry attempt(s) already made for funding time ${legFunding}`] });
      return;
    }
    const id = workflowId(symbol, 'entry', short, legFunding, attempt);
    await this.journal({ t: 'started', atMs: now, id, symbol, kind: 'entry', short, first, fundingTimeMs: legFunding, attempt, quantity: quantity.toString(), predictedApr: d.apr.netApr.toString() });
    this.inFlight.set(symbol, id);
    await this.advance(this.workflows.get(id)!);
  }

  /** Funding time a workflow's id carries: the short leg's next funding time, else the other leg's, else 0 (no funding data). */
  private fundingTimeOf(funding: PairFunding, short: LegId): number {
    return funding.legs[short]?.nextFundingTimeMs || funding.legs[otherLeg(short)]?.nextFundingTimeMs || 0;
  }

  private nextAttempt(symbol: string, kind: WorkflowKind, short: LegId, fundingTimeMs: number): number {
    return 1 + [...this.workflows.values()].filter((w) => w.symbol === symbol && w.kind === kind && w.short === short && w.fundingTimeMs === fundingTimeMs).length;
  }

  /**
   * Starts an exit workflow closing both legs in full by their journaled positions: the first leg
   * (`preferFirst`, else per `firstLeg`; a flat leg is skipped) reduce-only, then the other leg by its
   * whole position once the first closed in full (else by what closed, staying hedged).
   */
  private async startExit(pair: PairSpec, pos: Record<LegId, Dec>, funding: PairFunding, reason: ExitReason, detail: string, preferFirst?: LegId): Promise<void> {
    const symbol = pair.symbol;
    const now = this.deps.scheduler.now();
    const short: LegId = pos.a.isNegative() ? 'a' : pos.b.isNegative() ? 'b' : pos.a.gt(0) ? 'b' : 'a';
    let first: LegId = preferFirst ?? (this.settings.firstLeg === 'short' ? short : otherLeg(short));
    if (pos[first].isZero()) first = otherLeg(first);
    const legQty = { a: pos.a.abs(), b: pos.b.abs() };
    const fundingTimeMs = this.fundingTimeOf(funding, short);
    const attempt = this.nextAttempt(symbol, 'exit', short, fundingTimeMs);
    const id = workflowId(symbol, 'exit', short, fundingTimeMs, attempt);
    if (reason !== 'spread') this.last.set(symbol, { atMs: now, action: 'exit', reasons: [`${reason}: ${detail}`] });
    await this.journal({
      t: 'started',
      atMs: now,
      id,
      symbol,
      kind: 'exit',
      short,
      first,
      fundingTimeMs,
      attempt,
      quantity: legQty[first].toString(),
      exitReason: reason,
      detail,
      legQty: { a: legQty.a.toString(), b: legQty.b.toString() },
    });
    if (this.pendingExit.get(symbol)?.reason === reason) this.pendingExit.delete(symbol);
    this.inFlight.set(symbol, id);
    if (reason === 'emergency')
      this.alerts.notify({
        kind: 'arb_emergency_exit',
        level: 'CRITICAL',
        title: `funding-arb ${symbol}: emergency exit, closing both legs`,
        message: `${id}: ${detail}; closing leg ${first} (${legQty[first]}) reduce-only, then leg ${otherLeg(first)} (${legQty[otherLeg(first)]})`,
        dedupeKey: id,
      });
    await this.advance(this.workflows.get(id)!);
  }

  /** Starts a rebalance: trims the larger leg by |delta| (rounded down to its step size). */
  private async startRebalance(pair: PairSpec, pos: Record<LegId, Dec>, funding: PairFunding, delta: Dec, tol: Dec): Promise<void> {
    const symbol = pair.symbol;
    const now = this.deps.scheduler.now();
    const big: LegId = pos.a.abs().gte(pos.b.abs()) ? 'a' : 'b';
    const qty = roundToIncrement(Dec.min(delta.abs(), pos[big].abs()), this.rule(symbol, big).stepSize, 'down');
    const detail = `net delta ${delta} beyond tolerance ${tol}: trim leg ${big} (${pos[big]}) by ${qty}`;
    if (!qty.gt(0)) {
      this.last.set(symbol, { ...this.last.get(symbol)!, reasons: [`hold; delta ${delta} beyond tolerance ${tol} but below one step of leg ${big}`] });
      return;
    }
    const short: LegId = pos[big].isNegative() ? big : otherLeg(big);
    const fundingTimeMs = this.fundingTimeOf(funding, short);
    const attempt = this.nextAttempt(symbol, 'rebalance', short, fundingTimeMs);
    if (attempt > this.settings.risk!.maxRebalanceAttemptsPerFunding) {
      this.last.set(symbol, { ...this.last.get(symbol)!, reasons: [`rebalance blocked: ${attempt - 1} attempt(s) already made for funding time ${fundingTimeMs}; ${detail}`] });
      return;
    }
    const id = workflowId(symbol, 'rebalance', short, fundingTimeMs, attempt);
    this.last.set(symbol, { atMs: now, action: 'none', reasons: [`rebalance: ${detail}`] });
    await this.journal({ t: 'started', atMs: now, id, symbol, kind: 'rebalance', short, first: big, fundingTimeMs, attempt, quantity: qty.toString(), detail });
    this.inFlight.set(symbol, id);
    await this.advance(this.workflows.get(id)!);
  }

  // ------------------------------------------------------------------ workflows

  private rule(symbol: string, leg: LegId): SymbolRules {
    return this.rules.get(`${symbol}:${leg}`)!;
  }

  /** Appends to the journal and applies the entry to the in-memory fold. A failure halts the strategy. */
  private async journal(e: JournalEntry): Promise<void> {
    try {
      await this.deps.journal.append(e);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.halted = `journal append failed: ${msg}`;
      this.alerts.notify({ kind: 'storage_fault', level: 'CRITICAL', title: 'funding-arb journal failed', message: msg });
      throw new JournalFailure(msg);
    }
    const wfs = e.t === 'started' ? foldJournal([e]) : undefined;
    if (wfs) this.workflows.set(e.id, wfs.get(e.id)!);
    else foldInto(this.workflows.get(e.id)!, e);
  }

  private finishedCleanup(wf: WorkflowState): void {
    if (this.inFlight.get(wf.symbol) === wf.id) this.inFlight.delete(wf.symbol);
    this.aboveSince.delete(wf.symbol);
    // an exit that waited for this workflow starts now
    if (this.pendingExit.has(wf.symbol) && !this.inFlight.has(wf.symbol)) this.enqueue(() => this.evaluate(wf.symbol));
  }

  /**
   * Runs a workflow from its journaled state to completion, or until it waits (a resting LIMIT leg,
   * a transient venue failure): then a scheduler timer re-enqueues it. Idempotent: every decision
   * here depends only on the journal and the venue's answers.
   */
  private async advance(wf: WorkflowState): Promise<void> {
    this.parked.delete(wf.id);
    if (wf.finished) return this.finishedCleanup(wf);
    const pair = this.pairs.get(wf.symbol)!;
    const first = wf.first;
    const second = otherLeg(first);
    const entrySide = (leg: LegId): Side => (leg === wf.short ? 'SELL' : 'BUY');
    const closeSide = (leg: LegId): Side => (entrySide(leg) === 'BUY' ? 'SELL' : 'BUY');
    const exec = (s: StepState | undefined) => signedFill(s).abs();

    if (wf.kind === 'entry') {
      if (!(await this.step(wf, pair, 'f', first, entrySide(first), wf.quantity, false))) return;
      const e1 = exec(wf.steps.f);
      if (e1.isZero()) return this.finish(wf, 'aborted', `first leg ${wf.steps.f!.outcome!.status}: nothing executed`);
      const hedgeQty = roundToIncrement(e1, this.rule(wf.symbol, second).stepSize, 'down');
      if (hedgeQty.gt(0) && !(await this.step(wf, pair, 'h', second, entrySide(second), hedgeQty, false))) return;
      const e2 = exec(wf.steps.h);
      if (e2.isZero()) {
        if (!(await this.step(wf, pair, 'u', first, closeSide(first), e1, true))) return;
        const u = exec(wf.steps.u);
        this.alerts.notify({ kind: 'arb_compensation', level: 'WARNING', title: `funding-arb ${wf.symbol}: second leg failed, first leg unwound`, message: `${wf.id}: hedge ${wf.steps.h?.outcome?.status ?? 'not sent'} (${wf.steps.h?.outcome?.error ?? ''}); unwound ${u} of ${e1}` });
        if (!u.eq(e1))
          this.alerts.notify({ kind: 'arb_compensation', level: 'CRITICAL', title: `funding-arb ${wf.symbol}: unwind incomplete, leg unhedged`, message: `${wf.id}: unwound ${u} of ${e1} (${wf.steps.u!.outcome!.status} ${wf.steps.u!.outcome!.error ?? ''})` });
        return this.finish(wf, u.eq(e1) ? 'compensated' : 'failed', `hedge executed 0; unwound ${u} of ${e1}`);
      }
      if (e2.lt(e1)) {
        const trim = roundToIncrement(e1.minus(e2), this.rule(wf.symbol, first).stepSize, 'down');
        if (trim.gt(0)) {
          if (!(await this.step(wf, pair, 't', first, closeSide(first), trim, true))) return;
          this.alerts.notify({ kind: 'arb_compensation', level: 'WARNING', title: `funding-arb ${wf.symbol}: second leg partly filled, first leg trimmed`, message: `${wf.id}: hedge ${e2} of ${e1}; trimmed ${exec(wf.steps.t)}` });
        }
        return this.finish(wf, 'hedged', `hedge ${e2} of ${e1}; first leg trimmed by ${exec(wf.steps.t)}`);
      }
      return this.finish(wf, 'hedged', `both legs ${e2}`);
    }

    if (wf.kind === 'rebalance') {
      if (!(await this.step(wf, pair, 'r', first, closeSide(first), wf.quantity, true))) return;
      const r = exec(wf.steps.r);
      const o = wf.steps.r!.outcome!;
      this.alerts.notify({
        kind: 'arb_compensation',
        level: r.isZero() ? 'ERROR' : 'WARNING',
        title: `funding-arb ${wf.symbol}: delta drift, leg ${first} trimmed`,
        message: `${wf.id}: ${wf.detail ?? ''}; trimmed ${r} of ${wf.quantity} (${o.status}${o.error ? ` ${o.error}` : ''})`,
      });
      return this.finish(wf, r.isZero() ? 'failed' : 'rebalanced', `trimmed leg ${first} by ${r} of ${wf.quantity}`);
    }

    // exit: close the first leg by its journaled size, then the second: by its own journaled size
    // when the first closed in full (exits with `legQty`), else by what actually closed
    if (!(await this.step(wf, pair, 'x', first, closeSide(first), wf.quantity, true))) return;
    const x = exec(wf.steps.x);
    if (x.gt(0)) {
      const xi = wf.steps.x!.intent;
      const full = wf.legQty !== undefined && x.gte(new Dec(xi.closes ?? xi.quantity));
      const want = wf.legQty ? (full ? wf.legQty[second] : Dec.min(x, wf.legQty[second])) : x;
      const y = roundToIncrement(want, this.rule(wf.symbol, second).stepSize, 'down');
      if (y.gt(0) && !(await this.step(wf, pair, 'y', second, closeSide(second), y, true))) return;
    }
    const detail = `closed ${x} / ${exec(wf.steps.y)}`;
    if (wf.exitReason === 'emergency')
      this.alerts.notify({ kind: 'arb_emergency_exit', level: 'CRITICAL', title: `funding-arb ${wf.symbol}: emergency exit finished`, message: `${wf.id}: leg ${first} ${detail.replace('closed ', '')} (of ${wf.legQty?.[first]} / ${wf.legQty?.[second]})` });
    return this.finish(wf, 'exited', detail);
  }

  /**
   * Sizing of a BUY on a spot margin leg (`kind: 'spot'`, `canShort`) that closes the leg's whole
   * journaled short (exit, unwind): it must repay the debt, principal + the borrow interest owed in
   * the base asset, or the interest would stay owed after the exit (the venue's auto-repay pays
   * interest first). Returns undefined for any other BUY (a partial close buys its own quantity).
   *
   * - Interest owed: the venue's `Position.borrowInterest` of the leg's symbol when it reports one
   *   (the sim spot, the ccxt spot margin connector), else the journal estimate
   *   ({@link estimateBorrowInterest} over the workflows since the leg was last flat).
   * - Principal: the venue's `Position.borrowed` when reported and within one step below the
   *   journaled short (a free base balance left by an earlier exit's rounding was sold first and
   *   borrowed less), else the journaled short.
   * - Quantity: principal + interest rounded UP to the step size (base units); the excess (< one step)
   *   stays a free balance of the venue account, outside the leg's position (see `signedFill`).
   */
  private async marginClose(symbol: string, leg: LegId, qty: Dec): Promise<{ quantity: Dec; closes: Dec; interest: Dec; source: 'venue' | 'estimate' } | undefined> {
    const spec = this.pairs.get(symbol)!.legs[leg];
    if (spec.kind !== 'spot' || !spec.canShort) return undefined;
    const wfs = [...this.workflows.values()].filter((w) => w.symbol === symbol);
    const pos = positionsFromJournal(wfs).get(symbol)?.[leg] ?? ZERO;
    const short = pos.abs();
    if (!pos.isNegative() || qty.lt(short)) return undefined;
    const step = this.rule(symbol, leg).stepSize;
    let principal = short;
    let interest: Dec | undefined;
    let source: 'venue' | 'estimate' = 'estimate';
    try {
      const p = (await spec.venue.getPositions(spec.symbol)).find((x) => x.symbol === spec.symbol);
      if (p?.borrowInterest !== undefined) {
        interest = p.borrowInterest;
        source = 'venue';
        if (p.borrowed !== undefined && p.borrowed.lte(short) && p.borrowed.gt(short.minus(step))) principal = p.borrowed;
      }
    } catch {
      // the venue did not answer: the journal estimate
    }
    if (interest === undefined) interest = estimateBorrowInterest(sinceFlat(wfs, leg), leg, spec.borrowRateHourly, this.deps.scheduler.now());
    return { quantity: roundToIncrement(principal.plus(interest), step, 'up'), closes: short, interest, source };
  }

  private async finish(wf: WorkflowState, result: WorkflowResult, detail: string): Promise<void> {
    await this.journal({ t: 'finished', atMs: this.deps.scheduler.now(), id: wf.id, result, detail });
    this.finishedCleanup(wf);
  }

  private park(wf: WorkflowState, atMs: number): void {
    const h = this.deps.scheduler.setTimeout(() => this.enqueue(() => this.advance(wf)), Math.max(0, atMs - this.deps.scheduler.now()));
    this.parked.set(wf.id, h);
  }

  /**
   * Ensures step `code` has a final outcome: journals the intent (first time), sends it or looks it
   * up, and journals the outcome. Returns false when the workflow must wait (resting LIMIT before
   * its deadline, transient failure): it has then been parked.
   */
  private async step(wf: WorkflowState, pair: PairSpec, code: StepCode, leg: LegId, side: Side, quantity: Dec, reduce: boolean): Promise<boolean> {
    const spec = pair.legs[leg];
    const venue = spec.venue;
    let st = wf.steps[code];
    if (st?.outcome) return true;
    const now = this.deps.scheduler.now();
    let fresh = false;
    if (!st) {
      const rules = this.rule(wf.symbol, leg);
      let qty = roundToIncrement(quantity, rules.stepSize, 'down');
      const close = side === 'BUY' ? await this.marginClose(wf.symbol, leg, qty) : undefined;
      if (close) qty = close.quantity;
      let price: Dec | undefined;
      let deadlineMs: number | undefined;
      // reduce-only steps (unwind, trim, exit) always take liquidity: a hedge must not wait
      if (spec.execution.type === 'LIMIT' && !reduce) {
        const last = await venue.getLatestPrice(spec.symbol);
        const off = spec.execution.offset;
        price = side === 'BUY' ? roundToIncrement(last.mul(new Dec(1).minus(off)), rules.tickSize, 'down') : roundToIncrement(last.mul(new Dec(1).plus(off)), rules.tickSize, 'up');
        deadlineMs = now + spec.execution.timeoutMs;
      }
      const intent: OrderIntent = {
        step: code,
        leg,
        symbol: spec.symbol,
        side,
        type: price ? 'LIMIT' : 'MARKET',
        quantity: qty.toString(),
        ...(price ? { price: price.toString() } : {}),
        reduceOnly: reduce && spec.kind === 'perp',
        clientOrderId: stepClientOrderId(wf.id, code),
        ...(deadlineMs !== undefined ? { deadlineMs } : {}),
        ...(close ? { closes: close.closes.toString(), interest: close.interest.toString(), interestSource: close.source } : {}),
      };
      await this.journal({ t: 'intent', atMs: now, id: wf.id, intent });
      st = wf.steps[code]!;
      fresh = true;
    }
    const intent = st.intent;
    let order: Order | undefined;
    let rejected: string | undefined;
    for (let attempt = 0; attempt < this.settings.maxSendAttempts && !order && !rejected; attempt++) {
      if (!fresh || attempt > 0) {
        try {
          order = await venue.getOrder(intent.symbol, { clientOrderId: intent.clientOrderId });
          break;
        } catch (e) {
          if (!isVenueError(e, 'NOT_FOUND')) continue; // unknown: ask again on the next attempt
        }
      }
      try {
        order = await venue.placeOrder(toRequest(intent));
      } catch (e) {
        if (isVenueError(e) && !e.retryable) rejected = `${e.code}${e.reason ? `/${e.reason}` : ''}: ${e.message}`;
      }
    }
    if (rejected) {
      await this.outcome(wf, { clientOrderId: intent.clientOrderId, status: 'REJECTED', executedQty: '0', avgPrice: '0', error: rejected });
      return true;
    }
    if (!order) {
      this.park(wf, this.deps.scheduler.now() + this.settings.retryDelayMs);
      return false;
    }
    const mismatch = intentMismatch(intent, order);
    if (mismatch) {
      this.alerts.notify({ kind: 'foreign_order', level: 'ERROR', title: `funding-arb ${wf.symbol}: venue reply does not match the intent`, message: `${intent.clientOrderId}: ${mismatch}; not adopted` });
      await this.outcome(wf, { clientOrderId: intent.clientOrderId, status: 'FOREIGN', executedQty: '0', avgPrice: '0', orderId: order.orderId, error: mismatch });
      return true;
    }
    if (!isTerminal(order.status)) {
      const deadline = intent.deadlineMs ?? this.deps.scheduler.now();
      if (this.deps.scheduler.now() < deadline) {
        this.park(wf, deadline);
        return false;
      }
      try {
        order = await venue.cancelOrderByClientOrderId(intent.symbol, intent.clientOrderId);
      } catch (e) {
        if (!isVenueError(e, 'FAILED_PRECONDITION')) {
          this.park(wf, this.deps.scheduler.now() + this.settings.retryDelayMs);
          return false;
        }
        order = await venue.getOrder(intent.symbol, { clientOrderId: intent.clientOrderId });
      }
      if (!isTerminal(order.status)) {
        this.park(wf, this.deps.scheduler.now() + this.settings.retryDelayMs);
        return false;
      }
    }
    const trades = order.trades ?? [];
    const fee = trades.length ? { fee: trades.reduce((s, t) => s.plus(t.fee), ZERO).toString(), feeAsset: trades[0].feeAsset } : {};
    await this.outcome(wf, { clientOrderId: intent.clientOrderId, status: order.status, executedQty: order.executedQty.toString(), avgPrice: order.avgPrice.toString(), orderId: order.orderId, ...fee });
    return true;
  }

  private outcome(wf: WorkflowState, outcome: OrderOutcome): Promise<void> {
    return this.journal({ t: 'outcome', atMs: this.deps.scheduler.now(), id: wf.id, outcome });
  }
}

function foldInto(wf: WorkflowState, e: JournalEntry): void {
  if (e.t === 'intent') wf.steps[e.intent.step] = { intent: e.intent };
  else if (e.t === 'outcome') {
    const st = Object.values(wf.steps).find((s) => s?.intent.clientOrderId === e.outcome.clientOrderId);
    if (st) {
      st.outcome = e.outcome;
      st.outcomeAtMs = e.atMs;
    }
  } else if (e.t === 'finished') {
    wf.finished = { result: e.result, detail: e.detail };
    wf.finishedAtMs = e.atMs;
  }
}

/** The workflows after the last finished one that left `leg` flat (all when it never was): the open position's history. */
function sinceFlat(wfs: WorkflowState[], leg: LegId): WorkflowState[] {
  let pos = ZERO;
  let from = 0;
  wfs.forEach((wf, i) => {
    for (const st of Object.values(wf.steps)) if (st?.intent.leg === leg) pos = pos.plus(signedFill(st));
    if (wf.finished && pos.isZero()) from = i + 1;
  });
  return wfs.slice(from);
}

/**
 * Borrow interest (base units) a short leg `leg` has accrued by `nowMs`, estimated from the journal's
 * fills with the hourly model of Binance cross margin and the sim (`SimSpotExchange`): at every UTC
 * hour boundary H (H mod 3 600 000 = 0) in (fill time, next fill time] while the leg is short,
 * ⌈|position| × rateHourly⌉ to 8 decimals. An estimate: the venue may charge the first hour at the
 * borrow instant and repays interest before principal.
 */
export function estimateBorrowInterest(wfs: Iterable<WorkflowState>, leg: LegId, rateHourly: Dec, nowMs: number): Dec {
  const fills: { at: number; q: Dec }[] = [];
  for (const wf of wfs)
    for (const st of Object.values(wf.steps))
      if (st?.outcome && st.intent.leg === leg && st.outcomeAtMs !== undefined) {
        const q = signedFill(st);
        if (!q.isZero()) fills.push({ at: st.outcomeAtMs, q });
      }
  fills.sort((x, y) => x.at - y.at);
  let pos = ZERO;
  let total = ZERO;
  const accrue = (from: number, to: number) => {
    const hours = Math.floor(to / HOUR_MS) - Math.floor(from / HOUR_MS);
    if (hours > 0 && pos.isNegative()) total = total.plus(pos.abs().mul(rateHourly).toDecimalPlaces(8, Dec.ROUND_UP).mul(hours));
  };
  let t = fills[0]?.at ?? nowMs;
  for (const f of fills) {
    accrue(t, f.at);
    pos = pos.plus(f.q);
    t = f.at;
  }
  accrue(t, nowMs);
  return total;
}

function toRequest(i: OrderIntent): OrderRequest {
  return {
    symbol: i.symbol,
    side: i.side,
    type: i.type,
    quantity: new Dec(i.quantity),
    ...(i.price ? { price: new Dec(i.price), timeInForce: 'GTC' as const } : {}),
    reduceOnly: i.reduceOnly,
    clientOrderId: i.clientOrderId,
  };
}

/** Compares a venue reply with its intent; returns what differs, or null when it matches (reduce-only: only an unrequested one differs). */
export function intentMismatch(i: OrderIntent, o: Order): string | null {
  const diffs: string[] = [];
  if (o.clientOrderId !== i.clientOrderId) diffs.push(`clientOrderId ${o.clientOrderId} ≠ ${i.clientOrderId}`);
  if (o.symbol !== i.symbol) diffs.push(`symbol ${o.symbol} ≠ ${i.symbol}`);
  if (o.side !== i.side) diffs.push(`side ${o.side} ≠ ${i.side}`);
  if (o.type !== i.type) diffs.push(`type ${o.type} ≠ ${i.type}`);
  if (!o.quantity.eq(new Dec(i.quantity))) diffs.push(`quantity ${o.quantity} ≠ ${i.quantity}`);
  if (i.price && !o.price.eq(new Dec(i.price))) diffs.push(`price ${o.price} ≠ ${i.price}`);
  // The gRPC Order message carries no reduce-only flag (a RemoteExchange reply always says false), so
  // as in the grid's check (grid-book.ts) only a reduce-only order we did not ask for is foreign.
  if (o.reduceOnly && !i.reduceOnly) diffs.push('reduce-only not requested');
  return diffs.length ? diffs.join(', ') : null;
}
