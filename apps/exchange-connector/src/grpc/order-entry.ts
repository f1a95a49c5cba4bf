import { Inject, Injectable } from '@nestjs/common';
import { Dec, type ExchangeVenue, type OrderRequest, VenueError, dec, invalidArgument } from '@mm/domain';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import { VENUE } from '../venue/venue.provider';

/** How long a reference price is reused for the band check, ms (saves a REST call per order on ccxt venues). */
export const REFERENCE_PRICE_MAX_AGE_MS = 1000;

/**
 * Order-entry checks of the connector, after the request shape (codec) and before the venue:
 * - price and quantity carry no more decimal places than the symbol's tick size and step size;
 * - percent-price band: a LIMIT price must lie within ±`orderEntry.priceBandPct` % of the last price,
 *   like Binance's PERCENT_PRICE / PERCENT_PRICE_BY_SIDE filters (multiplierUp/multiplierDown) —
 *   it stops fat-finger and hostile prices such as `1e400` or 50 % through the book.
 * All failures are INVALID_ARGUMENT naming the field (`price`, `quantity`; in a batch the error's index names the order, as for the venue's own rule errors).
 */
@Injectable()
export class OrderEntryChecks {
  private readonly bandPct: Dec;
  private readonly refs = new Map<string, { price: Dec; atMs: number }>();

  constructor(
    @Inject(VENUE) private readonly venue: ExchangeVenue,
    @Inject(CONNECTOR_CONFIG) config: ConnectorConfig,
  ) {
    this.bandPct = dec(config.orderEntry.priceBandPct);
  }

  /** @throws VenueError INVALID_ARGUMENT naming the field; UNAVAILABLE when no reference price can be read. */
  async check(req: OrderRequest): Promise<void> {
    const rules = await this.venue.getSymbolRules(req.symbol).catch(() => {
      throw invalidArgument('symbol', `unknown symbol ${req.symbol}`, 'UNKNOWN_SYMBOL');
    });
    const qtyDp = rules.stepSize.decimalPlaces();
    if (req.quantity.decimalPlaces() > qtyDp) throw invalidArgument('quantity', `has more decimal places than the step size ${rules.stepSize.toString()} allows (${qtyDp})`);
    if (!req.price) return;
    const pxDp = rules.tickSize.decimalPlaces();
    if (req.price.decimalPlaces() > pxDp) throw invalidArgument('price', `has more decimal places than the tick size ${rules.tickSize.toString()} allows (${pxDp})`);
    if (req.type !== 'LIMIT' || this.bandPct.isZero()) return;
    const ref = await this.reference(req.symbol);
    const lo = ref.mul(Dec.sub(100, this.bandPct)).div(100);
    const hi = ref.mul(Dec.add(100, this.bandPct)).div(100);
    if (req.price.lt(lo) || req.price.gt(hi)) {
      throw invalidArgument('price', `${req.price.toString()} is outside the ±${this.bandPct.toString()} % band around the last price ${ref.toString()} (${lo.toString()}..${hi.toString()})`);
    }
  }

  private async reference(symbol: string): Promise<Dec> {
    const now = Date.now();
    const hit = this.refs.get(symbol);
    if (hit && now - hit.atMs < REFERENCE_PRICE_MAX_AGE_MS) return hit.price;
    let price: Dec;
    try {
      price = await this.venue.getLatestPrice(symbol);
    } catch (e) {
      throw new VenueError('UNAVAILABLE', `price band: no reference price for ${symbol}: ${(e as Error).message}`, { retryable: true });
    }
    if (!price.gt(0)) throw new VenueError('UNAVAILABLE', `price band: no reference price for ${symbol}`, { retryable: true });
    this.refs.set(symbol, { price, atMs: now });
    return price;
  }
}
