import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { ConfigError, boolish, decimalString, loadConfig } from '@mm/platform';

/**
 * Connector settings. Sources, lowest precedence first: YAML file at `$CONNECTOR_CONFIG`
 * (optional), then environment variables (names in `CONNECTOR_ENV`).
 */
export const connectorConfigSchema = z.object({
  /** gRPC listen port (ExchangeService + grpc.health.v1). */
  port: z.coerce.number().int().min(0).max(65535).default(50051),
  /** Listen address of gRPC and HTTP. Loopback by default; any other address requires `auth.tokens` (README "Hardening"). */
  host: z.string().min(1).default('127.0.0.1'),
  /** HTTP port for /health and /metrics. */
  httpPort: z.coerce.number().int().min(0).max(65535).default(9090),
  /** Which venue this connector wraps. */
  exchange: z.enum(['sim', 'paper', 'binance', 'bitget', 'gate', 'okx', 'bybit']).default('sim'),
  /**
   * `exchange: paper`: the real venue whose public market data (ccxt, no keys) drives the paper
   * account (README "Paper trading"). Symbols from `ccxt.symbols` (default BTCUSDT), initial wallet
   * and leverage from `sim.balance` / `sim.leverage`, state file `simStateFile`.
   */
  paper: z
    .object({
      source: z.enum(['binance', 'bitget', 'gate', 'okx', 'bybit']).default('binance'),
    })
    .default({}),
  /** ccxt venues: `swap` = USDT-margined perpetual (Binance USD-M), `spot` = spot. See README "Real venues". */
  marketType: z.enum(['swap', 'spot']).default('swap'),
  /** ccxt venues: API credentials, each from a value or a file (`*File` wins; files re-read on change and SIGHUP). Never logged. */
  credentials: z
    .object({
      apiKey: z.string().optional(),
      apiSecret: z.string().optional(),
      passphrase: z.string().optional(),
      apiKeyFile: z.string().optional(),
      apiSecretFile: z.string().optional(),
      passphraseFile: z.string().optional(),
    })
    .default({}),
  /** ccxt venue tuning (see README "Real venues"). */
  ccxt: z
    .object({
      /** Tests only: `http://127.0.0.1:PORT` replacing the host of every venue REST/WebSocket URL (a local fake venue). */
      urlOverride: z.string().url().optional(),
      /** Exposed symbols (domain form, comma separated, e.g. `BTCUSDT,ETHUSDT`); all markets of the type when empty. */
      symbols: z
        .union([z.array(z.string()), z.string()])
        .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim().toUpperCase()).filter(Boolean))
        .default([]),
      /** Poll interval of the account and position streams, ms (the venues' private WS is not used for them). */
      accountPollMs: z.coerce.number().int().min(100).default(5000),
      /** Poll interval of the funding-rate stream, ms. */
      fundingPollMs: z.coerce.number().int().min(100).default(60000),
      /** Periodic REST order reconciliation, ms; 0 = only after a WebSocket gap. */
      ordersPollMs: z.coerce.number().int().min(0).default(0),
      /** Leverage reported when the venue omits it. */
      defaultLeverage: z.coerce.number().int().min(1).max(125).default(10),
      /** REST timeout, ms. */
      timeoutMs: z.coerce.number().int().min(100).default(10000),
      /** Look a client order id up on the venue before placing (one extra REST call per order). */
      preCheckClientOrderId: boolish.default(false),
      /** Use the venue's testnet/demo endpoints. */
      sandbox: boolish.default(false),
      /**
       * SQLite file keeping the synthetic int64 order ids of venues whose ids are not int64 (Bybit
       * UUIDs), so CancelOrder/GetOrder by such an id work after a restart (README "Order ids").
       * In memory when unset (open orders are still recovered from the venue after a restart).
       */
      orderIdMapFile: z.string().optional(),
      /** Start even if the API key can withdraw (README "Going live": the connector refuses such keys by default). */
      allowWithdrawKey: boolish.default(false),
      /**
       * `MARKET_TYPE=spot` only: trade the spot margin account (README "Funding arbitrage on real
       * venues"): `cross` or `isolated` margin, orders with auto-borrow on SELL and auto-repay on BUY,
       * GetAccount positions net of the borrowed base and interest. `off` = the plain spot account.
       * Venues without spot margin in the mapping (`SPOT_MARGIN` in ccxt-margin.ts) refuse to start.
       */
      spotMargin: z.enum(['off', 'cross', 'isolated']).default('off'),
    })
    .default({}),
  sim: z
    .object({
      /**
       * Price data to replay: one path (for `symbol`), or `SYMBOL=path[,SYMBOL=path…]` for several
       * symbols merged on market time (README "Several symbols, one account"); random walk when absent.
       */
      data: z.string().optional(),
      /** Funding CSV (`funding_time_ms,funding_rate`): one path (for `symbol`) or `SYMBOL=path,…`; zero funding when absent. */
      funding: z.string().optional(),
      /** Mark-price kline CSV (`open_time_ms,open,high,low,close`, e.g. 8 h): one path (for `symbol`) or `SYMBOL=path,…`; mark = last price when absent. */
      markPrice: z.string().optional(),
      /** Per-symbol leverage `SYMBOL=n[,SYMBOL=n…]` (1–125); others use `leverage`. */
      symbolLeverage: z
        .string()
        .regex(/^\s*[A-Z0-9]{3,20}=\d{1,3}\s*(,\s*[A-Z0-9]{3,20}=\d{1,3}\s*)*$/, 'must be SYMBOL=leverage[,SYMBOL=leverage…], e.g. BTCUSDT=20,ETHUSDT=10')
        .optional(),
      /** Liquidate a cross account whose margin ratio reaches 100 % (README "Several symbols, one account"). */
      liquidation: boolish.default(true),
      /** Liquidation clearance fee, fraction of the closed notional. */
      liquidationFee: decimalString({ gte: 0 }).default('0.0125'),
      /** Replay at most this many candles of `data` (history included); all when absent. */
      maxCandles: z.coerce.number().int().positive().optional(),
      symbol: z.string().regex(/^[A-Z0-9]{3,20}$/, 'must be an upper-case symbol like BTCUSDT').default('BTCUSDT'),
      /** Market time per wall time (60 = one market minute per second). */
      speed: z.coerce.number().positive().max(1_000_000).default(60),
      seed: z.coerce.number().int().default(42),
      /** Initial wallet balance, USDT. */
      balance: decimalString({ gt: 0 }).default('10000'),
      makerFee: decimalString({ gte: 0 }).default('0.0002'),
      takerFee: decimalString({ gte: 0 }).default('0.0005'),
      /** Market ms between intra-minute price points. */
      tickMs: z.coerce.number().int().min(10).max(60000).default(1000),
      leverage: z.coerce.number().int().min(1).max(125).default(10),
      /** Format of `data`: `klines`, `trades` or `book` (tick level), or `auto` (from the header; headerless = klines). */
      dataFormat: z.enum(['auto', 'klines', 'trades', 'book']).default('auto'),
      /** Kline fill model: `touch` (path reaches the limit: full fill) or `conservative` (through by ≥ 1 tick, volume-capped). README "Fill models". */
      fillModel: z.enum(['touch', 'conservative']).default('touch'),
      /** `conservative`: share (0, 1] of each candle's volume resting orders may fill. */
      volumeShare: z.coerce.number().gt(0).max(1).default(0.1),
      /**
       * File replays: `immediate` replays from connector start; `on_subscribe` waits for the first trading
       * client (an armed dead-man's switch or a lockstep ack, plus an orders subscription) and pauses while there is none.
       */
      start: z.enum(['immediate', 'on_subscribe']).default('immediate'),
      /** File replays: hold market time to what lockstep clients acknowledged (`HeartbeatRequest.processed_market_time_ms`). */
      lockstep: boolish.default(true),
      /** Lockstep: wall ms a client may lag before the connector logs loudly and applies `lockstepOnStall`. */
      lockstepStallMs: z.coerce.number().int().min(100).default(30_000),
      /** Lockstep stall: `continue` stops waiting for the stalled client(s) until they ack again; `pause` keeps waiting. */
      lockstepOnStall: z.enum(['continue', 'pause']).default('continue'),
      /** Lockstep: market ms the replay may run ahead of the acknowledged time (0 = strict, deterministic). */
      lockstepWindowMs: z.coerce.number().int().min(0).default(0),
      /**
       * Which market this sim connector serves (README "Spot market"): `swap` = the USDT-margined
       * perpetual, `spot` = the spot market of the same symbols (SimSpotExchange: spot balances,
       * margin borrowing with hourly interest, no funding). One connector per market.
       */
      market: z.enum(['swap', 'spot']).default('swap'),
      /** `market=spot`: spot klines, one path (for `symbol`) or `SYMBOL=path,…`; when absent the spot path is derived from `data` with `spotBasis`. */
      spotData: z.string().optional(),
      /** `market=spot` without `spotData`: constant basis perp ÷ spot − 1 of the derived spot path (default −0.00045). */
      spotBasis: decimalString({ gt: -1 }).default('-0.00045'),
      /** `market=spot`: hourly borrow interest per asset, `ASSET=rate[,ASSET=rate…]` (fraction per hour); unlisted assets cannot be borrowed. */
      spotInterest: z
        .string()
        .regex(/^\s*[A-Z0-9]{2,12}=\d+(\.\d+)?\s*(,\s*[A-Z0-9]{2,12}=\d+(\.\d+)?\s*)*$/, 'must be ASSET=rate[,ASSET=rate…], e.g. BTC=0.0000042,USDT=0.0000012')
        .optional(),
      /** `market=spot`: a SELL beyond the free base borrows the shortfall; a BUY repays debt first (margin short leg). */
      spotAutoBorrow: boolish.default(false),
      /** `market=spot`: maker/taker fee fractions (Binance spot 0.001). */
      spotMakerFee: decimalString({ gte: 0 }).default('0.001'),
      spotTakerFee: decimalString({ gte: 0 }).default('0.001'),
    })
    .default({}),
  /**
   * Append every price, kline and funding message the connector publishes to this file (JSON Lines,
   * README "Recording"); any venue. Absent: no recording.
   */
  recordFile: z.string().optional(),
  streams: z
    .object({
      /** Messages queued per slow subscriber before it is cut off with RESOURCE_EXHAUSTED. */
      maxBuffer: z.coerce.number().int().positive().default(10000),
      /**
       * Staleness limits per stream kind, ms (0 = never stale). A stream whose last venue message is
       * older marks health NOT_SERVING (README "Stream staleness"). Unset: off for the sim; for ccxt
       * venues price 30 s, klines 120 s, account/positions 3 × accountPollMs, funding 3 × fundingPollMs, orders off.
       */
      staleAfterMs: z
        .object({
          price: z.coerce.number().int().min(0).optional(),
          klines: z.coerce.number().int().min(0).optional(),
          orders: z.coerce.number().int().min(0).optional(),
          account: z.coerce.number().int().min(0).optional(),
          positions: z.coerce.number().int().min(0).optional(),
          funding: z.coerce.number().int().min(0).optional(),
        })
        .default({}),
      /** How often stream ages are checked, ms. */
      staleCheckMs: z.coerce.number().int().min(50).default(500),
    })
    .default({}),
  /** Access control (see README "Access control"). No tokens = open (refused when NODE_ENV=production). */
  auth: z
    .object({
      /** Accepted bearer tokens: `role:token` or `role:name:token`, comma/newline separated; role trader|monitor. */
      tokens: z.string().default(''),
      /** File with more entries in the same format (one per line; `#` comments). */
      tokensFile: z.string().optional(),
    })
    .default({}),
  /** TLS for the gRPC port: PEM `cert` + `key`; with `ca` also mutual TLS (client certs must chain to it). */
  tls: z
    .object({
      cert: z.string().optional(),
      key: z.string().optional(),
      ca: z.string().optional(),
      /** With `ca`: reject clients without a certificate (default true). */
      requireClientCert: boolish.optional(),
    })
    .default({}),
  /** Per-client token bucket in front of the venue; `rate` 0 disables it. */
  rateLimit: z
    .object({
      /** Requests per second per client (token identity, or peer address when open). */
      rate: z.coerce.number().min(0).default(200),
      burst: z.coerce.number().int().min(1).default(400),
    })
    .default({}),
  /** Server-side gRPC limits, enforced by the server interceptor before any request message is read (README "Hardening"). */
  grpc: z
    .object({
      /** Largest request message of every RPC except the batch RPCs, bytes. */
      maxMessageBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(16 * 1024),
      /** Largest request message of BatchPlaceOrders / BatchCancelOrders, bytes. */
      maxBatchMessageBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      /** Concurrent server streams per client (token identity, or peer IP when open). */
      maxStreamsPerClient: z.coerce.number().int().min(1).default(100),
      /** Concurrent server streams over all clients. */
      maxStreamsTotal: z.coerce.number().int().min(1).default(1000),
      /** grpc.health.v1 Watch calls per connection / in total. */
      maxHealthWatchesPerConnection: z.coerce.number().int().min(1).default(4),
      maxHealthWatches: z.coerce.number().int().min(1).default(256),
      /** On SIGTERM: wait this long for calls and streams to finish (tryShutdown), then end them (forceShutdown), ms. */
      shutdownGraceMs: z.coerce.number().int().min(0).max(600_000).default(5000),
    })
    .default({}),
  /** Order-entry checks of the connector (README "Hardening"). */
  orderEntry: z
    .object({
      /**
       * Percent-price band: a LIMIT price more than this percent above or below the last price is
       * INVALID_ARGUMENT naming `price` (like Binance's PERCENT_PRICE filter); 0 = off.
       */
      priceBandPct: decimalString({ gte: 0 }).default('20'),
    })
    .default({}),
  /** Dead-man's switch. */
  deadMan: z
    .object({
      /**
       * Also arm the venue's native cancel-all countdown. Off by default: it cancels every order of
       * the symbol on the account, not only the arming client's (see README "Hardening").
       */
      venueNative: boolish.default(false),
    })
    .default({}),
  /** Sim only: JSON file the sim's account/order/replay state is saved to (debounced) and restored from at start. */
  simStateFile: z.string().optional(),
});
export type ConnectorConfig = z.infer<typeof connectorConfigSchema>;

