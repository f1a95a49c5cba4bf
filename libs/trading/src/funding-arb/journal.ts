import { Dec, type OrderStatus, type Side, ZERO } from '@mm/domain';
import type { LegId } from './types';

/** Workflow kinds: open a hedged position, close it, or trim the larger leg back to delta-neutral. */
export type WorkflowKind = 'entry' | 'exit' | 'rebalance';

/**
 * Why an exit was started: the funding spread decayed or flipped (`spread`), the basis turned
 * against the position (`toxic_basis`), an operator asked (`operator`), or the perp leg's
 * liquidation distance / the account margin ratio crossed its emergency limit (`emergency`).
 */
export type ExitReason = 'spread' | 'toxic_basis' | 'operator' | 'emergency';

/**
 * Step codes, one client order id each: `f` first leg, `h` hedge leg, `u` unwind of the first leg
 * (hedge failed), `t` trim of the first leg (hedge partly filled), `x` exit of the first-closed leg,
 * `y` exit of the second leg, `r` the one order of a rebalance (trims the larger leg).
 */
export type StepCode = 'f' | 'h' | 'u' | 't' | 'x' | 'y' | 'r';

/** An order the workflow is about to send (journaled before it is sent). Quantities base units, decimal strings. */
export interface OrderIntent {
  step: StepCode;
  leg: LegId;
  symbol: string;
  side: Side;
  type: 'MARKET' | 'LIMIT';
  quantity: string;
  price?: string;
  reduceOnly: boolean;
  clientOrderId: string;
  /** LIMIT legs: scheduler time after which the unfilled rest is cancelled. */
  deadlineMs?: number;
  /**
   * A BUY that closes a spot margin short in full (exit, unwind): the |position| it closes (base units,
   * the leg's journaled short when it was sent). Its `quantity` is the debt to repay, principal +
   * `interest`, rounded UP to the step size; the venue's auto-repay pays the interest first, then the
   * principal. See {@link signedFill} for what it adds to the leg's position.
   */
  closes?: string;
  /** With `closes`: the borrow interest owed included in `quantity` (base units, decimal string). */
  interest?: string;
  /** With `closes`: where `interest` (and the principal) came from: the venue's `Position.borrowInterest` / `borrowed`, or the journal estimate. */
  interestSource?: 'venue' | 'estimate';
}

/** What the venue made of an intent. `foreign`: the reply did not match the intent and was not adopted. */
export interface OrderOutcome {
  clientOrderId: string;
  status: OrderStatus | 'FOREIGN' | 'NOT_SENT';
  executedQty: string;
  avgPrice: string;
  orderId?: string;
  error?: string;
  /** Σ fees of the order's executions as the venue reported them (decimal string, in `feeAsset`); absent when it reported none. */
  fee?: string;
  feeAsset?: string;
}

/** Optional fields of a `started` entry written by the position-management code (absent in older journals). */
export interface StartedExtras {
  /** Exit workflows: why. */
  exitReason?: ExitReason;
  /** Human-readable trigger (limit crossed, operator's reason). */
  detail?: string;
  /** Exit workflows: each leg's |position| when the exit started (base units, decimal strings); both legs are closed by these. */
  legQty?: Record<LegId, string>;
  /** Entry workflows: the decision's net APR (fraction per year) that made it enter. */
  predictedApr?: string;
}

/** Journal entries, appended in order; the workflow state is their fold (see `foldJournal`). */
export type JournalEntry =
  | ({ t: 'started'; atMs: number; id: string; symbol: string; kind: WorkflowKind; short: LegId; first: LegId; fundingTimeMs: number; attempt: number; quantity: string } & StartedExtras)
  | { t: 'intent'; atMs: number; id: string; intent: OrderIntent }
  | { t: 'outcome'; atMs: number; id: string; outcome: OrderOutcome }
  | { t: 'finished'; atMs: number; id: string; result: WorkflowResult; detail: string };

/** How a workflow ended. */
export type WorkflowResult = 'hedged' | 'compensated' | 'aborted' | 'exited' | 'failed' | 'rebalanced';

/**
 * The durable journal of the two-leg workflows (a port). Every step is appended (and must be
 * durable when `append` resolves) before the order it describes is sent, so a restart can rebuild
 * every unfinished workflow from `entries()` and resume or compensate it.
 *
 * Implementations: `InMemoryArbJournal` (tests, backtests). A SQLite/PostgreSQL implementation is
 * a single append-only table (seq autoincrement, workflow id, JSON entry) read back in seq order.
 */
export interface ArbJournal {
  /** Appends one entry. Rejects when storage failed (the strategy then stops opening). */
  append(entry: JournalEntry): Promise<void>;
  /** Every entry ever appended, in append order. */
  entries(): Promise<JournalEntry[]>;
}

/** Journal in process memory: survives a new strategy instance, not a process crash. */
export class InMemoryArbJournal implements ArbJournal {
  private readonly log: JournalEntry[] = [];
  async append(entry: JournalEntry): Promise<void> {
    this.log.push(JSON.parse(JSON.stringify(entry)) as JournalEntry);
  }
  async entries(): Promise<JournalEntry[]> {
    return this.log.map((e) => JSON.parse(JSON.stringify(e)) as JournalEntry);
  }
}

