import { z } from 'zod';
import { decimalString, loadConfig } from '@mm/platform';

/**
 * Connector settings. Sources, lowest precedence first: YAML file at `$CONNECTOR_CONFIG`
 * (optional), then environment variables (names in `CONNECTOR_ENV`).
 */
export const connectorConfigSchema = z.object({
  /** gRPC listen port (ExchangeService + grpc.health.v1). */
  port: z.coerce.number().int().min(0).max(65535).default(50051),
  host: z.string().min(1).default('0.0.0.0'),
  /** HTTP port for /health and /metrics. */
  httpPort: z.coerce.number().int().min(0).max(65535).default(9090),
  /** Which venue this connector wraps. */
  exchange: z.enum(['sim']).default('sim'),
  sim: z
    .object({
      /** Kline CSV to replay (`open_time_ms,open,high,low,close,volume_base`); random walk when absent. */
      data: z.string().optional(),
      /** Funding CSV (`funding_time_ms,funding_rate`); zero funding when absent. */
      funding: z.string().optional(),
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
    })
    .default({}),
  streams: z
    .object({
      /** Messages queued per slow subscriber before it is cut off with RESOURCE_EXHAUSTED. */
      maxBuffer: z.coerce.number().int().positive().default(10000),
    })
    .default({}),
});
export type ConnectorConfig = z.infer<typeof connectorConfigSchema>;

export const CONNECTOR_ENV = [
  ['PORT', 'port'],
  ['GRPC_HOST', 'host'],
  ['METRICS_PORT', 'httpPort'],
  ['EXCHANGE', 'exchange'],
  ['SIM_DATA', 'sim.data'],
  ['SIM_FUNDING', 'sim.funding'],
  ['SIM_MAX_CANDLES', 'sim.maxCandles'],
  ['SIM_SYMBOL', 'sim.symbol'],
  ['SIM_SPEED', 'sim.speed'],
  ['SIM_SEED', 'sim.seed'],
  ['SIM_BALANCE', 'sim.balance'],
  ['SIM_MAKER_FEE', 'sim.makerFee'],
  ['SIM_TAKER_FEE', 'sim.takerFee'],
  ['SIM_TICK_MS', 'sim.tickMs'],
  ['SIM_LEVERAGE', 'sim.leverage'],
  ['STREAM_MAX_BUFFER', 'streams.maxBuffer'],
] as const;

export const CONNECTOR_CONFIG = Symbol('CONNECTOR_CONFIG');

/** @throws ConfigError naming the bad key. */
export function loadConnectorConfig(env: NodeJS.ProcessEnv = process.env): ConnectorConfig {
  return loadConfig(connectorConfigSchema, { file: env.CONNECTOR_CONFIG, required: !!env.CONNECTOR_CONFIG, env: CONNECTOR_ENV, source: env });
}
