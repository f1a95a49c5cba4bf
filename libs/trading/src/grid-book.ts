import {
  Dec,
  type Fill,
  type Order,
  type Side,
  type SymbolRules,
  ZERO,
  isTerminal,
} from '@mm/domain';
import {
  INTENT_RANK,
  type IntentStatus,
  type ParsedClientOrderId,
  type Slot,
  applyFill,
  applyOrderState,
  beginIntent,
  isFilled,
  levelFromTicks,
  levelKey,
  newSlot,
  parseClientOrderId,
} from '@mm/grid';
import type { EngineMetrics, EngineStateStore } from './ports';
import { AverageCostLedger } from './average-cost';
import type { IntentRow, StateChange, StrategyRow } from './state';

/** Most parsed client order ids a book remembers (then the memo starts over). */
const PARSE_CACHE_MAX = 4096;

/** A failed durable write: the engine stops (crash-only; a restart recovers from the store and the venue). */
export class FatalError extends Error {
  constructor(cause: Error) {
    super(cause.message);
    this.cause = cause;
  }
}

/**
 * Why a venue order does not match the intent behind its client order id, or null when it does.
 * Compared: symbol, side, type (ours are LIMIT), quantity, price, the venue order id once known, and
 * the reduce-only / post-only flags where reported (a venue that does not report a flag answers
 * false, so only a flag we did not ask for counts). Values compare as decimals (`1.0` = `1`).
 */
export function intentMismatch(intent: IntentRow, o: Order): string | null {
  if (o.symbol !== intent.symbol) return `symbol ${o.symbol} ≠ ${intent.symbol}`;
  if (o.side !== intent.side) return `side ${o.side} ≠ ${intent.side}`;
  if (o.type && o.type !== 'LIMIT') return `type ${o.type} ≠ LIMIT`;
  if (!o.quantity.eq(intent.quantity)) return `quantity ${o.quantity} ≠ ${intent.quantity}`;
  if (!o.price.eq(intent.price)) return `price ${o.price} ≠ ${intent.price}`;
  if (intent.orderId && o.orderId && o.orderId !== intent.orderId) return `order id ${o.orderId} ≠ ${intent.orderId}`;
  if (o.reduceOnly && !intent.reduceOnly) return 'reduce-only not requested';
  if (o.postOnly && !intent.postOnly) return 'post-only not requested';
  return null;
}

/** A venue order under one of our client order ids that is not the order we meant (see `intentMismatch`). */
export interface ForeignOrderEvent {
  order: Order;
  /** 'place' | 'lookup' | 'stream' | 'adopt'. */
  where: string;
  detail: string;
}

/** What an intent is for: the order the engine means to have on the venue for one slot. */
export interface IntentSpec {
  clientOrderId: string;
  side: Side;
  price: Dec;
  quantity: Dec;
  reduceOnly: boolean;
  postOnly: boolean;
  /** When the intent was made (Unix ms); for an adopted order, when the venue created it. */
  createdAtMs: number;
  /** Note stored with the intent (e.g. 'adopted from the venue'). */
  note?: string | null;
}

/**
 * Fill and intent bookkeeping of one symbol's grid: the slots, the open intents, the strategy totals
 * and the durable writes behind them. Books each venue trade once (by trade id), moves intents and
 * slots through their states, and keeps inventory totals. Every intent is made by `openIntent`.
 * Used only from the engine's serialized queue.
 */
export class GridBook {
  readonly slots = new Map<string, Slot>();
  /** Intents that are not terminal yet, by client order id. */
  readonly openIntents = new Map<string, IntentRow>();
  /** Booked trade ids per open intent: fills of orders we track are deduplicated in memory. */
  private readonly tradesOfOpen = new Map<string, Set<string>>();
  strategy: StrategyRow | null = null;
  rules!: SymbolRules;
  fillCount = 0;
  /** Venue-method (average-cost) realized PnL of the fills booked, fees excluded (the engine seeds it with the venue position at start). */
  readonly venuePnl = new AverageCostLedger();
  /** Client-order-id secret (set by the engine before `hydrate`). */
  secret = '';
  /** Client order ids found held by a foreign order: never booked, adopted or cancelled as ours. */
  readonly foreignIds = new Set<string>();
  foreignCount = 0;
  /** Told about every foreign order found (the engine alerts, counts and trips the breaker). */
  onForeign: (e: ForeignOrderEvent) => void = () => undefined;
  /** Σ inventory (base) and Σ signed cost (long cost − short cost, quote); recomputed only after inventory changes. */
  private totals: { qty: Dec; cost: Dec } | null = null;

