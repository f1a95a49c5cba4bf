import { type AccountSnapshot, Dec, type Scheduler, ZERO } from '@mm/domain';
import { accountMarginRatio } from './margin-guard';
import type { EngineLogger } from './ports';

/**
 * Settings of {@link AccountView} (config keys `risk.account.*`; the poll period is
 * `risk.margin.check_interval_ms`).
 */
export interface AccountViewSettings {
  /** Account poll period, ms of scheduler time (> 0): at most one poll per period for all engines. */
  pollIntervalMs: number;
  /**
   * Account drawdown breaker: opening stops on every engine when (peak − equity) ÷ peak ≥ this,
   * fraction (0.2 = 20 %); equity = the venue's margin balance (wallet + unrealized PnL at mark),
   * peak = the highest margin balance seen since start or the last reset. 0 = off
   * (`risk.account.max_drawdown`). A loss breaker: it stays open until `reset()`.
   */
  maxDrawdown: Dec;
  /**
   * Account staleness: opening stops on every engine while the last good account reading is older
   * than this, ms (`risk.account.max_stale_ms`); clears by itself with the next good reading. 0 = off.
   */
  maxStaleMs: number;
}

/** One good account reading and its scheduler time. */
export interface AccountReading {
  account: AccountSnapshot;
  atMs: number;
}

/**
 * One view of the venue account shared by every symbol engine of a process (issue 9 "Portfolio
 * risk, shared by all engines"): polls `getAccount` at most once per `pollIntervalMs` of the injected
 * scheduler's time (no wall clock), when an engine's risk check finds a poll due ({@link refresh}),
 * and fans each good reading out to its listeners (the engines' margin guards). Polling on the
 * engines' demand keeps the cadence in engine time (market time in backtests and lockstep replays). It also holds the account-level breakers that stop opening on every engine:
 * - account drawdown (from account equity = margin balance, see {@link AccountViewSettings.maxDrawdown});
 * - staleness of the account reading (see {@link AccountViewSettings.maxStaleMs}).
 *
 * Funding per symbol comes from the venue's per-position figure (`Position.fundingPnl`); the account
 * total from `AccountSnapshot.fundingPnl`.
 */
export class AccountView {
  last: AccountReading | null = null;
  /** Highest account equity (margin balance, quote) since start or the last reset. */
  peakEquity: Dec | null = null;
  /** Account drawdown breaker: open from a reading past `maxDrawdown` until `reset()`. */
  drawdown: { open: boolean; detail: string; openedAtMs: number | null } = { open: false, detail: '', openedAtMs: null };
  polls = 0;
  pollFailures = 0;
  lastError = '';
  private startedAtMs: number | null = null;
  private lastPollAtMs = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private inFlight: Promise<void> | null = null;
  private readonly listeners = new Set<(r: AccountReading) => void>();

  /** @throws RangeError when `pollIntervalMs` ≤ 0, `maxStaleMs` < 0 or `maxDrawdown` is outside [0, 1). */
  constructor(
    private readonly venue: { getAccount(): Promise<AccountSnapshot> },
    private readonly scheduler: Scheduler,
    readonly cfg: AccountViewSettings,
    private readonly log: EngineLogger = { log: () => undefined, warn: () => undefined, error: () => undefined },
  ) {
    if (!(cfg.pollIntervalMs > 0)) throw new RangeError(`account view: pollIntervalMs must be > 0, got ${cfg.pollIntervalMs}`);
    if (!(cfg.maxStaleMs >= 0)) throw new RangeError(`account view: maxStaleMs must be ≥ 0, got ${cfg.maxStaleMs}`);
    if (!cfg.maxDrawdown.isFinite() || cfg.maxDrawdown.isNegative() || cfg.maxDrawdown.gte(1)) throw new RangeError(`account view: maxDrawdown must be in [0, 1), got ${String(cfg.maxDrawdown)}`);
  }

  /** First poll (awaited; a failure is logged). Later polls come from {@link refresh}. */
  async start(): Promise<void> {
    this.stopped = false;
    this.startedAtMs ??= this.scheduler.now();
    await this.refresh(this.scheduler.now());
  }

  /** No further polls (readings stay for `/status`). */
  stop(): void {
    this.stopped = true;
  }

  /** Is a poll due at `nowMs` (scheduler time: at least `pollIntervalMs` since the last poll started)? */
  due(nowMs: number): boolean {
    return !this.stopped && nowMs - this.lastPollAtMs >= this.cfg.pollIntervalMs;
  }

  /**
   * The engines' entry point, from their risk checks: polls the account when a poll is due at
   * `nowMs`, else waits for the one in flight. However many engines ask, the venue sees at most one
   * poll per period (scheduler time: wall clock live, market time in a backtest or lockstep replay).
   */
  async refresh(nowMs: number): Promise<void> {
    if (this.due(nowMs)) {
      this.lastPollAtMs = nowMs;
      await this.poll();
    } else await this.inFlight;
  }

  /** Resolves when no poll is in flight (lockstep acknowledges market time after it). */
  async whenIdle(): Promise<void> {
    await this.inFlight;
  }

