import { Logger } from '@nestjs/common';
import { GridStore, type StateChange } from '../persistence/grid.store';

/**
 * GridStore that writes one readable line per booked fill once it is durable, and a round-trip
 * line when the fill closed one (non-zero realized PnL):
 *
 *   fill BUY 0.002 BTCUSDT @ 94100.0 fee 0.0376 USDT (mm1-…)
 *   round trip closed BTCUSDT: SELL 0.002 @ 94200.0, PnL +0.16 USDT
 *
 * Money is printed from the stored decimals, never via a JS number.
 */
export class FillLogStore extends GridStore {
  private readonly log = new Logger('Trades');

  // keeps a synchronous journal synchronous (no await on the decision path)
  override apply(change: StateChange): void | Promise<void> {
    const r = super.apply(change);
    if (r instanceof Promise) return r.then(() => this.logFills(change));
    this.logFills(change);
  }

  private logFills(change: StateChange): void {
    for (const f of change.fills ?? []) {
      this.log.log(`fill ${f.side} ${f.quantity.toString()} ${f.symbol} @ ${f.price.toString()} fee ${f.fee.toString()} ${f.feeAsset} (${f.clientOrderId})`);
      if (!f.realizedPnl.isZero()) {
        const pnl = f.realizedPnl.isNegative() ? f.realizedPnl.toString() : `+${f.realizedPnl.toString()}`;
        this.log.log(`round trip closed ${f.symbol}: ${f.side} ${f.quantity.toString()} @ ${f.price.toString()}, PnL ${pnl} (quote, net of fees)`);
      }
    }
  }
}
