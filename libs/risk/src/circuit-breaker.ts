import { Dec, isAboveZero } from '@mm/domain';
import { emitAll } from './emit';

/** CLOSED: trading normally. OPEN: no new opening orders. HALF_OPEN: probing with reduced size. */
export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** Why the breaker opened. */
export type TripReason =
  | 'consecutive_losses'
  | 'drawdown_abs'
  | 'drawdown_pct'
  | 'latency'
  | 'stale_price'
  | 'stale_orders'
  | 'reconciliation'
  | 'manual'
  /** A venue answer did not match its intent (order planted under our client order id). Holds like `manual`. */
  | 'foreign_order'
  /** One slot was rejected `max_consecutive_rejections` times in a row. Holds like `manual`. */
  | 'rejection_loop'
  /** The database was lost or stopped accepting writes. Holds like `manual`. */
  | 'storage_fault';

/** Trip reasons that hold the breaker OPEN until a manual reset (no cooldown). */
export const HOLD_REASONS: readonly TripReason[] = ['manual', 'foreign_order', 'rejection_loop', 'storage_fault'];

/**
 * Trip reasons that describe a condition which clears by itself (a feed comes back, latency falls,
 * a divergence is resolved). A breaker opened only by these closes on its own once every one of
 * them has been observed healthy for `conditionRecoveryMs`. Every other reason (losses, drawdown,
 * manual, or any reason added later) holds the breaker until cooldown or reset.
 */
export const CONDITION_TRIP_REASONS: readonly TripReason[] = ['stale_price', 'stale_orders', 'latency', 'reconciliation'];

/** Default of {@link BreakerConfig.conditionRecoveryMs}: 60 s. */
export const DEFAULT_CONDITION_RECOVERY_MS = 60_000;

/**
 * Circuit-breaker limits. Every limit is off at 0. Times in ms, money in quote units (USDT).
 * Config keys (named in validation errors) are `breaker.<snake_case of the field>`.
 */
export interface BreakerConfig {
  /** Trip after this many losing round trips in a row (`breaker.max_consecutive_losses`; upstream `MaxConsecutiveLosses`); 0 = off. */
  maxConsecutiveLosses: number;
  /** Rolling window over which the equity peak is taken, ms (`breaker.drawdown_window_ms`); > 0 when a drawdown limit is on. */
  drawdownWindowMs: number;
  /** Trip when peak − equity > this, quote (`breaker.max_drawdown_abs`); 0 = off. */
  maxDrawdownAbs: Dec;
  /** Trip when (peak − equity) / peak > this; 0.05 = 5 % (`breaker.max_drawdown_pct`), in [0, 1); 0 = off. */
  maxDrawdownPct: Dec;
  /** Rolling window of exchange round-trip latencies, ms (`breaker.latency_window_ms`); > 0 when the latency limit is on. */
  latencyWindowMs: number;
  /** Trip when the p99 latency in the window > this, ms (`breaker.max_latency_p99_ms`); 0 = off. */
  maxLatencyP99Ms: number;
  /** Minimum samples in the latency window before p99 is judged (`breaker.min_latency_samples`), integer ≥ 1. */
  minLatencySamples: number;
  /** Trip when the last price is older than this, ms (`breaker.max_price_age_ms`); 0 = off. */
  maxPriceAgeMs: number;
  /** Trip when the order-stream connection has been down longer than this, ms (`breaker.max_order_stream_age_ms`); 0 = off. */
  maxOrderStreamAgeMs: number;
  /** OPEN → HALF_OPEN after this long, ms (`breaker.cooldown_ms`); 0 = manual reset only. */
  cooldownMs: number;
  /** HALF_OPEN → CLOSED after this long without a trip, ms (`breaker.half_open_probe_ms`); 0 = close on the same tick. */
  halfOpenProbeMs: number;
  /**
   * A breaker opened only by self-clearing conditions ({@link CONDITION_TRIP_REASONS}) closes once each
   * of them has been healthy for this long, ms (`breaker.condition_recovery_ms`), independent of
   * `cooldownMs`; 0 = off (such trips then wait for cooldown or reset like losses). Default
   * {@link DEFAULT_CONDITION_RECOVERY_MS}.
   */
  conditionRecoveryMs?: number;
}

