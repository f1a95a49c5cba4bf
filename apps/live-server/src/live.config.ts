import { type EnvBinding, loadConfig } from '@mm/platform';
import { z } from 'zod';

/** Spelling of a symbol (config and `/ws?symbol=`): 2–40 characters, letters/digits first, then also `_:/.-`. */
export const SYMBOL_RE = /^[A-Za-z0-9][A-Za-z0-9_:/.-]{1,39}$/;

/**
 * Live-server settings (YAML keys in snake_case, all optional):
 *
 * ```yaml
 * port: 8081              # HTTP + WebSocket port (0 = any free port)
 * host: 127.0.0.1        # any non-loopback address requires viewer_token
 * viewer_token: ""        # ≥ 16 chars; required for / and /ws when set (README "Hardening")
 * allowed_origins: []     # extra Origins allowed on /ws (same-origin is always allowed)
 * allowed_hosts: []       # Host header values accepted; empty = loopback names when bound to loopback
 * symbol: BTCUSDT         # default symbol: what /ws without ?symbol= shows (the OpenSQT page)
 * symbols: []            # symbols offered by the page's switcher; empty = every symbol the connector serves (GetSymbols)
 * history_limit: 100      # 1m candles kept and sent as `history`
 * connector:
 *   address: localhost:50051
 *   token: ""             # sent as `authorization: Bearer <token>` when set
 * backoff: { initial_ms: 500, max_ms: 10000 }
 * ws:
 *   max_buffered_bytes: 1048576   # a socket with more unsent bytes is terminated
 *   ping_interval_ms: 30000       # ping period; no pong by the next ping → terminated
 *   max_messages_per_sec: 20      # clients sending more are dropped (the page sends nothing)
 *   overview_interval_ms: 500     # account overview (opt-in, /ws?overview=1) sent at most this often
 *   overview_refresh_ms: 2000     # GetAccount re-read this often while an overview client is connected (0 = never)
 * ```
 */
export const liveConfigSchema = z
  .object({
    port: z.coerce.number().int().min(0).max(65535).default(8081),
    host: z.string().min(1).default('127.0.0.1'),
    /** Viewer token for `/`, `/app.js` and `/ws` (query `?token=`, cookie `live_token`, or `Authorization: Bearer`); empty = open (loopback only). */
    viewer_token: z.string().default(''),
    viewer_token_file: z.string().optional(),
    /** Origins (`scheme://host[:port]`) allowed to open `/ws` besides the page's own origin. */
    allowed_origins: z
      .union([z.array(z.string()), z.string()])
      .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim().toLowerCase().replace(/\/+$/, '')).filter(Boolean))
      .default([]),
    /** Accepted `Host` header names (DNS-rebinding guard); empty = `localhost`/loopback IPs when bound to loopback, any otherwise; `*` = any. */
    allowed_hosts: z
      .union([z.array(z.string()), z.string()])
      .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim().toLowerCase()).filter(Boolean))
      .default([]),
    symbol: z
      .string()
      .trim()
      .regex(SYMBOL_RE, 'must be a symbol like BTCUSDT')
      .default('BTCUSDT'),
    /** Symbols monitored besides `symbol` (opt-in per client with `/ws?symbol=`); empty = every symbol the connector serves. At most 50. */
    symbols: z
      .union([z.array(z.string()), z.string()])
      .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(SYMBOL_RE, 'must be symbols like BTCUSDT,ETHUSDT')).max(50, 'at most 50 symbols'))
      .default([]),
    history_limit: z.coerce.number().int().min(1).max(1000).default(100),
    connector: z
      .object({
        address: z.string().trim().min(1).default('127.0.0.1:50051'),
        token: z.string().default(''),
        token_file: z.string().optional(),
        /** TLS towards the connector (PEM files): `ca` enables TLS, `cert` + `key` add a client certificate (mTLS). */
        tls: z
          .object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    backoff: z
      .object({
        initial_ms: z.coerce.number().int().positive().default(500),
        max_ms: z.coerce.number().int().positive().default(10_000),
      })
      .strict()
      .default({}),
    ws: z
      .object({
        max_buffered_bytes: z.coerce.number().int().positive().default(1024 * 1024),
        ping_interval_ms: z.coerce.number().int().min(100).default(30_000),
        max_messages_per_sec: z.coerce.number().int().positive().default(20),
        /** Least time between two `account_overview` messages (they are coalesced; the last state is always sent). */
        overview_interval_ms: z.coerce.number().int().min(50).max(60_000).default(500),
        /**
         * Period of re-reading the account (`GetAccount`) while at least one overview client is connected:
         * venues push account updates on fills and funding only, so marks and margins go stale in between. 0 = never.
         */
        overview_refresh_ms: z.coerce
          .number()
          .int()
          .refine((v) => v === 0 || (v >= 500 && v <= 600_000), 'must be 0 or 500..600000')
          .default(2000),
        /** Open WebSocket connections in total / per client IP; more are refused at the handshake (HTTP 503 / 429). */
        max_connections: z.coerce.number().int().positive().default(200),
        max_connections_per_ip: z.coerce.number().int().positive().default(20),
      })
      .strict()
      .default({}),
  })
  .strict();

