import { Logger } from '@nestjs/common';
import {
  Dec,
  type ExchangeVenue,
  type Fill,
  type Order,
  type OrderEvent,
  type SymbolRules,
  type Unsubscribe,
  VenueError,
  ZERO,
  isTerminal,
  isVenueError,
  roundToIncrement,
  sum,
} from '@mm/domain';
import {
  type GridAction,
  type GridParams,
  type IntentStatus,
  type Slot,
  applyFill,
  applyOrderState,
  beginIntent,
  levelFromTicks,
  levelKey,
  makeClientOrderId,
  newSlot,
  parseClientOrderId,
  planGrid,
  validateGrid,
} from '@mm/grid';
import type { FillRow, IntentRow, StrategyRow } from '../persistence/entities';
import { GridStore, type StateChange } from '../persistence/grid.store';
import type { MmMetrics } from '../http/mm.metrics';

export type EngineState = 'starting' | 'recovering' | 'running' | 'stopped' | 'failed';

export interface EngineOptions {
  instanceId: string;
  params: GridParams;
  makerFee: Dec;
  reconcileIntervalMs: number;
  /** An intent unanswered for this long (ms) is looked up on the venue. */
  pendingTimeoutMs: number;
  stalePriceMs: number;
}

const INTENT_RANK: Record<IntentStatus, number> = {
  PENDING_NEW: 0,
  NEW: 1,
  PARTIALLY_FILLED: 2,
  FILLED: 3,
  CANCELED: 3,
  REJECTED: 3,
  EXPIRED: 3,
  NOT_PLACED: 3,
};

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
  private readonly log = new Logger('GridEngine');
  private readonly slots = new Map<string, Slot>();
  /** Intents that are not terminal yet, by client order id. */
  private readonly openIntents = new Map<string, IntentRow>();
  private readonly recentTradeIds = new Set<string>();
  private strategy: StrategyRow | null = null;
  private rules!: SymbolRules;
  private chain: Promise<void> = Promise.resolve();
  private tickQueued = false;
  private lastPrice: Dec | null = null;
  private lastPriceAtMs = 0;
  private lastOrderEventAtMs = 0;
  private orderStreamUp = false;
  private priceStreamUp = false;
  private reconnects = 0;
  private marginLockUntilMs = 0;
  private fillCount = 0;
  private unsubs: Unsubscribe[] = [];
  private timer?: NodeJS.Timeout;
  state: EngineState = 'starting';
  lastError = '';

  constructor(
    private readonly exchange: ExchangeVenue,
    private readonly store: GridStore,
    private readonly opts: EngineOptions,
    private readonly metrics: MmMetrics,
    private readonly onFatal: (err: Error) => void,
  ) {}

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
    await this.enqueue('anchor', async () => {
      validateGrid(this.opts.params, this.rules, price, this.opts.makerFee);
      if (!this.strategy) {
        this.strategy = GridStore.emptyStrategy(this.symbol, roundToIncrement(price, this.rules.tickSize, 'down'));
        await this.persist({ strategy: this.strategy });
      }
      this.lastPrice = price;
      this.lastPriceAtMs = Date.now();
    });
    this.unsubs.push(
      this.exchange.watchPrice(this.symbol, {
        next: (t) => {
          this.lastPrice = t.price;
          this.lastPriceAtMs = Date.now();
          this.scheduleTick();
        },
        subscribed: () => {
          this.priceStreamUp = true;
        },
        error: (e) => this.fail(e),
      }),
    );
    this.timer = setInterval(() => this.enqueue('reconcile', () => this.reconcile()), this.opts.reconcileIntervalMs);
    this.timer.unref();
    this.state = 'running';
    this.log.log(`running ${this.symbol}: anchor ${this.strategy?.anchorPrice}, ${this.slots.size} slots, ${this.openIntents.size} open intents`);
    this.scheduleTick();
  }

  /** Stops quoting; optionally cancels all orders of the symbol first. Waits for the queue to drain. */
  async stop(cancelAll: boolean): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    if (this.timer) clearInterval(this.timer);
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

  /** Resolves when every queued task has run (tests, shutdown). */
  idle(): Promise<void> {
    return this.chain;
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
    this.lastOrderEventAtMs = Date.now();
    void this.enqueue('order-event', () => this.applyOrder(e.order, e.lastTrade ? [e.lastTrade] : []));
  }

  // ---------------------------------------------------------------- state

  private async hydrate(): Promise<void> {
    const loaded = await this.store.load();
    this.strategy = loaded.strategy;
    for (const i of loaded.openIntents) this.openIntents.set(i.clientOrderId, i);
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
      if (this.recentTradeIds.has(t.tradeId) || (await this.store.fillExists(t.tradeId))) continue;
      const realized = applyFill(slot, t);
      this.rememberTrade(t.tradeId);
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
        createdAt: new Date(),
      });
      if (this.strategy) {
        this.strategy.realizedPnl = this.strategy.realizedPnl.plus(realized);
        this.strategy.feesPaid = this.strategy.feesPaid.plus(t.fee);
        change.strategy = this.strategy;
      }
      this.metrics.onFill(this.symbol, t.side, t.quantity);
    }
    applyOrderState(slot, { clientOrderId: order.clientOrderId, orderId: order.orderId, status: order.status, executedQty: order.executedQty });
    const intent = this.openIntents.get(order.clientOrderId);
    if (intent && INTENT_RANK[order.status] >= INTENT_RANK[intent.status as IntentStatus]) {
      intent.status = order.status;
      intent.orderId = order.orderId;
      if (order.executedQty.gt(intent.executedQty)) intent.executedQty = order.executedQty;
      change.intentUpdates = [{ clientOrderId: intent.clientOrderId, patch: { status: intent.status, orderId: intent.orderId, executedQty: intent.executedQty } }];
      if (isTerminal(order.status)) this.openIntents.delete(order.clientOrderId);
    }
    await this.persist(change);
    this.updateGauges();
  }

  private rememberTrade(id: string): void {
    if (this.recentTradeIds.size > 50_000) this.recentTradeIds.clear();
    this.recentTradeIds.add(id);
  }

  /** Marks an intent final without a venue order (rejected, or never received). Frees its slot. */
  private async closeIntent(clientOrderId: string, status: 'REJECTED' | 'NOT_PLACED', error: string): Promise<void> {
    const intent = this.openIntents.get(clientOrderId);
    this.openIntents.delete(clientOrderId);
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
    let actions = planGrid(this.slots, this.lastPrice, this.strategy.anchorPrice, this.opts.params, this.rules);
    if (Date.now() < this.marginLockUntilMs) actions = actions.filter((a) => a.kind === 'cancel' || a.side === 'SELL');
    if (actions.length === 0) return;
    const cancels = actions.filter((a): a is Extract<GridAction, { kind: 'cancel' }> => a.kind === 'cancel');
    const places = actions.filter((a): a is Extract<GridAction, { kind: 'place' }> => a.kind === 'place');
    for (const c of cancels) await this.cancel(c.orderId);
    if (places.length) await this.place(places);
  }

  private async place(actions: Extract<GridAction, { kind: 'place' }>[]): Promise<void> {
    const now = new Date();
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
    const started = Date.now();
    const results = await Promise.allSettled(
      intents.map((i) =>
        this.exchange.placeOrder({
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
    this.metrics.exchangeLatency.observe({ operation: 'PlaceOrder' }, (Date.now() - started) / Math.max(1, intents.length));
    for (let k = 0; k < results.length; k++) {
      const r = results[k];
      const intent = intents[k];
      if (r.status === 'fulfilled') {
        this.metrics.ordersPlaced.inc({ symbol: this.symbol, side: intent.side });
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
      this.metrics.rejected.inc({ symbol: this.symbol, reason: 'post_only' });
    } else if (e.reason === 'INSUFFICIENT_MARGIN') {
      this.marginLockUntilMs = Date.now() + 10_000;
      this.metrics.rejected.inc({ symbol: this.symbol, reason: 'margin' });
      this.log.warn(`insufficient margin: opening orders paused for 10 s`);
    } else {
      this.metrics.rejected.inc({ symbol: this.symbol, reason: 'other' });
      this.log.warn(`place ${intent.clientOrderId} rejected: ${e.code} ${e.message}`);
    }
    await this.closeIntent(intent.clientOrderId, 'REJECTED', `${e.code}: ${e.message}`);
  }

  private async cancel(orderId: string): Promise<void> {
    try {
      const final = await this.exchange.cancelOrder(this.symbol, orderId);
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

  /** Startup and after every order-stream reconnect: resolve every open intent, then sweep orphans. */
  private async recover(): Promise<void> {
    for (const cid of [...this.openIntents.keys()]) await this.resolveIntent(cid);
    await this.sweepVenueOrders(true);
  }

  /** Periodic: look up intents unanswered for too long, and compare live orders with the venue's. */
  private async reconcile(): Promise<void> {
    if (this.state !== 'running') return;
    const cutoff = Date.now() - this.opts.pendingTimeoutMs;
    for (const i of [...this.openIntents.values()]) {
      if (i.status === 'PENDING_NEW' && i.createdAt.getTime() < cutoff) await this.resolveIntent(i.clientOrderId);
    }
    await this.sweepVenueOrders(false);
  }

  /**
   * Venue open orders vs slots. Our order that no slot owns → cancel it (its fills are booked first).
   * A slot's live order missing from the venue → look it up (it filled or was cancelled unseen).
   */
  private async sweepVenueOrders(full: boolean): Promise<void> {
    const lockedBefore = [...this.slots.values()].filter((s) => s.status === 'LOCKED' && s.order?.orderId);
    const open = await this.exchange.getOpenOrders(this.symbol);
    const openIds = new Set(open.map((o) => o.orderId));
    const owned = new Set([...this.slots.values()].map((s) => s.order?.clientOrderId).filter(Boolean));
    for (const o of open) {
      if (!parseClientOrderId(o.clientOrderId, this.opts.instanceId) || owned.has(o.clientOrderId)) continue;
      this.log.warn(`orphan order ${o.clientOrderId} (${o.orderId}) on the venue: cancelling`);
      await this.applyOrder(o, []);
      await this.cancel(o.orderId);
    }
    for (const s of lockedBefore) {
      const o = s.order;
      if (o?.orderId && s.order === o && !openIds.has(o.orderId)) {
        await this.applyOrder(await this.exchange.getOrder(this.symbol, { orderId: o.orderId }), []);
      }
    }
    if (full) this.log.log(`reconciled: ${open.length} venue orders, ${this.openIntents.size} open intents`);
  }

  // ---------------------------------------------------------------- reporting

  private updateGauges(): void {
    this.metrics.positionSize.set({ symbol: this.symbol }, this.inventory().toNumber());
    this.metrics.ordersActive.set({ symbol: this.symbol }, [...this.slots.values()].filter((s) => s.status !== 'FREE').length);
    if (this.strategy) this.metrics.pnlRealized.set({ symbol: this.symbol }, this.strategy.realizedPnl.toNumber());
  }

  /** Σ slot inventory, base units. */
  inventory(): Dec {
    return sum([...this.slots.values()].map((s) => s.positionQty));
  }

  /** Age of the last price tick, ms (Infinity before the first). */
  priceAgeMs(): number {
    return this.lastPriceAtMs ? Date.now() - this.lastPriceAtMs : Number.POSITIVE_INFINITY;
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
      orderStream: { connected: this.orderStreamUp, reconnects: this.reconnects, lastEventAgeMs: this.lastOrderEventAtMs ? Date.now() - this.lastOrderEventAtMs : null },
      slots: { total: slots.length, free: count('FREE'), pending: count('PENDING'), locked: count('LOCKED'), filled: slots.filter((s) => s.positionQty.gt(0)).length },
      openIntents: this.openIntents.size,
      inventory: this.inventory().toString(),
      realizedPnl: this.strategy?.realizedPnl.toString() ?? '0',
      feesPaid: this.strategy?.feesPaid.toString() ?? '0',
      fills: this.fillCount,
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
