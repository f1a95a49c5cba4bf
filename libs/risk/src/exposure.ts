import { Dec, ZERO } from '@mm/domain';

/**
 * Exposure limits, quote units (USDT). Each is off at 0. Upstream had none (§3.7, bug 19:
 * `GetPositionLimits` returned zeros, no global cap). Config keys: `exposure.<snake_case>`.
 */
export interface ExposureLimits {
  /** Per symbol: worst-case |position| notional after the order (`exposure.max_position_notional`); 0 = off. */
  maxPositionNotional: Dec;
  /** Across symbols: Σ worst-case |position| notionals after the order (`exposure.max_total_notional`); 0 = off. */
  maxTotalNotional: Dec;
  /** Per symbol: Σ price × qty of live opening orders including the new one (`exposure.max_open_order_notional`); 0 = off. */
  maxOpenOrderNotional: Dec;
}

/** Current book, by symbol. */
export interface ExposureState {
  /** Positions: signed base qty (> 0 long, < 0 short) and the mark price used to value it (quote per base). */
  positions: ReadonlyMap<string, { qty: Dec; markPrice: Dec }>;
  /** Σ price × remaining qty of live non-reduce-only (opening) orders per symbol, quote, both sides together. */
  openOpeningOrders: ReadonlyMap<string, Dec>;
}

/** Verdict of {@link checkExposure}. */
export type ExposureVerdict =
  | { ok: true }
  | { ok: false; reason: 'position_notional' | 'total_notional' | 'open_order_notional'; detail: string };

/** An order to be checked: `price` quote per base, `quantity` base (both > 0). */
export interface ExposureOrder {
  symbol: string;
  side: 'BUY' | 'SELL';
  price: Dec;
  quantity: Dec;
  reduceOnly: boolean;
}

/**
 * price × quantity per price object, remembered for the last quantity object it was multiplied with:
 * a screening pass checks the same planned orders (and the same position) again and again. Decimals
 * are immutable, so equal objects give the equal product: the memo is exact.
 */
const products = new WeakMap<Dec, { by: Dec; value: Dec }>();
function notionalOf(price: Dec, quantity: Dec): Dec {
  const m = products.get(price);
  if (m && m.by === quantity) return m.value;
  const value = price.mul(quantity);
  products.set(price, { by: quantity, value });
  return value;
}
/** Negations and decimal strings of (immutable) decimals, remembered per object. */
const negations = new WeakMap<Dec, Dec>();
function negated(x: Dec): Dec {
  let v = negations.get(x);
  if (v === undefined) negations.set(x, (v = x.neg()));
  return v;
}
const texts = new WeakMap<Dec, string>();
function text(x: Dec): string {
  let v = texts.get(x);
  if (v === undefined) texts.set(x, (v = x.toString()));
  return v;
}

/** Limits objects already validated, with the (immutable) decimals they held then. */
const validLimits = new WeakMap<ExposureLimits, ExposureLimits>();

/**
 * Would an opening order breach a limit if it filled entirely, with every live opening order also
 * filled in the worst direction? Reduce-only orders always pass (they can only shrink a position).
 *
 * Definitions (quote units), for symbol s:
 * - S_s = qty_s × mark_s, the signed position notional (0 without a position);
 * - O_s = `openOpeningOrders[s]` (0 if absent), the pending opening notional;
 * - n = order.price × order.quantity, d = +n for BUY, −n for SELL;
 * - worst-case position of the order's symbol W = |S + d| + O: the new order is applied with its
 *   real side, and the pending orders (whose sides the state does not carry) all fill in the
 *   direction that grows |position| — so for a buy on a long, or a sell on a short (neutral mode),
 *   W = |S| + n + O, i.e. pending orders count as if filled on the order's side; an order against the
 *   position is credited with the reduction it causes;
 * - every other symbol t counts |S_t| + O_t.
 *
 * Checks, first failure reported: `position_notional` W ≤ maxPositionNotional; `open_order_notional`
 * O + n ≤ maxOpenOrderNotional; `total_notional` W + Σ_t (|S_t| + O_t) ≤ maxTotalNotional.
 * Exactly at a limit passes.
 * @throws RangeError when price or quantity is not > 0, or a limit is negative.
 */
export function checkExposure(limits: ExposureLimits, state: ExposureState, order: ExposureOrder): ExposureVerdict {
  const seen = validLimits.get(limits);
  if (!seen || seen.maxPositionNotional !== limits.maxPositionNotional || seen.maxTotalNotional !== limits.maxTotalNotional || seen.maxOpenOrderNotional !== limits.maxOpenOrderNotional || Object.keys(limits).length !== 3) {
    for (const [k, v] of Object.entries(limits) as [string, Dec][]) {
      if (!Dec.isDecimal(v) || !v.isFinite() || v.isNegative()) throw new RangeError(`exposure limit ${k} must be ≥ 0, got ${String(v)}`);
    }
    validLimits.set(limits, { ...limits });
  }
  if (order.reduceOnly) return { ok: true };
  if (!order.price.gt(0) || !order.quantity.gt(0)) {
    throw new RangeError(`order price and quantity must be > 0, got ${order.price} × ${order.quantity}`);
  }
  const sym = order.symbol;
  const n = notionalOf(order.price, order.quantity);
  const d = order.side === 'BUY' ? n : negated(n);
  const signedPosition = (s: string): Dec => {
    const p = state.positions.get(s);
    return p ? notionalOf(p.qty, p.markPrice) : ZERO;
  };
  const pending = (s: string): Dec => state.openOpeningOrders.get(s) ?? ZERO;

  const S = signedPosition(sym);
  const O = pending(sym);
  const W = S.plus(d).abs().plus(O);
  if (limits.maxPositionNotional.gt(0) && W.gt(limits.maxPositionNotional)) {
    return {
      ok: false,
      reason: 'position_notional',
      detail: `${sym}: worst-case position notional ${W} (position ${text(S)}, order ${text(d)}, pending ${text(O)}) exceeds ${text(limits.maxPositionNotional)}`,
    };
  }
  const openAfter = O.plus(n);
  if (limits.maxOpenOrderNotional.gt(0) && openAfter.gt(limits.maxOpenOrderNotional)) {
    return {
      ok: false,
      reason: 'open_order_notional',
      detail: `${sym}: open opening-order notional ${openAfter} (pending ${O} + order ${n}) exceeds ${limits.maxOpenOrderNotional}`,
    };
  }
  if (limits.maxTotalNotional.gt(0)) {
    const others = new Set<string>([...state.positions.keys(), ...state.openOpeningOrders.keys()]);
    others.delete(sym);
    let total = W;
    for (const t of [...others].sort()) total = total.plus(signedPosition(t).abs()).plus(pending(t));
    if (total.gt(limits.maxTotalNotional)) {
      return {
        ok: false,
        reason: 'total_notional',
        detail: `worst-case total notional ${total} (${sym} ${W} + others ${total.minus(W)}) exceeds ${limits.maxTotalNotional}`,
      };
    }
  }
  return { ok: true };
}
