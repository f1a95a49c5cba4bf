import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { dec, type ExchangeVenue } from '@mm/domain';
import { ConfigError } from '@mm/platform';
import { SimExchange, SimSpotExchange, SymbolFileListError, type SimSymbolData, defaultSpotRules, loadSimDataSet, parseSymbolFiles } from '@mm/sim-exchange';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import type { SimReplayControl } from '../sim-replay';
import type { CcxtVenueId } from './ccxt/ccxt-venue';

/** DI token of the one `ExchangeVenue` this connector wraps. */
export const VENUE = Symbol('VENUE');
/** DI token of the sim's {@link SimReplayControl} (null unless the venue is a sim file replay). */
export const SIM_REPLAY = Symbol('SIM_REPLAY');

let preloaded: { key: string; symbols: SimSymbolData[] } | undefined;

/**
 * Loads and validates the sim's `SIM_DATA` / `SIM_FUNDING` files (kept for `createVenue`, so they
 * are read once). `main.ts` calls it before Nest starts, so a bad file stops the connector with the
 * one-line `MarketDataError` (file, line, problem) and exit code 1.
 * @throws MarketDataError for a bad, empty or missing file.
 */
export function preloadSimMarketData(config: ConnectorConfig): void {
  if (config.exchange !== 'sim') return;
  const s = config.sim;
  const key = JSON.stringify([s.data, s.funding, s.markPrice, s.dataFormat, s.symbol, s.maxCandles]);
  if (preloaded?.key === key) return;
  try {
    preloaded = {
      key,
      symbols: loadSimDataSet({ data: s.data, funding: s.funding, markPrice: s.markPrice, defaultSymbol: s.symbol, format: s.dataFormat, maxCandles: s.maxCandles }),
    };
  } catch (e) {
    if (e instanceof SymbolFileListError) throw new ConfigError(`sim.${{ SIM_DATA: 'data', SIM_FUNDING: 'funding', SIM_MARK_PRICE: 'markPrice' }[e.setting] ?? e.setting} (${e.setting})`, e.message.slice(e.setting.length + 2));
    throw e;
  }
}

/** Symbols the sim serves (after `preloadSimMarketData`): the `SIM_DATA` symbols, else `SIM_SYMBOL`. */
export function simSymbols(config: ConnectorConfig): string[] {
  preloadSimMarketData(config);
  return preloaded ? preloaded.symbols.map((x) => x.symbol) : [config.sim.symbol];
}

