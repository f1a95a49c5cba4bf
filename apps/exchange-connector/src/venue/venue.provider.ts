import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { dec, type ExchangeVenue } from '@mm/domain';
import { SimExchange, defaultSymbolRules, loadFundingCsv, loadKlineCsv } from '@mm/sim-exchange';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';

/** DI token of the one `ExchangeVenue` this connector wraps. */
export const VENUE = Symbol('VENUE');

/** Builds the venue named by `config.exchange`. */
export function createVenue(config: ConnectorConfig): ExchangeVenue {
  switch (config.exchange) {
    case 'sim': {
      const s = config.sim;
      return new SimExchange({
        name: 'sim',
        symbols: [
          {
            rules: defaultSymbolRules(s.symbol),
            candles: s.data ? loadKlineCsv(s.data, s.symbol).slice(0, s.maxCandles) : undefined,
            fundingRates: s.funding ? loadFundingCsv(s.funding) : undefined,
          },
        ],
        speed: s.speed,
        seed: s.seed,
        initialBalance: dec(s.balance),
        makerFee: dec(s.makerFee),
        takerFee: dec(s.takerFee),
        tickIntervalMs: s.tickMs,
        leverage: s.leverage,
      });
    }
  }
}

/** Starts the venue after the app is up and closes it on shutdown. */
@Injectable()
export class VenueLifecycle implements OnApplicationShutdown {
  private readonly log = new Logger('Venue');
  constructor(
    @Inject(VENUE) private readonly venue: ExchangeVenue,
    @Inject(CONNECTOR_CONFIG) private readonly config: ConnectorConfig,
  ) {}

  start(): void {
    if (this.venue instanceof SimExchange) {
      this.venue.start();
      const s = this.config.sim;
      this.log.log(`sim venue ${s.symbol}: ${s.data ? `replaying ${s.data}` : `random walk seed ${s.seed}`} at ${s.speed}x`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.venue.close();
  }
}
