import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { dec, type ExchangeVenue } from '@mm/domain';
import { type SimData, SimExchange, defaultSymbolRules, loadFundingCsv, loadSimData } from '@mm/sim-exchange';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import type { SimReplayControl } from '../sim-replay';
import type { CcxtVenueId } from './ccxt/ccxt-venue';

/** DI token of the one `ExchangeVenue` this connector wraps. */
export const VENUE = Symbol('VENUE');
/** DI token of the sim's {@link SimReplayControl} (null unless the venue is a sim file replay). */
export const SIM_REPLAY = Symbol('SIM_REPLAY');

let preloaded: { key: string; data: SimData } | undefined;

/**
 * Loads and validates the sim's `SIM_DATA` / `SIM_FUNDING` files (kept for `createVenue`, so they
 * are read once). `main.ts` calls it before Nest starts, so a bad file stops the connector with the
 * one-line `MarketDataError` (file, line, problem) and exit code 1.
 * @throws MarketDataError for a bad, empty or missing file.
 */
export function preloadSimMarketData(config: ConnectorConfig): void {
  if (config.exchange !== 'sim') return;
  const s = config.sim;
  const key = JSON.stringify([s.data, s.funding, s.dataFormat, s.symbol, s.maxCandles]);
  if (preloaded?.key === key) return;
  if (s.data) preloaded = { key, data: loadSimData({ symbol: s.symbol, data: s.data, format: s.dataFormat, funding: s.funding, maxCandles: s.maxCandles }) };
  else preloaded = { key, data: { format: 'klines', fundingRates: s.funding ? loadFundingCsv(s.funding) : undefined } };
}

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
    case 'sim': {
      const s = config.sim;
      preloadSimMarketData(config);
      const d = preloaded!.data;
      return new SimExchange({
        name: 'sim',
        symbols: [
          {
            rules: defaultSymbolRules(s.symbol),
            candles: d.candles,
            events: d.events,
            fundingRates: d.fundingRates,
          },
        ],
        fillModel: s.fillModel,
        volumeShare: s.volumeShare,
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
  });
  venue.onClose(stop);
  return venue;
}

/** Starts the venue after the app is up and closes it on shutdown. */
@Injectable()
export class VenueLifecycle implements OnApplicationShutdown {
  private readonly log = new Logger('Venue');
  constructor(
    @Inject(VENUE) private readonly venue: ExchangeVenue,
    @Inject(CONNECTOR_CONFIG) private readonly config: ConnectorConfig,
    @Optional() @Inject(SIM_REPLAY) private readonly replay?: SimReplayControl | null,
  ) {}

  start(): void {
    if (this.venue instanceof SimExchange) {
      const sim = this.venue;
      const s = this.config.sim;
      if (this.replay) sim.setGate(this.replay);
      sim.onFinished(() => {
        const st = sim.status();
        this.log.log(`sim replay finished: ${s.data} ended at market time ${new Date(st.marketTimeMs).toISOString()} (${st.candlesReplayed} candles replayed); prices stay at the last value`);
      });
      sim.start();
      const how = s.data
        ? `replaying ${s.data} (${preloaded?.data.events ? 'tick-level trade-through' : s.fillModel} fills${!preloaded?.data.events && s.fillModel === 'conservative' ? `, volume share ${s.volumeShare}` : ''}, start ${s.start}, lockstep ${s.lockstep ? 'on' : 'off'})`
        : `random walk seed ${s.seed}`;
      this.log.log(`sim venue ${s.symbol}: ${how} at ${s.speed}x`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.venue.close();
  }
}
