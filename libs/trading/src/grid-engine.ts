import {
  Dec,
  type ExchangeVenue,
  type Fill,
  type Order,
  type OrderEvent,
  type Scheduler,
  type TimerHandle,
  type SymbolRules,
  type Unsubscribe,
  VenueError,
  ZERO,
  isTerminal,
  isVenueError,
  roundToIncrement,
} from '@mm/domain';
import {
  type GridAction,
  type GridParams,
  INTENT_RANK,
  type IntentStatus,
  type Slot,
  applyFill,
  applyOrderState,
  beginIntent,
  effectiveInterval,
  isExitOrder,
  isFilled,
  levelFromTicks,
  levelKey,
  makeClientOrderId,
  newSlot,
  openingOrderNotional,
  parseClientOrderId,
  planGrid,
  quantityForNotional,
  validateGrid,
} from '@mm/grid';
import { checkStartupSafety, planCleanup } from '@mm/risk';
import type { AlertSink, CrashPoint, EngineLogger, EngineMetrics, EngineStateStore } from './ports';
import { type FillRow, type IntentRow, type StateChange, type StrategyRow, emptyStrategy } from './state';
import type { OrderExecutor } from './order-executor';
import type { RiskController } from './risk-controller';

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
 */
export class GridEngine {
  private readonly slots = new Map<string, Slot>();
  /** Intents that are not terminal yet, by client order id. */
  private readonly openIntents = new Map<string, IntentRow>();
  /** Booked trade ids per open intent: fills of orders we track are deduplicated in memory. */
  private readonly tradesOfOpen = new Map<string, Set<string>>();
  private strategy: StrategyRow | null = null;
  private rules!: SymbolRules;
  private chain: Promise<void> = Promise.resolve();
  private tickQueued = false;
  private lastPrice: Dec | null = null;
  private lastPriceAtMs = 0;
  private lastOrderEventAtMs = 0;
  private orderStreamUp = false;
  private orderStreamDownSinceMs = 0;
  private priceStreamUp = false;
  private reconnects = 0;
  private fillCount = 0;
  private equityBase: Dec | null = null;
  private realizedAtStart: Dec = ZERO;
  private pendingDivergence: string | null = null;
  lastReconciliation: ReconciliationResult | null = null;
  /** Σ inventory (base) and Σ signed cost (long cost − short cost, quote); recomputed only after inventory changes. */
  private totals: { qty: Dec; cost: Dec } | null = null;
  private unsubs: Unsubscribe[] = [];
  private timer?: TimerHandle;
  private watchdog?: TimerHandle;
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
  ) {}

  /** Engine time, Unix ms (the scheduler's: wall clock live, market time in a backtest). */
  private now(): number {
    return this.scheduler.now();
  }

  private get symbol(): string {
    return this.opts.params.symbol;
  }

  /** Loads state, attaches the order stream, recovers, then starts quoting. */
  async start(): Promise<void> {
    this.rules = await this.exchange.getSymbolRules(this.symbol);
    await this.hydrate();
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
              this.enqueue('reconcile-after-reconnect', () => this.recover());
            }
          },
          error: (e) => this.fail(e),
        }),
      );
    });
    await this.enqueue('recover', () => this.recover());
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
      existingPositionQty: this.inventory(),
    });
    for (const w of safety.warnings) this.log.warn(`safety check: ${w}`);
    if (!safety.ok) throw new Error(`startup safety check failed: ${safety.problems.join('; ')}`);
    // Outside the queue on purpose: the queue logs and survives task errors, a bad grid must stop the start.
    validateGrid(this.opts.params, this.rules, price, this.opts.makerFee);
    await this.enqueue('anchor', async () => {
      if (!this.strategy) {
        this.strategy = emptyStrategy(this.symbol, roundToIncrement(price, this.rules.tickSize, 'down'), new Date(this.now()));
        await this.persist({ strategy: this.strategy });
      }
      this.lastPrice = price;
      this.lastPriceAtMs = this.now();
      this.equityBase = account.totalMarginBalance.minus(this.unrealized());
      this.realizedAtStart = this.strategy.realizedPnl;
    });
    await this.watchCandles();
    this.unsubs.push(
      this.exchange.watchPrice(this.symbol, {
        next: (t) => {
          this.lastPrice = t.price;
          this.lastPriceAtMs = this.now();
          this.scheduleTick();
        },
        subscribed: () => {
          this.priceStreamUp = true;
        },
        error: (e) => this.fail(e),
      }),
    );
    this.timer = this.scheduler.setInterval(() => void this.enqueue('reconcile', () => this.reconcile(false)), this.opts.reconcileIntervalMs);
    // Risk checks also run without ticks: a silent feed is exactly what they must catch.
    this.watchdog = this.scheduler.setInterval(() => void this.enqueue('risk-check', () => this.riskCheck()), this.opts.riskCheckIntervalMs ?? 1000);
    this.state = 'running';
    this.log.log(`running ${this.symbol}: anchor ${this.strategy?.anchorPrice}, ${this.slots.size} slots, ${this.openIntents.size} open intents`);
    this.scheduleTick();
  }

  /** Stops quoting; optionally cancels all orders of the symbol first. Waits for the queue to drain. */
  async stop(cancelAll: boolean): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.scheduler.clear(this.timer);
    this.scheduler.clear(this.watchdog);
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
      this.scheduleTick();
    });
  }

  /** Runs a full reconciliation now and returns its result. */
  async reconcileNow(): Promise<ReconciliationResult | null> {
    await this.enqueue('reconcile-manual', () => this.reconcile(true));
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
    return [...this.openIntents.values()].map((i) => ({ ...i, price: i.price.toString(), quantity: i.quantity.toString(), executedQty: i.executedQty.toString() }));
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
    const run = this.chain.then(async () => {
      if (this.state === 'failed') return;
      try {
        await task();
      } catch (e) {
        if (e instanceof FatalError) this.fail(e.cause as Error);
        else {
          this.lastError = `${what}: ${(e as Error).message}`;
          this.log.error(this.lastError);
        }
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
    void this.enqueue('order-event', () => this.applyOrder(e.order, e.lastTrade ? [e.lastTrade] : []));
  }

  // ---------------------------------------------------------------- state

  private async hydrate(): Promise<void> {
    const loaded = await this.store.load();
    this.strategy = loaded.strategy;
    for (const i of loaded.openIntents) this.openIntents.set(i.clientOrderId, i);
    for (const { clientOrderId, tradeId } of await this.store.tradeIdsOf([...this.openIntents.keys()])) this.booked(clientOrderId).add(tradeId);
    for (const row of loaded.slots) {
      const key = levelKey(row.level);
      const slot = newSlot(row.level, key);
      Object.assign(slot, {
        positionQty: row.positionQty,
        positionCost: row.positionCost,
        entryFees: row.entryFees,
        generation: row.generation,
        postOnlyRejects: row.postOnlyRejects,
      });
      const intent = row.clientOrderId ? this.openIntents.get(row.clientOrderId) : undefined;
      if (intent) {
        slot.status = intent.status === 'PENDING_NEW' ? 'PENDING' : 'LOCKED';
        slot.order = {
          clientOrderId: intent.clientOrderId,
          orderId: intent.orderId,
          side: intent.side as 'BUY' | 'SELL',
          price: intent.price,
          quantity: intent.quantity,
          executedQty: intent.executedQty,
          status: intent.status as IntentStatus,
          reduceOnly: intent.reduceOnly,
        };
      }
      this.slots.set(key, slot);
    }
    this.totals = null;
  }

  private slotFor(level: Dec): Slot {
    const key = levelKey(level);
    let s = this.slots.get(key);
    if (!s) {
      s = newSlot(level, key);
      this.slots.set(key, s);
    }
    return s;
  }

  private async persist(change: StateChange): Promise<void> {
    try {
      await this.store.apply(change);
    } catch (e) {
      throw new FatalError(new Error(`database write failed: ${(e as Error).message}`));
    }
  }

  /**
   * Books an order snapshot (placement answer, lookup or stream event) into the slot its client
   * order id names: new trades first (once per trade id), then the order's state. Ignores orders
   * of other owners or symbols.
   */
  private async applyOrder(order: Order, trades: Fill[]): Promise<void> {
    if (order.symbol !== this.symbol) return;
    const parsed = parseClientOrderId(order.clientOrderId, this.opts.instanceId);
    if (!parsed) return;
    const slot = this.slotFor(levelFromTicks(parsed.levelTicks, this.rules.tickSize));
    const change: StateChange = { slots: [slot] };
    const all = [...order.trades, ...trades];
    for (const t of all) {
      if (await this.isBooked(order.clientOrderId, t.tradeId)) continue;
      const wasOpen = isFilled(slot);
      const realized = applyFill(slot, t);
      this.totals = null;
      if (wasOpen && !realized.isZero()) this.risk.breaker.recordRoundTrip(realized, this.now());
      this.booked(order.clientOrderId).add(t.tradeId);
      this.fillCount++;
      (change.fills ??= []).push({
        tradeId: t.tradeId,
        clientOrderId: order.clientOrderId,
        orderId: order.orderId,
        symbol: this.symbol,
        slotId: `${this.symbol}:${slot.key}`,
        side: t.side,
        price: t.price,
        quantity: t.quantity,
        fee: t.fee,
        feeAsset: t.feeAsset,
        realizedPnl: realized,
        tradeTimeMs: String(t.timestampMs),
        createdAt: new Date(this.now()),
      });
      if (this.strategy) {
        this.strategy.realizedPnl = this.strategy.realizedPnl.plus(realized);
        this.strategy.feesPaid = this.strategy.feesPaid.plus(t.fee);
        change.strategy = this.strategy;
      }
      this.metrics.fillBooked(this.symbol, t.side, t.quantity);
    }
    applyOrderState(slot, { clientOrderId: order.clientOrderId, orderId: order.orderId, status: order.status, executedQty: order.executedQty });
    const intent = this.openIntents.get(order.clientOrderId);
    if (intent && INTENT_RANK[order.status] >= INTENT_RANK[intent.status as IntentStatus]) {
      intent.status = order.status;
      intent.orderId = order.orderId;
      if (order.executedQty.gt(intent.executedQty)) intent.executedQty = order.executedQty;
      change.intentUpdates = [{ clientOrderId: intent.clientOrderId, patch: { status: intent.status, orderId: intent.orderId, executedQty: intent.executedQty } }];
      if (isTerminal(order.status)) {
        this.openIntents.delete(order.clientOrderId);
        this.tradesOfOpen.delete(order.clientOrderId);
      }
    }
    await this.persist(change);
    this.updateGauges();
  }

  private booked(clientOrderId: string): Set<string> {
    let set = this.tradesOfOpen.get(clientOrderId);
    if (!set) {
      set = new Set();
      this.tradesOfOpen.set(clientOrderId, set);
    }
    return set;
  }

  /**
   * Was this execution booked already? For an order with an open intent the in-memory set is complete
   * (seeded from the database at start); for any other order (finished, adopted, or seen again after a
   * reconnect) the database decides.
   */
  private async isBooked(clientOrderId: string, tradeId: string): Promise<boolean> {
    if (this.tradesOfOpen.get(clientOrderId)?.has(tradeId)) return true;
    if (this.openIntents.has(clientOrderId)) return false;
    return this.store.fillExists(tradeId);
  }

  /** Marks an intent final without a venue order (rejected, or never received). Frees its slot. */
  private async closeIntent(clientOrderId: string, status: 'REJECTED' | 'NOT_PLACED', error: string): Promise<void> {
    const intent = this.openIntents.get(clientOrderId);
    this.openIntents.delete(clientOrderId);
    this.tradesOfOpen.delete(clientOrderId);
    const parsed = parseClientOrderId(clientOrderId, this.opts.instanceId);
    const slot = parsed ? this.slots.get(levelKey(levelFromTicks(parsed.levelTicks, this.rules.tickSize))) : undefined;
    if (slot) applyOrderState(slot, { clientOrderId, status });
    await this.persist({
      slots: slot ? [slot] : [],
      intentUpdates: intent ? [{ clientOrderId, patch: { status, error: error.slice(0, 500) } }] : [],
    });
  }

  // ---------------------------------------------------------------- decisions

  private async onTick(): Promise<void> {
    if (this.state !== 'running' || !this.lastPrice || !this.strategy) return;
    const now = this.now();
    await this.riskCheck();
    const dyn = this.opts.dynamicInterval;
    const interval = dyn ? effectiveInterval(this.opts.params.priceInterval, this.risk.monitor?.atr(this.symbol) ?? null, dyn.volatilityScale, this.rules.tickSize) : this.opts.params.priceInterval;
    const inventory = this.inventory();
    const planned = planGrid(this.slots, this.lastPrice, this.strategy.anchorPrice, this.opts.params, this.rules, { ...this.risk.planOptions(now, interval), inventory });
    const positions = new Map([[this.symbol, { qty: inventory, markPrice: this.lastPrice }]]);
    const actions = this.risk.screen(planned, positions, openingOrderNotional(this.slots.values()));
    if (actions.length === 0) return;
    const cancels = actions.filter((a): a is Extract<GridAction, { kind: 'cancel' }> => a.kind === 'cancel');
    const places = actions.filter((a): a is Extract<GridAction, { kind: 'place' }> => a.kind === 'place');
    for (const c of cancels) await this.cancel(c.orderId);
    if (places.length) await this.place(places);
  }

  /** Feeds equity, feed ages and time to the breaker, updates risk gauges, and reacts to transitions. */
  private async riskCheck(): Promise<void> {
    if (this.state !== 'running' || !this.strategy) return;
    const now = this.now();
    const unrealized = this.unrealized();
    this.metrics.markState(this.symbol, unrealized, Math.min(this.priceAgeMs(), 1e9) / 1000);
    const equity = this.equityBase ? this.equityBase.plus(this.strategy.realizedPnl.minus(this.realizedAtStart)).plus(unrealized) : null;
    this.risk.evaluate(now, this.priceAgeMs(), this.orderStreamDownSinceMs ? now - this.orderStreamDownSinceMs : 0, equity);
    await this.react();
  }

  /** Carries out what a risk transition asked for: cancel opening orders (or everything). */
  private async react(): Promise<void> {
    const r = this.risk.takeReaction();
    if (r === 'cancel_opening') await this.cancelWhere((s) => !isExitOrder(s));
    else if (r === 'cancel_all') await this.cancelWhere(() => true);
  }

  private async cancelWhere(pred: (s: Slot) => boolean): Promise<void> {
    for (const s of [...this.slots.values()]) {
      if (s.status === 'LOCKED' && s.order?.orderId && pred(s)) await this.cancel(s.order.orderId);
    }
  }

  private maybeCrash(point: CrashPoint): void {
    this.crashHook(point);
  }

  private async place(actions: Extract<GridAction, { kind: 'place' }>[]): Promise<void> {
    const now = new Date(this.now());
    const intents: IntentRow[] = [];
    const slots: Slot[] = [];
    for (const a of actions) {
      const slot = this.slotFor(a.level);
      slot.generation += 1;
      const clientOrderId = makeClientOrderId(this.opts.instanceId, a.side, slot.level, this.rules.tickSize, slot.generation);
      beginIntent(slot, { clientOrderId, side: a.side, price: a.price, quantity: a.quantity, reduceOnly: a.reduceOnly });
      const intent: IntentRow = {
        clientOrderId,
        symbol: this.symbol,
        slotId: `${this.symbol}:${slot.key}`,
        side: a.side,
        price: a.price,
        quantity: a.quantity,
        reduceOnly: a.reduceOnly,
        postOnly: a.postOnly,
        status: 'PENDING_NEW',
        orderId: null,
        executedQty: ZERO,
        error: null,
        createdAt: now,
        updatedAt: now,
      };
      intents.push(intent);
      slots.push(slot);
      this.openIntents.set(clientOrderId, intent);
    }
    // Durable before anything leaves the process.
    await this.persist({ slots, intents });
    this.maybeCrash('after_intent_commit');
    const started = this.now();
    const results = await Promise.allSettled(
      intents.map((i) =>
        this.executor.placeOrder({
          symbol: this.symbol,
          side: i.side as 'BUY' | 'SELL',
          type: 'LIMIT',
          timeInForce: i.postOnly ? 'GTX' : 'GTC',
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
        await this.applyOrder(r.value, []);
      } else {
        await this.onPlaceError(intent, r.reason);
      }
    }
  }

  private async onPlaceError(intent: IntentRow, err: unknown): Promise<void> {
    const e = err instanceof VenueError ? err : new VenueError('INTERNAL', String((err as Error)?.message ?? err));
    if (e.code === 'ALREADY_EXISTS') return this.resolveIntent(intent.clientOrderId);
    if (e.retryable || e.code === 'INTERNAL') {
      // Outcome unknown: keep PENDING; the reconciler looks the client order id up.
      this.log.warn(`place ${intent.clientOrderId} outcome unknown (${e.code}: ${e.message}); will look it up`);
      return;
    }
    if (e.reason === 'POST_ONLY_WOULD_TAKE') {
      const slot = this.slots.get(intent.slotId.slice(this.symbol.length + 1));
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
    await this.closeIntent(intent.clientOrderId, 'REJECTED', `${e.code}: ${e.message}`);
  }

  private async cancel(orderId: string): Promise<void> {
    try {
      const final = await this.executor.cancelOrder(this.symbol, orderId);
      await this.applyOrder(final, []);
    } catch (e) {
      if (isVenueError(e, 'NOT_FOUND') || isVenueError(e, 'FAILED_PRECONDITION')) {
        await this.applyOrder(await this.exchange.getOrder(this.symbol, { orderId }), []);
      } else {
        this.log.warn(`cancel ${orderId} failed: ${(e as Error).message}`);
      }
    }
  }

  // ---------------------------------------------------------------- recovery & reconciliation

  /** Looks an intent up by client order id: adopt what the venue has, or mark it NOT_PLACED. */
  private async resolveIntent(clientOrderId: string): Promise<void> {
    try {
      const order = await this.exchange.getOrder(this.symbol, { clientOrderId });
      await this.applyOrder(order, []);
    } catch (e) {
      if (isVenueError(e, 'NOT_FOUND')) await this.closeIntent(clientOrderId, 'NOT_PLACED', 'venue has no order with this client order id');
      else throw e;
    }
  }

  /** Startup and after every order-stream reconnect: resolve every open intent, then reconcile fully. */
  private async recover(): Promise<void> {
    for (const cid of [...this.openIntents.keys()]) await this.resolveIntent(cid);
    await this.reconcile(true);
  }

  /**
   * Reconciliation (periodic, after every reconnect, and on demand), in this order:
   * 1. intents unanswered for longer than `pendingTimeoutMs` are looked up by client order id;
   * 2. venue orders vs slots: our order no slot owns is adopted when its slot is free and the order
   *    fits it (a BUY on a flat/short slot, a SELL on a long one), else cancelled; orders of other
   *    owners are cancelled only with `cancelForeignOrders`; a slot's live order the venue no longer
   *    lists is looked up (it filled or was cancelled unseen — fills are booked as fills);
   * 3. the order cleaner (count cap, age) over our live orders;
   * 4. position: venue size vs Σ slot inventory. A difference must be seen twice in a row (fills in
   *    flight cause transient ones). Below `reconcileTolerancePct` it is corrected deterministically
   *    (see `correctInventory`); above, the breaker trips.
   */
  private async reconcile(full = false): Promise<void> {
    if (this.state !== 'running' && this.state !== 'recovering') return;
    const result: ReconciliationResult = { atMs: this.now(), venuePosition: '0', localPosition: '0', divergence: '0', action: 'none', adopted: 0, orphansCancelled: 0, foreignCancelled: 0, lookedUp: 0, cleaned: 0 };
    const cutoff = this.now() - this.opts.pendingTimeoutMs;
    for (const i of [...this.openIntents.values()]) {
      if (i.status === 'PENDING_NEW' && (full || i.createdAt.getTime() < cutoff)) {
        await this.resolveIntent(i.clientOrderId);
        result.lookedUp++;
      }
    }
    await this.sweepVenueOrders(result);
    result.cleaned = await this.clean();
    await this.checkPosition(result);
    await this.store.checkpoint();
    this.lastReconciliation = result;
    if (full) this.log.log(`reconciled: adopted ${result.adopted}, cancelled ${result.orphansCancelled} orphan + ${result.foreignCancelled} foreign, looked up ${result.lookedUp}, divergence ${result.divergence} (${result.action})`);
  }

  private async sweepVenueOrders(result: ReconciliationResult): Promise<void> {
    const lockedBefore = [...this.slots.values()].filter((s) => s.status === 'LOCKED' && s.order?.orderId);
    const open = await this.exchange.getOpenOrders(this.symbol);
    const openIds = new Set(open.map((o) => o.orderId));
    const owned = new Set([...this.slots.values()].map((s) => s.order?.clientOrderId).filter(Boolean));
    for (const o of open) {
      if (owned.has(o.clientOrderId)) continue;
      const parsed = parseClientOrderId(o.clientOrderId, this.opts.instanceId);
      if (!parsed) {
        if (this.opts.cancelForeignOrders) {
          this.log.warn(`foreign order ${o.clientOrderId || o.orderId} on ${this.symbol}: cancelling (cancel_foreign_orders)`);
          await this.cancel(o.orderId);
          result.foreignCancelled++;
        }
        continue;
      }
      if (await this.adopt(o, parsed.generation)) {
        result.adopted++;
        continue;
      }
      this.log.warn(`orphan order ${o.clientOrderId} (${o.orderId}) on the venue: cancelling`);
      await this.applyOrder(o, []);
      await this.cancel(o.orderId);
      result.orphansCancelled++;
    }
    for (const s of lockedBefore) {
      const o = s.order;
      if (o?.orderId && s.order === o && !openIds.has(o.orderId)) {
        await this.applyOrder(await this.exchange.getOrder(this.symbol, { orderId: o.orderId }), []);
        result.lookedUp++;
      }
    }
  }

  /** Takes over one of our orders found on the venue when its slot is free and the order fits it. */
  private async adopt(o: Order, generation: number): Promise<boolean> {
    const parsed = parseClientOrderId(o.clientOrderId, this.opts.instanceId)!;
    const slot = this.slotFor(levelFromTicks(parsed.levelTicks, this.rules.tickSize));
    if (slot.status !== 'FREE') return false;
    const fits = o.side === 'BUY' ? slot.positionQty.lte(0) : slot.positionQty.gte(0);
    if (!fits) return false;
    const reduceOnly = o.side === 'BUY' ? slot.positionQty.lt(0) : slot.positionQty.gt(0);
    const now = new Date(this.now());
    const intent: IntentRow = {
      clientOrderId: o.clientOrderId,
      symbol: this.symbol,
      slotId: `${this.symbol}:${slot.key}`,
      side: o.side,
      price: o.price,
      quantity: o.quantity,
      reduceOnly,
      postOnly: !reduceOnly,
      status: 'PENDING_NEW',
      orderId: null,
      executedQty: ZERO,
      error: 'adopted from the venue',
      createdAt: new Date(o.createdAtMs || now.getTime()),
      updatedAt: now,
    };
    slot.generation = Math.max(slot.generation, generation);
    beginIntent(slot, { clientOrderId: o.clientOrderId, side: o.side, price: o.price, quantity: o.quantity, reduceOnly });
    this.openIntents.set(o.clientOrderId, intent);
    for (const t of await this.store.tradeIdsOf([o.clientOrderId])) this.booked(o.clientOrderId).add(t.tradeId);
    const existing = await this.store.intent(o.clientOrderId);
    await this.persist({ slots: [slot], intents: existing ? [] : [intent] });
    if (existing) this.openIntents.set(o.clientOrderId, { ...existing, status: 'PENDING_NEW' });
    await this.applyOrder(o, []);
    this.log.warn(`adopted our order ${o.clientOrderId} (${o.orderId}) into slot ${slot.key}`);
    return true;
  }

  /** Order cleaner over our live orders (count cap and age); returns how many it cancelled. */
  private async clean(): Promise<number> {
    const c = this.opts.cleaner;
    const live = [...this.slots.values()].filter((s) => s.status === 'LOCKED' && s.order?.orderId);
    const orders = live.map((s) => ({
      orderId: s.order!.orderId!,
      side: s.order!.side,
      price: s.order!.price,
      status: (s.order!.status === 'PARTIALLY_FILLED' ? 'PARTIALLY_FILLED' : 'NEW') as 'NEW' | 'PARTIALLY_FILLED',
      createdAtMs: this.openIntents.get(s.order!.clientOrderId)?.createdAt.getTime() ?? this.now(),
      reduceOnly: isExitOrder(s),
    }));
    const plan = planCleanup(orders, { maxOpenOrders: c.maxOpenOrders, maxOrderAgeMs: c.maxOrderAgeMs, cancelPartiallyFilled: c.cancelPartiallyFilled }, this.now());
    for (const id of plan.cancel) await this.cancel(id);
    return plan.cancel.length;
  }

  private async checkPosition(result: ReconciliationResult): Promise<void> {
    const positions = await this.exchange.getPositions(this.symbol);
    const venue = positions.find((p) => p.symbol === this.symbol)?.size ?? ZERO;
    const local = this.inventory();
    const diff = venue.minus(local);
    result.venuePosition = venue.toString();
    result.localPosition = local.toString();
    result.divergence = diff.toString();
    this.metrics.divergence(this.symbol, diff);
    if (diff.isZero()) {
      this.pendingDivergence = null;
      return;
    }
    if (this.pendingDivergence !== diff.toString()) {
      this.pendingDivergence = diff.toString();
      result.action = 'awaiting_confirmation';
      return;
    }
    this.pendingDivergence = null;
    const pct = diff.abs().div(Dec.max(venue.abs(), this.rules.stepSize)).mul(100);
    const detail = `venue position ${venue} vs local inventory ${local} (${pct.toDecimalPlaces(2)} %)`;
    this.alerts.notify({ kind: 'reconciliation_divergence', level: 'WARNING', title: 'Position divergence', message: detail, dedupeKey: `divergence:${diff}` });
    if (pct.lt(this.opts.reconcileTolerancePct)) {
      await this.correctInventory(diff);
      result.action = 'corrected';
      this.log.warn(`corrected inventory: ${detail}`);
    } else {
      this.risk.breaker.tripReconciliation(detail, this.now());
      await this.react();
      result.action = 'breaker_tripped';
    }
  }

  /**
   * Deterministic inventory correction for a small divergence `diff` = venue − local (base units).
   * Only FREE slots change. diff > 0: reduce shorts (lowest level first), then add longs to flat slots
   * at the buy levels below the last price (highest first, one order size each). diff < 0: reduce
   * longs (highest level first), then add shorts to flat slots above the price (lowest first). Added
   * inventory is costed at its slot level; realized PnL is not touched.
   */
  private async correctInventory(diff: Dec): Promise<void> {
    let rest = diff.abs();
    const up = diff.gt(0);
    const free = [...this.slots.values()].filter((s) => s.status === 'FREE');
    const reducible = free.filter((s) => (up ? s.positionQty.lt(0) : s.positionQty.gt(0))).sort((a, b) => (up ? a.level.comparedTo(b.level) : b.level.comparedTo(a.level)));
    const changed: Slot[] = [];
    for (const s of reducible) {
      if (rest.isZero()) break;
      const take = Dec.min(rest, s.positionQty.abs());
      const share = take.div(s.positionQty.abs());
      s.positionCost = s.positionCost.minus(s.positionCost.mul(share));
      s.entryFees = s.entryFees.minus(s.entryFees.mul(share));
      s.positionQty = up ? s.positionQty.plus(take) : s.positionQty.minus(take);
      rest = rest.minus(take);
      changed.push(s);
    }
    const price = this.lastPrice ?? this.strategy?.anchorPrice ?? ZERO;
    const I = this.opts.params.priceInterval;
    for (let k = 1; !rest.isZero() && k <= 1000; k++) {
      const level = up ? price.minus(price.mod(I)).minus(I.mul(k - 1)) : price.minus(price.mod(I)).plus(I.mul(k));
      if (!level.gt(0)) break;
      const s = this.slotFor(level);
      if (s.status !== 'FREE' || isFilled(s)) continue;
      const chunk = quantityForNotional(this.opts.params.orderNotional, level, this.rules, ZERO) ?? rest;
      const take = Dec.min(rest, chunk);
      s.positionQty = up ? take : take.neg();
      s.positionCost = level.mul(take);
      rest = rest.minus(take);
      changed.push(s);
    }
    this.totals = null;
    await this.persist({ slots: changed });
  }

  // ---------------------------------------------------------------- reporting

  private updateGauges(): void {
    this.metrics.gridState(this.symbol, this.inventory(), [...this.slots.values()].filter((s) => s.status !== 'FREE').length, this.strategy?.realizedPnl ?? null);
  }

  /**
   * Unrealized PnL of the slots' inventory at the last price, quote: Σ long (qty·P − cost) + Σ short
   * (cost − |qty|·P) = P · Σ qty − (Σ long cost − Σ short cost).
   */
  unrealized(): Dec {
    const p = this.lastPrice;
    if (!p) return ZERO;
    const t = this.inventoryTotals();
    return p.mul(t.qty).minus(t.cost);
  }

  /** Σ slot inventory, base units. */
  inventory(): Dec {
    return this.inventoryTotals().qty;
  }

  private inventoryTotals(): { qty: Dec; cost: Dec } {
    if (!this.totals) {
      let qty = ZERO;
      let cost = ZERO;
      for (const s of this.slots.values()) {
        if (s.positionQty.isZero()) continue;
        qty = qty.plus(s.positionQty);
        cost = s.positionQty.gt(0) ? cost.plus(s.positionCost) : cost.minus(s.positionCost);
      }
      this.totals = { qty, cost };
    }
    return this.totals;
  }

  /** Age of the last price tick, ms (Infinity before the first). */
  priceAgeMs(): number {
    return this.lastPriceAtMs ? this.now() - this.lastPriceAtMs : Number.POSITIVE_INFINITY;
  }

  /** Snapshot for `/status`. Decimals as strings. */
  snapshot() {
    const slots = [...this.slots.values()];
    const count = (st: string) => slots.filter((s) => s.status === st).length;
    const priceAge = this.priceAgeMs();
    return {
      state: this.state,
      lastError: this.lastError || undefined,
      symbol: this.symbol,
      instanceId: this.opts.instanceId,
      anchorPrice: this.strategy?.anchorPrice.toString() ?? null,
      lastPrice: this.lastPrice?.toString() ?? null,
      priceFeed: { connected: this.priceStreamUp, ageMs: Number.isFinite(priceAge) ? priceAge : null, stale: priceAge > this.opts.stalePriceMs },
      orderStream: { connected: this.orderStreamUp, reconnects: this.reconnects, lastEventAgeMs: this.lastOrderEventAtMs ? this.now() - this.lastOrderEventAtMs : null },
      slots: { total: slots.length, free: count('FREE'), pending: count('PENDING'), locked: count('LOCKED'), filled: slots.filter((s) => s.positionQty.gt(0)).length },
      openIntents: this.openIntents.size,
      inventory: this.inventory().toString(),
      unrealizedPnl: this.unrealized().toString(),
      realizedPnl: this.strategy?.realizedPnl.toString() ?? '0',
      feesPaid: this.strategy?.feesPaid.toString() ?? '0',
      fills: this.fillCount,
      risk: this.risk.snapshot(),
      reconciliation: this.lastReconciliation,
      executorRetries: this.executor.retries,
    };
  }

  /** Slots with their live orders, for the operator view. */
  listSlots() {
    return [...this.slots.values()]
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

class FatalError extends Error {
  constructor(cause: Error) {
    super(cause.message);
    this.cause = cause;
  }
}