  constructor(
    readonly symbol: string,
    private readonly instanceId: string,
    private readonly store: EngineStateStore,
    private readonly metrics: EngineMetrics,
    private readonly now: () => number,
    /** Called with the realized PnL of each fill that closes inventory (feeds the breaker's loss checks). */
    private readonly onRoundTrip: (realized: Dec, nowMs: number) => void,
  ) {}

  /** Inventory changed outside `applyOrder` (corrections): recompute totals on next read. */
  invalidateTotals(): void {
    this.totals = null;
  }

  /** Parses and verifies one of our client order ids (`undefined` for anything else). */
  parse(clientOrderId: string): Readonly<ParsedClientOrderId> | undefined {
    // Memoized (the HMAC check costs more than the rest of an order event); keyed by secret too,
    // since the engine sets it after construction. Bounded: cleared when full.
    if (this.parsedSecret !== this.secret) {
      this.parsed.clear();
      this.parsedSecret = this.secret;
    }
    if (this.parsed.has(clientOrderId)) return this.parsed.get(clientOrderId);
    const r = parseClientOrderId(clientOrderId, this.instanceId, this.secret);
    if (this.parsed.size >= PARSE_CACHE_MAX) this.parsed.clear();
    this.parsed.set(clientOrderId, r ? Object.freeze(r) : undefined);
    return r;
  }
  private readonly parsed = new Map<string, Readonly<ParsedClientOrderId> | undefined>();
  private parsedSecret = '';

  /** Records a foreign order under one of our ids and tells the engine. */
  markForeign(order: Order, where: string, detail: string): void {
    this.foreignIds.add(order.clientOrderId);
    this.foreignCount++;
    this.onForeign({ order, where, detail });
  }

  /** Calls of the methods that may change slots or intents (the engine's quiet band is kept per value). */
  mutations = 0;

  /** Slot row id of a slot. */
  slotId(slot: Slot): string {
    return `${this.symbol}:${slot.key}`;
  }

  /**
   * The one intent factory: starts the slot's intent and returns the row to persist (PENDING_NEW,
   * not yet executed), registered as open. The caller persists it before the order leaves.
   */
  openIntent(slot: Slot, spec: IntentSpec): IntentRow {
    this.mutations++;
    beginIntent(slot, { clientOrderId: spec.clientOrderId, side: spec.side, price: spec.price, quantity: spec.quantity, reduceOnly: spec.reduceOnly });
    const intent: IntentRow = {
      clientOrderId: spec.clientOrderId,
      symbol: this.symbol,
      slotId: this.slotId(slot),
      side: spec.side,
      price: spec.price,
      quantity: spec.quantity,
      reduceOnly: spec.reduceOnly,
      postOnly: spec.postOnly,
      status: 'PENDING_NEW',
      orderId: null,
      executedQty: ZERO,
      error: spec.note ?? null,
      createdAt: new Date(spec.createdAtMs),
      updatedAt: new Date(this.now()),
    };
    this.openIntents.set(spec.clientOrderId, intent);
    return intent;
  }