/** `SIM_SYMBOL_LEVERAGE` as a map. */
function symbolLeverage(v: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of (v ?? '').split(',')) {
    const [k, n] = item.split('=').map((x) => x.trim());
    if (!k) continue;
    const lev = Number(n);
    if (!(Number.isInteger(lev) && lev >= 1 && lev <= 125)) throw new ConfigError('sim.symbolLeverage (SIM_SYMBOL_LEVERAGE)', `${k}: leverage must be 1..125, got ${n}`);
    out.set(k, lev);
  }
  return out;
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
    case 'paper':
      return createPaper(config);
    case 'sim': {
      const s = config.sim;
      if (s.market === 'spot') return createSimSpot(config);
      preloadSimMarketData(config);
      const lev = symbolLeverage(s.symbolLeverage);
      for (const k of lev.keys())
        if (!preloaded!.symbols.some((x) => x.symbol === k))
          throw new ConfigError('sim.symbolLeverage (SIM_SYMBOL_LEVERAGE)', `${k} is not a sim symbol (${preloaded!.symbols.map((x) => x.symbol).join(', ')})`);
      return new SimExchange({
        name: 'sim',
        symbols: preloaded!.symbols.map(({ symbol, rules, data: d }) => ({
          rules,
          candles: d.candles,
          events: d.events,
          fundingRates: d.fundingRates,
          markPrices: d.markPrices,
          leverage: lev.get(symbol),
        })),
        liquidationFeeRate: s.liquidation ? dec(s.liquidationFee) : dec(-1),
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

/**
 * `SIM_MARKET=spot`: the spot market of the sim symbols (README "Spot market"). Symbols and price
 * path from `SIM_SPOT_DATA` (spot klines), else derived from the `SIM_DATA` perp klines with the
 * constant basis `SIM_SPOT_BASIS`. Binance spot rules for BTCUSDT/ETHUSDT, otherwise the perp
 * rules of the symbol. Initial balance `SIM_BALANCE` USDT; borrowing per `SIM_SPOT_INTEREST`.
 * @throws ConfigError naming the setting for a bad list or a missing data source.
 */
function createSimSpot(config: ConnectorConfig): SimSpotExchange {
  const s = config.sim;
  const rulesFor = (symbol: string, perpRules?: SimSymbolData['rules']) => {
    try {
      return defaultSpotRules(symbol);
    } catch {
      if (perpRules) return perpRules;
      throw new ConfigError('sim.spotData (SIM_SPOT_DATA)', `${symbol}: no default spot rules; only BTCUSDT/ETHUSDT spot files are supported without SIM_DATA`);
    }
  };
  const interest = new Map<string, ReturnType<typeof dec>>();
  for (const item of (s.spotInterest ?? '').split(',')) {
    const [k, v] = item.split('=').map((x) => x.trim());
    if (k) interest.set(k, dec(v));
  }
  let files: Map<string, string>;
  try {
    files = parseSymbolFiles(s.spotData, s.symbol, 'SIM_SPOT_DATA');
  } catch (e) {
    throw new ConfigError('sim.spotData (SIM_SPOT_DATA)', e instanceof Error ? e.message : String(e));
  }
  let symbols: ConstructorParameters<typeof SimSpotExchange>[0]['symbols'];
  if (files.size) symbols = [...files].map(([symbol, csvPath]) => ({ rules: rulesFor(symbol), candles: { csvPath } }));
  else {
    if (!s.data) throw new ConfigError('sim.spotData (SIM_SPOT_DATA)', 'SIM_MARKET=spot needs SIM_SPOT_DATA (spot klines) or SIM_DATA (perp klines to derive the spot path from)');
    preloadSimMarketData(config);
    symbols = preloaded!.symbols.map(({ symbol, rules, data: d }) => {
      if (!d.candles) throw new ConfigError('sim.data (SIM_DATA)', `${symbol}: a derived spot path needs klines, not tick-level data`);
      return { rules: rulesFor(symbol, rules), derivedFrom: { perpCandles: d.candles, basis: dec(s.spotBasis) } };
    });
  }
  return new SimSpotExchange({
    name: 'sim',
    symbols,
    balances: { USDT: dec(s.balance) },
    makerFee: dec(s.spotMakerFee),
    takerFee: dec(s.spotTakerFee),
    hourlyInterest: Object.fromEntries(interest),
    autoBorrow: s.spotAutoBorrow,
    tickIntervalMs: Math.max(s.tickMs, 1000),
  });
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
    spotMargin: c.spotMargin,
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
    @Optional() @Inject(SIM_REPLAY) private readonly replay?: SimReplayControl | null,
  ) {}

  start(): void {
    if (this.venue instanceof SimSpotExchange) {
      const s = this.config.sim;
      this.venue.start(s.speed);
      this.log.log(`sim spot venue ${s.spotData ? `replaying ${s.spotData}` : `derived from ${s.data} (basis ${s.spotBasis})`} at ${s.speed}x; margin borrowing ${s.spotInterest ?? 'off'}, auto-borrow ${s.spotAutoBorrow ? 'on' : 'off'}`);
    }
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
        ? `replaying ${s.data} (${preloaded?.symbols.some((x) => x.data.events) ? 'tick-level trade-through' : s.fillModel} fills${!preloaded?.symbols.some((x) => x.data.events) && s.fillModel === 'conservative' ? `, volume share ${s.volumeShare}` : ''}, start ${s.start}, lockstep ${s.lockstep ? 'on' : 'off'})`
        : `random walk seed ${s.seed}`;
      const syms = preloaded?.symbols.map((x) => `${x.symbol} (tick ${x.rules.tickSize}, step ${x.rules.stepSize}, min notional ${x.rules.minNotional})`).join(', ') ?? s.symbol;
      this.log.log(`sim venue ${syms}: ${how} at ${s.speed}x; cross margin, liquidation ${s.liquidation ? `on (fee ${s.liquidationFee})` : 'off'}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.venue.close();
  }
}
