import { Dec, type Side, type SymbolRules, ZERO, isAboveZero, roundToIncrement, sum } from '@mm/domain';
import { type GridParams, buyLevels, gridCenter, levelKey, quantityForNotional, sellLevels } from './grid-math';
import { type Slot, isExitOrder, isFilled } from './slot';

/** 1 (the default size factor), made once: planGrid runs at every price tick. */
const ONE = new Dec(1);

export type GridAction =
  | { kind: 'place'; key: string; level: Dec; side: Side; price: Dec; quantity: Dec; reduceOnly: boolean; postOnly: boolean; exit: boolean }
  | { kind: 'cancel'; key: string; orderId: string; clientOrderId: string; reason: string };

/** Per-pass overrides from the engine's risk state. */
export interface PlanOptions {
  /** Effective interval (dynamic grid); defaults to `params.priceInterval`. */
  interval?: Dec;
  /** false while a breaker is open, the crash guard is triggered or margin is locked: no opening orders. */
  allowOpening?: boolean;
  /** false to also withhold take-profit exits (breaker configured without exits). */
  allowClosing?: boolean;
  /** Opening size multiplier (breaker half-open probes at 0.5). */
  sizeFactor?: Dec;
  /** Σ slot inventory (base), when the caller keeps it; computed from `slots` otherwise (only for skew). */
  inventory?: Dec;
}

/**
 * One decision pass of the grid (upstream §2.3–2.4, without the §9 bugs) for price P.
 *
 * P is first skewed by inventory: P' = P × (1 − Σinventory × skewFactor). Then, with centre
 * C = gridCenter(P', anchor, I):
 * - a FREE, flat slot at a buy level C − k·I (k = 1..BW) below P' − buffer·I gets a post-only BUY;
 *   in neutral mode a FREE, flat slot at a sell level C + k·I above P' + buffer·I gets a post-only SELL;
 * - a FREE long slot whose level ≤ P' + SW·I gets a (long mode: reduce-only) SELL of its whole inventory at level + I;
 *   a FREE short slot whose level ≥ P' − BW·I gets a BUY at level − I (upstream bug 9.7:
 *   shorts were lost). Exits are keyed to their slot, so each is placed once, not every tick (bug 9.8);
 * - a resting opening order beyond its window by more than `cancelHysteresisLevels` is cancelled;
 *   exits are never cancelled by the planner;
 * - PENDING slots are left alone; new orders stop at `maxActiveOrders`, exits first.
 *
 * Pure: reads the slots, returns actions; the engine commits intents and sends them.
 */