/** Validated live-server configuration (see {@link liveConfigSchema}). */
export type LiveConfig = z.infer<typeof liveConfigSchema>;

/** Typed `@nestjs/config` namespace key of the live server (`ConfigService.get<LiveConfig>('live')`). */
export const LIVE_CONFIG_NAMESPACE = 'live';

/** DI token of the {@link LiveConfig}. */
export const LIVE_CONFIG = Symbol('LIVE_CONFIG');

const ENV_BINDINGS: readonly EnvBinding[] = [
  ['LIVE_PORT', 'port'],
  ['LIVE_HOST', 'host'],
  ['LIVE_SYMBOL', 'symbol'],
  ['LIVE_SYMBOLS', 'symbols'],
  ['EXCHANGE_GRPC_ADDRESS', 'connector.address'],
  ['CONNECTOR_TOKEN', 'connector.token'],
  ['CONNECTOR_TOKEN_FILE', 'connector.token_file'],
  ['CONNECTOR_TLS_CA_FILE', 'connector.tls.ca'],
  ['CONNECTOR_TLS_CERT_FILE', 'connector.tls.cert'],
  ['CONNECTOR_TLS_KEY_FILE', 'connector.tls.key'],
  ['LIVE_VIEWER_TOKEN', 'viewer_token'],
  ['LIVE_VIEWER_TOKEN_FILE', 'viewer_token_file'],
  ['LIVE_ALLOWED_ORIGINS', 'allowed_origins'],
  ['LIVE_ALLOWED_HOSTS', 'allowed_hosts'],
  ['LIVE_MAX_CONNECTIONS', 'ws.max_connections'],
  ['LIVE_MAX_CONNECTIONS_PER_IP', 'ws.max_connections_per_ip'],
  // command-line flags win over env; they are injected into the source under these names
  ['--port', 'port'],
];

/**
 * `LIVE_*` variables the live server reads outside its env bindings. Every `LIVE_*` name must be
 * either bound above or listed here, or the start fails with "unknown environment variable".
 */
export const LIVE_EXTRA_ENV = [
  'LIVE_CONFIG', // YAML file (read below)
  'LIVE_PUBLIC_DIR', // page folder (live.controller.ts)
  'LIVE_TOKEN', // docker-compose interpolation variable (the live server's connector token)
] as const;

/** Env prefixes the live server owns (strictly checked). */
export const LIVE_ENV_PREFIXES = ['LIVE_'] as const;

function flag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

/**
 * Loads the config: `--config file.yaml` (or `LIVE_CONFIG`) → env (`LIVE_PORT`, `LIVE_HOST`,
 * `LIVE_SYMBOL`, `EXCHANGE_GRPC_ADDRESS`, `CONNECTOR_TOKEN`) → `--port N`.
 * @throws ConfigError naming the bad key.
 */
export function loadLiveConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): LiveConfig {
  const file = flag(argv, '--config') ?? env.LIVE_CONFIG;
  const port = flag(argv, '--port');
  return loadConfig(liveConfigSchema, {
    file,
    required: file !== undefined,
    env: ENV_BINDINGS,
    source: port === undefined ? env : { ...env, '--port': port },
    strictEnvPrefixes: LIVE_ENV_PREFIXES,
    extraEnv: LIVE_EXTRA_ENV,
  });
}
