import { type Candle, Dec, ZERO } from '@mm/domain';
import type { GridAction, PlanOptions } from '@mm/grid';
import {
  type BreakerChangeEvent,
  type BreakerConfig,
  CircuitBreaker,
  ANY_NOTIONAL,
  type ExposureLimits,
  type ExposureVerdict,
  type NotionalRange,
  RiskMonitor,
  type RiskMonitorConfig,
  type TripReason,
  checkExposure,
  exposureVerdictRange,
  inNotionalRange,
  intersectNotionalRanges,
} from '@mm/risk';
import { MarginGuard, type MarginGuardSettings, type MarginVerdict } from './margin-guard';
import type { AlertSink, EngineLogger, EngineMetrics } from './ports';
import type { AccountSnapshot } from '@mm/domain';

/** An exposure verdict that refuses the order. */
type Refusal = Extract<ExposureVerdict, { ok: false }>;

/** The risk settings of one symbol (the app maps its config onto this). */
export interface RiskSettings {
  /** The traded symbol. */
  symbol: string;
  breaker: BreakerConfig;
  /** Crash guard (volume spike with close below its average) and ATR source; null = off. `symbols` lists the monitored symbols besides the traded one. */
  monitor: Omit<RiskMonitorConfig, 'symbols'> & { symbols: string[] } | null;
  /** Pre-trade exposure limits, quote notional (0 = no limit). */
  exposure: ExposureLimits;
  /**
   * Exposure limits given as a percentage of account equity (`risk.exposure.*: "300%"`): the
   * effective limit is equity × pct / 100 at screening time (equity = margin balance, quote), so the
   * limits scale with the account and, through the notional a balance can carry, with leverage.
   * A limit set here replaces the absolute one of the same name. Absent = absolute limits only.
   */
  exposurePctOfEquity?: Partial<Record<keyof ExposureLimits, Dec>>;
  /** Margin-ratio and liquidation-distance breakers (`risk.margin.*`); null/absent = off. */
  margin?: MarginGuardSettings | null;
  /** On a trip, keep exit (take-profit) orders and cancel only opening ones. */
  keepExitsOnTrip: boolean;
}

/** What the engine must do after a risk state change. */
export type RiskReaction = 'cancel_opening' | 'cancel_all' | null;

/**
 * The engine's risk gate for one symbol: the circuit breaker (losses, drawdown, latency, stale feeds,
 * reconciliation, manual), the market-crash guard (volume spike with close below its average), the
 * operator's pause, a margin lock, and pre-trade exposure limits. It decides what a planning pass may
 * do (`planOptions`) and screens each planned order (`screen`); on a trip it tells the engine what to
 * cancel. Every transition is logged, counted in metrics and sent as an alert.
 */
export class RiskController {
  readonly breaker: CircuitBreaker;
  readonly monitor: RiskMonitor | null;
  /** Symbols whose 1m candles feed the crash guard and ATR (the traded symbol first). */
  readonly monitorSymbols: string[];
  private readonly limits: ExposureLimits;
  /** Margin breakers; null when off. */
  readonly margin: MarginGuard | null;
  /** Last equity fed to `evaluate` (quote), for limits given as % of equity. */
  equity: Dec | null = null;
  paused = false;
  marginLockUntilMs = 0;
  /** Why the shared account view stops opening on every engine (account drawdown, stale account reading); null = allowed. */
  accountBlock: string | null = null;
  blocked: Record<string, number> = {};
  private reaction: RiskReaction = null;

  constructor(
    private readonly cfg: RiskSettings,
    private readonly metrics: EngineMetrics,
    private readonly alerts: AlertSink,
    private readonly log: EngineLogger,
    private readonly now: () => number,
  ) {
    this.breaker = new CircuitBreaker(cfg.breaker);
    this.breaker.onChange((e) => this.onBreaker(e));
    const m = cfg.monitor;
    this.monitorSymbols = [...new Set([cfg.symbol, ...(m?.symbols ?? [])])];
    this.monitor = m ? new RiskMonitor({ ...m, symbols: this.monitorSymbols }) : null;
    this.monitor?.onChange((e) => {
      this.metrics.crashGuard(cfg.symbol, e.triggered);
      this.log.warn(`crash guard ${e.triggered ? 'TRIGGERED' : 'cleared'}: ${e.detail}`);
      this.alerts.notify({ kind: 'risk_triggered', level: e.triggered ? 'CRITICAL' : 'INFO', title: e.triggered ? 'Crash guard triggered' : 'Crash guard cleared', message: e.detail, fields: { symbols: e.symbols.join(',') } });
      if (e.triggered) this.reaction = 'cancel_opening';
    });
    this.limits = cfg.exposure;
    this.margin = cfg.margin ? new MarginGuard(cfg.margin, cfg.symbol) : null;
  }

