import { z } from 'zod';
import { boolish, decimalString, loadConfig } from '@mm/platform';

/**
 * Market maker settings (snake_case, as in the upstream YAML). Sources, lowest precedence first:
 * the YAML file at `$CONFIG_FILE` (default `config/market-maker.yaml`, optional), then env vars
 * (`MM_ENV`). Money settings are decimal strings in quote units (USDT).
 */
export const mmConfigSchema = z.object({
  /** Prefix of every client order id of this strategy instance (2–8 lower-case alphanumerics). */
  instance_id: z.string().regex(/^[a-z][a-z0-9]{1,7}$/, 'must be 2–8 lower-case alphanumerics starting with a letter').default('mm1'),
  exchange: z
    .object({
      address: z.string().min(3).default('localhost:50051'),
      token: z.string().default(''),
      connect_attempts: z.coerce.number().int().min(1).max(100).default(10),
      request_timeout_ms: z.coerce.number().int().min(100).max(120000).default(5000),
    })
    .default({}),
  database: z
    .object({
      /** postgres://… to use PostgreSQL; empty for the SQLite file. */
      url: z.string().default(''),
      sqlite_path: z.string().min(1).default('data/market-maker.sqlite'),
    })
    .default({}),
  http: z
    .object({
      port: z.coerce.number().int().min(0).max(65535).default(8080),
      host: z.string().default('0.0.0.0'),
    })
    .default({}),
  grid: z
    .object({
      symbol: z.string().regex(/^[A-Z0-9]{3,20}$/, 'must be an upper-case symbol like BTCUSDT').default('BTCUSDT'),
      /** Grid step I, quote price; multiple of the tick size. */
      price_interval: decimalString({ gt: 0 }).default('100'),
      /** Quote notional of each opening order. */
      order_notional: decimalString({ gt: 0 }).default('250'),
      min_order_value: decimalString({ gte: 0 }).default('10'),
      buy_window: z.coerce.number().int().min(1).max(200).default(10),
      sell_window: z.coerce.number().int().min(1).max(200).default(10),
      safety_buffer_ratio: decimalString({ gte: 0 }).default('0.1'),
      max_active_orders: z.coerce.number().int().min(1).max(1000).default(50),
      cancel_hysteresis_levels: z.coerce.number().int().min(0).max(50).default(1),
      /** Maker fee rate used by the startup profitability check (0.0002 = 0.02 %). */
      maker_fee: decimalString({ gte: 0 }).default('0.0002'),
    })
    .default({}),
  engine: z
    .object({
      /** How often intents without an answer are looked up on the venue, ms. */
      reconcile_interval_ms: z.coerce.number().int().min(100).max(3_600_000).default(5000),
      /** An intent unanswered for this long is looked up by client order id, ms. */
      pending_timeout_ms: z.coerce.number().int().min(100).max(600_000).default(3000),
      /** Price feed older than this marks /status degraded, ms. */
      stale_price_ms: z.coerce.number().int().min(100).default(30000),
      /** Cancel all orders of the symbol on SIGTERM/SIGINT. */
      cancel_on_exit: boolish.default(false),
    })
    .default({}),
});
export type MmConfig = z.infer<typeof mmConfigSchema>;

export const MM_ENV = [
  ['INSTANCE_ID', 'instance_id'],
  ['EXCHANGE_GRPC_ADDRESS', 'exchange.address'],
  ['CONNECTOR_TOKEN', 'exchange.token'],
  ['CONNECT_ATTEMPTS', 'exchange.connect_attempts'],
  ['DATABASE_URL', 'database.url'],
  ['SQLITE_PATH', 'database.sqlite_path'],
  ['MM_PORT', 'http.port'],
  ['MM_HOST', 'http.host'],
  ['SYMBOL', 'grid.symbol'],
  ['GRID_PRICE_INTERVAL', 'grid.price_interval'],
  ['GRID_ORDER_NOTIONAL', 'grid.order_notional'],
  ['GRID_BUY_WINDOW', 'grid.buy_window'],
  ['GRID_SELL_WINDOW', 'grid.sell_window'],
  ['CANCEL_ON_EXIT', 'engine.cancel_on_exit'],
] as const;

export const MM_CONFIG = Symbol('MM_CONFIG');

/** @throws ConfigError naming the bad key. */
export function loadMmConfig(env: NodeJS.ProcessEnv = process.env): MmConfig {
  const file = env.CONFIG_FILE ?? 'config/market-maker.yaml';
  return loadConfig(mmConfigSchema, { file, required: !!env.CONFIG_FILE, env: MM_ENV, source: env });
}