/** A state transition, emitted for every one (upstream bug 12: auto-reset never updated the metric). */
export interface BreakerChangeEvent {
  from: BreakerState;
  to: BreakerState;
  /** The trip reason for → OPEN and OPEN → HALF_OPEN; null for → CLOSED. */
  reason: TripReason | null;
  detail: string;
  /** Time of the transition, ms (the `nowMs` passed in). */
  atMs: number;
}

/**
 * Hard cap on samples held per rolling window, so memory stays bounded even if samples arrive
 * faster than the window evicts them. The latency window drops its oldest sample; the equity
 * window (a monotonic max-deque) drops the oldest candidate after the current peak, so the
 * current peak stays exact.
 */
export const BREAKER_MAX_WINDOW_SAMPLES = 10_000;
/** Safety factor of the relative-drawdown pre-check (see `CircuitBreaker.clearlyBelowPct`). */
const PCT_PRECHECK_MARGIN = new Dec('0.999999');

interface Sample {
  t: number;
  v: number;
}
interface EquitySample {
  t: number;
  v: Dec;
}

/**
 * Trading circuit breaker (upstream §3.6 `internal/risk/circuit_breaker.go`, extended as
 * `docs/specs/phase18_circuit_breakers.md` promised and fixing upstream bug 12).
 *
 * Pure and deterministic: no clock; every method takes `nowMs` (ms, non-decreasing; an earlier
 * value is treated as the latest seen). The engine feeds it round-trip PnL, equity, latency and
 * feed ages, and calls {@link tick} regularly (e.g. on every price tick) to advance cooldowns.
 *
 * Trip rules (a limit of 0 disables its rule):
 * - `consecutive_losses`: losing round trips in a row ≥ `maxConsecutiveLosses` (upstream: ≥). While
 *   HALF_OPEN a single losing round trip re-opens (a failed probe).
 * - `drawdown_abs` / `drawdown_pct`: peak − current equity, with the peak over samples of the last
 *   `drawdownWindowMs` (inclusive), > `maxDrawdownAbs`, or > `maxDrawdownPct` × peak (peak > 0).
 * - `latency`: nearest-rank p99 (sorted[⌈0.99·n⌉ − 1]) of the last `latencyWindowMs` > `maxLatencyP99Ms`,
 *   once the window holds ≥ `minLatencySamples` samples.
 * - `stale_price` / `stale_orders`: `checkFeeds` ages > their limit (price checked first).
 * - `reconciliation`, `manual`: explicit calls. A manual trip is a hold: it never auto-recovers,
 *   only {@link reset} closes it (also when it arrives while already OPEN for another reason).
 *
 * Limits are exceeded strictly (at the limit does not trip), except the loss count (≥).
 * Tripping while OPEN keeps the first reason, detail and trip time.
 * OPEN → HALF_OPEN after `cooldownMs` (if > 0, not held): the loss counter and both windows are
 * cleared so the probe is judged on fresh data, not on the history that tripped it.
 * HALF_OPEN → CLOSED after `halfOpenProbeMs` without a trip. Every transition is emitted.
 *
 * Conditions vs losses: while OPEN the breaker remembers every condition reason
 * ({@link CONDITION_TRIP_REASONS}) seen failing and when each was last seen healthy — price age
 * ≤ limit and order stream down ≤ limit (both at {@link checkFeeds}), p99 of the latency window ≤ limit
 * or the window emptied (at {@link tick}), {@link conditionHealthy}('reconciliation') from the
 * reconciler. A failing observation restarts that condition's healthy time. When every remembered
 * condition has been healthy for ≥ `conditionRecoveryMs` (> 0), {@link tick} closes the breaker
 * (OPEN → CLOSED, emitted with the detail). A loss, drawdown or manual trip — first or while OPEN for
 * a condition — turns the breaker into a held one: no condition auto-close; a loss/drawdown trip
 * arriving while OPEN restarts the cooldown from its own time and is appended to the detail.
 */