  /**
   * Feeds one account reading to the margin breakers: logs, alerts and metrics on transitions, and
   * asks the engine to cancel opening orders when a breaker opens. Returns the verdict (null when off).
   */
  onAccount(account: AccountSnapshot, nowMs: number): MarginVerdict | null {
    const g = this.margin;
    if (!g) return null;
    const v = g.read(account, nowMs);
    const symbol = this.cfg.symbol;
    this.metrics.marginState?.(symbol, g.last?.marginRatio ?? null, g.last?.liquidationDistance ?? null);
    if (v.opened) {
      this.log.error(`margin breaker OPEN: ${v.detail}; opening orders stop`);
      this.metrics.breakerState(symbol, 'OPEN', 'margin');
      this.alerts.notify({ kind: 'breaker_tripped', level: 'CRITICAL', title: 'Margin breaker tripped', message: v.detail, fields: { symbol }, dedupeKey: 'breaker:margin' });
      if (this.reaction !== 'cancel_all') this.reaction = 'cancel_opening';
    } else if (v.closed) {
      this.log.warn(`margin breaker closed: healthy for ${g.cfg.recoveryMs} ms`);
      // The gauge follows the circuit breaker again (an OPEN one already counted its own trip).
      if (this.breaker.state !== 'OPEN') this.metrics.breakerState(symbol, this.breaker.state, undefined);
      this.alerts.notify({ kind: 'breaker_reset', level: 'INFO', title: 'Margin breaker closed', message: `margin ratio and liquidation distance healthy for ${g.cfg.recoveryMs} ms`, fields: { symbol } });
    }
    if (v.reduce) this.log.error(`margin: reducing ${symbol}: ${v.detail}`);
    return v;
  }

  /**
   * Sets the account-level opening stop from the shared `AccountView` (`blocksOpening`): logs and
   * alerts the transitions and asks the engine to cancel opening orders when it starts.
   */
  setAccountBlock(reason: string | null): void {
    const was = this.accountBlock;
    this.accountBlock = reason;
    const symbol = this.cfg.symbol;
    if (reason && !was) {
      this.log.error(`account risk: opening stops on ${symbol}: ${reason}`);
      this.alerts.notify({ kind: 'breaker_tripped', level: 'CRITICAL', title: 'Account risk: opening stopped', message: reason, fields: { symbol }, dedupeKey: `account:${symbol}` });
      if (this.reaction !== 'cancel_all') this.reaction = 'cancel_opening';
    } else if (!reason && was) {
      this.log.warn(`account risk cleared on ${symbol} (was: ${was})`);
      this.alerts.notify({ kind: 'breaker_reset', level: 'INFO', title: 'Account risk cleared', message: was, fields: { symbol } });
    }
  }

  /** The exposure limits in force: absolute ones, with those given as % of equity resolved against the last equity. */
  effectiveLimits(): ExposureLimits {
    const pct = this.cfg.exposurePctOfEquity;
    if (!pct) return this.limits;
    const out = { ...this.limits };
    for (const [k, p] of Object.entries(pct) as [keyof ExposureLimits, Dec][]) {
      // Without an equity reading (or a non-positive one) nothing may open: a tiny positive limit blocks every order.
      out[k] = this.equity && this.equity.gt(0) ? this.equity.mul(p).div(100) : new Dec('1e-18');
    }
    return out;
  }

  private onBreaker(e: BreakerChangeEvent): void {
    const symbol = this.cfg.symbol;
    // While the margin breaker is open the gauge stays OPEN (it reports its own close).
    if (e.to === 'OPEN' || !this.margin?.open) this.metrics.breakerState(symbol, e.to, e.to === 'OPEN' ? (e.reason ?? 'unknown') : undefined);
    if (e.to === 'OPEN') {
      this.log.error(`circuit breaker OPEN (${e.reason}): ${e.detail}`);
      this.alerts.notify({ kind: 'breaker_tripped', level: 'CRITICAL', title: `Circuit breaker tripped: ${e.reason}`, message: e.detail, fields: { symbol }, dedupeKey: `breaker:${e.reason}` });
      this.reaction = this.cfg.keepExitsOnTrip ? 'cancel_opening' : 'cancel_all';
    } else {
      this.log.warn(`circuit breaker ${e.from} → ${e.to}: ${e.detail}`);
      if (e.to === 'CLOSED') this.alerts.notify({ kind: 'breaker_reset', level: 'INFO', title: 'Circuit breaker closed', message: `${e.from} → CLOSED: ${e.detail}`, fields: { symbol } });
    }
  }