export const CONNECTOR_ENV = [
  ['PORT', 'port'],
  ['GRPC_HOST', 'host'],
  ['METRICS_PORT', 'httpPort'],
  ['EXCHANGE', 'exchange'],
  ['SIM_DATA', 'sim.data'],
  ['SIM_FUNDING', 'sim.funding'],
  ['SIM_MARK_PRICE', 'sim.markPrice'],
  ['SIM_SYMBOL_LEVERAGE', 'sim.symbolLeverage'],
  ['SIM_LIQUIDATION', 'sim.liquidation'],
  ['SIM_LIQUIDATION_FEE', 'sim.liquidationFee'],
  ['SIM_MAX_CANDLES', 'sim.maxCandles'],
  ['SIM_SYMBOL', 'sim.symbol'],
  ['SIM_SPEED', 'sim.speed'],
  ['SIM_SEED', 'sim.seed'],
  ['SIM_BALANCE', 'sim.balance'],
  ['SIM_MAKER_FEE', 'sim.makerFee'],
  ['SIM_TAKER_FEE', 'sim.takerFee'],
  ['SIM_TICK_MS', 'sim.tickMs'],
  ['SIM_LEVERAGE', 'sim.leverage'],
  ['SIM_DATA_FORMAT', 'sim.dataFormat'],
  ['SIM_FILL_MODEL', 'sim.fillModel'],
  ['SIM_VOLUME_SHARE', 'sim.volumeShare'],
  ['SIM_START', 'sim.start'],
  ['SIM_LOCKSTEP', 'sim.lockstep'],
  ['SIM_LOCKSTEP_STALL_MS', 'sim.lockstepStallMs'],
  ['SIM_LOCKSTEP_ON_STALL', 'sim.lockstepOnStall'],
  ['SIM_LOCKSTEP_WINDOW_MS', 'sim.lockstepWindowMs'],
  ['SIM_MARKET', 'sim.market'],
  ['SIM_SPOT_DATA', 'sim.spotData'],
  ['SIM_SPOT_BASIS', 'sim.spotBasis'],
  ['SIM_SPOT_INTEREST', 'sim.spotInterest'],
  ['SIM_SPOT_AUTO_BORROW', 'sim.spotAutoBorrow'],
  ['SIM_SPOT_MAKER_FEE', 'sim.spotMakerFee'],
  ['SIM_SPOT_TAKER_FEE', 'sim.spotTakerFee'],
  ['RECORD_FILE', 'recordFile'],
  ['STREAM_MAX_BUFFER', 'streams.maxBuffer'],
  ['MARKET_TYPE', 'marketType'],
  ['API_KEY', 'credentials.apiKey'],
  ['API_SECRET', 'credentials.apiSecret'],
  ['PASSPHRASE', 'credentials.passphrase'],
  ['API_KEY_FILE', 'credentials.apiKeyFile'],
  ['API_SECRET_FILE', 'credentials.apiSecretFile'],
  ['PASSPHRASE_FILE', 'credentials.passphraseFile'],
  ['CCXT_URL_OVERRIDE', 'ccxt.urlOverride'],
  ['CCXT_SYMBOLS', 'ccxt.symbols'],
  ['CCXT_ACCOUNT_POLL_MS', 'ccxt.accountPollMs'],
  ['CCXT_FUNDING_POLL_MS', 'ccxt.fundingPollMs'],
  ['CCXT_ORDERS_POLL_MS', 'ccxt.ordersPollMs'],
  ['CCXT_DEFAULT_LEVERAGE', 'ccxt.defaultLeverage'],
  ['CCXT_TIMEOUT_MS', 'ccxt.timeoutMs'],
  ['CCXT_PRECHECK_CLIENT_ORDER_ID', 'ccxt.preCheckClientOrderId'],
  ['CCXT_SANDBOX', 'ccxt.sandbox'],
  ['ORDER_ID_MAP_FILE', 'ccxt.orderIdMapFile'],
  ['ALLOW_WITHDRAW_KEY', 'ccxt.allowWithdrawKey'],
  ['SPOT_MARGIN', 'ccxt.spotMargin'],
  ['STREAM_STALE_PRICE_MS', 'streams.staleAfterMs.price'],
  ['STREAM_STALE_KLINES_MS', 'streams.staleAfterMs.klines'],
  ['STREAM_STALE_ORDERS_MS', 'streams.staleAfterMs.orders'],
  ['STREAM_STALE_ACCOUNT_MS', 'streams.staleAfterMs.account'],
  ['STREAM_STALE_POSITIONS_MS', 'streams.staleAfterMs.positions'],
  ['STREAM_STALE_FUNDING_MS', 'streams.staleAfterMs.funding'],
  ['STREAM_STALE_CHECK_MS', 'streams.staleCheckMs'],
  ['CONNECTOR_TOKENS', 'auth.tokens'],
  ['CONNECTOR_TOKENS_FILE', 'auth.tokensFile'],
  ['TLS_CERT_FILE', 'tls.cert'],
  ['TLS_KEY_FILE', 'tls.key'],
  ['TLS_CA_FILE', 'tls.ca'],
  ['TLS_REQUIRE_CLIENT_CERT', 'tls.requireClientCert'],
  ['RATE_LIMIT_RPS', 'rateLimit.rate'],
  ['RATE_LIMIT_BURST', 'rateLimit.burst'],
  ['SIM_STATE_FILE', 'simStateFile'],
  ['GRPC_MAX_MESSAGE_BYTES', 'grpc.maxMessageBytes'],
  ['GRPC_MAX_BATCH_MESSAGE_BYTES', 'grpc.maxBatchMessageBytes'],
  ['GRPC_MAX_STREAMS_PER_CLIENT', 'grpc.maxStreamsPerClient'],
  ['GRPC_MAX_STREAMS_TOTAL', 'grpc.maxStreamsTotal'],
  ['HEALTH_MAX_WATCHES_PER_CONNECTION', 'grpc.maxHealthWatchesPerConnection'],
  ['HEALTH_MAX_WATCHES', 'grpc.maxHealthWatches'],
  ['SHUTDOWN_GRACE_MS', 'grpc.shutdownGraceMs'],
  ['PRICE_BAND_PCT', 'orderEntry.priceBandPct'],
  ['DEAD_MAN_VENUE_NATIVE', 'deadMan.venueNative'],
  ['PAPER_SOURCE', 'paper.source'],
] as const;

