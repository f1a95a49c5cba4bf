import type { Dec } from '@mm/domain';

/** A live order as the venue lists it (open orders of one symbol). `price` quote per base; `createdAtMs` Unix ms. */
export interface CleanerOrder {
  orderId: string;
  side: 'BUY' | 'SELL';
  price: Dec;
  status: 'NEW' | 'PARTIALLY_FILLED';
  createdAtMs: number;
  /** Reduce-only = a take-profit (closing) order. */
  reduceOnly: boolean;
}

/** Order-cleaner settings. Config keys `cleaner.<snake_case>`. */
export interface CleanerConfig {
  /** Cap on live orders of the symbol, all statuses and sides counted (`cleaner.max_open_orders`; upstream `order_cleanup_threshold`), integer ≥ 0. */
  maxOpenOrders: number;
  /** Opening orders older than this are cancelled, ms (`cleaner.max_order_age_ms`); 0 = off. */
  maxOrderAgeMs: number;
  /** Whether partially filled orders may be cancelled (`cleaner.cancel_partially_filled`, default false). They always count toward the cap. */
  cancelPartiallyFilled: boolean;
}

/** Result of {@link planCleanup}: order ids to cancel, in order; and the excess over the cap that could not be cancelled. */
export interface CleanupPlan {
  cancel: string[];
  uncancellableExcess: number;
}

/**
 * Which orders to cancel (upstream §3.2 `internal/risk/cleaner.go`, without bug 10).
 *
 * 1. **Excess.** excess = max(0, orders − maxOpenOrders), counting every live order (partially filled
 *    and reduce-only included). Cancellable = NEW orders, plus PARTIALLY_FILLED when
 *    `cancelPartiallyFilled`. One order at a time is taken from the side with more cancellable
 *    orders left — buys lowest price first, sells highest price first (farthest from the market);
 *    equal counts alternate, starting with BUY (upstream: "one buy if the excess is 1"). Equal prices:
 *    newest first, then orderId. Opening orders are drawn first; reduce-only take-profits only once
 *    no cancellable opening order is left (a take-profit closes inventory; cancelling it only
 *    helps to get under the venue's hard open-order cap, and the engine re-places it later).
 * 2. **Termination.** When both pools are empty the loop stops; what is left of the excess is
 *    `uncancellableExcess` (upstream looped forever once only partially filled orders remained).
 * 3. **Age.** Then every cancellable opening (non-reduce-only) order with nowMs − createdAtMs >
 *    maxOrderAgeMs (> 0) not already chosen, oldest first. Take-profits are exempt from the age
 *    rule: their price is tied to the entry, not to time.
 *
 * Pure and deterministic. Duplicate orderIds count once (first occurrence).
 * @throws RangeError when maxOpenOrders is not an integer ≥ 0 or maxOrderAgeMs is negative.
 */
export function planCleanup(orders: CleanerOrder[], cfg: CleanerConfig, nowMs: number): CleanupPlan {
  if (!Number.isInteger(cfg.maxOpenOrders) || cfg.maxOpenOrders < 0) {
    throw new RangeError(`cleaner.max_open_orders must be an integer ≥ 0, got ${cfg.maxOpenOrders}`);
  }
  if (!Number.isFinite(cfg.maxOrderAgeMs) || cfg.maxOrderAgeMs < 0) {
    throw new RangeError(`cleaner.max_order_age_ms must be a finite number ≥ 0, got ${cfg.maxOrderAgeMs}`);
  }
  const seen = new Set<string>();
  const live: CleanerOrder[] = [];
  for (const o of orders) {
    if (seen.has(o.orderId)) continue;
    seen.add(o.orderId);
    live.push(o);
  }
  const cancellable = (o: CleanerOrder) => o.status === 'NEW' || cfg.cancelPartiallyFilled;
  const byPriority = (side: 'BUY' | 'SELL') => (a: CleanerOrder, b: CleanerOrder) => {
    const c = side === 'BUY' ? a.price.cmp(b.price) : b.price.cmp(a.price);
    if (c !== 0) return c;
    if (a.createdAtMs !== b.createdAtMs) return b.createdAtMs - a.createdAtMs;
    return a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0;
  };
  const pool = (reduceOnly: boolean, side: 'BUY' | 'SELL') =>
    live.filter((o) => cancellable(o) && o.reduceOnly === reduceOnly && o.side === side).sort(byPriority(side));

  const cancel: string[] = [];
  const chosen = new Set<string>();
  let excess = Math.max(0, live.length - cfg.maxOpenOrders);
  let lastSide: 'BUY' | 'SELL' | null = null;
  for (const reduceOnly of [false, true]) {
    const buys = pool(reduceOnly, 'BUY');
    const sells = pool(reduceOnly, 'SELL');
    while (excess > 0 && (buys.length > 0 || sells.length > 0)) {
      let side: 'BUY' | 'SELL';
      if (buys.length !== sells.length) side = buys.length > sells.length ? 'BUY' : 'SELL';
      else side = lastSide === 'BUY' ? 'SELL' : 'BUY';
      const o = (side === 'BUY' ? buys : sells).shift()!;
      cancel.push(o.orderId);
      chosen.add(o.orderId);
      lastSide = side;
      excess--;
    }
  }
  if (cfg.maxOrderAgeMs > 0) {
    const old = live
      .filter((o) => cancellable(o) && !o.reduceOnly && !chosen.has(o.orderId) && nowMs - o.createdAtMs > cfg.maxOrderAgeMs)
      .sort((a, b) => a.createdAtMs - b.createdAtMs || (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
    for (const o of old) cancel.push(o.orderId);
  }
  return { cancel, uncancellableExcess: excess };
}
