import { Dec, ZERO } from '@mm/domain';
import type { RoundTrip } from './types';

interface Lot {
  /** Signed open quantity (base): > 0 long, < 0 short. */
  qty: Dec;
  price: Dec;
  /** Entry fee not yet attributed to a round trip (quote). */
  fee: Dec;
  timeMs: number;
}

/**
 * Round trips from fills, per grid slot (the engine's bookkeeping: each grid level is its own
 * position), FIFO within a slot. A fill against a slot's open lots closes them oldest first; what is
 * left over opens a lot in the fill's direction. Exact decimals: gross PnL = (exit − entry) × qty
 * (sign-adjusted for shorts); a partly closed lot hands over the matching share of its entry fee,
 * a fully closed one the rest, so Σ trip fees + Σ open-lot fees = Σ fill fees exactly.
 */
export class LotBook {
  private readonly slots = new Map<string, Lot[]>();
  readonly trips: RoundTrip[] = [];
  /** Σ trip gross PnL (quote). */
  realized: Dec = ZERO;
  /** Σ fill fees (quote). */
  fees: Dec = ZERO;
  /** Signed position (base) and signed cost of open lots (Σ qty × price). */
  position: Dec = ZERO;
  openCost: Dec = ZERO;

  constructor(private readonly symbol: string) {}

  /** Books one fill of `slot` (a slot key; any string). */
  fill(slot: string, side: 'BUY' | 'SELL', price: Dec, qty: Dec, fee: Dec, timeMs: number): void {
    this.fees = this.fees.plus(fee);
    const dir = side === 'BUY' ? 1 : -1;
    this.position = dir === 1 ? this.position.plus(qty) : this.position.minus(qty);
    let lots = this.slots.get(slot);
    if (!lots) {
      lots = [];
      this.slots.set(slot, lots);
    }
    let left = qty;
    let feeLeft = fee;
    while (left.gt(0) && lots.length && (lots[0].qty.gt(0) ? -1 : 1) === dir) {
      const lot = lots[0];
      const size = lot.qty.abs();
      const closing = Dec.min(size, left);
      const entryFee = closing.eq(size) ? lot.fee : lot.fee.mul(closing).div(size);
      const exitFee = closing.eq(left) ? feeLeft : fee.mul(closing).div(qty);
      const long = lot.qty.gt(0);
      const pnl = (long ? price.minus(lot.price) : lot.price.minus(price)).mul(closing);
      this.trips.push({ symbol: this.symbol, direction: long ? 'LONG' : 'SHORT', openTimeMs: lot.timeMs, closeTimeMs: timeMs, qty: closing, entryPrice: lot.price, exitPrice: price, pnl, fees: entryFee.plus(exitFee) });
      this.realized = this.realized.plus(pnl);
      this.openCost = this.openCost.minus(lot.price.mul(long ? closing : closing.neg()));
      left = left.minus(closing);
      feeLeft = feeLeft.minus(exitFee);
      if (closing.eq(size)) lots.shift();
      else {
        lot.qty = long ? lot.qty.minus(closing) : lot.qty.plus(closing);
        lot.fee = lot.fee.minus(entryFee);
      }
    }
    if (left.gt(0)) {
      lots.push({ qty: dir === 1 ? left : left.neg(), price, fee: feeLeft, timeMs });
      this.openCost = this.openCost.plus(price.mul(dir === 1 ? left : left.neg()));
    }
  }

  /** Unrealized PnL of the open lots at `mark` (quote): mark × position − Σ signed lot cost. */
  unrealized(mark: Dec): Dec {
    return this.position.isZero() && this.openCost.isZero() ? ZERO : mark.mul(this.position).minus(this.openCost);
  }
}
