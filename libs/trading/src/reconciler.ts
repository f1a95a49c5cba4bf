import { Dec, type ExchangeVenue, type Order, ZERO, isVenueError } from '@mm/domain';
import { isExitOrder, isFilled, levelFromTicks, quantityForNotional, type Slot } from '@mm/grid';
import { planCleanup } from '@mm/risk';
import { type GridBook, intentMismatch } from './grid-book';
import type { EngineOptions, EngineState, ReconciliationResult } from './grid-engine';
import type { AlertSink, EngineLogger, EngineMetrics, EngineStateStore } from './ports';
import type { RiskController } from './risk-controller';

/**
 * The k-th (1-based) level an inventory correction fills, on the planner's lattice (anchor + n·I,
 * see `gridCenter`): with `up` (venue holds more than we do: add longs) the levels at or below the
 * price, highest first; otherwise the levels strictly above it, lowest first. Earlier versions used
 * the lattice from 0 (`price − price mod I`), which put corrected slots between the planner's levels.
 */
export function correctionLevel(price: Dec, anchor: Dec, interval: Dec, k: number, up: boolean): Dec {
  const floor = anchor.plus(price.minus(anchor).div(interval).floor().mul(interval));
  return up ? floor.minus(interval.mul(k - 1)) : floor.plus(interval.mul(k));
}

/**
 * Splits a venue position over sell slots by the upstream rule (§2.6 `RestoreFromExchangePosition`,
 * legacy `initializeSellSlotsFromPosition`), `orderNotional` being quote per order (§0):
 * q0 = round(orderNotional / anchor) and n = ceil(|Q| / q0); levels anchor + k·I (k = 1..n; a short
 * position mirrors them below: anchor − k·I); t_k = round(orderNotional / level_k); slot k gets
 * round(t_k · |Q| / Σt), the last slot the remainder. Quantities are rounded to the step size (never
 * below one step while any remains); the result is signed like Q and sums exactly to Q.
 * @param qty signed position, base units; anchor and interval quote per base; orderNotional quote
 * @throws RangeError when anchor, interval or orderNotional is not > 0
 */
export function distributePosition(qty: Dec, anchor: Dec, interval: Dec, orderNotional: Dec, rules: { stepSize: Dec }): { level: Dec; quantity: Dec }[] {
  if (!anchor.gt(0) || !interval.gt(0) || !orderNotional.gt(0)) throw new RangeError(`distributePosition: anchor ${anchor}, interval ${interval} and orderNotional ${orderNotional} must be > 0`);
  if (qty.isZero()) return [];
  const step = rules.stepSize;
  const Q = qty.abs();
  const sign = qty.isNegative() ? -1 : 1;
  const roundStep = (x: Dec) => x.div(step).toDecimalPlaces(0, Dec.ROUND_HALF_UP).mul(step);
  const q0 = Dec.max(roundStep(orderNotional.div(anchor)), step);
  const n = Q.div(q0).ceil().toNumber();
  const levels: Dec[] = [];
  for (let k = 1; k <= n; k++) {
    const level = anchor.plus(interval.mul(k * sign));
    if (!level.gt(0)) break;
    levels.push(level);
  }
  if (levels.length === 0) return [];
  const t = levels.map((l) => Dec.max(roundStep(orderNotional.div(l)), step));
  const sumT = t.reduce((a, b) => a.plus(b), ZERO);
  const out: { level: Dec; quantity: Dec }[] = [];
  let rest = Q;
  for (let k = 0; k < levels.length && rest.gt(0); k++) {
    const share = k === levels.length - 1 ? rest : Dec.min(rest, Dec.max(roundStep(t[k].mul(Q).div(sumT)), step));
    out.push({ level: levels[k], quantity: sign < 0 ? share.neg() : share });
    rest = rest.minus(share);
  }
  return out;
}

/** What the reconciler needs from the engine core. */
export interface ReconcilerHost {
  readonly state: EngineState;
  readonly lastPrice: Dec | null;
  /** Bumped whenever the engine's slots or intents may have changed (the quiet band's version). */
  readonly slotsChangeVersion: number;
  /** Cancels one venue order and books its final state. */
  cancel(orderId: string): Promise<void>;
  /** Carries out the cancellation a risk transition asked for. */
  react(): Promise<void>;
}