export function planGrid(
  slots: ReadonlyMap<string, Slot>,
  price: Dec,
  anchor: Dec,
  p: GridParams,
  rules: SymbolRules,
  opts: PlanOptions = {},
): GridAction[] {
  const I = opts.interval ?? p.priceInterval;
  const allowOpening = opts.allowOpening ?? true;
  const allowClosing = opts.allowClosing ?? true;
  const sizeFactor = opts.sizeFactor ?? ONE;
  let P = price;
  if (!p.inventorySkewFactor.isZero()) {
    const inventory = opts.inventory ?? sum([...slots.values()].map((s) => s.positionQty));
    P = roundToIncrement(price.mul(new Dec(1).minus(inventory.mul(p.inventorySkewFactor))), rules.tickSize, 'nearest');
  }
  const center = centerOf(P, anchor, I);
  const k = constantsOf(I, p);
  const buffer = k.buffer;
  const cancelBelow = center.minus(k.cancelBelowSpan);
  const cancelAbove = center.plus(k.cancelAboveSpan);
  const actions: GridAction[] = [];
  let active = 0;
  const exits: Slot[] = [];
  // exit window bounds, computed on first use
  let exitAbove: Dec | undefined;
  let exitBelow: Dec | undefined;
  for (const s of slots.values()) {
    if (s.status !== 'FREE') active++;
    const o = s.order;
    if (s.status === 'LOCKED' && o?.orderId && !isExitOrder(s)) {
      const out = o.side === 'BUY' ? o.price.lt(cancelBelow) : o.price.gt(cancelAbove);
      if (out) actions.push({ kind: 'cancel', key: s.key, orderId: o.orderId, clientOrderId: o.clientOrderId, reason: 'out_of_window' });
    }
    if (!allowClosing || s.status !== 'FREE' || !isFilled(s) || s.positionQty.abs().lt(rules.minQty)) continue;
    if (isAboveZero(s.positionQty) ? s.level.lte((exitAbove ??= P.plus(I.mul(p.sellWindow)))) : s.level.gte((exitBelow ??= P.minus(I.mul(p.buyWindow))))) exits.push(s);
  }
  exits.sort((a, b) => a.level.minus(P).abs().comparedTo(b.level.minus(P).abs()) || a.level.comparedTo(b.level));
  let budget = p.maxActiveOrders - active;
  for (const s of exits) {
    if (budget <= 0) break;
    const long = isAboveZero(s.positionQty);
    actions.push({
      kind: 'place',
      key: s.key,
      level: s.level,
      side: long ? 'SELL' : 'BUY',
      price: long ? s.level.plus(I) : s.level.minus(I),
      quantity: s.positionQty.abs(),
      // Long mode: reduce-only, the venue position is the sum of the slots'. Neutral mode: long and
      // short slots net out on a one-way venue, so a reduce-only exit could be expired or rejected.
      reduceOnly: p.mode === 'long',
      postOnly: false,
      exit: true,
    });
    budget--;
  }
  if (!allowOpening) return actions;
  const notional = p.orderNotional.mul(sizeFactor);
  const opening: { level: Dec; side: Side }[] = [];
  const buyBelow = P.minus(buffer);
  const buys = windowLevels(center, I, p.buyWindow, 'buy').filter((l) => l.lt(buyBelow) && isAboveZero(l));
  const sellAbove = p.mode === 'neutral' ? P.plus(buffer) : ZERO;
  const sells = p.mode === 'neutral' ? windowLevels(center, I, p.sellWindow, 'sell').filter((l) => l.gt(sellAbove)) : [];
  for (let k = 0; k < Math.max(buys.length, sells.length); k++) {
    if (k < buys.length) opening.push({ level: buys[k], side: 'BUY' });
    if (k < sells.length) opening.push({ level: sells[k], side: 'SELL' });
  }
  for (const { level, side } of opening) {
    if (budget <= 0) break;
    const key = keyOf(level);
    const s = slots.get(key);
    if (s && (s.status !== 'FREE' || isFilled(s))) continue;
    const qty = quantityOf(notional, level, rules, p.minOrderValue);
    if (!qty) continue;
    actions.push({ kind: 'place', key, level, side, price: level, quantity: qty, reduceOnly: false, postOnly: true, exit: false });
    budget--;
  }
  return actions;
}

/**
 * `gridCenter(P, anchor, I)` with the last result remembered: while P stays strictly within half an
 * interval of the last centre (same anchor and interval) the centre is the same, since
 * round((P − anchor) / I) can only change at a half step (ties are left to `gridCenter`). Saves a
 * decimal division per planning pass.
 */
let centerMemo: { anchor: Dec; interval: Dec; center: Dec; half: Dec } | undefined;
function centerOf(P: Dec, anchor: Dec, I: Dec): Dec {
  const m = centerMemo;
  if (m && m.anchor.eq(anchor) && m.interval.eq(I) && P.minus(m.center).abs().lt(m.half)) return m.center;
  const center = gridCenter(P, anchor, I);
  centerMemo = { anchor, interval: I, center, half: m && m.interval.eq(I) ? m.half : I.div(2) };
  return center;
}

/** Products of the interval a planning pass needs, remembered for the last (interval, ratio, windows). */
let constMemo: { I: Dec; ratio: Dec; bw: number; sw: number; h: number; buffer: Dec; cancelBelowSpan: Dec; cancelAboveSpan: Dec } | undefined;
function constantsOf(I: Dec, p: GridParams): { buffer: Dec; cancelBelowSpan: Dec; cancelAboveSpan: Dec } {
  const m = constMemo;
  if (m && m.bw === p.buyWindow && m.sw === p.sellWindow && m.h === p.cancelHysteresisLevels && (m.I === I || m.I.eq(I)) && (m.ratio === p.safetyBufferRatio || m.ratio.eq(p.safetyBufferRatio))) return m;
  constMemo = {
    I,
    ratio: p.safetyBufferRatio,
    bw: p.buyWindow,
    sw: p.sellWindow,
    h: p.cancelHysteresisLevels,
    buffer: I.mul(p.safetyBufferRatio),
    cancelBelowSpan: I.mul(p.buyWindow + p.cancelHysteresisLevels),
    cancelAboveSpan: I.mul(p.sellWindow + p.cancelHysteresisLevels),
  };
  return constMemo;
}

