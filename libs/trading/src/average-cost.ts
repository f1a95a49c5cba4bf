import { Dec, ZERO } from '@mm/domain';

/**
 * Realized PnL by the venue's method (average cost, one-way position; Binance USDⓈ-M "Realized
 * PnL"): an opening fill moves the average entry price to the quantity-weighted average of the
 * position and the fill; a closing fill realizes (fill price − average entry) × closed quantity
 * (× −1 for a short); a fill that flips the side opens the rest at its price. Fees are excluded
 * (the venue books them separately). Quote units; quantities base units.
 *
 * Beside the grid's strategy PnL (per slot: each slot's sell − buy, net of every fee), this is what
 * the venue shows for the same fills.
 */
export class AverageCostLedger {
  size: Dec = ZERO;
  entry: Dec = ZERO;
  realized: Dec = ZERO;

  /** Starts from a venue position (signed size, entry price), realized 0. */
  seed(size: Dec, entry: Dec): void {
    this.size = size;
    this.entry = size.isZero() ? ZERO : entry;
    this.realized = ZERO;
  }

  /** Applies one fill; returns the PnL it realized (quote). */
  apply(side: 'BUY' | 'SELL', qty: Dec, price: Dec): Dec {
    const signed = side === 'BUY' ? qty : qty.neg();
    const before = this.size;
    const after = before.plus(signed);
    let realized = ZERO;
    if (before.isZero() || before.isPositive() === signed.isPositive()) {
      this.entry = before.isZero() ? price : this.entry.mul(before.abs()).plus(price.mul(qty)).div(after.abs());
    } else {
      const closed = Dec.min(qty, before.abs());
      realized = price.minus(this.entry).mul(closed).mul(before.isPositive() ? 1 : -1);
      if (after.isZero()) this.entry = ZERO;
      else if (after.isPositive() !== before.isPositive()) this.entry = price;
    }
    this.size = after;
    this.realized = this.realized.plus(realized);
    return realized;
  }
}
