import {
  Dec,
  type ExchangeVenue,
  type OrderEvent,
  type Scheduler,
  type TimerHandle,
  type SymbolRules,
  type Unsubscribe,
  VenueError,
  ZERO,
  isVenueError,
  roundToIncrement,
} from '@mm/domain';
import {
  type GridAction,
  type GridParams,
  type Slot,
  effectiveInterval,
  isExitOrder,
  levelKey,
  makeClientOrderId,
  openingOrderNotional,
  planGrid,
  type QuietBand,
  inQuietBand,
  quietBand,
  validateGrid,
} from '@mm/grid';
import { randomBytes } from 'node:crypto';
import { checkStartupSafety } from '@mm/risk';
import { FatalError, type ForeignOrderEvent, GridBook } from './grid-book';
import { Reconciler, distributePosition } from './reconciler';
import type { AlertSink, CrashPoint, EngineLogger, EngineMetrics, EngineStateStore } from './ports';
import { type IntentRow, emptyStrategy } from './state';
import type { OrderExecutor } from './order-executor';
import type { RiskController } from './risk-controller';
import type { PortfolioLimiter } from './portfolio';
import type { AccountReading, AccountView } from './account-view';

/** Account poll period for the funding figure when the margin breakers are off, ms of engine time. */
const FUNDING_POLL_MS = 60_000;

export type EngineState = 'starting' | 'recovering' | 'running' | 'stopped' | 'failed';

export interface EngineOptions {
  instanceId: string;
  params: GridParams;
  makerFee: Dec;
  takerFee: Dec;
  reconcileIntervalMs: number;
  /** An intent unanswered for this long (ms) is looked up on the venue. */
  pendingTimeoutMs: number;
  stalePriceMs: number;
  /** I_eff = max(I, ATR × volatilityScale) when set. */
  dynamicInterval: { volatilityScale: Dec } | null;
  maxLeverage: number;
  /** Position divergence (percent of the venue position) that is corrected; more trips the breaker. */
  reconcileTolerancePct: Dec;
  cancelForeignOrders: boolean;
  /** Opening orders pause this long after an insufficient-margin rejection, ms. */
  marginLockMs: number;
  cleaner: { maxOpenOrders: number; maxOrderAgeMs: number; cancelPartiallyFilled: boolean };
  /** Risk-check period without ticks, ms (default 1000). */
  riskCheckIntervalMs?: number;
  /**
   * Secret keying the client-order-id tags (≥ 16 chars; see `makeClientOrderId`). Unset: the store's
   * (`EngineStateStore.clientIdSecret`), generated once with 192 random bits and kept there.
   */
  clientIdSecret?: string;
  /**
   * Rejection-loop guard: the k-th consecutive rejection (k ≥ 2) of one slot blocks it for
   * `rejectionBackoffMs` · 2^(k−2) ms (capped at 64×; the first is retried at once); at `maxConsecutiveRejections` the slot stays
   * blocked and the whole engine's breaker trips (`rejection_loop`, manual reset). Defaults 5 and 1000.
   */
  maxConsecutiveRejections?: number;
  rejectionBackoffMs?: number;
  /** Storage check period (`EngineStateStore.verify`), ms; 0 = off (default 1000). */
  storageCheckIntervalMs?: number;
  /**
   * Startup stress test (see `stressTest` in @mm/risk): refuse to start when the account's margin
   * balance cannot survive the buy window filled down to a `move` fall (fraction), with maintenance
   * margin at `maintenanceRate` (fraction). Null/absent = not run.
   */
  stressCheck?: { move: Dec; maintenanceRate: Dec } | null;
  /**
   * Quiet-band fast path (default on): after a planning pass the engine keeps the price interval over
   * which the planner would plan the same actions for the same slots and risk options (`quietBand` of
   * `@mm/grid`); a later tick whose price is inside it, with no slot change and the same plan options,
   * skips the planner (nothing to plan, or the held-back plan is screened again). With an empty queue,
   * price ticks and watchdog risk checks run synchronously (the breaker is fed at once; only a
   * reaction or a possible plan change is queued). Exact: the same orders as without it. `false`
   * turns it off (parity checks).
   */
  quietBand?: boolean;
  /** Portfolio caps shared with the account's other symbol engines, consulted before each opening order; unset = none. */
  portfolio?: PortfolioLimiter;
  /** Account view shared with the account's other symbol engines (see `EngineDeps.accountView`); unset = own account poll. */
  accountView?: AccountView;
}

/** Rejection state of one slot (see `EngineOptions.maxConsecutiveRejections`). */
interface RejectionState {
  count: number;
  /** No placement for this slot before this time, Unix ms (engine time). */
  untilMs: number;
  /** Blocked until the breaker is reset. */
  quarantined: boolean;
}

/** Last reconciliation, for /status and metrics. Quantities in base units as decimal strings. */
export interface ReconciliationResult {
  atMs: number;
  venuePosition: string;
  localPosition: string;
  divergence: string;
  action: 'none' | 'awaiting_confirmation' | 'corrected' | 'breaker_tripped';
  adopted: number;
  orphansCancelled: number;
  foreignCancelled: number;
  lookedUp: number;
  cleaned: number;
}


/**
 * The grid market-making engine for one symbol.
 *
 * Every input (price tick, order event, placement answer, timer) runs on one serialized queue, so
 * state changes never interleave. Price ticks are coalesced (only the latest matters); order events
 * are never dropped. Exactly-once side effects: an order intent with a deterministic client order id
 * is committed to the database before the order leaves; fills are booked once per venue trade id.
 * Start and restart run the same recovery: every unresolved intent is looked up by client order id
 * (adopted if the venue has it, NOT_PLACED if not), fills missed while away are booked as fills, and
 * our orders the venue holds but no slot owns are cancelled — so the venue never keeps two live
 * orders for one slot. A failed database write is fatal (the process exits; restart recovers).
 *
 * This class is the core (queue, lifecycle, ticks, placing and cancelling); fills and intents are
 * booked by `GridBook`, recovery and reconciliation live in `Reconciler`. Time and timers come only
 * from the injected `Scheduler` (market time in a backtest). Build it with `buildGridEngine`.
 */