/** One step of a folded workflow: its intent and, once known, its outcome. */
export interface StepState {
  intent: OrderIntent;
  outcome?: OrderOutcome;
  /** Scheduler time the outcome was journaled (ms). */
  outcomeAtMs?: number;
}

/** A workflow rebuilt from the journal. */
export interface WorkflowState {
  id: string;
  symbol: string;
  kind: WorkflowKind;
  short: LegId;
  first: LegId;
  fundingTimeMs: number;
  attempt: number;
  quantity: Dec;
  steps: Partial<Record<StepCode, StepState>>;
  finished?: { result: string; detail: string };
  /** Scheduler time of the `started` entry (ms). */
  startedAtMs?: number;
  /** Scheduler time of the `finished` entry (ms). */
  finishedAtMs?: number;
  exitReason?: ExitReason;
  detail?: string;
  legQty?: Record<LegId, Dec>;
  predictedApr?: string;
}

/** Rebuilds workflows from journal entries (in order). @throws Error on an entry for an unknown workflow. */
export function foldJournal(entries: readonly JournalEntry[]): Map<string, WorkflowState> {
  const out = new Map<string, WorkflowState>();
  entries.forEach((e, i) => {
    if (e.t === 'started') {
      out.set(e.id, startedState(e));
      return;
    }
    const wf = out.get(e.id);
    if (!wf) throw new Error(`arb journal entry ${i}: workflow ${e.id} was never started`);
    if (e.t === 'intent') wf.steps[e.intent.step] = { intent: e.intent };
    else if (e.t === 'outcome') {
      const st = Object.values(wf.steps).find((s) => s?.intent.clientOrderId === e.outcome.clientOrderId);
      if (!st) throw new Error(`arb journal entry ${i}: outcome for unknown client order id ${e.outcome.clientOrderId}`);
      st.outcome = e.outcome;
      st.outcomeAtMs = e.atMs;
    } else {
      wf.finished = { result: e.result, detail: e.detail };
      wf.finishedAtMs = e.atMs;
    }
  });
  return out;
}

/** The state of a workflow right after its `started` entry. */
export function startedState(e: Extract<JournalEntry, { t: 'started' }>): WorkflowState {
  return {
    id: e.id,
    symbol: e.symbol,
    kind: e.kind,
    short: e.short,
    first: e.first,
    fundingTimeMs: e.fundingTimeMs,
    attempt: e.attempt,
    quantity: new Dec(e.quantity),
    steps: {},
    startedAtMs: e.atMs,
    ...(e.exitReason ? { exitReason: e.exitReason } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.legQty ? { legQty: { a: new Dec(e.legQty.a), b: new Dec(e.legQty.b) } } : {}),
    ...(e.predictedApr ? { predictedApr: e.predictedApr } : {}),
  };
}

/**
 * Signed base quantity a step added to its leg's position (BUY +, SELL −); 0 without a fill.
 *
 * A closing BUY of a margin short (intent `closes`) adds only the principal it closed, not its whole
 * executed quantity: filled in full → exactly `closes` (the leg is flat: the debt, principal and
 * interest, is repaid); partly filled → min(`closes`, max(0, executed − `interest`)), since the venue
 * pays the interest first. The base paid as interest is a cost (booked as borrow interest), and the
 * step-rounding excess (< one step) stays a free balance of the venue account outside the leg.
 */
export function signedFill(s: StepState | undefined): Dec {
  if (!s?.outcome) return ZERO;
  const q = new Dec(s.outcome.executedQty);
  if (s.intent.closes !== undefined && s.intent.side === 'BUY') {
    const closes = new Dec(s.intent.closes);
    if (q.gte(s.intent.quantity)) return closes;
    return Dec.min(closes, Dec.max(ZERO, q.minus(s.intent.interest ?? '0')));
  }
  return s.intent.side === 'BUY' ? q : q.neg();
}

/** Base paid as borrow interest by a closing BUY of a margin short (min(executed, intent `interest`)); 0 for any other step. */
export function interestPaid(s: StepState | undefined): Dec {
  if (!s?.outcome || s.intent.closes === undefined || s.intent.side !== 'BUY') return ZERO;
  return Dec.min(new Dec(s.outcome.executedQty), new Dec(s.intent.interest ?? '0'));
}

/** Net position per symbol and leg (base units, signed) from every step of every workflow. */
export function positionsFromJournal(wfs: Iterable<WorkflowState>): Map<string, Record<LegId, Dec>> {
  const out = new Map<string, Record<LegId, Dec>>();
  for (const wf of wfs) {
    const p = out.get(wf.symbol) ?? { a: ZERO, b: ZERO };
    for (const s of Object.values(wf.steps)) if (s) p[s.intent.leg] = p[s.intent.leg].plus(signedFill(s));
    out.set(wf.symbol, p);
  }
  return out;
}