export class CircuitBreaker {
  private readonly cfg: BreakerConfig;
  private st: BreakerState = 'CLOSED';
  private why: TripReason | null = null;
  private text = '';
  private trippedAt: number | null = null;
  private halfOpenSince: number | null = null;
  private manualHold = false;
  /** Condition reasons seen failing while OPEN → time since which each has been healthy (null: failing). */
  private readonly conditions = new Map<TripReason, number | null>();
  /** OPEN only for condition reasons (auto-close allowed). */
  private conditionOnly = false;
  private losses = 0;
  private lastNow = -Infinity;
  /** Monotonic max-deque of equity samples (values strictly decreasing from head). */
  private equity: EquitySample[] = [];
  private latency: Sample[] = [];
  private readonly listeners = new Set<(e: BreakerChangeEvent) => void>();

  /** @throws Error naming the config key (`breaker.cooldown_ms`, …) when a value is invalid. */
  constructor(cfg: BreakerConfig) {
    validateBreakerConfig(cfg);
    this.cfg = { ...cfg };
  }

  /** Current state. */
  get state(): BreakerState {
    return this.st;
  }
  /** Reason of the trip that opened the breaker; null while CLOSED. */
  get reason(): TripReason | null {
    return this.why;
  }
  /** Time of that trip, ms; null while CLOSED. */
  get trippedAtMs(): number | null {
    return this.trippedAt;
  }
  /** Human-readable detail of the current state ('' while CLOSED). */
  get detail(): string {
    return this.text;
  }
  /** May new opening orders be placed? True when CLOSED or HALF_OPEN (probing at {@link sizeFactor}). */
  get allowsOpening(): boolean {
    return this.st !== 'OPEN';
  }
  /** Multiplier for opening order size: 1 CLOSED, 0.5 HALF_OPEN, 0 OPEN. */
  get sizeFactor(): Dec {
    return this.st === 'CLOSED' ? ONE : this.st === 'HALF_OPEN' ? HALF : ZERO_;
  }

  /**
   * Records the realized PnL of a closed round trip, quote, net of fees. pnl < 0 is a loss and
   * extends the streak; pnl ≥ 0 resets it.
   */
  recordRoundTrip(pnl: Dec, nowMs: number): void {
    const now = this.clock(nowMs);
    if (!pnl.isFinite()) throw new RangeError(`round-trip pnl must be finite, got ${pnl}`);
    if (!pnl.isNegative() || pnl.isZero()) {
      this.losses = 0;
      return;
    }
    this.losses++;
    const max = this.cfg.maxConsecutiveLosses;
    if (max <= 0) return;
    if (this.st === 'HALF_OPEN') {
      this.open('consecutive_losses', `losing round trip ${pnl} during the half-open probe`, now);
    } else if (this.losses >= max) {
      this.open('consecutive_losses', `${this.losses} consecutive losing round trips (limit ${max}), last ${pnl}`, now);
    }
  }

  /** Records an account equity sample, quote. Drawdown is judged against the peak of the rolling window. */
  recordEquity(equity: Dec, nowMs: number): void {
    const now = this.clock(nowMs);
    if (!equity.isFinite()) throw new RangeError(`equity must be finite, got ${equity}`);
    const dq = this.equity;
    while (dq.length > 0 && dq[dq.length - 1]!.v.lte(equity)) dq.pop();
    dq.push({ t: now, v: equity });
    this.evict(now);
    if (dq.length > BREAKER_MAX_WINDOW_SAMPLES) dq.splice(1, 1);
    const peak = dq[0]!.v;
    const dd = peak.minus(equity);
    if (dd.isZero()) return; // at the window's peak: no drawdown (limits are > 0 when set)
    const { maxDrawdownAbs, maxDrawdownPct } = this.cfg;
    if (isAboveZero(maxDrawdownAbs) && dd.gt(maxDrawdownAbs)) {
      this.open('drawdown_abs', `drawdown ${dd} from peak ${peak} to ${equity} exceeds ${maxDrawdownAbs}`, now);
    } else if (isAboveZero(maxDrawdownPct) && isAboveZero(peak) && !this.clearlyBelowPct(dd, peak) && dd.div(peak).gt(maxDrawdownPct)) {
      this.open('drawdown_pct', `drawdown ${dd.div(peak)} (${dd} from peak ${peak}) exceeds ${maxDrawdownPct}`, now);
    }
  }

