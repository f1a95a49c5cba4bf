import { Dec, type SymbolRules, roundToIncrement } from '@mm/domain';

/** Grid parameters of one symbol. Money in quote units (USDT), sizes in levels. */
export interface GridParams {
  symbol: string;
  /** long: buy below, sell inventory above. neutral: also open shorts above and buy them back below. */
  mode: 'long' | 'neutral';
  /** P_skew = P × (1 − inventory × factor), inventory in base units (upstream §2.5); 0 = off. */
  inventorySkewFactor: Dec;
  /** Grid step I between levels, quote price. Must be a multiple of the tick size. */
  priceInterval: Dec;
  /** Size of each opening order as quote notional (30 = 30 USDT per order). */
  orderNotional: Dec;
  /** Opening orders whose notional is below this are skipped, quote. */
  minOrderValue: Dec;
  /** Number of buy levels below the centre (BW). */
  buyWindow: number;
  /** Take-profit sells are placed for filled slots whose level is ≤ P + SW·I. */
  sellWindow: number;
  /** A level is only bought when it is below P − bufferRatio·I (upstream: 0.1). */
  safetyBufferRatio: Dec;
  /** Cap on live orders (opening + closing) of this symbol. */
  maxActiveOrders: number;
  /** Extra levels beyond BW a resting buy may drift before it is cancelled (hysteresis against churn). */
  cancelHysteresisLevels: number;
}

/**
 * Grid centre C = anchor + round((P − anchor) / I) · I (upstream `pkg/tradingutils/math.go`),
 * so levels stay on the anchor's lattice as the price trails. Rounds half-even.
 */
export function gridCenter(price: Dec, anchor: Dec, interval: Dec): Dec {
  const steps = price.minus(anchor).div(interval).toDecimalPlaces(0, Dec.ROUND_HALF_EVEN);
  return anchor.plus(steps.mul(interval));
}

/** Sell levels C + k·I for k = 1..SW, nearest first (neutral mode opens shorts there). */
export function sellLevels(center: Dec, interval: Dec, window: number): Dec[] {
  const out: Dec[] = [];
  for (let k = 1; k <= window; k++) out.push(center.plus(interval.mul(k)));
  return out;
}

/**
 * Effective interval for a dynamic grid: max(I, ATR × scale) rounded up to the tick (upstream §2.5:
 * the code's `max` rule, not the docs' ratio rule). Returns I when ATR is unknown.
 */
export function effectiveInterval(base: Dec, atr: Dec | null, scale: Dec, tickSize: Dec): Dec {
  if (!atr || !atr.gt(0) || !scale.gt(0)) return base;
  const dyn = atr.mul(scale).div(tickSize).ceil().mul(tickSize);
  return Dec.max(base, dyn);
}

/** Buy levels C − k·I for k = 1..BW, nearest first. */
export function buyLevels(center: Dec, interval: Dec, window: number): Dec[] {
  const out: Dec[] = [];
  for (let k = 1; k <= window; k++) out.push(center.minus(interval.mul(k)));
  return out;
}

/** Canonical key of a level: the decimal without trailing zeros ("95500.1"). */
export function levelKey(level: Dec): string {
  return level.toString();
}

/**
 * Base quantity for a quote notional at a price: ⌊notional / price⌋ to the step size.
 * Returns `undefined` when the result is below the venue's minimum quantity or its notional
 * (qty × price) is below max(minNotional, minOrderValue) — such an order must not be sent.
 */
export function quantityForNotional(notional: Dec, price: Dec, rules: SymbolRules, minOrderValue: Dec): Dec | undefined {
  if (!price.gt(0) || !price.isFinite()) return undefined;
  const qty = roundToIncrement(notional.div(price), rules.stepSize, 'down');
  if (qty.lt(rules.minQty) || qty.isZero()) return undefined;
  const value = qty.mul(price);
  if (value.lt(rules.minNotional) || value.lt(minOrderValue)) return undefined;
  return qty;
}

/** Throws an Error naming the parameter when the grid cannot trade under these venue rules. */
export function validateGrid(params: GridParams, rules: SymbolRules, price: Dec, feeRate: Dec): void {
  if (!price.gt(0)) throw new Error(`reference price must be > 0, got ${price}`);
  if (!params.priceInterval.mod(rules.tickSize).isZero()) {
    throw new Error(`grid.price_interval ${params.priceInterval} is not a multiple of the tick size ${rules.tickSize}`);
  }
  if (!quantityForNotional(params.orderNotional, price, rules, params.minOrderValue)) {
    throw new Error(
      `grid.order_notional ${params.orderNotional} ${rules.quoteAsset} at price ${price} gives no valid order ` +
        `(step ${rules.stepSize}, min qty ${rules.minQty}, min notional ${rules.minNotional}, min_order_value ${params.minOrderValue})`,
    );
  }
  // Per unit: I − (P + (P + I)) · fee > 0, i.e. a round trip must beat its maker fees (upstream safety check §3.5).
  const net = params.priceInterval.minus(price.plus(price.plus(params.priceInterval)).mul(feeRate));
  if (!net.gt(0)) {
    throw new Error(`grid.price_interval ${params.priceInterval} does not cover round-trip fees at price ${price} (fee rate ${feeRate})`);
  }
}