/**
 * Recovery and reconciliation of one symbol: resolves unanswered intents by client order id, matches
 * venue orders against slots (adopt, cancel orphans and, if told to, foreign orders), runs the order
 * cleaner, and compares the venue position with the slots' inventory. Runs on the engine's queue.
 */
export class Reconciler {
  private pendingDivergence: string | null = null;
  lastReconciliation: ReconciliationResult | null = null;
  /** Position difference (venue − local, base) of the last position check. */
  private lastDiff: Dec = ZERO;
  /**
   * What the last reconciliation saw when it found nothing to do, on a venue that reports
   * `orderStateVersion` (the in-process sim): the venue's and the engine's versions then, the local
   * inventory and the result. Null otherwise.
   */
  private clean0: { venue: number; host: number; inventory: Dec; diff: Dec; result: ReconciliationResult } | null = null;
  /** Periodic reconciliations answered from `clean0` (nothing could have changed); for tests and benchmarks. */
  unchangedSkips = 0;

  constructor(
    private readonly book: GridBook,
    private readonly host: ReconcilerHost,
    private readonly exchange: ExchangeVenue,
    private readonly store: EngineStateStore,
    private readonly opts: EngineOptions,
    private readonly risk: RiskController,
    private readonly metrics: EngineMetrics,
    private readonly alerts: AlertSink,
    private readonly log: EngineLogger,
    private readonly now: () => number,
  ) {}

  private get symbol(): string {
    return this.book.symbol;
  }

  /** Looks an intent up by client order id: adopt what the venue has, or mark it NOT_PLACED. */
  async resolveIntent(clientOrderId: string): Promise<void> {
    try {
      const order = await this.exchange.getOrder(this.symbol, { clientOrderId });
      await this.book.applyOrder(order, [], 'lookup');
    } catch (e) {
      if (isVenueError(e, 'NOT_FOUND')) await this.book.closeIntent(clientOrderId, 'NOT_PLACED', 'venue has no order with this client order id');
      else throw e;
    }
  }