  /**
   * Fast pre-check of the relative drawdown rule without a decimal division (called at every risk
   * check): true when dd < peak × maxDrawdownPct × (1 − 1e-6), so dd / peak (even after rounding to
   * the decimal precision, ~1e-20 relative) cannot exceed the limit. Otherwise the exact rule decides.
   * The bound is cached per peak sample.
   */
  private clearlyBelowPct(dd: Dec, peak: Dec): boolean {
    if (this.pctPeak !== peak) {
      this.pctPeak = peak;
      this.pctBound = peak.mul(this.cfg.maxDrawdownPct).mul(PCT_PRECHECK_MARGIN);
    }
    return dd.lt(this.pctBound!);
  }
  private pctPeak: Dec | null = null;
  private pctBound: Dec | null = null;

  /** Records one exchange round-trip latency, ms (≥ 0). */
  recordLatency(ms: number, nowMs: number): void {
    const now = this.clock(nowMs);
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a finite number ≥ 0, got ${ms}`);
    this.latency.push({ t: now, v: ms });
    this.evict(now);
    if (this.latency.length > BREAKER_MAX_WINDOW_SAMPLES) this.latency.splice(0, this.latency.length - BREAKER_MAX_WINDOW_SAMPLES);
    const { maxLatencyP99Ms, minLatencySamples } = this.cfg;
    if (maxLatencyP99Ms <= 0 || this.latency.length < minLatencySamples) return;
    const sorted = this.latency.map((s) => s.v).sort((a, b) => a - b);
    const p99 = sorted[Math.ceil(0.99 * sorted.length) - 1]!;
    if (p99 > maxLatencyP99Ms) {
      this.open('latency', `p99 latency ${p99} ms over ${sorted.length} samples exceeds ${maxLatencyP99Ms} ms`, now);
    }
  }

  /**
   * Checks feed freshness. `priceAgeMs`: age of the last price tick, ms. `orderStreamDownMs`: how long
   * the order-stream connection has been down, ms (0 while connected) — not the age of the last event,
   * since a quiet but connected stream is healthy.
   */
  checkFeeds(priceAgeMs: number, orderStreamDownMs: number, nowMs: number): void {
    const now = this.clock(nowMs);
    const { maxPriceAgeMs, maxOrderStreamAgeMs } = this.cfg;
    // Price first: when both are stale the price keeps the first reason.
    if (maxPriceAgeMs > 0 && priceAgeMs > maxPriceAgeMs) {
      this.open('stale_price', `last price is ${priceAgeMs} ms old (limit ${maxPriceAgeMs} ms)`, now);
    } else {
      this.conditionHealthy('stale_price', now);
    }
    if (maxOrderStreamAgeMs > 0 && orderStreamDownMs > maxOrderStreamAgeMs) {
      this.open('stale_orders', `order stream down for ${orderStreamDownMs} ms (limit ${maxOrderStreamAgeMs} ms)`, now);
    } else {
      this.conditionHealthy('stale_orders', now);
    }
  }

  /**
   * Reports that a self-clearing condition (`stale_price`, `stale_orders`, `latency`, `reconciliation`)
   * is healthy now, e.g. the reconciler found venue and local positions in agreement. Starts (or keeps)
   * its healthy time if the breaker remembers it failing; otherwise does nothing.
   */
  conditionHealthy(reason: TripReason, nowMs: number): void {
    const now = this.clock(nowMs);
    if (this.conditions.has(reason) && this.conditions.get(reason) === null) this.conditions.set(reason, now);
  }

  /** Trips on a reconciliation divergence the reconciler could not correct (upstream §3.3: ≥ 5 %). */
  tripReconciliation(detail: string, nowMs: number): void {
    this.trip('reconciliation', detail, nowMs);
  }

  /** Trips for `reason`. `manual` and the other {@link HOLD_REASONS} hold the breaker OPEN until {@link reset}. */
  trip(reason: TripReason, detail: string, nowMs: number): void {
    const now = this.clock(nowMs);
    if (HOLD_REASONS.includes(reason)) {
      if (this.st === 'OPEN' && !this.manualHold) this.text += `; ${reason} hold: ${detail}`;
      this.manualHold = true;
    }
    this.open(reason, detail, now);
  }

  /** Manual reset: → CLOSED (emitted if the state changes); loss counter, windows and hold cleared. */
  reset(nowMs: number): void {
    const now = this.clock(nowMs);
    this.clearCounters();
    this.manualHold = false;
    this.transition('CLOSED', null, 'manual reset', now);
  }

  /**
   * Advances time: OPEN → HALF_OPEN once `cooldownMs` (> 0) has passed since the trip (not for a
   * manual hold); HALF_OPEN → CLOSED once `halfOpenProbeMs` has passed since entering HALF_OPEN.
   * Also evicts expired window samples.
   * @returns true when the state changed.
   */
  tick(nowMs: number): boolean {
    const now = this.clock(nowMs);
    this.evict(now);
    const before = this.st;
    if (this.conditions.has('latency') && this.conditions.get('latency') === null && !(this.latencyP99() > this.cfg.maxLatencyP99Ms)) {
      this.conditions.set('latency', now);
    }
    const recovery = this.cfg.conditionRecoveryMs ?? DEFAULT_CONDITION_RECOVERY_MS;
    if (this.st === 'OPEN' && this.conditionOnly && !this.manualHold && recovery > 0 && this.conditions.size > 0) {
      const since = [...this.conditions.values()];
      if (since.every((t) => t !== null && now - t >= recovery)) {
        const names = [...this.conditions.keys()].join(', ');
        const latest = Math.max(...(since as number[]));
        this.transition('CLOSED', null, `${names} healthy since ${latest} (${now - latest} ms ≥ condition recovery ${recovery} ms); was: ${this.text}`, now);
        return true;
      }
    }
    if (this.st === 'OPEN' && !this.manualHold && this.cfg.cooldownMs > 0 && now - this.trippedAt! >= this.cfg.cooldownMs) {
      this.clearCounters();
      this.halfOpenSince = now;
      this.transition('HALF_OPEN', this.why, `cooldown of ${this.cfg.cooldownMs} ms elapsed after ${this.why} (${this.text}); probing at half size`, now);
    }
    if (this.st === 'HALF_OPEN' && now - this.halfOpenSince! >= this.cfg.halfOpenProbeMs) {
      this.transition('CLOSED', null, `half-open probe of ${this.cfg.halfOpenProbeMs} ms passed without a trip`, now);
    }
    return this.st !== before;
  }

  /** Subscribes to every state transition. Returns an unsubscribe function. */
  onChange(listener: (e: BreakerChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private open(reason: TripReason, detail: string, now: number): void {
    const condition = CONDITION_TRIP_REASONS.includes(reason);
    if (condition) this.conditions.set(reason, null);
    if (this.st === 'OPEN') {
      // Keep the first reason; a loss/manual trip on top of a condition trip makes it a held one.
      if (!condition && this.conditionOnly) {
        this.conditionOnly = false;
        if (reason !== 'manual') {
          this.trippedAt = now;
          this.text += `; then ${reason}: ${detail}`;
        }
      }
      return;
    }
    this.trippedAt = now;
    this.halfOpenSince = null;
    this.conditions.clear();
    if (condition) this.conditions.set(reason, null);
    this.conditionOnly = condition;
    this.transition('OPEN', reason, detail, now);
  }

  /** Nearest-rank p99 of the latency window, ms; -Infinity when empty. */
  private latencyP99(): number {
    if (this.latency.length === 0) return -Infinity;
    const sorted = this.latency.map((s) => s.v).sort((a, b) => a - b);
    return sorted[Math.ceil(0.99 * sorted.length) - 1]!;
  }

  private transition(to: BreakerState, reason: TripReason | null, detail: string, now: number): void {
    const from = this.st;
    if (from === to) return;
    this.st = to;
    if (to !== 'OPEN') {
      this.conditions.clear();
      this.conditionOnly = false;
    }
    if (to === 'CLOSED') {
      this.why = null;
      this.text = '';
      this.trippedAt = null;
      this.halfOpenSince = null;
    } else {
      this.why = reason;
      this.text = detail;
    }
    emitAll(this.listeners, { from, to, reason, detail, atMs: now });
  }

  private clearCounters(): void {
    this.losses = 0;
    this.equity = [];
    this.latency = [];
  }

  private evict(now: number): void {
    const eqFrom = now - this.cfg.drawdownWindowMs;
    let i = 0;
    while (i < this.equity.length - 1 && this.equity[i]!.t < eqFrom) i++;
    if (i > 0) this.equity.splice(0, i);
    const latFrom = now - this.cfg.latencyWindowMs;
    let j = 0;
    while (j < this.latency.length && this.latency[j]!.t < latFrom) j++;
    if (j > 0) this.latency.splice(0, j);
  }

  private clock(nowMs: number): number {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be finite, got ${nowMs}`);
    if (nowMs > this.lastNow) this.lastNow = nowMs;
    return this.lastNow;
  }
}

