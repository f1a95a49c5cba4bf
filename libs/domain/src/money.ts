import Decimal from 'decimal.js';

/**
 * Decimal arithmetic for every price, quantity, balance, fee and PnL.
 *
 * A private decimal.js constructor with 60 significant digits and no exponent notation in
 * `toString()`, so values round-trip through the wire (`google.type.Decimal`) and through
 * database text columns unchanged. Never use a JS `number` for money.
 */
export const Dec = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -40, toExpPos: 40 });
export type Dec = Decimal;

/** The decimal zero. */
export const ZERO = new Dec(0);

/**
 * Parses a decimal from a string or bigint-safe input.
 * @throws Error `invalid decimal "<s>"` when `s` is empty, not numeric, or not finite.
 */
export function dec(s: string | Decimal | number | bigint): Decimal {
  if (typeof s === 'string') {
    const t = s.trim();
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) throw new Error(`invalid decimal "${s}"`);
    return new Dec(t);
  }
  if (typeof s === 'bigint') return new Dec(s.toString());
  const d = new Dec(s);
  if (!d.isFinite()) throw new Error(`invalid decimal "${String(s)}"`);
  return d;
}

/** Parses a decimal, returning `undefined` for empty/invalid input instead of throwing. */
export function tryDec(s: string | undefined | null): Decimal | undefined {
  if (s === undefined || s === null || s === '') return undefined;
  try {
    return dec(s);
  } catch {
    return undefined;
  }
}

/** Rounding direction used when snapping to a tick or step grid. */
export type RoundMode = 'down' | 'up' | 'nearest';

/**
 * Snaps `value` to a multiple of `increment` (a tick size for prices, a step size for quantities).
 * `down` floors toward −∞, `up` ceils toward +∞, `nearest` rounds half-even.
 * @throws Error when `increment` is not > 0.
 */
export function roundToIncrement(value: Decimal, increment: Decimal, mode: RoundMode): Decimal {
  if (!increment.gt(0)) throw new Error(`increment must be > 0, got ${increment.toString()}`);
  const units = value.div(increment);
  const r =
    mode === 'down' ? units.floor() : mode === 'up' ? units.ceil() : units.toDecimalPlaces(0, Decimal.ROUND_HALF_EVEN);
  return r.mul(increment);
}

/** True when `value` is an exact multiple of `increment` (for tick/step validation). */
export function isMultipleOf(value: Decimal, increment: Decimal): boolean {
  return increment.gt(0) && value.mod(increment).isZero();
}

/** Number of decimal places in an increment, e.g. 0.001 → 3, 10 → 0. */
export function decimalsOf(increment: Decimal): number {
  return increment.decimalPlaces();
}

/** Sum of a list of decimals (zero for an empty list). */
export function sum(values: Iterable<Decimal>): Decimal {
  let acc = ZERO;
  for (const v of values) acc = acc.plus(v);
  return acc;
}

/**
 * x > 0, without the temporary decimal that `x.gt(0)` builds (decimal.js converts every argument):
 * false for zero (either sign), negatives and NaN. For hot paths (planning and risk checks per tick).
 */
export function isAboveZero(x: Decimal): boolean {
  return !x.isZero() && x.isPositive();
}

const reciprocalsByNumber = new Map<number, Decimal | null>();
const reciprocalsByDecimal = new WeakMap<Decimal, Decimal | null>();
function reciprocalOf(d: Decimal): Decimal | null {
  if (d.isZero() || !d.isFinite()) return null;
  const r = new Dec(1).div(d);
  return r.mul(d).eq(1) ? r : null; // exact only when 1/d terminates within the precision
}

/**
 * x ÷ d. When 1/d is a terminating decimal within the precision (d = 10, 20, 0.1, 0.25, …) this is
 * x × (1/d): both are exact, so the value is the division's, at a fraction of its cost (decimal.js
 * divides digit by digit to 60 significant digits). Other divisors divide. The reciprocal is
 * remembered per divisor (per number, or per decimal object).
 */
export function quotient(x: Decimal, d: Decimal | number): Decimal {
  let r: Decimal | null | undefined;
  if (typeof d === 'number') {
    r = reciprocalsByNumber.get(d);
    if (r === undefined) {
      r = reciprocalOf(new Dec(d));
      if (reciprocalsByNumber.size < 1024) reciprocalsByNumber.set(d, r);
    }
  } else {
    r = reciprocalsByDecimal.get(d);
    if (r === undefined) reciprocalsByDecimal.set(d, (r = reciprocalOf(d)));
  }
  return r ? x.mul(r) : x.div(d);
}