/**
 * `buyLevels` / `sellLevels` of (centre, interval, window), remembered for the last arguments per
 * side: the centre moves only when the price crosses into another cell, and a planning pass runs at
 * every price. The arrays are frozen (callers filter them; Decimals are immutable).
 */
const levelMemo: Record<'buy' | 'sell', { center: Dec; interval: Dec; window: number; levels: readonly Dec[] } | undefined> = { buy: undefined, sell: undefined };
function windowLevels(center: Dec, interval: Dec, window: number, side: 'buy' | 'sell'): readonly Dec[] {
  const m = levelMemo[side];
  if (m && m.window === window && m.center.eq(center) && m.interval.eq(interval)) return m.levels;
  const levels = Object.freeze((side === 'buy' ? buyLevels(center, interval, window) : sellLevels(center, interval, window)).map(canonicalLevel));
  levelMemo[side] = { center, interval, window, levels };
  return levels;
}

/**
 * One level object per level value (by `levelKey`), so the per-object memos (`keyOf`, `quantityOf`)
 * hit when the centre moves and the window shifts by a level: nine of ten levels are the previous
 * window's. Bounded: cleared past {@link CANONICAL_LEVELS_MAX} entries.
 */
const canonicalLevels = new Map<string, Dec>();
const CANONICAL_LEVELS_MAX = 10_000;
function canonicalLevel(level: Dec): Dec {
  const key = levelKey(level);
  const known = canonicalLevels.get(key);
  if (known) return known;
  if (canonicalLevels.size >= CANONICAL_LEVELS_MAX) canonicalLevels.clear();
  canonicalLevels.set(key, level);
  levelKeys.set(level, key);
  return level;
}

/** `levelKey` per level object (the remembered window levels are the same objects pass after pass). */
const levelKeys = new WeakMap<Dec, string>();
function keyOf(level: Dec): string {
  let k = levelKeys.get(level);
  if (k === undefined) {
    k = levelKey(level);
    levelKeys.set(level, k);
  }
  return k;
}

/**
 * `quantityForNotional` per level object, remembered for the last (notional, rules, minimum order
 * value) of that level: the window levels are the same objects pass after pass, and the quantity is a
 * decimal division. Equal inputs give the equal result, so the memo is exact.
 */
const qtyMemo = new WeakMap<Dec, { notional: Dec; rules: SymbolRules; min: Dec; qty: Dec | undefined }>();
function quantityOf(notional: Dec, level: Dec, rules: SymbolRules, minOrderValue: Dec): Dec | undefined {
  const m = qtyMemo.get(level);
  if (m && m.rules === rules && (m.notional === notional || m.notional.eq(notional)) && (m.min === minOrderValue || m.min.eq(minOrderValue))) return m.qty;
  const qty = quantityForNotional(notional, level, rules, minOrderValue);
  qtyMemo.set(level, { notional, rules, min: minOrderValue, qty });
  return qty;
}

/** Σ notional (price × qty, quote) of the slots' live opening orders. */
export function openingOrderNotional(slots: Iterable<Slot>): Dec {
  let total = ZERO;
  for (const s of slots) if (s.order && !isExitOrder(s)) total = total.plus(s.order.price.mul(s.order.quantity.minus(s.order.executedQty)));
  return total;
}

/**
 * An interval of prices (bounds inclusive or not) over which {@link planGrid} returns the same
 * actions for unchanged slots, anchor, parameters and plan options. See {@link quietBand}.
 */
export interface QuietBand {
  lo: Dec;
  loInclusive: boolean;
  hi: Dec;
  hiInclusive: boolean;
}

/** Is `price` inside the band? Decimal comparisons, exact. */
export function inQuietBand(b: QuietBand, price: Dec): boolean {
  const lo = price.comparedTo(b.lo);
  if (lo < 0 || (lo === 0 && !b.loInclusive)) return false;
  const hi = price.comparedTo(b.hi);
  return hi < 0 || (hi === 0 && b.hiInclusive);
}