export class GridEngine {
  private readonly book: GridBook;
  private readonly reconciler: Reconciler;
  private chain: Promise<void> = Promise.resolve();
  private tickQueued = false;
  lastPrice: Dec | null = null;
  private lastPriceAtMs = 0;
  private lastOrderEventAtMs = 0;
  private orderStreamUp = false;
  private orderStreamDownSinceMs = 0;
  private priceStreamUp = false;
  private reconnects = 0;
  private equityBase: Dec | null = null;
  private realizedAtStart: Dec = ZERO;
  /** This symbol's funding figure (see `fundingFigure`) at start and at the last account reading, quote. */
  private fundingAtStart: Dec | null = null;
  private fundingNow: Dec | null = null;
  private marginCheckedAtMs = Number.NEGATIVE_INFINITY;
  /** A reading of the shared account view not yet fed to the margin guard (fan-out; with `opts.accountView`). */
  private pendingAccount: AccountReading | null = null;
  /** The venue position taken over at startup (upstream §2.6), for /status; null when none. */
  adoption: { atMs: number; quantity: string; entryPrice: string; slots: { level: string; quantity: string }[] } | null = null;
  private unsubs: Unsubscribe[] = [];
  private timer?: TimerHandle;
  private watchdog?: TimerHandle;
  private storageTimer?: TimerHandle;
  /** Why storage is unusable ('' while healthy); while set, no order is placed. */
  storageFault = '';
  private storageCheckedAtMs = 0;
  /** Consecutive rejections per slot key. */
  private readonly rejections = new Map<string, RejectionState>();
  private rejectionTimer?: TimerHandle;
  /** Bumped whenever slots may have changed (any queue task but ticks, checks and the periodic reconciliation; place; cancel); with `book.mutations` the quiet band's version. */
  private slotsVersion = 0;
  /** Quiet band of the last empty planning pass and what it was computed for. */
  private quiet: { band: QuietBand; planned: GridAction[]; version: number; anchor: Dec; interval: Dec; allowOpening: boolean; allowClosing: boolean; sizeFactor: Dec } | null = null;
  /** Planning passes skipped by the quiet band (nothing to plan; for tests and benchmarks). */
  quietSkips = 0;
  /** Planning passes that reused the band's plan (actions the screen or a backoff held back last time). */
  planReuses = 0;
  /** Queue tasks enqueued and not finished (0: the queue is empty). */
  private pending = 0;
  state: EngineState = 'starting';
  lastError = '';

  constructor(
    private readonly exchange: ExchangeVenue,
    private readonly executor: OrderExecutor,
    private readonly store: EngineStateStore,
    private readonly opts: EngineOptions,
    private readonly metrics: EngineMetrics,
    readonly risk: RiskController,
    private readonly alerts: AlertSink,
    private readonly onFatal: (err: Error) => void,
    private readonly scheduler: Scheduler,
    private readonly log: EngineLogger,
    private readonly crashHook: (point: CrashPoint) => void = () => undefined,
  ) {
    this.book = new GridBook(opts.params.symbol, opts.instanceId, store, metrics, () => this.now(), (realized, nowMs) => risk.breaker.recordRoundTrip(realized, nowMs));
    this.reconciler = new Reconciler(this.book, this, exchange, store, opts, risk, metrics, alerts, log, () => this.now());
    this.book.onForeign = (e) => this.onForeign(e);
  }

  /**
   * A venue answer under one of our client order ids that is not our order (planted by another
   * client, issue 12): it was not booked or adopted; alert, count, and trip the breaker (held until a
   * manual reset) — someone with trade access is acting in our id space.
   */
  private onForeign(e: ForeignOrderEvent): void {
    const o = e.order;
    const detail = `${o.clientOrderId} (${o.orderId}) ${o.side} ${o.quantity} @ ${o.price} from ${e.where}: ${e.detail}`;
    this.log.error(`foreign order under our client order id: ${detail}; not adopted`);
    this.metrics.foreignOrder?.(this.symbol, e.where);
    this.alerts.notify({ kind: 'foreign_order', level: 'CRITICAL', title: 'Foreign order under our client order id', message: detail, fields: { symbol: this.symbol, clientOrderId: o.clientOrderId, where: e.where }, dedupeKey: `foreign:${o.clientOrderId}` });
    this.risk.trip('foreign_order', detail, this.now());
  }

  /** Version of the slots and intents (bumped whenever they may have changed); the reconciler compares it. */
  get slotsChangeVersion(): number {
    return this.slotsVersion + this.book.mutations;
  }

  /** Periodic reconciliations the reconciler answered without venue queries (nothing changed since a clean one). */
  get reconcileSkips(): number {
    return this.reconciler.unchangedSkips;
  }

  /** Last reconciliation, for /status. */
  get lastReconciliation(): ReconciliationResult | null {
    return this.reconciler.lastReconciliation;
  }

  /** Engine time, Unix ms (the scheduler's: wall clock live, market time in a backtest). */
  private now(): number {
    return this.scheduler.now();
  }

  private get symbol(): string {
    return this.opts.params.symbol;
  }