  async hydrate(): Promise<void> {
    this.mutations++;
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

  slotFor(level: Dec): Slot {
    this.mutations++;
    const key = levelKey(level);
    let s = this.slots.get(key);
    if (!s) {
      s = newSlot(level, key);
      this.slots.set(key, s);
    }
    return s;
  }

  async persist(change: StateChange): Promise<void> {
    try {
      await this.store.apply(change);
    } catch (e) {
      throw new FatalError(new Error(`database write failed: ${(e as Error).message}`));
    }
  }

  /**
   * Books an order snapshot (placement answer, lookup or stream event) into the slot its client
   * order id names: new trades first (once per trade id), then the order's state. Ignores orders
   * of other owners or symbols. Never trusts the answer: it must match the open intent of its client
   * order id (or, for an order no longer open, the stored intent); a mismatch is a foreign order —
   * not booked, its intent closed, reported through `onForeign`. An order of ours the store has no
   * intent for (e.g. left on the venue from before a fresh database) is not booked into any slot:
   * the position reconciliation accounts for it.
   * @param where what produced the snapshot ('place' | 'lookup' | 'stream' | 'adopt'), for reports.
   */
  async applyOrder(order: Order, trades: Fill[], where = 'stream'): Promise<void> {
    this.mutations++;
    if (order.symbol !== this.symbol) {
      // An answer for our client order id on another symbol (venues with account-wide ids) is foreign.
      const mine = this.openIntents.get(order.clientOrderId);
      if (mine && !this.foreignIds.has(order.clientOrderId)) {
        this.markForeign(order, where, `symbol ${order.symbol} ≠ ${this.symbol}`);
        await this.closeIntent(order.clientOrderId, 'REJECTED', `foreign order holds this client order id: symbol ${order.symbol}`);
      }
      return;
    }
    const parsed = this.parse(order.clientOrderId);
    if (!parsed) return;
    if (this.foreignIds.has(order.clientOrderId)) return;
    const open = this.openIntents.get(order.clientOrderId);
    const known = open ?? (await this.store.intent(order.clientOrderId));
    if (!known) return;
    const why = intentMismatch(known, order);
    if (why) {
      this.markForeign(order, where, why);
      if (open) await this.closeIntent(order.clientOrderId, 'REJECTED', `foreign order holds this client order id: ${why}`);
      return;
    }
    const slot = this.slotFor(levelFromTicks(parsed.levelTicks, this.rules.tickSize));
    const change: StateChange = { slots: [slot] };
    const all = [...order.trades, ...trades];
    for (const t of all) {
      if (await this.isBooked(order.clientOrderId, t.tradeId)) continue;
      const wasOpen = isFilled(slot);
      const realized = applyFill(slot, t);
      this.venuePnl.apply(t.side, t.quantity, t.price);
      this.totals = null;
      if (wasOpen && !realized.isZero()) this.onRoundTrip(realized, this.now());
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

  booked(clientOrderId: string): Set<string> {
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
  async isBooked(clientOrderId: string, tradeId: string): Promise<boolean> {
    if (this.tradesOfOpen.get(clientOrderId)?.has(tradeId)) return true;
    if (this.openIntents.has(clientOrderId)) return false;
    return this.store.fillExists(tradeId);
  }

  /** Marks an intent final without a venue order (rejected, or never received). Frees its slot. */
  async closeIntent(clientOrderId: string, status: 'REJECTED' | 'NOT_PLACED', error: string): Promise<void> {
    this.mutations++;
    const intent = this.openIntents.get(clientOrderId);
    this.openIntents.delete(clientOrderId);
    this.tradesOfOpen.delete(clientOrderId);
    const parsed = this.parse(clientOrderId);
    const slot = parsed ? this.slots.get(levelKey(levelFromTicks(parsed.levelTicks, this.rules.tickSize))) : undefined;
    if (slot) applyOrderState(slot, { clientOrderId, status });
    await this.persist({
      slots: slot ? [slot] : [],
      intentUpdates: intent ? [{ clientOrderId, patch: { status, error: error.slice(0, 500) } }] : [],
    });
  }

  updateGauges(): void {
    this.metrics.gridState(this.symbol, this.inventory(), [...this.slots.values()].filter((s) => s.status !== 'FREE').length, this.strategy?.realizedPnl ?? null);
  }

  /**
   * Unrealized PnL of the slots' inventory at the last price, quote: Σ long (qty·P − cost) + Σ short
   * (cost − |qty|·P) = P · Σ qty − (Σ long cost − Σ short cost).
   */
  unrealized(p: Dec | null): Dec {
    if (!p) return ZERO;
    const t = this.inventoryTotals();
    // remembered for the last (price, totals) objects: decimals are immutable, so the memo is exact
    const m = this.unrealizedMemo;
    if (m && m.p === p && m.t === t) return m.value;
    const value = p.mul(t.qty).minus(t.cost);
    this.unrealizedMemo = { p, t, value };
    return value;
  }
  private unrealizedMemo?: { p: Dec; t: { qty: Dec; cost: Dec }; value: Dec };

  /** Σ slot inventory, base units. */
  inventory(): Dec {
    return this.inventoryTotals().qty;
  }

  inventoryTotals(): { qty: Dec; cost: Dec } {
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
}
