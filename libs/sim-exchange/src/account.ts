import { ZERO, type AccountSnapshot, type Dec, type Position, type Side } from '@mm/domain';

/** One-way-mode position state: signed `size` (base units, > 0 long), `entry` price (quote units). */
export interface PositionState {
  size: Dec;
  entry: Dec;
}

/**
 * A single-asset (USDT) cross-margin futures account.
 *
 * - wallet = initial + Σ realized PnL − Σ fees + Σ funding (USDT)
 * - entry price: volume-weighted average when a position grows, unchanged when it shrinks,
 *   the fill price for the remainder when it flips, zero when flat
 * - realized PnL of a fill = (fill price − entry) × reduced qty × sign(size before)
 * - unrealized PnL = (mark − entry) × size; mark = the symbol's last price
 * - available = wallet + Σ uPnL − Σ |size| × mark / leverage − open-order notional / leverage
 */
export class Account {
  wallet: Dec;
  /** Cumulative realized PnL (excludes fees and funding). */
  realizedPnl: Dec = ZERO;
  private readonly positions = new Map<string, PositionState>();

  constructor(
    initialBalance: Dec,
    readonly leverage: number,
  ) {
    this.wallet = initialBalance;
  }

  position(symbol: string): PositionState {
    let p = this.positions.get(symbol);
    if (!p) this.positions.set(symbol, (p = { size: ZERO, entry: ZERO }));
    return p;
  }

  /** Applies an execution and its fee (USDT) to position and wallet; returns the realized PnL. */
  applyFill(symbol: string, side: Side, qty: Dec, price: Dec, fee: Dec): Dec {
    const p = this.position(symbol);
    const signed = side === 'BUY' ? qty : qty.neg();
    const before = p.size;
    const after = before.plus(signed);
    let realized = ZERO;
    if (before.isZero() || before.isPositive() === signed.isPositive()) {
      p.entry = before.isZero() ? price : p.entry.mul(before.abs()).plus(price.mul(qty)).div(after.abs());
    } else {
      const closed = qty.lt(before.abs()) ? qty : before.abs();
      realized = price.minus(p.entry).mul(closed).mul(before.isPositive() ? 1 : -1);
      if (after.isZero()) p.entry = ZERO;
      else if (after.isPositive() !== before.isPositive()) p.entry = price;
    }
    p.size = after;
    this.realizedPnl = this.realizedPnl.plus(realized);
    this.wallet = this.wallet.plus(realized).minus(fee);
    return realized;
  }

  /** Settles funding: pays −size × mark × rate (USDT, negative = paid); returns the amount. */
  applyFunding(symbol: string, mark: Dec, rate: Dec): Dec {
    const amount = this.position(symbol).size.mul(mark).mul(rate).neg();
    this.wallet = this.wallet.plus(amount);
    return amount;
  }

  toPosition(symbol: string, mark: Dec): Position {
    const p = this.position(symbol);
    return {
      symbol,
      size: p.size,
      entryPrice: p.entry,
      markPrice: mark,
      unrealizedPnl: p.size.isZero() ? ZERO : mark.minus(p.entry).mul(p.size),
      leverage: this.leverage,
      marginType: 'cross',
      liquidationPrice: ZERO,
    };
  }

  /**
   * Account totals for the given symbols. `mark(symbol)` gives the mark price, `openNotional`
   * the Σ price × qty of open non-reduce-only orders (quote units).
   */
  snapshot(symbols: string[], mark: (symbol: string) => Dec, openNotional: Dec): AccountSnapshot {
    const positions = symbols.map((s) => this.toPosition(s, mark(s)));
    let upnl = ZERO;
    let posNotional = ZERO;
    for (const p of positions) {
      if (p.size.isZero()) continue;
      upnl = upnl.plus(p.unrealizedPnl);
      posNotional = posNotional.plus(p.size.abs().mul(p.markPrice));
    }
    const margin = this.wallet.plus(upnl);
    return {
      asset: 'USDT',
      totalWalletBalance: this.wallet,
      totalMarginBalance: margin,
      availableBalance: margin.minus(posNotional.plus(openNotional).div(this.leverage)),
      positions,
      leverage: this.leverage,
      realizedPnl: this.realizedPnl,
    };
  }
}