  /** Startup and after every order-stream reconnect: resolve every open intent, then reconcile fully. */
  async recover(): Promise<void> {
    for (const cid of [...this.book.openIntents.keys()]) await this.resolveIntent(cid);
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
  async reconcile(full = false): Promise<void> {
    if (this.host.state !== 'running' && this.host.state !== 'recovering') return;
    if (!full && this.host.state === 'running' && this.unchanged()) {
      // Nothing the venue or the engine holds changed since a reconciliation that found nothing: the
      // sweep, the cleaner and the position check would find nothing again. Their side effects on a
      // clean pass (divergence gauge, healthy reconciliation condition, checkpoint) still happen.
      const m = this.clean0!;
      this.unchangedSkips++;
      const result = { ...m.result, atMs: this.now() };
      this.metrics.divergence(this.symbol, m.diff);
      this.pendingDivergence = null;
      this.risk.breaker.conditionHealthy('reconciliation', this.now());
      await this.store.checkpoint();
      this.lastReconciliation = result;
      return;
    }
    const venueBefore = this.exchange.orderStateVersion?.();
    const hostBefore = this.host.slotsChangeVersion;
    this.clean0 = null;
    const result: ReconciliationResult = { atMs: this.now(), venuePosition: '0', localPosition: '0', divergence: '0', action: 'none', adopted: 0, orphansCancelled: 0, foreignCancelled: 0, lookedUp: 0, cleaned: 0 };
    const cutoff = this.now() - this.opts.pendingTimeoutMs;
    for (const i of [...this.book.openIntents.values()]) {
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
    const nothing = result.adopted === 0 && result.orphansCancelled === 0 && result.foreignCancelled === 0 && result.lookedUp === 0 && result.cleaned === 0 && result.action === 'none';
    if (nothing && venueBefore !== undefined && this.lastDiff.isZero() && this.exchange.orderStateVersion?.() === venueBefore && this.host.slotsChangeVersion === hostBefore)
      this.clean0 = { venue: venueBefore, host: hostBefore, inventory: this.book.inventory(), diff: this.lastDiff, result };
    if (full) this.log.log(`reconciled: adopted ${result.adopted}, cancelled ${result.orphansCancelled} orphan + ${result.foreignCancelled} foreign, looked up ${result.lookedUp}, divergence ${result.divergence} (${result.action})`);
  }

  /**
   * May a periodic reconciliation reuse the last clean one? Only when the venue reports the same
   * `orderStateVersion` (same open orders and positions), the engine the same slots version and
   * inventory, no intent awaits its placement answer (step 1 depends on time) and the cleaner has no
   * age limit (the count cap depends on the orders only).
   */
  private unchanged(): boolean {
    const m = this.clean0;
    if (!m || this.opts.cleaner.maxOrderAgeMs !== 0) return false;
    if (this.exchange.orderStateVersion?.() !== m.venue || this.host.slotsChangeVersion !== m.host) return false;
    for (const i of this.book.openIntents.values()) if (i.status === 'PENDING_NEW') return false;
    const inv = this.book.inventory();
    return inv === m.inventory || inv.eq(m.inventory);
  }

  async sweepVenueOrders(result: ReconciliationResult): Promise<void> {
    const lockedBefore = [...this.book.slots.values()].filter((s) => s.status === 'LOCKED' && s.order?.orderId);
    const open = await this.exchange.getOpenOrders(this.symbol);
    const openIds = new Set(open.map((o) => o.orderId));
    const owned = new Set([...this.book.slots.values()].map((s) => s.order?.clientOrderId).filter(Boolean));
    for (const o of open) {
      if (owned.has(o.clientOrderId)) continue;
      const parsed = this.book.parse(o.clientOrderId);
      if (!parsed || this.book.foreignIds.has(o.clientOrderId)) {
        if (this.opts.cancelForeignOrders) {
          this.log.warn(`foreign order ${o.clientOrderId || o.orderId} on ${this.symbol}: cancelling (cancel_foreign_orders)`);
          await this.host.cancel(o.orderId);
          result.foreignCancelled++;
        }
        continue;
      }
      const adopted = await this.adopt(o, parsed.generation);
      if (adopted === 'adopted') {
        result.adopted++;
        continue;
      }
      if (adopted === 'foreign') continue;
      this.log.warn(`orphan order ${o.clientOrderId} (${o.orderId}) on the venue: cancelling`);
      await this.book.applyOrder(o, []);
      await this.host.cancel(o.orderId);
      result.orphansCancelled++;
    }
    for (const s of lockedBefore) {
      const o = s.order;
      if (o?.orderId && s.order === o && !openIds.has(o.orderId)) {
        await this.book.applyOrder(await this.exchange.getOrder(this.symbol, { orderId: o.orderId }), [], 'lookup');
        result.lookedUp++;
      }
    }
  }

  /**
   * Takes over one of our orders found on the venue when its slot is free and the order fits it.
   * An order whose stored intent it does not match is foreign (never adopted). An exit (reduce-only,
   * or in long mode a SELL) whose slot holds no inventory is not adopted (after a restart on a fresh
   * database, booking its fill would put a short slot in long mode): the caller cancels it as an orphan
   * and the position reconciliation accounts for the venue position.
   */
  async adopt(o: Order, generation: number): Promise<'adopted' | 'foreign' | 'no'> {
    const parsed = this.book.parse(o.clientOrderId)!;
    const slot = this.book.slotFor(levelFromTicks(parsed.levelTicks, this.book.rules.tickSize));
    if (slot.status !== 'FREE') return 'no';
    const existing = await this.store.intent(o.clientOrderId);
    const why = existing ? intentMismatch(existing, o) : null;
    if (why) {
      this.book.markForeign(o, 'adopt', why);
      return 'foreign';
    }
    const fits = o.side === 'BUY' ? slot.positionQty.lte(0) : slot.positionQty.gte(0);
    if (!fits) return 'no';
    const reduceOnly = o.side === 'BUY' ? slot.positionQty.lt(0) : slot.positionQty.gt(0);
    const exitWithoutInventory = slot.positionQty.isZero() && (o.reduceOnly || (this.opts.params.mode === 'long' && o.side === 'SELL'));
    if (exitWithoutInventory) return 'no';
    slot.generation = Math.max(slot.generation, generation);
    const intent = this.book.openIntent(slot, {
      clientOrderId: o.clientOrderId,
      side: o.side,
      price: o.price,
      quantity: o.quantity,
      reduceOnly: reduceOnly || o.reduceOnly,
      postOnly: o.postOnly || !reduceOnly,
      createdAtMs: o.createdAtMs || this.now(),
      note: 'adopted from the venue',
    });
    for (const t of await this.store.tradeIdsOf([o.clientOrderId])) this.book.booked(o.clientOrderId).add(t.tradeId);
    await this.book.persist({ slots: [slot], intents: existing ? [] : [intent] });
    if (existing) this.book.openIntents.set(o.clientOrderId, { ...existing, status: 'PENDING_NEW' });
    await this.book.applyOrder(o, [], 'adopt');
    this.log.warn(`adopted our order ${o.clientOrderId} (${o.orderId}) into slot ${slot.key}`);
    return 'adopted';
  }

  /** Order cleaner over our live orders (count cap and age); returns how many it cancelled. */
  async clean(): Promise<number> {
    const c = this.opts.cleaner;
    const live = [...this.book.slots.values()].filter((s) => s.status === 'LOCKED' && s.order?.orderId);
    const orders = live.map((s) => ({
      orderId: s.order!.orderId!,
      side: s.order!.side,
      price: s.order!.price,
      status: (s.order!.status === 'PARTIALLY_FILLED' ? 'PARTIALLY_FILLED' : 'NEW') as 'NEW' | 'PARTIALLY_FILLED',
      createdAtMs: this.book.openIntents.get(s.order!.clientOrderId)?.createdAt.getTime() ?? this.now(),
      reduceOnly: isExitOrder(s),
    }));
    const plan = planCleanup(orders, { maxOpenOrders: c.maxOpenOrders, maxOrderAgeMs: c.maxOrderAgeMs, cancelPartiallyFilled: c.cancelPartiallyFilled }, this.now());
    for (const id of plan.cancel) await this.host.cancel(id);
    return plan.cancel.length;
  }

  async checkPosition(result: ReconciliationResult): Promise<void> {
    const positions = await this.exchange.getPositions(this.symbol);
    const venue = positions.find((p) => p.symbol === this.symbol)?.size ?? ZERO;
    const local = this.book.inventory();
    const diff = venue.minus(local);
    this.lastDiff = diff;
    result.venuePosition = venue.toString();
    result.localPosition = local.toString();
    result.divergence = diff.toString();
    this.metrics.divergence(this.symbol, diff);
    if (diff.isZero()) {
      this.pendingDivergence = null;
      this.risk.breaker.conditionHealthy('reconciliation', this.now());
      return;
    }
    if (this.pendingDivergence !== diff.toString()) {
      this.pendingDivergence = diff.toString();
      result.action = 'awaiting_confirmation';
      return;
    }
    this.pendingDivergence = null;
    const pct = diff.abs().div(Dec.max(venue.abs(), this.book.rules.stepSize)).mul(100);
    const detail = `venue position ${venue} vs local inventory ${local} (${pct.toDecimalPlaces(2)} %)`;
    this.alerts.notify({ kind: 'reconciliation_divergence', level: 'WARNING', title: 'Position divergence', message: detail, dedupeKey: `divergence:${diff}` });
    if (pct.lt(this.opts.reconcileTolerancePct)) {
      await this.correctInventory(diff);
      this.risk.breaker.conditionHealthy('reconciliation', this.now());
      result.action = 'corrected';
      this.log.warn(`corrected inventory: ${detail}`);
    } else {
      this.risk.breaker.tripReconciliation(detail, this.now());
      await this.host.react();
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
  async correctInventory(diff: Dec): Promise<void> {
    this.book.mutations++;
    let rest = diff.abs();
    const up = diff.gt(0);
    const free = [...this.book.slots.values()].filter((s) => s.status === 'FREE');
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
    const price = this.host.lastPrice ?? this.book.strategy?.anchorPrice ?? ZERO;
    const anchor = this.book.strategy?.anchorPrice ?? price;
    const I = this.opts.params.priceInterval;
    for (let k = 1; !rest.isZero() && k <= 1000; k++) {
      const level = correctionLevel(price, anchor, I, k, up);
      if (!level.gt(0)) break;
      const s = this.book.slotFor(level);
      if (s.status !== 'FREE' || isFilled(s)) continue;
      const chunk = quantityForNotional(this.opts.params.orderNotional, level, this.book.rules, ZERO) ?? rest;
      const take = Dec.min(rest, chunk);
      s.positionQty = up ? take : take.neg();
      s.positionCost = level.mul(take);
      rest = rest.minus(take);
      changed.push(s);
    }
    this.book.invalidateTotals();
    await this.book.persist({ slots: changed });
  }
}