/**
 * `SIM_*` variables the connector accepts outside {@link CONNECTOR_ENV}. Every `SIM_*` name must be
 * either bound in CONNECTOR_ENV or listed here, or the start fails with "unknown environment variable".
 */
export const CONNECTOR_EXTRA_ENV = [
  'SIM_TEST_BURST', // test-only HTTP hooks (http/test-hooks.controller.ts)
  'SIM_SPOT', // scripts/run-stack.js: start a second, spot sim connector (funding arbitrage)
  'SIM_DATA_DIR', // docker-compose host folder of SIM_DATA files (interpolation variable)
] as const;

/** Env prefixes the connector owns (strictly checked). */
export const CONNECTOR_ENV_PREFIXES = ['SIM_'] as const;

export const CONNECTOR_CONFIG = Symbol('CONNECTOR_CONFIG');

/** @throws ConfigError naming the bad key. */
export function loadConnectorConfig(env: NodeJS.ProcessEnv = process.env): ConnectorConfig {
  const cfg = loadConfig(connectorConfigSchema, {
    file: env.CONNECTOR_CONFIG,
    required: !!env.CONNECTOR_CONFIG,
    env: CONNECTOR_ENV,
    source: env,
    strictEnvPrefixes: CONNECTOR_ENV_PREFIXES,
    extraEnv: CONNECTOR_EXTRA_ENV,
  });
  checkSpotMargin(cfg, env);
  return cfg;
}