  /** Has a transition asked for a cancellation not taken yet? */
  get reactionPending(): boolean {
    return this.reaction !== null;
  }

  /** The cancellation a transition asked for, once. */
  takeReaction(): RiskReaction {
    const r = this.reaction;
    this.reaction = null;
    return r;
  }

  onCandle(c: Candle): void {
    this.monitor?.onCandle(c);
  }

  /** Feeds time-based inputs to the breaker. `orderStreamDownMs` is 0 while the stream is up. */
  evaluate(nowMs: number, priceAgeMs: number, orderStreamDownMs: number, equity: Dec | null): void {
    if (equity) {
      this.equity = equity;
      this.breaker.recordEquity(equity, nowMs);
    }
    this.breaker.checkFeeds(priceAgeMs, orderStreamDownMs, nowMs);
    this.breaker.tick(nowMs);
  }

  trip(reason: TripReason, detail: string, nowMs: number): void {
    this.breaker.trip(reason, detail, nowMs);
  }

  /** What the next planning pass may do. */
  planOptions(nowMs: number, interval: Dec): PlanOptions {
    const opening = !this.paused && this.breaker.allowsOpening && !this.monitor?.triggered && nowMs >= this.marginLockUntilMs && !this.margin?.open && !this.accountBlock;
    const closing = !this.paused && (this.breaker.state !== 'OPEN' || this.cfg.keepExitsOnTrip);
    return { interval, allowOpening: opening, allowClosing: closing, sizeFactor: this.breaker.sizeFactor };
  }

  /**
   * Drops planned opening orders that would breach an exposure limit (exits always pass). Each
   * refusal is counted (`blocked`, the blocked-orders metric) and alerted (deduplicated per reason);
   * it is logged when that order was not refused by the previous screening, so a limit that holds
   * tick after tick logs once.
   *
   * The last screening is remembered with the range of the symbol's signed position notional
   * (qty × mark, see `exposureVerdictRange`) over which every verdict stays: the same planned
   * actions (same array), limits, opening notional and position quantity at a mark inside that range
   * give the same outcome, which is returned without judging the orders again (counted and alerted
   * the same way).
   * @param positions signed base quantity and mark per symbol; `openOpening` Σ live opening notional.
   */
  screen(actions: GridAction[], positions: Map<string, { qty: Dec; markPrice: Dec }>, openOpening: Dec): GridAction[] {
    const hit = this.screenMemoHit(actions, positions, openOpening);
    if (hit) {
      this.countBlocked(hit.blocked);
      return hit.out.slice();
    }
    const symbol = this.cfg.symbol;
    const pendingOpen = new Map([[symbol, openOpening]]);
    const out: GridAction[] = [];
    const limits = this.effectiveLimits();
    const blocked: Refusal[] = [];
    const blockedNow = new Map<Dec, string>();
    let range = ANY_NOTIONAL;
    // Verdicts depend on the position only through S = qty × mark when no other symbol is in the state:
    // then each order's verdict is remembered with its range of S (see `orderMemo`).
    const own = positions.get(symbol);
    const single = positions.size === (own ? 1 : 0);
    const qty = own?.qty ?? ZERO;
    const S = own ? qty.mul(own.markPrice) : ZERO;
    for (const a of actions) {
      if (a.kind !== 'place' || a.exit) {
        out.push(a);
        continue;
      }
      const O = pendingOpen.get(symbol)!;
      let v: ExposureVerdict;
      let r: NotionalRange;
      const m = single ? this.orderMemo.get(a.price) : undefined;
      if (m && m.quantity === a.quantity && m.side === a.side && m.pending === O && m.limits === limits && m.qty === qty && inNotionalRange(m.range, S)) {
        v = m.verdict;
        r = m.range;
      } else {
        const state = { positions, openOpeningOrders: pendingOpen };
        const order = { symbol, side: a.side, price: a.price, quantity: a.quantity, reduceOnly: false };
        v = checkExposure(limits, state, order);
        r = exposureVerdictRange(limits, state, order);
        if (single) this.orderMemo.set(a.price, { quantity: a.quantity, side: a.side, pending: O, limits, qty, range: r, verdict: v });
      }
      range = intersectNotionalRanges(range, r);
      if (v.ok) {
        out.push(a);
        pendingOpen.set(symbol, O.plus(a.price.mul(a.quantity)));
      } else {
        blocked.push(v);
        const key = `${a.side} ${v.reason}`;
        blockedNow.set(a.price, key);
        if (this.lastBlocked.get(a.price) !== key) this.log.warn(`order blocked by ${v.reason}: ${a.side} ${a.quantity} @ ${a.price} (${v.detail})`);
      }
    }
    this.lastBlocked = blockedNow;
    this.countBlocked(blocked);
    this.screenMemo = single ? { actions, limits, openOpening, qty, range, out, blocked } : null;
    return out;
  }

