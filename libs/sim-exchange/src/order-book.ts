import { ZERO, type Dec, type Order } from '@mm/domain';

/** A resting LIMIT order. `ticks` = limit price / tickSize, an exact integer for cheap compares. */
export interface Resting {
  order: Order;
  ticks: number;
  /** Initial-margin notional it reserves: price × remaining qty (quote units); zero for reduce-only. */
  notional: Dec;
}

/**
 * Resting orders of one symbol, price-time priority. Buys are kept ascending and sells
 * descending, so the best order of each side is the last element (O(1) peek/pop); equal prices
 * keep the oldest order nearest the end. `bestBuy`/`bestSell` cache the best prices in ticks
 * (−∞/+∞ when a side is empty) so the per-path-point check is two number compares.
 */
export class OrderBook {
  private readonly buys: Resting[] = [];
  private readonly sells: Resting[] = [];
  bestBuy = -Infinity;
  bestSell = Infinity;
  /** Σ notional of resting orders (quote units). */
  openNotional: Dec = ZERO;

  add(r: Resting): void {
    const buy = r.order.side === 'BUY';
    const arr = buy ? this.buys : this.sells;
    // first index whose price is at least as good as r's: new order goes behind equal prices
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (buy ? arr[mid].ticks < r.ticks : arr[mid].ticks > r.ticks) lo = mid + 1;
      else hi = mid;
    }
    arr.splice(lo, 0, r);
    if (!r.notional.isZero()) this.openNotional = this.openNotional.plus(r.notional);
    this.refresh();
  }

  /** Removes and returns the best buy (caller checked `bestBuy`). */
  popBestBuy(): Resting {
    return this.taken(this.buys.pop()!);
  }

  /** Removes and returns the best sell (caller checked `bestSell`). */
  popBestSell(): Resting {
    return this.taken(this.sells.pop()!);
  }

  /** The best buy without removing it (caller checked `bestBuy`). */
  peekBestBuy(): Resting {
    return this.buys[this.buys.length - 1];
  }

  /** The best sell without removing it (caller checked `bestSell`). */
  peekBestSell(): Resting {
    return this.sells[this.sells.length - 1];
  }

  /** A partial fill of resting `r`: releases `notional` (quote units) of its margin reservation; it keeps its place. */
  release(r: Resting, notional: Dec): void {
    if (r.notional.isZero()) return;
    r.notional = r.notional.minus(notional);
    this.openNotional = this.openNotional.minus(notional);
  }

  /** Removes an order by venue id; undefined when it is not resting here. */
  remove(orderId: string): Resting | undefined {
    for (const arr of [this.buys, this.sells]) {
      for (let i = arr.length - 1; i >= 0; i--) {
        if (arr[i].order.orderId === orderId) return this.taken(arr.splice(i, 1)[0]);
      }
    }
    return undefined;
  }

  /** Resting orders, best first per side (buys then sells). */
  orders(): Order[] {
    const out: Order[] = [];
    for (let i = this.buys.length - 1; i >= 0; i--) out.push(this.buys[i].order);
    for (let i = this.sells.length - 1; i >= 0; i--) out.push(this.sells[i].order);
    return out;
  }

  get size(): number {
    return this.buys.length + this.sells.length;
  }

  private taken(r: Resting): Resting {
    if (!r.notional.isZero()) this.openNotional = this.openNotional.minus(r.notional);
    this.refresh();
    return r;
  }

  private refresh(): void {
    this.bestBuy = this.buys.length ? this.buys[this.buys.length - 1].ticks : -Infinity;
    this.bestSell = this.sells.length ? this.sells[this.sells.length - 1].ticks : Infinity;
  }
}
