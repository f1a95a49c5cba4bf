import {
  Dec,
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
import { type AlertSink, noopAlerts } from '../ports';
import { type Decision, decide, otherLeg } from './decision';
import { FundingMonitor } from './funding-monitor';
import {
  type ArbJournal,
  type JournalEntry,
  type OrderIntent,
  type OrderOutcome,
  type StepCode,
  type StepState,
  type WorkflowKind,
  type WorkflowState,
  foldJournal,
  positionsFromJournal,
  signedFill,
} from './journal';
import { type ArbThresholds, type LegId, type PairSpec, type PortfolioCapCheck, noPortfolioCaps, validateArbConfig } from './types';

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
}

export interface FundingArbDeps {
  scheduler: Scheduler;
  journal: ArbJournal;
  caps?: PortfolioCapCheck;
  alerts?: AlertSink;
}

/** Per-symbol status (for `/status` later): position per leg, last decision, workflow in flight. */
export interface ArbSymbolStatus {
  symbol: string;
  /** Signed leg positions from the journal (base units, decimal strings). */
  position: Record<LegId, string>;
  inFlight: string | null;
  lastDecision?: { atMs: number; action: Decision['action']; reasons: string[]; netApr?: string; grossApr?: string };
}

const KIND_CODE: Record<WorkflowKind, string> = { entry: 'E', exit: 'X' };

/**
 * Deterministic workflow id: `fa-<symbol>-<E|X><short leg>-<funding time, base 36>-<attempt>`.
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
    await this.monitor.start();
    for (const wf of this.workflows.values()) {
      if (wf.finished) continue;
      this.inFlight.set(wf.symbol, wf.id);
      this.enqueue(() => this.advance(wf));
    }
    this.evaluateAll();
    this.timer = this.deps.scheduler.setInterval(() => this.evaluateAll(), this.settings.decisionIntervalMs);
  }

  /** Stops timers and the monitor (unfinished workflows stay in the journal for the next start). */
  stop(): void {
    this.stopped = true;
    this.deps.scheduler.clear(this.timer);
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
      return { symbol, position: { a: p.a.toString(), b: p.b.toString() }, inFlight: this.inFlight.get(symbol) ?? null, lastDecision: this.last.get(symbol) };
    });
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

  private async evaluate(symbol: string): Promise<void> {
    const pair = this.pairs.get(symbol)!;
    const funding = this.monitor.snapshot(symbol);
    const pos = positionsFromJournal([...this.workflows.values()].filter((w) => w.symbol === symbol)).get(symbol) ?? { a: ZERO, b: ZERO };
    // Any leg open counts as a position (never enter on top of it): the short leg, or for a lone long
    // leg left by an incomplete unwind, the leg that would be short.
    const openShort: LegId | null = pos.a.isNegative() ? 'a' : pos.b.isNegative() ? 'b' : pos.a.gt(0) ? 'b' : pos.b.gt(0) ? 'a' : null;
    const prices: Record<LegId, Dec | undefined> = { a: undefined, b: undefined };
    for (const id of ['a', 'b'] as const) {
      try {
        prices[id] = await pair.legs[id].venue.getLatestPrice(pair.legs[id].symbol);
      } catch {
        prices[id] = undefined;
      }
    }
    const now = this.deps.scheduler.now();
    let d = decide({ pair, thresholds: this.settings.thresholds, funding, prices, openShort, inFlight: this.inFlight.has(symbol), aboveSinceMs: this.aboveSince.get(symbol), nowMs: now });
    if (!openShort && d.apr && d.apr.netApr.gte(this.settings.thresholds.entryApr)) {
      if (!this.aboveSince.has(symbol)) this.aboveSince.set(symbol, now);
    } else if (!this.inFlight.has(symbol)) this.aboveSince.delete(symbol);
    if (d.action === 'enter' && this.halted) d = { action: 'none', apr: d.apr, reasons: [`entry blocked: halted (${this.halted})`] };
    if (d.action === 'enter') {
      const mid = prices.a!.plus(prices.b!).div(2);
      const refusal = await this.caps.checkEntry({ symbol, quantity: pair.orderQty, notional: pair.orderQty.mul(mid) });
      if (refusal) d = { action: 'none', apr: d.apr, reasons: [`entry blocked: portfolio cap: ${refusal}`] };
    }
    this.last.set(symbol, { atMs: now, action: d.action, reasons: d.reasons, netApr: d.apr?.netApr.toString(), grossApr: d.apr?.grossApr.toString() });
    if (d.action === 'none') return;
    const short = d.short;
    const legFunding = funding.legs[short]!.nextFundingTimeMs || funding.legs[otherLeg(short)]!.nextFundingTimeMs;
    let first: LegId = this.settings.firstLeg === 'short' ? short : otherLeg(short);
    // an exit with only one leg left open (after a failed unwind) closes that leg first
    if (d.action === 'exit' && pos[first].isZero()) first = otherLeg(first);
    let quantity: Dec;
    if (d.action === 'enter') quantity = roundToIncrement(pair.orderQty, this.rule(symbol, first).stepSize, 'down');
    else quantity = pos[first].abs();
    if (!quantity.gt(0)) return;
    const kind: WorkflowKind = d.action === 'enter' ? 'entry' : 'exit';
    const attempt = 1 + [...this.workflows.values()].filter((w) => w.symbol === symbol && w.kind === kind && w.short === short && w.fundingTimeMs === legFunding).length;
    if (kind === 'entry' && attempt > this.settings.maxEntryAttemptsPerFunding) {
      this.last.set(symbol, { ...this.last.get(symbol)!, action: 'none', reasons: [`entry blocked: ${attempt - 1} entry attempt(s) already made for funding time ${legFunding}`] });
      return;
    }
    const id = workflowId(symbol, kind, short, legFunding, attempt);
    await this.journal({ t: 'started', atMs: now, id, symbol, kind, short, first, fundingTimeMs: legFunding, attempt, quantity: quantity.toString() });
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

    // exit: close the first leg by its journaled size, then the second by what actually closed
    if (!(await this.step(wf, pair, 'x', first, closeSide(first), wf.quantity, true))) return;
    const x = exec(wf.steps.x);
    if (x.gt(0)) {
      const y = roundToIncrement(x, this.rule(wf.symbol, second).stepSize, 'down');
      if (y.gt(0) && !(await this.step(wf, pair, 'y', second, closeSide(second), y, true))) return;
    }
    return this.finish(wf, 'exited', `closed ${x} / ${exec(wf.steps.y)}`);
  }

  private async finish(wf: WorkflowState, result: 'hedged' | 'compensated' | 'aborted' | 'exited' | 'failed', detail: string): Promise<void> {
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
      const qty = roundToIncrement(quantity, rules.stepSize, 'down');
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
    await this.outcome(wf, { clientOrderId: intent.clientOrderId, status: order.status, executedQty: order.executedQty.toString(), avgPrice: order.avgPrice.toString(), orderId: order.orderId });
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
    if (st) st.outcome = e.outcome;
  } else if (e.t === 'finished') wf.finished = { result: e.result, detail: e.detail };
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