  /**
   * True when `screen` with these arguments would refuse every planned action it screens and pass
   * nothing else, known from the remembered screening (see `screen`): then the refusals are counted
   * and alerted as `screen` does. False (and no side effect) when unknown or something would pass.
   */
  screensToNothing(actions: GridAction[], positions: Map<string, { qty: Dec; markPrice: Dec }>, openOpening: Dec): boolean {
    const hit = this.screenMemoHit(actions, positions, openOpening);
    if (!hit || hit.out.length !== 0) return false;
    this.countBlocked(hit.blocked);
    return true;
  }

  private screenMemoHit(actions: GridAction[], positions: Map<string, { qty: Dec; markPrice: Dec }>, openOpening: Dec) {
    const m = this.screenMemo;
    if (!m || m.actions !== actions || m.limits !== this.effectiveLimits()) return null;
    if (m.openOpening !== openOpening && !m.openOpening.eq(openOpening)) return null;
    const own = positions.get(this.cfg.symbol);
    if (positions.size !== (own ? 1 : 0)) return null;
    const qty = own?.qty ?? ZERO;
    if (m.qty !== qty && !m.qty.eq(qty)) return null;
    return inNotionalRange(m.range, own ? qty.mul(own.markPrice) : ZERO) ? m : null;
  }

  /** Counts each refusal; alerts once per reason (the alert is deduplicated per reason anyway, and its text is made only for it). */
  private countBlocked(blocked: readonly Refusal[]): void {
    const symbol = this.cfg.symbol;
    const alerted: string[] = [];
    for (const v of blocked) {
      this.blocked[v.reason] = (this.blocked[v.reason] ?? 0) + 1;
      this.metrics.orderBlocked(symbol, v.reason);
      if (alerted.includes(v.reason)) continue;
      alerted.push(v.reason);
      this.alerts.notify({ kind: 'limit_hit', level: 'WARNING', title: `Exposure limit: ${v.reason}`, message: v.detail, fields: { symbol }, dedupeKey: `limit:${v.reason}` });
    }
  }

  /** The last screening (see `screen`); null when it depended on other symbols' positions. */
  private screenMemo: { actions: GridAction[]; limits: ExposureLimits; openOpening: Dec; qty: Dec; range: NotionalRange; out: GridAction[]; blocked: Refusal[] } | null = null;
  /** Orders the last screening refused (price object → "side reason"): logged again only after a screening that let them be. */
  private lastBlocked = new Map<Dec, string>();
  /**
   * The last verdict per planned order (keyed by its price object: the planner's level objects are the
   * same from pass to pass), with what it was judged on — quantity, side, pending opening notional,
   * limits and position quantity (objects; decimals are immutable) — and the range of position
   * notional over which it holds (`exposureVerdictRange`). A re-plan after the price moved into
   * another grid cell judges mostly the same orders again: those are not recomputed. Weak: levels no
   * longer planned are collected.
   */
  private orderMemo = new WeakMap<Dec, { quantity: Dec; side: string; pending: Dec; limits: ExposureLimits; qty: Dec; range: NotionalRange; verdict: ExposureVerdict }>();

  snapshot() {
    return {
      breaker: { state: this.breaker.state, reason: this.breaker.reason, detail: this.breaker.detail || undefined, trippedAtMs: this.breaker.trippedAtMs },
      crashGuard: { enabled: !!this.monitor, triggered: this.monitor?.triggered ?? false },
      paused: this.paused,
      marginLocked: this.now() < this.marginLockUntilMs,
      margin: this.margin ? { enabled: true, ...this.margin.snapshot() } : { enabled: false },
      accountBlock: this.accountBlock,
      blocked: this.blocked,
    };
  }
}