/**
 * Cross-field rules of `ccxt.spotMargin` (env `SPOT_MARGIN`): only with a ccxt venue and
 * `marketType: spot`; `isolated` needs exactly one symbol in `ccxt.symbols` (an isolated margin
 * account and its order stream belong to one pair). Venue support is checked by the ccxt factory.
 * @throws ConfigError naming `ccxt.spotMargin` (or `ccxt.symbols`).
 */
function checkSpotMargin(cfg: ConnectorConfig, env: NodeJS.ProcessEnv): void {
  const mode = cfg.ccxt.spotMargin;
  if (mode === 'off') return;
  const hint = env.SPOT_MARGIN !== undefined ? ' (from env SPOT_MARGIN)' : '';
  if (cfg.exchange === 'sim' || cfg.exchange === 'paper')
    throw new ConfigError('ccxt.spotMargin', `${mode} needs a real venue through ccxt, not exchange=${cfg.exchange} (the sim spot market uses sim.spotAutoBorrow)${hint}`);
  if (cfg.marketType !== 'spot')
    throw new ConfigError('ccxt.spotMargin', `${mode} is only valid with marketType=spot (MARKET_TYPE=spot), got marketType=${cfg.marketType}${hint}`);
  if (mode === 'isolated' && cfg.ccxt.symbols.length !== 1)
    throw new ConfigError('ccxt.symbols', `spotMargin=isolated needs exactly one symbol (CCXT_SYMBOLS), got ${cfg.ccxt.symbols.length || 'none'}`);
}

/**
 * Typed `@nestjs/config` namespace of the connector (`ConfigModule.forRoot({ load: [connectorConfig] })`);
 * inject with `@Inject(connectorConfig.KEY) cfg: ConfigType<typeof connectorConfig>` or the CONNECTOR_CONFIG alias.
 */
export const connectorConfig = registerAs('connector', (): ConnectorConfig => loadConnectorConfig());

/** `ConfigModule.forRoot` validation: the zod schema over the YAML file + env. @throws ConfigError naming the key. */
export function validateConnectorEnv(env: Record<string, unknown>): Record<string, unknown> {
  loadConnectorConfig(env as NodeJS.ProcessEnv);
  return env;
}