/**
 * The prices around `price` for which `planGrid(slots, P, anchor, p, rules, opts)` returns the same
 * actions as at `price` (none, in the common quiet case). Precondition: the caller has just planned at
 * `price` with these arguments. Null when the plan also depends on the inventory (skew on) or on the
 * price's distance to two or more take-profit exits (their order). Derived from the planner's rules,
 * each a threshold in P once the centre C is fixed:
 * - the centre stays C while |P − C| < I/2 (half steps are ties of `gridCenter`: excluded), and the
 *   cancel window depends on C only;
 * - with an order budget left: a FREE long slot (|qty| ≥ minQty) is an exit while P ≥ level − SW·I, a
 *   FREE short one while P ≤ level + BW·I; P stays on the side it is on;
 * - with opening allowed and budget left: a buy level of C's window that would be placed (no slot, or
 *   a FREE flat one, and a valid quantity) is planned while level < P − buffer, a sell level (neutral
 *   mode) while level > P + buffer; P stays on the side it is on.
 * Exit and opening actions do not otherwise depend on P (prices are levels, quantities the slot's or
 * the notional's), so within the band the same actions come out in the same order. The band is the
 * intersection of these constraints. Exact decimal arithmetic; no rounding.
 */
export function quietBand(slots: ReadonlyMap<string, Slot>, price: Dec, anchor: Dec, p: GridParams, rules: SymbolRules, opts: PlanOptions = {}): QuietBand | null {
  if (!p.inventorySkewFactor.isZero()) return null;
  const I = opts.interval ?? p.priceInterval;
  const allowOpening = opts.allowOpening ?? true;
  const allowClosing = opts.allowClosing ?? true;
  const center = centerOf(price, anchor, I);
  const half = I.div(2);
  const band: QuietBand = { lo: center.minus(half), loInclusive: false, hi: center.plus(half), hiInclusive: false };
  const lower = (v: Dec, inclusive: boolean) => {
    const c = v.comparedTo(band.lo);
    if (c > 0 || (c === 0 && !inclusive)) {
      band.lo = v;
      band.loInclusive = inclusive;
    }
  };
  const upper = (v: Dec, inclusive: boolean) => {
    const c = v.comparedTo(band.hi);
    if (c < 0 || (c === 0 && !inclusive)) {
      band.hi = v;
      band.hiInclusive = inclusive;
    }
  };
  let active = 0;
  for (const s of slots.values()) if (s.status !== 'FREE') active++;
  const budget = p.maxActiveOrders - active;
  if (budget <= 0) return band;
  if (allowClosing) {
    const upSpan = I.mul(p.sellWindow);
    const downSpan = I.mul(p.buyWindow);
    let exits = 0;
    for (const s of slots.values()) {
      if (s.status !== 'FREE' || !isFilled(s) || s.positionQty.abs().lt(rules.minQty)) continue;
      if (isAboveZero(s.positionQty)) {
        // exit while P ≥ level − SW·I
        const t = s.level.minus(upSpan);
        if (price.gte(t)) {
          exits++;
          lower(t, true);
        } else upper(t, false);
      } else {
        // exit while P ≤ level + BW·I
        const t = s.level.plus(downSpan);
        if (price.lte(t)) {
          exits++;
          upper(t, true);
        } else lower(t, false);
      }
    }
    if (exits > 1) return null;
  }
  if (!allowOpening) return band;
  const notional = p.orderNotional.mul(opts.sizeFactor ?? new Dec(1));
  const { buffer } = constantsOf(I, p);
  const wouldPlace = (level: Dec): boolean => {
    const s = slots.get(keyOf(level));
    if (s && (s.status !== 'FREE' || isFilled(s))) return false;
    return quantityOf(notional, level, rules, p.minOrderValue) !== undefined;
  };
  for (const l of windowLevels(center, I, p.buyWindow, 'buy')) {
    if (!isAboveZero(l) || !wouldPlace(l)) continue;
    // planned while P > level + buffer
    const t = l.plus(buffer);
    if (price.gt(t)) lower(t, false);
    else upper(t, true);
  }
  if (p.mode === 'neutral')
    for (const l of windowLevels(center, I, p.sellWindow, 'sell')) {
      if (!wouldPlace(l)) continue;
      // planned while P < level − buffer
      const t = l.minus(buffer);
      if (price.lt(t)) upper(t, false);
      else lower(t, true);
    }
  return band;
}
