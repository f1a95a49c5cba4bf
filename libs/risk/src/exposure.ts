import { Dec, ZERO, isAboveZero } from '@mm/domain';

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

/**
 * Σ_t (|S_t| + O_t) over the symbols t ≠ `sym` with a position or pending opening orders (quote), in
 * symbol order; zero (no allocation) when there are none, the one-symbol case of every tick.
 */
function othersNotional(state: ExposureState, sym: string): Dec {
  const onlyOwn = (m: ReadonlyMap<string, unknown>) => m.size === 0 || (m.size === 1 && m.has(sym));
  if (onlyOwn(state.positions) && onlyOwn(state.openOpeningOrders)) return ZERO;
  const others = new Set<string>([...state.positions.keys(), ...state.openOpeningOrders.keys()]);
  others.delete(sym);
  let total = ZERO;
  for (const t of [...others].sort()) {
    const p = state.positions.get(t);
    total = total.plus(p ? notionalOf(p.qty, p.markPrice).abs() : ZERO).plus(state.openOpeningOrders.get(t) ?? ZERO);
  }
  return total;
}

/**
 * A refusal whose `detail` text is made when first read: a screening refuses the same orders tick
 * after tick and reads few of the texts (decimal-to-string conversions are the cost).
 */
function refusal(reason: 'position_notional' | 'total_notional' | 'open_order_notional', text: () => string): ExposureVerdict {
  let detail: string | undefined;
  return {
    ok: false,
    reason,
    get detail() {
      return (detail ??= text());
    },
  };
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
  if (!isAboveZero(order.price) || !isAboveZero(order.quantity)) {
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
  if (isAboveZero(limits.maxPositionNotional) && W.gt(limits.maxPositionNotional)) {
    return refusal('position_notional', () => `${sym}: worst-case position notional ${W} (position ${text(S)}, order ${text(d)}, pending ${text(O)}) exceeds ${text(limits.maxPositionNotional)}`);
  }
  const openAfter = O.plus(n);
  if (isAboveZero(limits.maxOpenOrderNotional) && openAfter.gt(limits.maxOpenOrderNotional)) {
    return refusal('open_order_notional', () => `${sym}: open opening-order notional ${openAfter} (pending ${O} + order ${n}) exceeds ${limits.maxOpenOrderNotional}`);
  }
  if (isAboveZero(limits.maxTotalNotional)) {
    const total = W.plus(othersNotional(state, sym));
    if (total.gt(limits.maxTotalNotional)) {
      return refusal('total_notional', () => `worst-case total notional ${total} (${sym} ${W} + others ${total.minus(W)}) exceeds ${limits.maxTotalNotional}`);
    }
  }
  return { ok: true };
}

/** An interval of one symbol's signed position notional S (quote); a null bound is unbounded. */
export interface NotionalRange {
  lo: Dec | null;
  loInclusive: boolean;
  hi: Dec | null;
  hiInclusive: boolean;
}

/** All of S: the verdict does not depend on the position. */
export const ANY_NOTIONAL: NotionalRange = Object.freeze({ lo: null, loInclusive: false, hi: null, hiInclusive: false });

/** Is `s` in the range? Exact decimal comparisons. */
export function inNotionalRange(r: NotionalRange, s: Dec): boolean {
  if (r.lo) {
    const c = s.comparedTo(r.lo);
    if (c < 0 || (c === 0 && !r.loInclusive)) return false;
  }
  if (r.hi) {
    const c = s.comparedTo(r.hi);
    if (c > 0 || (c === 0 && !r.hiInclusive)) return false;
  }
  return true;
}

/** The intersection of two ranges (may be empty; then nothing is in it). */
export function intersectNotionalRanges(a: NotionalRange, b: NotionalRange): NotionalRange {
  const out = { ...a };
  if (b.lo) {
    const c = out.lo ? b.lo.comparedTo(out.lo) : 1;
    if (c > 0 || (c === 0 && !b.loInclusive)) {
      out.lo = b.lo;
      out.loInclusive = b.loInclusive;
    }
  }
  if (b.hi) {
    const c = out.hi ? b.hi.comparedTo(out.hi) : -1;
    if (c < 0 || (c === 0 && !b.hiInclusive)) {
      out.hi = b.hi;
      out.hiInclusive = b.hiInclusive;
    }
  }
  return out;
}

/**
 * The signed position notionals S of `order.symbol` (S = qty × mark, quote) for which
 * {@link checkExposure} gives the verdict it gives for `state`, every other input equal: a screen can
 * keep its verdicts while the mark price moves and S stays inside. Derivation (terms of
 * `checkExposure`): S enters only through W = |S + d| + O, compared with maxPositionNotional
 * (threshold t₁ = maxPositionNotional − O on |S + d|) and, with the other symbols' sum R, with
 * maxTotalNotional (t₂ = maxTotalNotional − R − O); the open-order check does not involve S. For each
 * threshold t in force, S + d stays on the side of t it is on: [−t, t] (inclusive, the limit itself
 * passes) while |S + d| ≤ t, else (t, ∞) or (−∞, −t), no bound when t < 0. The range is their
 * intersection, shifted by −d. Exact: additions and comparisons of decimals, no division.
 * Reduce-only orders pass at any S: {@link ANY_NOTIONAL}. Call it with arguments
 * {@link checkExposure} accepted (it does not validate them again).
 */
export function exposureVerdictRange(limits: ExposureLimits, state: ExposureState, order: ExposureOrder): NotionalRange {
  if (order.reduceOnly) return ANY_NOTIONAL;
  const sym = order.symbol;
  const n = notionalOf(order.price, order.quantity);
  const d = order.side === 'BUY' ? n : negated(n);
  const own = state.positions.get(sym);
  const x = (own ? notionalOf(own.qty, own.markPrice) : ZERO).plus(d);
  const O = state.openOpeningOrders.get(sym) ?? ZERO;
  const thresholds: Dec[] = [];
  if (isAboveZero(limits.maxPositionNotional)) thresholds.push(limits.maxPositionNotional.minus(O));
  if (isAboveZero(limits.maxTotalNotional)) thresholds.push(limits.maxTotalNotional.minus(othersNotional(state, sym)).minus(O));
  // bounds on x = S + d, intersected over the thresholds in force
  let lo: Dec | null = null;
  let loInclusive = false;
  let hi: Dec | null = null;
  let hiInclusive = false;
  const ax = x.abs();
  for (const t of thresholds) {
    if (t.isNegative()) continue; // |S + d| > t at every S
    let l: Dec | null, li: boolean, h: Dec | null, hs: boolean;
    if (ax.lte(t)) [l, li, h, hs] = [t.neg(), true, t, true];
    else if (x.gt(t)) [l, li, h, hs] = [t, false, null, false];
    else [l, li, h, hs] = [null, false, t.neg(), false];
    if (l) {
      const c = lo ? l.comparedTo(lo) : 1;
      if (c > 0 || (c === 0 && !li)) [lo, loInclusive] = [l, li];
    }
    if (h) {
      const c = hi ? h.comparedTo(hi) : -1;
      if (c < 0 || (c === 0 && !hs)) [hi, hiInclusive] = [h, hs];
    }
  }
  // x = S + d  →  S = x − d
  return { lo: lo && lo.minus(d), loInclusive, hi: hi && hi.minus(d), hiInclusive };
}
