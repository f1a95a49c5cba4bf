import { Dec, type Fill, type OrderStatus, type Side, ZERO, isTerminal } from '@mm/domain';

/** FREE: no live order. PENDING: an intent is committed, the venue's answer is not known yet. LOCKED: a live order. */
export type SlotStatus = 'FREE' | 'PENDING' | 'LOCKED';
/** An order intent's state: PENDING_NEW until the venue answers; NOT_PLACED when the venue never got it. */
export type IntentStatus = 'PENDING_NEW' | OrderStatus | 'NOT_PLACED';

/** The order a slot currently owns (at most one). */
export interface SlotOrder {
  clientOrderId: string;
  orderId: string | null;
  side: Side;
  price: Dec;
  quantity: Dec;
  executedQty: Dec;
  status: IntentStatus;
  reduceOnly: boolean;
}

/**
 * One grid price level (upstream `InventorySlot`, §2.2). It holds at most one live order: a BUY to
 * open at `level`, or the take-profit SELL of its inventory at `level + I`. Inventory is tracked
 * with its cost so each closed round trip's PnL is exact: Σ(sell) − Σ(buy) − fees, in quote units.
 */
export interface Slot {
  level: Dec;
  key: string;
  /** Signed base units held by this slot: > 0 long, < 0 short (neutral mode); non-zero means FILLED. */
  positionQty: Dec;
  /** Σ buy price × qty of the held inventory, quote. */
  positionCost: Dec;
  /** Buy fees paid for the held inventory, quote. */
  entryFees: Dec;
  status: SlotStatus;
  /** Incremented by the engine before every new order intent; part of the deterministic client order id. */
  generation: number;
  order: SlotOrder | null;
  postOnlyRejects: number;
}

export function newSlot(level: Dec, key: string): Slot {
  return { level, key, positionQty: ZERO, positionCost: ZERO, entryFees: ZERO, status: 'FREE', generation: 0, order: null, postOnlyRejects: 0 };
}

/**
 * True when the slot's live order closes its inventory (a SELL of a long slot, a BUY of a short one).
 * Exits are judged by this, not by the reduce-only flag: in neutral mode exits are plain limits.
 */
export function isExitOrder(s: Slot): boolean {
  const o = s.order;
  if (!o) return false;
  return o.side === 'SELL' ? s.positionQty.gt(0) : s.positionQty.lt(0);
}

/** The slot holds inventory (long or short). */
export const isFilled = (s: Slot): boolean => !s.positionQty.isZero();

/**
 * FREE → PENDING with a new intent. The caller commits it durably before sending the order.
 * @throws Error when the slot is not FREE (a slot never holds two orders).
 */
export function beginIntent(slot: Slot, order: Omit<SlotOrder, 'orderId' | 'executedQty' | 'status'>): void {
  if (slot.status !== 'FREE') throw new Error(`slot ${slot.key} is ${slot.status}, cannot place ${order.clientOrderId}`);
  slot.status = 'PENDING';
  slot.order = { ...order, orderId: null, executedQty: ZERO, status: 'PENDING_NEW' };
}

/** Progress order of intent statuses: a status never moves to a lower rank (all terminal ones are 3). */
export const INTENT_RANK: Record<IntentStatus, number> = {
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
 * Applies the venue's view of the slot's current order (from the placement answer, the order
 * stream or a lookup). Monotonic: executed quantity never decreases and a terminal state is final,
 * so late or duplicated events are harmless. Events for another client order id are ignored.
 * A terminal order frees the slot (REJECTED and EXPIRED included — upstream bug §9.9).
 * @returns true when the slot changed.
 */
export function applyOrderState(
  slot: Slot,
  o: { clientOrderId: string; orderId?: string | null; status: IntentStatus; executedQty?: Dec },
): boolean {
  const cur = slot.order;
  if (!cur || cur.clientOrderId !== o.clientOrderId) return false;
  let changed = false;
  if (o.orderId && cur.orderId !== o.orderId) {
    cur.orderId = o.orderId;
    changed = true;
  }
  if (o.executedQty && o.executedQty.gt(cur.executedQty)) {
    cur.executedQty = o.executedQty;
    changed = true;
  }
  if (INTENT_RANK[o.status] > INTENT_RANK[cur.status]) {
    cur.status = o.status;
    changed = true;
  }
  if (cur.status === 'NOT_PLACED' || (cur.status !== 'PENDING_NEW' && isTerminal(cur.status as OrderStatus))) {
    slot.order = null;
    slot.status = 'FREE';
    return true;
  }
  if (cur.status !== 'PENDING_NEW' && slot.status !== 'LOCKED') {
    slot.status = 'LOCKED';
    changed = true;
  }
  return changed;
}

/**
 * Books an execution into the slot's signed inventory (long > 0, short < 0; neutral mode holds shorts).
 * A fill on the side of the inventory (or from flat) opens: qty, cost (Σ price × qty) and fee are added.
 * A fill against it closes and returns the realized PnL of the closed part, net of fees:
 * long: sell notional − cost share − entry-fee share − fee; short: cost share − buy notional − entry-fee
 * share − fee. Exact when the whole inventory is closed (the normal take-profit case); a partial close
 * takes a proportional share. Quantity beyond the inventory opens the other way. Fees in quote units.
 */
export function applyFill(slot: Slot, fill: Pick<Fill, 'side' | 'price' | 'quantity' | 'fee'>): Dec {
  const q = fill.quantity;
  const held = slot.positionQty;
  const buy = fill.side === 'BUY';
  if (held.isZero() || held.gt(0) === buy) {
    slot.positionQty = buy ? held.plus(q) : held.minus(q);
    slot.positionCost = slot.positionCost.plus(fill.price.mul(q));
    slot.entryFees = slot.entryFees.plus(fill.fee);
    return ZERO;
  }
  const size = held.abs();
  const closing = Dec.min(size, q);
  let cost = slot.positionCost;
  let fees = slot.entryFees;
  if (!closing.eq(size)) {
    const share = closing.div(size);
    cost = cost.mul(share);
    fees = fees.mul(share);
  }
  const proceeds = fill.price.mul(closing);
  const realized = (held.gt(0) ? proceeds.minus(cost) : cost.minus(proceeds)).minus(fees).minus(fill.fee);
  const excess = q.minus(closing);
  slot.positionQty = buy ? held.plus(q) : held.minus(q);
  if (excess.gt(0)) {
    slot.positionCost = fill.price.mul(excess);
    slot.entryFees = ZERO;
  } else if (slot.positionQty.isZero()) {
    slot.positionCost = ZERO;
    slot.entryFees = ZERO;
  } else {
    slot.positionCost = slot.positionCost.minus(cost);
    slot.entryFees = slot.entryFees.minus(fees);
  }
  return realized;
}