  /** Loads state, attaches the order stream, recovers, then starts quoting. */
  async start(): Promise<void> {
    this.book.rules = await this.exchange.getSymbolRules(this.symbol);
    this.book.secret = await this.resolveSecret();
    await this.book.hydrate();
    this.state = 'recovering';
    await new Promise<void>((resolve) => {
      this.unsubs.push(
        this.exchange.watchOrders({
          next: (e) => this.onOrderEvent(e),
          subscribed: (reconnect) => {
            this.orderStreamUp = true;
            if (!reconnect) resolve();
            else {
              this.reconnects++;
              this.log.warn('order stream re-attached: reconciling');
              this.enqueue('reconcile-after-reconnect', () => this.reconciler.recover());
            }
          },
          error: (e) => this.fail(e),
        }),
      );
    });
    await this.enqueue('adopt', () => this.adoptVenuePosition());
    await this.enqueue('recover', () => this.reconciler.recover());
    const price = await this.exchange.getLatestPrice(this.symbol);
    const account = await this.exchange.getAccount();
    const safety = checkStartupSafety({
      availableBalance: account.availableBalance,
      leverage: account.leverage || 1,
      price,
      priceInterval: this.opts.params.priceInterval,
      orderNotional: this.opts.params.orderNotional,
      buyWindow: this.opts.params.buyWindow,
      makerFee: this.opts.makerFee,
      takerFee: this.opts.takerFee,
      maxLeverage: this.opts.maxLeverage,
      existingPositionQty: this.book.inventory(),
      stress: this.opts.stressCheck ? { equity: account.totalMarginBalance, move: this.opts.stressCheck.move, maintenanceRate: this.opts.stressCheck.maintenanceRate } : undefined,
    });
    for (const w of safety.warnings) this.log.warn(`safety check: ${w}`);
    if (!safety.ok) throw new Error(`startup safety check failed: ${safety.problems.join('; ')}`);
    // Outside the queue on purpose: the queue logs and survives task errors, a bad grid must stop the start.
    validateGrid(this.opts.params, this.book.rules, price, this.opts.makerFee);
    await this.enqueue('anchor', async () => {
      if (!this.book.strategy) {
        this.book.strategy = emptyStrategy(this.symbol, roundToIncrement(price, this.book.rules.tickSize, 'down'), new Date(this.now()));
        await this.book.persist({ strategy: this.book.strategy });
      }
      this.lastPrice = price;
      this.lastPriceAtMs = this.now();
      this.equityBase = account.totalMarginBalance.minus(this.unrealized());
      const venuePos = account.positions.find((p) => p.symbol === this.symbol);
      this.book.venuePnl.seed(venuePos?.size ?? ZERO, venuePos?.entryPrice ?? ZERO);
      this.fundingAtStart = this.fundingFigure(account);
      this.fundingNow = this.fundingAtStart;
      this.realizedAtStart = this.book.strategy.realizedPnl;
    });
    await this.watchCandles();
    if (this.opts.accountView) {
      this.unsubs.push(
        this.opts.accountView.subscribe((r) => {
          this.pendingAccount = r;
        }),
      );
    }
    this.unsubs.push(
      this.exchange.watchPrice(this.symbol, {
        next: (t) => {
          this.lastPrice = t.price;
          this.lastPriceAtMs = this.now();
          if (!this.quickTick()) this.scheduleTick();
        },
        subscribed: () => {
          this.priceStreamUp = true;
        },
        error: (e) => this.fail(e),
      }),
    );
    this.timer = this.scheduler.setInterval(() => void this.enqueue('reconcile', () => this.reconciler.reconcile(false)), this.opts.reconcileIntervalMs);
    // Risk checks also run without ticks: a silent feed is exactly what they must catch.
    this.watchdog = this.scheduler.setInterval(() => {
      if (!this.quickRiskCheck()) void this.enqueue('risk-check', () => this.riskCheck());
    }, this.opts.riskCheckIntervalMs ?? 1000);
    const storageMs = this.opts.storageCheckIntervalMs ?? 1000;
    if (storageMs > 0 && this.store.verify) this.storageTimer = this.scheduler.setInterval(() => void this.enqueue('storage-check', () => this.checkStorage()), storageMs);
    this.state = 'running';
    this.log.log(`running ${this.symbol}: anchor ${this.book.strategy?.anchorPrice}, ${this.book.slots.size} slots, ${this.book.openIntents.size} open intents`);
    this.scheduleTick();
  }