const ONE = new Dec(1);
const HALF = new Dec('0.5');
const ZERO_ = new Dec(0);

/**
 * Validates a {@link BreakerConfig}.
 * @throws Error naming the offending key, e.g. `breaker.max_drawdown_pct must be in [0, 1), got 1.5`.
 */
export function validateBreakerConfig(cfg: BreakerConfig): void {
  const nonNegInt = (v: number, key: string) => {
    if (!Number.isInteger(v) || v < 0) throw new Error(`breaker.${key} must be an integer ≥ 0, got ${v}`);
  };
  const nonNeg = (v: number, key: string) => {
    if (!Number.isFinite(v) || v < 0) throw new Error(`breaker.${key} must be a finite number ≥ 0, got ${v}`);
  };
  nonNegInt(cfg.maxConsecutiveLosses, 'max_consecutive_losses');
  nonNeg(cfg.drawdownWindowMs, 'drawdown_window_ms');
  nonNeg(cfg.latencyWindowMs, 'latency_window_ms');
  nonNeg(cfg.maxLatencyP99Ms, 'max_latency_p99_ms');
  nonNeg(cfg.maxPriceAgeMs, 'max_price_age_ms');
  nonNeg(cfg.maxOrderStreamAgeMs, 'max_order_stream_age_ms');
  nonNeg(cfg.cooldownMs, 'cooldown_ms');
  nonNeg(cfg.halfOpenProbeMs, 'half_open_probe_ms');
  if (cfg.conditionRecoveryMs !== undefined) nonNeg(cfg.conditionRecoveryMs, 'condition_recovery_ms');
  if (!Number.isInteger(cfg.minLatencySamples) || cfg.minLatencySamples < 1) {
    throw new Error(`breaker.min_latency_samples must be an integer ≥ 1, got ${cfg.minLatencySamples}`);
  }
  if (!Dec.isDecimal(cfg.maxDrawdownAbs) || !cfg.maxDrawdownAbs.isFinite() || cfg.maxDrawdownAbs.isNegative()) {
    throw new Error(`breaker.max_drawdown_abs must be ≥ 0, got ${String(cfg.maxDrawdownAbs)}`);
  }
  if (!Dec.isDecimal(cfg.maxDrawdownPct) || !cfg.maxDrawdownPct.isFinite() || cfg.maxDrawdownPct.isNegative() || cfg.maxDrawdownPct.gte(1)) {
    throw new Error(`breaker.max_drawdown_pct must be in [0, 1), got ${String(cfg.maxDrawdownPct)}`);
  }
  if ((cfg.maxDrawdownAbs.gt(0) || cfg.maxDrawdownPct.gt(0)) && !(cfg.drawdownWindowMs > 0)) {
    throw new Error(`breaker.drawdown_window_ms must be > 0 when a drawdown limit is set, got ${cfg.drawdownWindowMs}`);
  }
  if (cfg.maxLatencyP99Ms > 0 && !(cfg.latencyWindowMs > 0)) {
    throw new Error(`breaker.latency_window_ms must be > 0 when breaker.max_latency_p99_ms is set, got ${cfg.latencyWindowMs}`);
  }
}