  /** Receives every good reading (called synchronously after the poll; must not throw). Returns the unsubscribe. */
  subscribe(listener: (r: AccountReading) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One account poll (concurrent calls share it). A failed poll is logged and counted; the reading ages. */
  poll(): Promise<void> {
    this.inFlight ??= (async () => {
      try {
        const account = await this.venue.getAccount();
        this.polls++;
        this.accept(account, this.scheduler.now());
      } catch (e) {
        this.pollFailures++;
        this.lastError = (e as Error).message;
        this.log.warn(`account poll failed: ${this.lastError}`);
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  /** Takes one reading (the poll's, or a test's): drawdown breaker, then listeners. */
  accept(account: AccountSnapshot, atMs: number): void {
    const r = { account, atMs };
    this.last = r;
    const eq = account.totalMarginBalance;
    if (!this.peakEquity || eq.gt(this.peakEquity)) this.peakEquity = eq;
    const dd = this.drawdownFraction();
    if (!this.drawdown.open && this.cfg.maxDrawdown.gt(0) && dd && dd.gte(this.cfg.maxDrawdown)) {
      const detail = `account drawdown ${dd.toDecimalPlaces(4)} ≥ ${this.cfg.maxDrawdown} (equity ${eq}, peak ${this.peakEquity})`;
      this.drawdown = { open: true, detail, openedAtMs: atMs };
      this.log.error(`account drawdown breaker OPEN: ${detail}; opening orders stop on every symbol`);
    }
    for (const l of this.listeners) l(r);
  }

  /** (peak − equity) ÷ peak of the last reading, fraction; null before a reading or with peak ≤ 0. */
  drawdownFraction(): Dec | null {
    const eq = this.last?.account.totalMarginBalance;
    const peak = this.peakEquity;
    if (!eq || !peak || !peak.gt(0)) return null;
    return Dec.max(ZERO, peak.minus(eq).div(peak));
  }

  /** Closes the drawdown breaker (operator reset); the peak restarts at the current equity. */
  reset(): void {
    this.drawdown = { open: false, detail: '', openedAtMs: null };
    this.peakEquity = this.last?.account.totalMarginBalance ?? null;
    this.log.warn('account drawdown breaker reset');
  }

  /** Account equity = the venue's margin balance (wallet + unrealized PnL at mark), quote; null before a reading. */
  equity(): Dec | null {
    return this.last?.account.totalMarginBalance ?? null;
  }

  /** Cumulative funding of `symbol`'s position (quote), as the venue reports it; null when it does not. */
  fundingOf(symbol: string): Dec | null {
    return this.last?.account.positions.find((p) => p.symbol === symbol)?.fundingPnl ?? null;
  }

  /** Cumulative funding of the whole account (quote); null when the venue reports none. */
  accountFunding(): Dec | null {
    return this.last?.account.fundingPnl ?? null;
  }

  /** Age of the last good reading at `nowMs`, ms (since start when there has been none; null before start). */
  ageMs(nowMs: number): number | null {
    const at = this.last?.atMs ?? this.startedAtMs;
    return at === null ? null : nowMs - at;
  }

  /** Why opening is stopped on every engine at `nowMs` (drawdown, then staleness); null when allowed. */
  blocksOpening(nowMs: number): string | null {
    if (this.drawdown.open) return `account drawdown breaker: ${this.drawdown.detail}`;
    const age = this.ageMs(nowMs);
    if (this.cfg.maxStaleMs > 0 && age !== null && age > this.cfg.maxStaleMs) return `account reading stale: ${age} ms old > ${this.cfg.maxStaleMs} ms${this.lastError ? ` (last poll error: ${this.lastError})` : ''}`;
    return null;
  }

  /** For `/status` (decimal strings; fractions for ratios). */
  snapshot(nowMs: number) {
    const a = this.last?.account;
    const ratio = a ? accountMarginRatio(a) : null;
    const s = (d: Dec | null | undefined) => (d ? (d.isFinite() ? d.toString() : 'Infinity') : null);
    const funding: Record<string, string> = {};
    for (const p of a?.positions ?? []) if (p.fundingPnl) funding[p.symbol] = p.fundingPnl.toString();
    const block = this.blocksOpening(nowMs);
    return {
      equity: s(a?.totalMarginBalance),
      walletBalance: s(a?.totalWalletBalance),
      marginRatio: s(ratio),
      fundingPnl: s(a?.fundingPnl),
      fundingBySymbol: funding,
      peakEquity: s(this.peakEquity),
      drawdown: s(this.drawdownFraction()),
      drawdownBreaker: { open: this.drawdown.open, detail: this.drawdown.detail || undefined, openedAtMs: this.drawdown.openedAtMs, maxDrawdown: this.cfg.maxDrawdown.toString() },
      readingAgeMs: this.ageMs(nowMs),
      maxStaleMs: this.cfg.maxStaleMs,
      openingBlocked: block,
      polls: this.polls,
      pollFailures: this.pollFailures,
    };
  }
}