  /** Stops quoting; optionally cancels all orders of the symbol first. Waits for the queue to drain. */
  async stop(cancelAll: boolean): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.scheduler.clear(this.timer);
    this.scheduler.clear(this.watchdog);
    this.scheduler.clear(this.storageTimer);
    this.scheduler.clear(this.rejectionTimer);
    for (const u of this.unsubs) u();
    this.unsubs = [];
    await this.chain.catch(() => undefined);
    if (cancelAll) {
      try {
        await this.exchange.cancelAllOrders(this.symbol);
      } catch (e) {
        this.log.error(`cancel all on exit failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Startup with a venue position and no local state (fresh database: no strategy row, no slot, no
   * intent): takes the position over as FILLED, FREE slots by the upstream rule (§2.6
   * `RestoreFromExchangePosition`, see `distributePosition`), costed at the venue's entry price, so
   * the planner places their take-profits as the price comes within the sell window. The grid anchor
   * is the current price rounded down to the tick. A short position in long mode is not adopted (the
   * long grid cannot close it): it is logged and left to the reconciliation.
   */
  private async adoptVenuePosition(): Promise<void> {
    if (this.book.strategy || this.book.slots.size > 0 || this.book.openIntents.size > 0) return;
    const pos = (await this.exchange.getPositions(this.symbol)).find((p) => p.symbol === this.symbol);
    const qty = pos?.size ?? ZERO;
    if (qty.isZero()) return;
    if (qty.lt(0) && this.opts.params.mode === 'long') {
      this.log.error(`venue holds a short position ${qty} ${this.symbol} and the grid is long-only: not adopted (close it on the venue or run grid.mode=neutral)`);
      return;
    }
    const rules = this.book.rules;
    const price = await this.exchange.getLatestPrice(this.symbol);
    const anchor = roundToIncrement(price, rules.tickSize, 'down');
    const parts = distributePosition(qty, anchor, this.opts.params.priceInterval, this.opts.params.orderNotional, rules);
    const entry = pos!.entryPrice.gt(0) ? pos!.entryPrice : price;
    this.book.strategy = emptyStrategy(this.symbol, anchor, new Date(this.now()));
    const slots: Slot[] = [];
    for (const p of parts) {
      const s = this.book.slotFor(p.level);
      s.positionQty = p.quantity;
      s.positionCost = p.quantity.abs().mul(entry);
      slots.push(s);
    }
    this.book.invalidateTotals();
    await this.book.persist({ strategy: this.book.strategy, slots });
    this.adoption = { atMs: this.now(), quantity: qty.toString(), entryPrice: entry.toString(), slots: parts.map((p) => ({ level: p.level.toString(), quantity: p.quantity.toString() })) };
    const detail = parts.map((p) => `${p.level}:${p.quantity}`).join(', ');
    this.log.warn(`adopted venue position ${qty} ${this.symbol} (entry ${entry}) into ${parts.length} slot(s) above anchor ${anchor}: ${detail}`);
  }

  /** Crash guard / ATR input: history first, then the live 1m stream of every monitored symbol. */
  private async watchCandles(): Promise<void> {
    if (!this.risk.monitor) return;
    for (const sym of this.risk.monitorSymbols) {
      try {
        for (const c of await this.exchange.getHistoricalKlines(sym, '1m', 100)) this.risk.onCandle(c);
      } catch (e) {
        this.log.warn(`no kline history for ${sym}: ${(e as Error).message}`);
      }
      this.unsubs.push(this.exchange.watchKlines(sym, '1m', { next: (c) => this.risk.onCandle(c) }));
    }
  }

  /** Transport state of a stream, from the RemoteExchange (drives the stale-order-stream breaker). */
  streamState(stream: string, state: 'subscribed' | 'reconnecting'): void {
    if (stream !== 'orders') return;
    if (state === 'reconnecting' && !this.orderStreamDownSinceMs) {
      this.orderStreamDownSinceMs = this.now();
      this.orderStreamUp = false;
      this.alerts.notify({ kind: 'venue_disconnected', level: 'ERROR', title: 'Order stream disconnected', message: `order stream of ${this.symbol} is reconnecting`, dedupeKey: 'orders-down' });
    } else if (state === 'subscribed' && this.orderStreamDownSinceMs) {
      this.orderStreamDownSinceMs = 0;
      this.alerts.notify({ kind: 'venue_reconnected', level: 'INFO', title: 'Order stream reconnected', message: `order stream of ${this.symbol} is back`, dedupeKey: 'orders-up' });
    }
  }

  // ---------------------------------------------------------------- operator actions

  /** Stops or resumes quoting (existing orders stay). */
  setPaused(paused: boolean): Promise<void> {
    return this.enqueue('pause', async () => {
      this.risk.paused = paused;
      this.log.warn(paused ? 'quoting paused by operator' : 'quoting resumed by operator');
      if (!paused) this.scheduleTick();
    });
  }

  /** Manual breaker trip: cancels opening orders (and exits unless configured to keep them). */
  tripBreaker(detail: string): Promise<void> {
    return this.enqueue('trip', async () => {
      this.risk.trip('manual', detail, this.now());
      await this.react();
    });
  }

  resetBreaker(): Promise<void> {
    return this.enqueue('reset', async () => {
      this.risk.breaker.reset(this.now());
      // The operator looked: quarantined slots get another chance (with a fresh count).
      this.rejections.clear();
      this.scheduleTick();
    });
  }

  /** Runs a full reconciliation now and returns its result. */
  async reconcileNow(): Promise<ReconciliationResult | null> {
    await this.enqueue('reconcile-manual', () => this.reconciler.reconcile(true));
    return this.lastReconciliation;
  }

  /** Cancels every live order of our slots (and pauses quoting so they are not replaced). */
  cancelAll(): Promise<void> {
    return this.enqueue('cancel-all', async () => {
      this.risk.paused = true;
      await this.cancelWhere(() => true);
    });
  }

  listIntents() {
    return [...this.book.openIntents.values()].map((i) => ({ ...i, price: i.price.toString(), quantity: i.quantity.toString(), executedQty: i.executedQty.toString() }));
  }

  /** Resolves when every task queued so far has run (tests, shutdown). See `whenIdle` for a full drain. */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Resolves once the serialized queue is empty and stays empty across a few microtask turns (tasks
   * that enqueue follow-ups, venue answers delivered as microtasks). A backtest driver feeds one market
   * event, awaits `whenIdle()`, then advances time. A task waiting on a scheduler timer (the order
   * rate limit, a retry backoff) is still running: with a `VirtualScheduler`, time must be advanced
   * (`advanceToAsync(t, () => engine.whenIdle())`) for it to finish. Never rejects.
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      const chain = this.chain;
      await chain.catch(() => undefined);
      for (let i = 0; i < 10; i++) await Promise.resolve();
      if (this.chain === chain) return;
    }
  }

  // ---------------------------------------------------------------- queue

  private enqueue(what: string, task: () => Promise<void>): Promise<void> {
    // the periodic reconciliation changes slots only through the book's methods or `cancel` (counted there)
    const mutates = what !== 'tick' && what !== 'risk-check' && what !== 'storage-check' && what !== 'reconcile';
    this.pending++;
    const run = this.chain.then(async () => {
      try {
        if (this.state === 'failed') return;
        if (mutates) this.slotsVersion++;
        await task();
      } catch (e) {
        if (e instanceof FatalError) this.fail(e.cause as Error);
        else {
          this.lastError = `${what}: ${(e as Error).message}`;
          this.log.error(this.lastError);
        }
      } finally {
        this.pending--;
      }
    });
    this.chain = run;
    return run;
  }

  private fail(err: Error): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.lastError = err.message;
    this.log.error(`engine failed: ${err.message}`);
    this.onFatal(err);
  }

  private scheduleTick(): void {
    if (this.tickQueued || this.state !== 'running') return;
    this.tickQueued = true;
    void this.enqueue('tick', async () => {
      this.tickQueued = false;
      await this.onTick();
    });
  }

  private onOrderEvent(e: OrderEvent): void {
    this.lastOrderEventAtMs = this.now();
    void this.enqueue('order-event', () => this.book.applyOrder(e.order, e.lastTrade ? [e.lastTrade] : []));
  }

  // ---------------------------------------------------------------- state

  // ---------------------------------------------------------------- decisions

  private async onTick(): Promise<void> {
    if (this.state !== 'running' || !this.lastPrice || !this.book.strategy) return;
    if (this.storageFault) return;
    const now = this.now();
    await this.riskCheck();
    await this.plan(now);
  }

  /**
   * A price tick handled synchronously, with the outcome of `onTick` run as a queue task: only when
   * the quiet band is on and the queue is empty (so the tick task would run next, with this price and
   * this time). The breaker is fed at once (as `riskCheck` does first); when it asks for a reaction or
   * the plan may change (outside the quiet band, slots or plan options changed) the rest of the tick
   * (reaction, planning) is queued; otherwise the tick is done and nothing is queued. Returns false
   * when the tick must take the ordinary queued path.
   */
  private quickTick(): boolean {
    if (this.opts.quietBand === false || this.pending !== 0 || this.tickQueued || this.state !== 'running' || !this.lastPrice || !this.book.strategy) return false;
    if (this.storageFault) return true; // onTick would return at once
    const now = this.now();
    if (this.marginDue(now)) return false; // the account poll is async: the ordinary path
    if (!this.syncStep('tick', () => this.riskEvaluate(now))) return true;
    if (!this.risk.reactionPending && this.bandHolds(now)) {
      const planned = this.quiet!.planned;
      if (planned.length === 0) {
        this.quietSkips++;
        return true;
      }
      if (this.screenedAway(planned)) {
        this.planReuses++;
        return true;
      }
    }
    this.tickQueued = true;
    void this.enqueue('tick', async () => {
      this.tickQueued = false;
      await this.react();
      await this.plan(now);
    });
    return true;
  }

  /** The watchdog's risk check, synchronously when the quiet band is on and the queue is empty (see `quickTick`); false: queue it. */
  private quickRiskCheck(): boolean {
    if (this.opts.quietBand === false || this.pending !== 0) return false;
    if (this.state !== 'running' || !this.book.strategy) return true; // riskCheck would return at once
    if (this.marginDue(this.now())) return false; // the account poll is async: queue riskCheck
    if (!this.syncStep('risk-check', () => this.riskEvaluate(this.now()))) return true;
    if (this.risk.reactionPending) void this.enqueue('risk-check', () => this.react());
    return true;
  }

  /** Runs a synchronous step as a queue task would: an error ends it and is recorded (`lastError`), as `enqueue` does. False on error. */
  private syncStep(what: string, step: () => void): boolean {
    try {
      step();
      return true;
    } catch (e) {
      if (e instanceof FatalError) this.fail(e.cause as Error);
      else {
        this.lastError = `${what}: ${(e as Error).message}`;
        this.log.error(this.lastError);
      }
      return false;
    }
  }

  /** `openingOrderNotional` of the slots, remembered per slot version with the quiet band on (it depends on the slots only). */
  private openingNotional(): Dec {
    if (this.opts.quietBand === false) return openingOrderNotional(this.book.slots.values());
    const version = this.slotsVersion + this.book.mutations;
    if (this.openNotional?.version !== version) this.openNotional = { version, value: openingOrderNotional(this.book.slots.values()) };
    return this.openNotional.value;
  }
  private openNotional?: { version: number; value: Dec };

  /** Interval and plan options of a planning pass at `now`. */
  private planInputs(now: number) {
    const interval = this.planInterval();
    const inventory = this.book.inventory();
    return { interval, inventory, options: { ...this.risk.planOptions(now, interval), inventory } };
  }

  /** Grid interval of a planning pass: the configured one, or the dynamic one from the ATR. */
  private planInterval(): Dec {
    const dyn = this.opts.dynamicInterval;
    return dyn ? effectiveInterval(this.opts.params.priceInterval, this.risk.monitor?.atr(this.symbol) ?? null, dyn.volatilityScale, this.book.rules.tickSize) : this.opts.params.priceInterval;
  }

  /**
   * Would `plan` end with nothing to send for the band's reused plan: no portfolio limiter, opening
   * orders planned, and the exposure screen known to refuse all of them and pass nothing else
   * (`RiskController.screensToNothing`, which counts the refusals as `screen` does)?
   */
  private screenedAway(planned: GridAction[]): boolean {
    if (this.opts.portfolio || !this.lastPrice || !planned.some((a) => a.kind === 'place' && !a.exit)) return false;
    return this.risk.screensToNothing(planned, new Map([[this.symbol, { qty: this.book.inventory(), markPrice: this.lastPrice }]]), this.openingNotional());
  }

  /** Is the last band's plan still the plan: the price in its band, the same slots and plan options? */
  private bandHolds(now: number): boolean {
    const q = this.quiet;
    if (!q || q.version !== this.slotsVersion + this.book.mutations || !this.lastPrice || !this.book.strategy) return false;
    const interval = this.planInterval();
    const options = this.risk.planOptions(now, interval);
    const anchor = this.book.strategy.anchorPrice;
    return (
      q.allowOpening === options.allowOpening &&
      q.allowClosing === options.allowClosing &&
      (q.anchor === anchor || q.anchor.eq(anchor)) &&
      (q.interval === interval || q.interval.eq(interval)) &&
      (q.sizeFactor === options.sizeFactor || q.sizeFactor.eq(options.sizeFactor ?? 1)) &&
      inQuietBand(q.band, this.lastPrice)
    );
  }

  /** The planning half of a tick: plan at the last price, screen, cancel and place. */
  private async plan(now: number): Promise<void> {
    if (!this.lastPrice || !this.book.strategy) return;
    let planned: GridAction[];
    const { interval, inventory, options } = this.planInputs(now);
    if (this.bandHolds(now)) {
      planned = this.quiet!.planned;
      if (planned.length === 0) {
        this.quietSkips++;
        return;
      }
      this.planReuses++;
    } else {
      const anchor = this.book.strategy.anchorPrice;
      this.quiet = null;
      planned = planGrid(this.book.slots, this.lastPrice, anchor, this.opts.params, this.book.rules, options);
      if (this.opts.quietBand !== false) {
        const band = quietBand(this.book.slots, this.lastPrice, anchor, this.opts.params, this.book.rules, options);
        if (band) this.quiet = { band, planned, version: this.slotsVersion + this.book.mutations, anchor, interval, allowOpening: options.allowOpening ?? true, allowClosing: options.allowClosing ?? true, sizeFactor: options.sizeFactor ?? new Dec(1) };
      }
      if (planned.length === 0) return;
    }
    // Exposure screening only judges opening orders: without one, skip computing its inputs.
    const opening = planned.some((a) => a.kind === 'place' && !a.exit);
    const openNotional = opening || this.opts.portfolio ? this.openingNotional() : ZERO;
    this.opts.portfolio?.report(this.symbol, { positionQty: inventory, markPrice: this.lastPrice, openOpeningNotional: openNotional });
    let actions = opening ? this.risk.screen(planned, new Map([[this.symbol, { qty: inventory, markPrice: this.lastPrice }]]), openNotional) : planned;
    if (opening && this.opts.portfolio) actions = this.screenPortfolio(actions, this.opts.portfolio);
    if (actions.length === 0) return;
    const cancels = actions.filter((a): a is Extract<GridAction, { kind: 'cancel' }> => a.kind === 'cancel');
    const places = actions.filter((a): a is Extract<GridAction, { kind: 'place' }> => a.kind === 'place' && !this.slotBlocked(a.level, now));
    for (const c of cancels) await this.cancel(c.orderId);
    if (places.length) await this.place(places);
  }

  /** Drops opening orders the shared portfolio limiter refuses (counted in `risk.blocked` and the blocked-orders metric). */
  private screenPortfolio(actions: GridAction[], portfolio: PortfolioLimiter): GridAction[] {
    return actions.filter((a) => {
      if (a.kind !== 'place' || a.exit) return true;
      const v = portfolio.admit(this.symbol, { side: a.side, price: a.price, quantity: a.quantity });
      if (v.ok) return true;
      this.risk.blocked[v.reason] = (this.risk.blocked[v.reason] ?? 0) + 1;
      this.metrics.orderBlocked(this.symbol, v.reason);
      this.log.warn(`order blocked by ${v.reason}: ${v.detail}`);
      this.alerts.notify({ kind: 'limit_hit', level: 'WARNING', title: `Portfolio limit: ${v.reason}`, message: v.detail, fields: { symbol: this.symbol }, dedupeKey: `limit:${v.reason}:${this.symbol}` });
      return false;
    });
  }

  /** Feeds equity, feed ages and time to the breaker, updates risk gauges, and reacts to transitions. */
  private async riskCheck(): Promise<void> {
    if (this.state !== 'running' || !this.book.strategy) return;
    const now = this.now();
    // shared account view: the poll first (when due), so the account staleness is judged on fresh data
    const view = this.opts.accountView;
    if (view?.due(now)) await view.refresh(now);
    this.riskEvaluate(now);
    const reduce = await this.checkMargin(now);
    await this.react();
    if (reduce) await this.deRisk();
  }

  /** True when the account poll of `checkMargin` is due at `now` (then the quick paths take the queued one). */
  private marginDue(now: number): boolean {
    if (this.opts.accountView) return this.pendingAccount !== null || this.opts.accountView.due(now);
    const g = this.risk.margin;
    return now - this.marginCheckedAtMs >= (g ? g.cfg.checkIntervalMs : FUNDING_POLL_MS);
  }

  /** The synchronous part of a risk check: gauges, then equity, feed ages and time to the breaker. */
  private riskEvaluate(now: number): void {
    const strategy = this.book.strategy;
    if (!strategy) return;
    const unrealized = this.unrealized();
    this.metrics.markState(this.symbol, unrealized, Math.min(this.priceAgeMs(), 1e9) / 1000);
    if (this.opts.accountView) this.risk.setAccountBlock(this.opts.accountView.blocksOpening(now));
    this.risk.evaluate(now, this.priceAgeMs(), this.orderStreamDownSinceMs ? now - this.orderStreamDownSinceMs : 0, this.equity());
  }

  /**
   * Engine equity, quote: the margin balance at start + realized PnL since (round trips net of every
   * fee, see GridBook) + funding received − paid by this symbol since start (`fundingFigure`: the
   * venue's per-position figure; the account figure only for an engine alone on its account) + unrealized
   * PnL of the slots at the last price. Null before start.
   */
  equity(): Dec | null {
    if (!this.equityBase || !this.book.strategy) return null;
    // base + realized since start + funding, remembered per (immutable) input objects; then + unrealized
    const realized = this.book.strategy.realizedPnl;
    let m = this.equityMemo;
    if (!m || m.base !== this.equityBase || m.realized !== realized || m.realizedAtStart !== this.realizedAtStart || m.fundingNow !== this.fundingNow || m.fundingAtStart !== this.fundingAtStart) {
      const funding = this.fundingNow && this.fundingAtStart ? this.fundingNow.minus(this.fundingAtStart) : ZERO;
      const value = this.equityBase.plus(realized.minus(this.realizedAtStart)).plus(funding);
      m = this.equityMemo = { base: this.equityBase, realized, realizedAtStart: this.realizedAtStart, fundingNow: this.fundingNow, fundingAtStart: this.fundingAtStart, value };
    }
    return m.value.plus(this.unrealized());
  }
  private equityMemo?: { base: Dec; realized: Dec; realizedAtStart: Dec; fundingNow: Dec | null; fundingAtStart: Dec | null; value: Dec };

  /**
   * This symbol's cumulative funding figure in an account reading, quote: the venue's per-position
   * figure (`Position.fundingPnl`) when it reports one; else, for an engine without a shared account
   * view (one symbol per account), the account's `fundingPnl`; else null. With a shared view the
   * account figure is never taken (it holds every symbol's funding: counting it per engine would count
   * it once per symbol).
   */
  private fundingFigure(account: import('@mm/domain').AccountSnapshot): Dec | null {
    const own = account.positions.find((p) => p.symbol === this.symbol)?.fundingPnl;
    if (own) return own;
    return this.opts.accountView ? null : (account.fundingPnl ?? null);
  }

  /** Funding received (+) / paid (−) by this symbol since this engine started, quote (0 when the venue reports none). */
  fundingSinceStart(): Dec {
    return this.fundingNow && this.fundingAtStart ? this.fundingNow.minus(this.fundingAtStart) : ZERO;
  }

  /**
   * Polls the venue account every `risk.margin.check_interval_ms` (engine time; every
   * `FUNDING_POLL_MS` without margin breakers) and feeds the margin breakers and the funding figure. Returns true when a reduce limit is breached. A failed poll is
   * logged and retried at the next period (feed and stream breakers cover a lost venue).
   */
  private async checkMargin(now: number): Promise<boolean> {
    // Without margin breakers the account is still read (every minute) for the funding figure.
    let account;
    if (this.opts.accountView) {
      // one poll for all engines (riskCheck refreshed the view): take its newest reading (fan-out), once
      if (!this.pendingAccount) return false;
      account = this.pendingAccount.account;
      this.pendingAccount = null;
    } else {
      if (!this.marginDue(now)) return false;
      this.marginCheckedAtMs = now;
      try {
        account = await this.exchange.getAccount();
      } catch (e) {
        this.log.warn(`margin check: account poll failed: ${(e as Error).message}`);
        return false;
      }
    }
    const funding = this.fundingFigure(account);
    if (funding) {
      this.fundingAtStart ??= funding;
      this.fundingNow = funding;
      this.metrics.fundingPnl?.(this.symbol, this.fundingSinceStart());
    }
    return this.risk.onAccount(account, now)?.reduce ?? false;
  }

  /**
   * De-risking past a margin reduce limit: closes `risk.margin.reduce_fraction` of the slots'
   * inventory (at least one slot) with reduce-only IOC limits through the market (P × (1 ∓
   * exit_slippage), rounded away from the market to the tick), taking the slots whose level is
   * nearest the last price first (their exits are the cheapest). A slot's resting take-profit is
   * cancelled first. Opening orders were already cancelled when the breaker opened.
   */
  private async deRisk(): Promise<void> {
    const g = this.risk.margin;
    const P = this.lastPrice;
    if (!g || !P) return;
    const held = [...this.book.slots.values()].filter((s) => !s.positionQty.isZero() && s.status !== 'PENDING');
    if (held.length === 0) return;
    const total = held.reduce((a, s) => a.plus(s.positionQty.abs()), ZERO);
    const target = total.mul(g.cfg.reduceFraction);
    held.sort((a, b) => a.level.minus(P).abs().comparedTo(b.level.minus(P).abs()));
    const chosen: Slot[] = [];
    let sum = ZERO;
    for (const s of held) {
      if (chosen.length > 0 && sum.gte(target)) break;
      chosen.push(s);
      sum = sum.plus(s.positionQty.abs());
    }
    for (const s of chosen) if (s.status === 'LOCKED' && s.order?.orderId) await this.cancel(s.order.orderId);
    const tick = this.book.rules.tickSize;
    const actions: Extract<GridAction, { kind: 'place' }>[] = [];
    for (const s of chosen) {
      if (s.status !== 'FREE' || s.positionQty.isZero()) continue;
      const long = s.positionQty.gt(0);
      const price = long ? roundToIncrement(P.mul(Dec.sub(1, g.cfg.exitSlippage)), tick, 'down') : roundToIncrement(P.mul(Dec.add(1, g.cfg.exitSlippage)), tick, 'up');
      if (!price.gt(0)) continue;
      actions.push({ kind: 'place', key: s.key, level: s.level, side: long ? 'SELL' : 'BUY', price, quantity: s.positionQty.abs(), reduceOnly: true, postOnly: false, exit: true });
    }
    if (actions.length === 0) return;
    g.exits += actions.length;
    this.log.error(`margin de-risk: closing ${actions.length} slot(s) nearest ${P} (${actions.map((a) => `${a.side} ${a.quantity} @ ${a.price}`).join(', ')})`);
    await this.place(actions, 'IOC');
  }

  /** Carries out what a risk transition asked for: cancel opening orders (or everything). */
  async react(): Promise<void> {
    const r = this.risk.takeReaction();
    if (r === 'cancel_opening') await this.cancelWhere((s) => !isExitOrder(s));
    else if (r === 'cancel_all') await this.cancelWhere(() => true);
  }

  private async cancelWhere(pred: (s: Slot) => boolean): Promise<void> {
    for (const s of [...this.book.slots.values()]) {
      if (s.status === 'LOCKED' && s.order?.orderId && pred(s)) await this.cancel(s.order.orderId);
    }
  }

  // ---------------------------------------------------------------- guards

  /** Client-order-id secret: configured, else the store's (made once with 192 random bits). */
  private async resolveSecret(): Promise<string> {
    if (this.opts.clientIdSecret) return this.opts.clientIdSecret;
    if (!this.store.clientIdSecret) throw new Error('no client order id secret: set clientIdSecret or use a store that keeps one');
    return this.store.clientIdSecret(() => randomBytes(24).toString('base64url'));
  }

  /** Is this slot in a rejection backoff (or quarantined after a rejection loop)? */
  private slotBlocked(level: Dec, nowMs: number): boolean {
    if (this.rejections.size === 0) return false;
    const r = this.rejections.get(levelKey(level));
    return !!r && (r.quarantined || nowMs < r.untilMs);
  }

  /** Counts one more consecutive rejection of a slot: back off exponentially; at the limit quarantine it and trip the breaker. */
  private onSlotRejected(slotKey: string, why: string): void {
    const max = this.opts.maxConsecutiveRejections ?? 5;
    const base = this.opts.rejectionBackoffMs ?? 1000;
    const r = this.rejections.get(slotKey) ?? { count: 0, untilMs: 0, quarantined: false };
    r.count++;
    // The first rejection is retried at once (a post-only reject in a moving market is normal); from
    // the second in a row the slot waits base, 2·base, 4·base, … (at most 64·base).
    const delay = r.count < 2 ? 0 : base * 2 ** Math.min(r.count - 2, 6);
    r.untilMs = this.now() + delay;
    this.rejections.set(slotKey, r);
    if (max > 0 && r.count >= max && !r.quarantined) {
      r.quarantined = true;
      const detail = `slot ${slotKey} rejected ${r.count} times in a row (last: ${why}); slot blocked until the breaker is reset`;
      this.log.error(`rejection loop: ${detail}`);
      this.alerts.notify({ kind: 'rejection_loop', level: 'CRITICAL', title: 'Rejection loop stopped', message: detail, fields: { symbol: this.symbol, slot: slotKey }, dedupeKey: `rejection-loop:${slotKey}` });
      this.risk.trip('rejection_loop', detail, this.now());
      return;
    }
    if (delay === 0) return;
    this.log.warn(`slot ${slotKey} rejected ${r.count} times in a row: backing off ${delay} ms`);
    // Re-plan when the backoff ends (ticks would do it too, but a quiet market may send none).
    this.scheduler.clear(this.rejectionTimer);
    this.rejectionTimer = this.scheduler.setTimeout(() => this.scheduleTick(), delay);
  }

  /**
   * Storage check (timer): the store's `verify` (file identity, write probe). On failure nothing is
   * placed any more, the breaker trips (held: `storage_fault`), an alert goes out and `/health` fails
   * (snapshot `storage.ok`). A later passing check clears the fault; the breaker still needs a reset.
   */
  async checkStorage(): Promise<void> {
    if (!this.store.verify) return;
    try {
      await this.store.verify();
      this.storageCheckedAtMs = this.now();
      if (this.storageFault) {
        this.log.warn(`storage check passes again (was: ${this.storageFault})`);
        this.storageFault = '';
        this.metrics.storageHealthy?.(this.symbol, true);
      }
    } catch (e) {
      const msg = (e as Error).message;
      this.storageCheckedAtMs = this.now();
      if (this.storageFault) return;
      this.storageFault = msg;
      this.log.error(`storage lost: ${msg}; no order will be placed`);
      this.metrics.storageHealthy?.(this.symbol, false);
      this.alerts.notify({ kind: 'storage_fault', level: 'CRITICAL', title: 'Storage lost: trading stopped', message: msg, fields: { symbol: this.symbol }, dedupeKey: 'storage-fault' });
      this.risk.trip('storage_fault', msg, this.now());
      await this.react();
    }
  }

  private maybeCrash(point: CrashPoint): void {
    this.crashHook(point);
  }

  /** Places planned orders (LIMIT; GTX when post-only, else `tif`, default GTC). */
  private async place(actions: Extract<GridAction, { kind: 'place' }>[], tif: 'GTC' | 'IOC' = 'GTC'): Promise<void> {
    if (this.storageFault) return;
    this.slotsVersion++;
    const intents: IntentRow[] = [];
    const slots: Slot[] = [];
    for (const a of actions) {
      const slot = this.book.slotFor(a.level);
      slot.generation += 1;
      const clientOrderId = makeClientOrderId(this.opts.instanceId, a.side, slot.level, this.book.rules.tickSize, slot.generation, this.book.secret);
      intents.push(this.book.openIntent(slot, { clientOrderId, side: a.side, price: a.price, quantity: a.quantity, reduceOnly: a.reduceOnly, postOnly: a.postOnly, createdAtMs: this.now() }));
      slots.push(slot);
    }
    // Durable before anything leaves the process.
    await this.book.persist({ slots, intents });
    this.maybeCrash('after_intent_commit');
    const started = this.now();
    const results = await Promise.allSettled(
      intents.map((i) =>
        this.executor.placeOrder({
          symbol: this.symbol,
          side: i.side as 'BUY' | 'SELL',
          type: 'LIMIT',
          timeInForce: i.postOnly ? 'GTX' : tif,
          quantity: i.quantity,
          price: i.price,
          reduceOnly: i.reduceOnly,
          postOnly: i.postOnly,
          clientOrderId: i.clientOrderId,
        }),
      ),
    );
    this.metrics.exchangeLatency('PlaceOrder', (this.now() - started) / Math.max(1, intents.length) / 1000);
    this.maybeCrash('after_venue_answer');
    for (let k = 0; k < results.length; k++) {
      const r = results[k];
      const intent = intents[k];
      if (r.status === 'fulfilled') {
        this.metrics.orderPlaced(this.symbol, intent.side);
        this.rejections.delete(intent.slotId.slice(this.symbol.length + 1));
        // The answer may be an existing order (idempotent PlaceOrder): applyOrder compares it with the intent.
        await this.book.applyOrder(r.value, [], 'place');
      } else {
        await this.onPlaceError(intent, r.reason);
      }
    }
  }

  private async onPlaceError(intent: IntentRow, err: unknown): Promise<void> {
    const e = err instanceof VenueError ? err : new VenueError('INTERNAL', String((err as Error)?.message ?? err));
    if (e.code === 'ALREADY_EXISTS') return this.reconciler.resolveIntent(intent.clientOrderId);
    if (e.retryable || e.code === 'INTERNAL') {
      // Outcome unknown: keep PENDING; the reconciler looks the client order id up.
      this.log.warn(`place ${intent.clientOrderId} outcome unknown (${e.code}: ${e.message}); will look it up`);
      return;
    }
    const slotKey = intent.slotId.slice(this.symbol.length + 1);
    this.onSlotRejected(slotKey, `${e.code}${e.reason ? ` ${e.reason}` : ''}: ${e.message}`);
    if (e.reason === 'POST_ONLY_WOULD_TAKE') {
      const slot = this.book.slots.get(slotKey);
      if (slot) slot.postOnlyRejects++;
      this.metrics.orderRejected(this.symbol, 'post_only');
    } else if (e.reason === 'INSUFFICIENT_MARGIN') {
      this.risk.marginLockUntilMs = this.now() + this.opts.marginLockMs;
      this.metrics.orderRejected(this.symbol, 'margin');
      this.log.warn(`insufficient margin: opening orders paused for ${this.opts.marginLockMs} ms`);
    } else {
      this.metrics.orderRejected(this.symbol, 'other');
      this.log.warn(`place ${intent.clientOrderId} rejected: ${e.code} ${e.message}`);
    }
    await this.book.closeIntent(intent.clientOrderId, 'REJECTED', `${e.code}: ${e.message}`);
    await this.react();
  }

  /** Cancels one venue order and books its final state (queue-internal; used by the reconciler). */
  async cancel(orderId: string): Promise<void> {
    this.slotsVersion++;
    try {
      const final = await this.executor.cancelOrder(this.symbol, orderId);
      await this.book.applyOrder(final, [], 'cancel');
    } catch (e) {
      if (isVenueError(e, 'NOT_FOUND') || isVenueError(e, 'FAILED_PRECONDITION')) {
        await this.book.applyOrder(await this.exchange.getOrder(this.symbol, { orderId }), [], 'lookup');
      } else {
        this.log.warn(`cancel ${orderId} failed: ${(e as Error).message}`);
      }
    }
  }

  // ---------------------------------------------------------------- recovery & reconciliation

  // ---------------------------------------------------------------- reporting

  /**
   * Unrealized PnL of the slots' inventory at the last price, quote: Σ long (qty·P − cost) + Σ short
   * (cost − |qty|·P) = P · Σ qty − (Σ long cost − Σ short cost).
   */
  unrealized(): Dec {
    return this.book.unrealized(this.lastPrice);
  }

  /** Σ slot inventory, base units. */
  inventory(): Dec {
    return this.book.inventory();
  }

  /** Age of the last price tick, ms (Infinity before the first). */
  priceAgeMs(): number {
    return this.lastPriceAtMs ? this.now() - this.lastPriceAtMs : Number.POSITIVE_INFINITY;
  }

  /** Snapshot for `/status`. Decimals as strings. */
  snapshot() {
    const slots = [...this.book.slots.values()];
    const count = (st: string) => slots.filter((s) => s.status === st).length;
    const priceAge = this.priceAgeMs();
    return {
      state: this.state,
      lastError: this.lastError || undefined,
      symbol: this.symbol,
      instanceId: this.opts.instanceId,
      anchorPrice: this.book.strategy?.anchorPrice.toString() ?? null,
      lastPrice: this.lastPrice?.toString() ?? null,
      priceFeed: { connected: this.priceStreamUp, ageMs: Number.isFinite(priceAge) ? priceAge : null, stale: priceAge > this.opts.stalePriceMs },
      orderStream: { connected: this.orderStreamUp, reconnects: this.reconnects, lastEventAgeMs: this.lastOrderEventAtMs ? this.now() - this.lastOrderEventAtMs : null },
      slots: { total: slots.length, free: count('FREE'), pending: count('PENDING'), locked: count('LOCKED'), filled: slots.filter((s) => s.positionQty.gt(0)).length },
      openIntents: this.book.openIntents.size,
      inventory: this.inventory().toString(),
      unrealizedPnl: this.unrealized().toString(),
      realizedPnl: this.book.strategy?.realizedPnl.toString() ?? '0',
      /** Venue-method (average-cost) realized PnL of the fills booked since this engine started, fees excluded, seeded with the venue position at start (see AverageCostLedger). */
      venueRealizedPnl: this.book.venuePnl.realized.toString(),
      feesPaid: this.book.strategy?.feesPaid.toString() ?? '0',
      fundingPnl: this.fundingSinceStart().toString(),
      equity: this.equity()?.toString() ?? null,
      adoption: this.adoption,
      fills: this.book.fillCount,
      risk: this.risk.snapshot(),
      storage: { ok: !this.storageFault, fault: this.storageFault || undefined, checkedAtMs: this.storageCheckedAtMs || null },
      foreignOrders: this.book.foreignCount,
      rejections: Object.fromEntries([...this.rejections].map(([k, r]) => [k, { count: r.count, untilMs: r.untilMs, quarantined: r.quarantined }])),
      reconciliation: this.lastReconciliation,
      executorRetries: this.executor.retries,
    };
  }

  /**
   * The planner's inputs as the engine holds them (read-only; for benchmarks and reports): the slots,
   * the grid anchor (null before start) and the symbol rules.
   */
  planningState(): { slots: ReadonlyMap<string, Slot>; anchorPrice: Dec | null; rules: SymbolRules } {
    return { slots: this.book.slots, anchorPrice: this.book.strategy?.anchorPrice ?? null, rules: this.book.rules };
  }

  /** Slots with their live orders, for the operator view. */
  listSlots() {
    return [...this.book.slots.values()]
      .sort((a, b) => b.level.comparedTo(a.level))
      .map((s) => ({
        level: s.key,
        status: s.status,
        positionQty: s.positionQty.toString(),
        generation: s.generation,
        order: s.order ? { ...s.order, price: s.order.price.toString(), quantity: s.order.quantity.toString(), executedQty: s.order.executedQty.toString() } : null,
      }));
  }
}
