import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { dec, type ExchangeVenue } from '@mm/domain';
import { SimExchange, defaultSymbolRules, loadFundingCsv, loadKlineCsv } from '@mm/sim-exchange';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import type { CcxtVenueId } from './ccxt/ccxt-venue';

/** DI token of the one `ExchangeVenue` this connector wraps. */
export const VENUE = Symbol('VENUE');

/**
 * Builds the venue named by `config.exchange`. The sim is built synchronously; a ccxt venue
 * (binance, bitget, gate, okx, bybit) is created asynchronously: ccxt is loaded lazily, markets are
 * loaded and the credentials validated with a signed call before the promise resolves, so the
 * connector never reports SERVING with bad keys.
 * @throws Error `<venue> (<type>) failed to start: …` naming the venue and its error (the process exits non-zero).
 */
export function createVenue(config: ConnectorConfig): ExchangeVenue | Promise<ExchangeVenue> {
  switch (config.exchange) {
    case 'binance':
    case 'bitget':
    case 'gate':
    case 'okx':
    case 'bybit':
      return createCcxt(config);
    case 'paper':
      return createPaper(config);
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

async function createCcxt(config: ConnectorConfig): Promise<ExchangeVenue> {
  // Lazy: keeps ccxt (≈0.7 s to load) out of sim runs and of every other app.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createCcxtVenue } = require('./ccxt/ccxt-factory') as typeof import('./ccxt/ccxt-factory');
  const c = config.ccxt;
  const { venue, stop } = await createCcxtVenue({
    venue: config.exchange as CcxtVenueId,
    marketType: config.marketType,
    credentials: config.credentials,
    urlOverride: c.urlOverride,
    symbols: c.symbols,
    accountPollMs: c.accountPollMs,
    fundingPollMs: c.fundingPollMs,
    ordersPollMs: c.ordersPollMs,
    defaultLeverage: c.defaultLeverage,
    timeoutMs: c.timeoutMs,
    preCheckClientOrderId: c.preCheckClientOrderId,
    sandbox: c.sandbox,
    orderIdMapFile: c.orderIdMapFile,
    allowWithdrawKey: c.allowWithdrawKey,
  });
  venue.onClose(stop);
  return venue;
}

async function createPaper(config: ConnectorConfig): Promise<ExchangeVenue> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createCcxtExchange } = require('./ccxt/ccxt-factory') as typeof import('./ccxt/ccxt-factory');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PaperVenue } = require('./paper/paper-venue') as typeof import('./paper/paper-venue');
  const c = config.ccxt;
  const source = config.paper.source;
  const ex = await createCcxtExchange({
    venue: source,
    marketType: 'swap',
    credentials: {},
    publicOnly: true,
    urlOverride: c.urlOverride,
    accountPollMs: c.accountPollMs,
    fundingPollMs: c.fundingPollMs,
    ordersPollMs: 0,
    defaultLeverage: c.defaultLeverage,
    timeoutMs: c.timeoutMs,
    sandbox: c.sandbox,
  });
  const venue = new PaperVenue({
    source,
    exchange: ex,
    symbols: c.symbols.length ? c.symbols : ['BTCUSDT'],
    initialBalance: dec(config.sim.balance),
    leverage: config.sim.leverage,
    fundingPollMs: c.fundingPollMs,
  });
  try {
    await venue.start();
  } catch (e) {
    await venue.close().catch(() => undefined);
    const err = new Error(`paper (${source} public data) failed to start: ${(e as Error).message}`);
    err.name = 'VenueStartError';
    throw err;
  }
  return venue;
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
