import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { boolish, decimalString, loadConfig, withFileSecrets } from '@mm/platform';

/**
 * Market maker settings (snake_case, as in the upstream YAML). Sources, lowest precedence first:
 * the YAML file at `$CONFIG_FILE` (default `config/market-maker.yaml`, optional), then env vars
 * (`MM_ENV`). Money settings are decimal strings in quote units (USDT).
 */
/** A fraction in (0, 1]. */
const fraction = decimalString({ gt: 0 }).refine((v) => Number(v) <= 1, { message: 'must be ≤ 1' });
/** An exposure limit: a decimal quote amount ≥ 0, or a percentage of equity like "300%". */
const limitString = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine((v) => /^(\d+\.?\d*|\.\d+)%?$/.test(v), { message: 'must be a quote amount ≥ 0 (e.g. 5000) or a percentage of equity (e.g. 300%)' });
/** One symbol's grid (`grid`: the default symbol and the template of every other one). */
export const gridSchema = z.object({
    symbol: z.string().regex(/^[A-Z0-9]{3,20}$/, 'must be an upper-case symbol like BTCUSDT').default('BTCUSDT'),
    /** long: buy below, take profit above. neutral: also sell above and buy back below (tracks shorts). */
    mode: z.enum(['long', 'neutral']).default('long'),
    /** P' = P × (1 − inventory × factor), inventory in base units; 0 = off. */
    inventory_skew_factor: decimalString({ gte: 0 }).default('0'),
    /** I_eff = max(price_interval, ATR × volatility_scale), ATR from the risk monitor's 1m candles. */
    dynamic_interval: boolish.default(false),
    volatility_scale: decimalString({ gt: 0 }).default('1'),
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
    taker_fee: decimalString({ gte: 0 }).default('0.0005'),
});

/** One entry of `symbols`: the symbol and the `grid` keys it overrides (strict: an unknown key is an error naming it). */
export const symbolEntrySchema = gridSchema.partial().extend({ symbol: gridSchema.shape.symbol.removeDefault() }).strict();
export type SymbolEntry = z.infer<typeof symbolEntrySchema>;

/**
 * `symbols`: absent = one engine for `grid.symbol` (single-symbol mode); a list = one engine per entry
 * (grid = `grid` with the entry's overrides); `auto` = every symbol the venue serves, grid scaled per
 * symbol (`symbol_auto`). From env `MM_SYMBOLS`: `auto` or a comma list `BTCUSDT,ETHUSDT`.
 */
const symbolsSchema = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== 'auto' ? v.split(',').map((x) => x.trim()).filter(Boolean).map((symbol) => ({ symbol })) : typeof v === 'string' ? 'auto' : v),
  z.union([z.literal('auto'), z.array(symbolEntrySchema).min(1).max(50)]),
);

/** One exchange connector (gRPC): address, token, TLS, connection settings. */
export const connectorSchema = z
    .object({
      address: z.string().min(3).default('127.0.0.1:50051'),
      token: z.string().default(''),
      /** File holding the connector token (wins over `token`; trimmed). */
      token_file: z.string().optional(),
      /** TLS towards the connector: CA of its certificate (enables TLS); client cert + key for mutual TLS (PEM files). */
      tls: z
        .object({
          ca: z.string().optional(),
          cert: z.string().optional(),
          key: z.string().optional(),
        })
        .default({}),
      connect_attempts: z.coerce.number().int().min(1).max(100).default(10),
      request_timeout_ms: z.coerce.number().int().min(100).max(120000).default(5000),
    })
    .strict();

/** A fraction per year (0.1 = 10 %), may be negative where noted. */
const aprString = decimalString();
const ms = (min: number) => z.coerce.number().int().min(min);

/** One leg of a `funding_arb` pair: which connector serves it and how it trades. */
export const arbLegSchema = z
  .object({
    /** `exchange` (the main connector) or a name under `venues`. */
    venue: z.string().min(1).default('exchange'),
    /** Instrument on that venue; default the pair's symbol. */
    symbol: z.string().regex(/^[A-Z0-9]{2,20}$/, 'must be an upper-case symbol like BTCUSDT').optional(),
    /** `perp` legs pay/receive funding; `spot` legs have none (short only with margin borrowing). */
    kind: z.enum(['perp', 'spot']),
    maker_fee: decimalString({ gte: 0 }).default('0.0002'),
    taker_fee: decimalString({ gte: 0 }).default('0.0005'),
    /** Expected borrow interest while this leg is short, fraction of notional per hour (spot margin); 0 for perps. */
    borrow_rate_hourly: decimalString({ gte: 0 }).default('0'),
    /** May this leg be held short? Default: perp yes, spot no (set true where the venue lends the base asset). */
    can_short: boolish.optional(),
    /** `market` (taker) or `limit` (maker: GTC at last × (1 ∓ limit_offset), the rest cancelled after limit_timeout_ms). */
    execution: z.enum(['market', 'limit']).default('market'),
    limit_offset: decimalString({ gte: 0 }).default('0.0002'),
    limit_timeout_ms: ms(1).default(30_000),
    /** Funding interval used until the venue's data reveals the actual one, ms. */
    default_funding_interval_ms: ms(1).default(8 * 3_600_000),
  })
  .strict();

/** One `funding_arb` pair: a logical symbol traded on two legs. */
export const arbPairSchema = z
  .object({
    symbol: z.string().regex(/^[A-Z0-9]{2,16}$/, 'must be 2–16 upper-case letters/digits like ETHUSDT'),
    /** Base quantity of one entry per leg (base units). */
    order_qty: decimalString({ gt: 0 }),
    /** Largest |net delta| (base units) before a rebalance; default 10 % of `order_qty` (rounded by the strategy to the step size). */
    delta_tolerance: decimalString({ gte: 0 }).optional(),
    legs: z.object({ a: arbLegSchema, b: arbLegSchema }).strict(),
  })
  .strict();

/**
 * `funding_arb`: the funding-rate arbitrage strategy (README "Funding-rate arbitrage in the market
 * maker"), run beside the grid engines in the same process, on other symbols, under the same
 * portfolio caps. Times ms, APRs fractions per year.
 */
export const fundingArbSchema = z
  .object({
    enabled: boolish.default(false),
    /** Which leg an entry sends first (and an exit closes first). */
    first_leg: z.enum(['long', 'short']).default('long'),
    decision_interval_ms: ms(100).default(60_000),
    funding_poll_ms: ms(100).default(60_000),
    max_send_attempts: z.coerce.number().int().min(1).max(10).default(3),
    retry_delay_ms: ms(100).default(5_000),
    max_entry_attempts_per_funding: z.coerce.number().int().min(1).max(100).default(1),
    thresholds: z
      .object({
        entry_apr: aprString.default('0.15'),
        exit_apr: aprString.default('0.03'),
        min_above_threshold_ms: ms(0).default(0),
        min_lead_before_funding_ms: ms(0).default(600_000),
        expected_hold_ms: ms(1).default(7 * 24 * 3_600_000),
        basis_haircut_apr: decimalString({ gte: 0 }).default('0.02'),
        max_leg_price_spread: decimalString({ gte: 0 }).default('0.002'),
        /** Funding data older than this blocks entries (must be > 0: the upstream's 0 skipped every decision). */
        max_funding_age_ms: ms(1).default(180_000),
      })
      .strict()
      .superRefine((t, ctx) => {
        if (Number(t.exit_apr) > Number(t.entry_apr)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['exit_apr'], message: `must be ≤ entry_apr ${t.entry_apr}` });
      })
      .default({}),
    /**
     * Position management of open pairs (`ArbRiskSettings`): rebalance beyond each pair's
     * `delta_tolerance`, exit on toxic basis, emergency exit (reduce-only) on the perp leg's
     * liquidation distance or its account's margin ratio. Fractions; times ms.
     */
    risk: z
      .object({
        enabled: boolish.default(true),
        max_rebalance_attempts_per_funding: z.coerce.number().int().min(1).max(100).default(2),
        /** Basis loss as a fraction of the long leg's notional at which the pair exits. */
        max_adverse_basis: fraction.default('0.02'),
        emergency_liquidation_distance: fraction.default('0.1'),
        emergency_margin_ratio: fraction.default('0.8'),
        stop_opening_liquidation_distance: fraction.default('0.15'),
        stop_opening_margin_ratio: fraction.default('0.6'),
        poll_ms: ms(100).default(5_000),
        recovery_ms: ms(0).default(600_000),
      })
      .strict()
      .superRefine((r, ctx) => {
        if (Number(r.stop_opening_liquidation_distance) < Number(r.emergency_liquidation_distance))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['stop_opening_liquidation_distance'], message: `must be ≥ emergency_liquidation_distance ${r.emergency_liquidation_distance}` });
        if (Number(r.stop_opening_margin_ratio) > Number(r.emergency_margin_ratio))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['stop_opening_margin_ratio'], message: `must be ≤ emergency_margin_ratio ${r.emergency_margin_ratio}` });
      })
      .default({}),
    pairs: z.array(arbPairSchema).max(20).default([]),
  })
  .strict()
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.pairs.forEach((p, i) => {
      if (seen.has(p.symbol)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pairs', i, 'symbol'], message: `duplicate pair ${p.symbol}` });
      seen.add(p.symbol);
      const canShort = (l: z.infer<typeof arbLegSchema>) => l.can_short ?? l.kind === 'perp';
      if (!canShort(p.legs.a) && !canShort(p.legs.b)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pairs', i, 'legs'], message: 'no leg may be short (set can_short on a spot leg with margin borrowing, or use a perp leg)' });
    });
    if (a.enabled && a.pairs.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pairs'], message: 'enabled without pairs' });
  })
  .default({});

export const mmConfigSchema = z.object({
  /** Prefix of every client order id of this strategy instance (2–8 lower-case alphanumerics). */
  instance_id: z.string().regex(/^[a-z][a-z0-9]{1,7}$/, 'must be 2–8 lower-case alphanumerics starting with a letter').default('mm1'),
  exchange: connectorSchema.default({}),
  /**
   * Further connectors by name (one per market, e.g. `spot: { address: 127.0.0.1:50052 }`), for the
   * legs of `funding_arb`. The name `exchange` is reserved for the connector above (the grid engines').
   */
  venues: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,15}$/, 'venue names are 1–16 of a-z0-9_ starting with a letter'), connectorSchema).default({}),
  funding_arb: fundingArbSchema,
  database: z
    .object({
      /** postgres://… to use PostgreSQL; empty for the SQLite file. */
      url: z.string().default(''),
      sqlite_path: z.string().min(1).default('data/market-maker.sqlite'),
      /** SQLite `synchronous` of the intent journal: NORMAL (survives kill -9; the last commits can be lost on power loss) or FULL (fsync per commit). */
      sqlite_synchronous: z.enum(['FULL', 'NORMAL']).default('NORMAL'),
      /**
       * PostgreSQL `synchronous_commit` of the intent journal: on (default: every commit durable),
       * intents (changes with new order intents wait for the WAL flush, bookings of venue answers are
       * written behind with asynchronous commits) or off (survives a market-maker crash, not a
       * database crash). See PgSynchronousCommit.
       */
      pg_synchronous_commit: z.enum(['intents', 'on', 'off']).default('on'),
      /** Hot write through the intent journal (default) or through TypeORM transactions (false; slower, for comparison). */
      intent_journal: boolish.default(true),
      /** PostgreSQL: statement_timeout (server) and query timeout (client, +1 s), ms. */
      statement_timeout_ms: z.coerce.number().int().min(100).max(600_000).default(10_000),
    })
    .default({}),
  http: z
    .object({
      port: z.coerce.number().int().min(0).max(65535).default(8080),
      /** Listen address; loopback by default. Any other address requires `http.read_token` (README "Hardening"). */
      host: z.string().default('127.0.0.1'),
      /** Bearer token for /status, /slots, /intents and /metrics (≥ 16 characters); empty = open (loopback only). */
      read_token: z.string().default(''),
      read_token_file: z.string().optional(),
      /** Serve /metrics without the read token (for a Prometheus scraper inside the cluster). */
      metrics_open: boolish.default(false),
    })
    .default({}),
  grid: gridSchema.default({}),
  symbols: symbolsSchema.optional(),
  symbol_auto: z
    .object({
      /** `symbols: auto`: grid step = last price × this, rounded down to the tick (at least one tick). */
      price_interval_ratio: decimalString({ gt: 0 }).default('0.002'),
    })
    .default({}),
  risk: z
    .object({
      /** Refuse to start above this account leverage. */
      max_leverage: z.coerce.number().int().min(1).max(125).default(20),
      /** After an insufficient-margin rejection, no opening orders for this long, ms (upstream margin lock). */
      margin_lock_ms: z.coerce.number().int().min(0).default(10_000),
      /** Keep reduce-only exits working while a breaker is open (else they are cancelled too). */
      keep_exits_on_trip: boolish.default(true),
      breaker: z
        .object({
          max_consecutive_losses: z.coerce.number().int().min(0).default(5),
          drawdown_window_ms: z.coerce.number().int().min(1000).default(3_600_000),
          /** Quote units; 0 = off. */
          max_drawdown_abs: decimalString({ gte: 0 }).default('500'),
          /** Fraction of peak equity (0.05 = 5 %); 0 = off. */
          max_drawdown_pct: decimalString({ gte: 0 }).default('0.05'),
          latency_window_ms: z.coerce.number().int().min(1000).default(60_000),
          /** p99 exchange round trip over the window, ms; 0 = off. */
          max_latency_p99_ms: z.coerce.number().min(0).default(2000),
          min_latency_samples: z.coerce.number().int().min(1).default(20),
          max_price_age_ms: z.coerce.number().int().min(0).default(30_000),
          max_order_stream_down_ms: z.coerce.number().int().min(0).default(30_000),
          /** OPEN → HALF_OPEN after this, ms; 0 = manual reset only. */
          cooldown_ms: z.coerce.number().int().min(0).default(0),
          half_open_probe_ms: z.coerce.number().int().min(0).default(60_000),
          /** A trip by a self-clearing condition (stale price, order stream down, latency, reconciliation) closes after the condition has been healthy this long, ms; 0 = off. */
          condition_recovery_ms: z.coerce.number().int().min(0).default(60_000),
        })
        .default({}),
      /**
       * Exposure limits: quote notional ("5000"), or a percentage of account equity ("300%": equity ×
       * 3, re-evaluated as equity changes, so limits scale with the account; with leverage L a limit
       * above L × 100 % can never be reached anyway).
       */
      exposure: z
        .object({
          /** Per symbol, |position| × mark, quote or % of equity; 0 = off. */
          max_position_notional: limitString.default('5000'),
          /** Across all symbols of this process (worst case incl. pending opening orders; the portfolio limiter shared by every symbol engine), quote or % of equity; 0 = off. */
          max_total_notional: limitString.default('10000'),
          /** Σ price × qty of live opening orders per symbol, quote or % of equity; 0 = off. */
          max_open_order_notional: limitString.default('5000'),
          /** Σ price × qty of live opening orders across all symbols of the account, quote; 0 = off (the portfolio limiter). */
          max_total_open_order_notional: decimalString({ gte: 0 }).default('0'),
        })
        .default({}),
      /**
       * Startup stress test: refuse to start when the account's margin balance cannot survive the buy
       * window filled down to a fall of this fraction (0.25 = −25 %); 0 = off. The error names the numbers.
       */
      stress_move: decimalString({ gte: 0 }).refine((v) => Number(v) < 1, { message: 'must be < 1' }).default('0.25'),
      /** Maintenance-margin rate assumed by the stress test at the stressed price (fraction; Binance BTCUSDT first bracket 0.004). */
      stress_maintenance_rate: decimalString({ gte: 0 }).refine((v) => Number(v) < 1, { message: 'must be < 1' }).default('0.005'),
      /**
       * Margin-ratio and liquidation-distance breakers (fractions). Past a stop-opening limit no opening
       * order is sent and live ones are cancelled; past a reduce limit, reduce_fraction of the position
       * is closed per check by reduce-only IOC exits nearest the market, before the venue liquidates
       * (margin ratio 1). The breaker closes after recovery_ms below the stop-opening limits.
       */
      margin: z
        .object({
          enabled: boolish.default(true),
          stop_opening_margin_ratio: fraction.default('0.5'),
          reduce_margin_ratio: fraction.default('0.7'),
          stop_opening_liquidation_distance: fraction.default('0.15'),
          reduce_liquidation_distance: fraction.default('0.08'),
          /** Account poll period, ms (engine time). */
          check_interval_ms: z.coerce.number().int().min(100).default(5000),
          recovery_ms: z.coerce.number().int().min(0).default(300_000),
          /** Share of the position closed per check past a reduce limit (at least one slot). */
          reduce_fraction: fraction.default('0.25'),
          /** IOC exit limit at last price × (1 ∓ this). */
          exit_slippage: decimalString({ gte: 0 }).refine((v) => Number(v) < 0.5, { message: 'must be < 0.5' }).default('0.005'),
        })
        .superRefine((m, ctx) => {
          if (Number(m.reduce_margin_ratio) < Number(m.stop_opening_margin_ratio))
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['reduce_margin_ratio'], message: `must be ≥ stop_opening_margin_ratio ${m.stop_opening_margin_ratio}` });
          if (Number(m.reduce_liquidation_distance) > Number(m.stop_opening_liquidation_distance))
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['reduce_liquidation_distance'], message: `must be ≤ stop_opening_liquidation_distance ${m.stop_opening_liquidation_distance}` });
        })
        .default({}),
      /**
       * Account-level risk, shared by every symbol engine (one account view, polled every
       * risk.margin.check_interval_ms for all engines). Opening stops on every engine while either holds.
       */
      account: z
        .object({
          /**
           * Account drawdown breaker: (peak − equity) ÷ peak of the account equity (margin balance =
           * wallet + unrealized PnL at mark; peak since start or the last breaker reset), fraction
           * (0.2 = 20 %); 0 = off. A loss breaker: stays open until POST /operator/breaker/reset.
           */
          max_drawdown: decimalString({ gte: 0 }).refine((v) => Number(v) < 1, { message: 'must be < 1' }).default('0'),
          /** Stop opening while the last good account/position reading is older than this, ms; clears with the next good reading. 0 = off. */
          max_stale_ms: z.coerce.number().int().min(0).default(60_000),
        })
        .strict()
        .default({}),
      monitor: z
        .object({
          enabled: boolish.default(true),
          /** Symbols whose 1m candles feed the crash guard (and ATR); default: the traded symbol. */
          symbols: z.array(z.string()).default([]),
          average_window: z.coerce.number().int().min(2).max(500).default(20),
          volume_multiplier: decimalString({ gt: 0 }).default('3'),
          policy: z.enum(['any', 'all']).default('all'),
          recovery_threshold: z.coerce.number().int().min(1).default(1),
          /** A flagged symbol un-flags once volume ≤ average × this (≤ volume_multiplier); default volume_multiplier × 2/3. */
          clear_volume_multiplier: decimalString({ gt: 0 }).optional(),
          /** Once triggered, the guard clears only after this much candle time without a crash candle, ms. */
          min_triggered_ms: z.coerce.number().int().min(0).default(600_000),
          /** More than this between traded (volume > 0) candles is a feed gap: the guard's history restarts, ms. */
          max_candle_gap_ms: z.coerce.number().int().min(1).default(300_000),
        })
        .default({}),
      cleaner: z
        .object({
          max_open_orders: z.coerce.number().int().min(1).default(100),
          /** Cancel opening orders older than this, ms; 0 = off. */
          max_order_age_ms: z.coerce.number().int().min(0).default(0),
          cancel_partially_filled: boolish.default(false),
        })
        .default({}),
      /** |venue − local| / max(|venue|, step) below this is corrected; above trips the breaker. */
      reconcile_tolerance_pct: decimalString({ gte: 0 }).default('5'),
      /** Rejections in a row of one slot that stop it and trip the breaker (rejection_loop); 0 = never trip. */
      max_consecutive_rejections: z.coerce.number().int().min(0).max(1000).default(5),
      /** Backoff after the 2nd rejection in a row of a slot, ms; doubles per further rejection (max 64×); the 1st is retried at once. */
      rejection_backoff_ms: z.coerce.number().int().min(0).max(3_600_000).default(1000),
    })
    .default({}),
  executor: z
    .object({
      rate_per_sec: z.coerce.number().positive().default(20),
      burst: z.coerce.number().int().min(1).default(40),
      max_attempts: z.coerce.number().int().min(1).max(10).default(3),
      initial_backoff_ms: z.coerce.number().int().min(1).default(100),
      max_backoff_ms: z.coerce.number().int().min(1).default(2000),
    })
    .default({}),
  dead_man: z
    .object({
      enabled: boolish.default(true),
      /** The connector cancels our orders when no heartbeat arrives for this long, ms. */
      timeout_ms: z.coerce.number().int().min(1000).max(600_000).default(15_000),
      interval_ms: z.coerce.number().int().min(100).default(3000),
      /**
       * What SIGTERM/SIGINT does with the switch (README "Safe shutdown"):
       * keep_armed — send a last heartbeat with timeout `shutdown_grace_ms` and do not disarm: a
       *   rollout's new pod re-arms it and keeps the orders; if none comes back the connector cancels them;
       * cancel — cancel the symbol's orders, then disarm (also chosen by `engine.cancel_on_exit: true`);
       * disarm — leave the orders unprotected (the old behaviour; not recommended).
       */
      on_shutdown: z.enum(['keep_armed', 'cancel', 'disarm']).default('keep_armed'),
      /** Grace of the last heartbeat on shutdown, ms (how long a replacement has to take over). */
      shutdown_grace_ms: z.coerce.number().int().min(1000).max(600_000).default(60_000),
    })
    .default({}),
  log: z
    .object({
      /** One summary line (PnL, inventory, open orders, breaker) every this many ms; 0 = off. */
      summary_interval_ms: z.coerce.number().int().min(0).default(60_000),
    })
    .default({}),
  operator: z
    .object({
      /** Bearer token for /operator/* (≥ 16 characters); empty disables the operator API. */
      token: z.string().default(''),
      /** File holding the operator token (wins over `token`; trimmed). */
      token_file: z.string().optional(),
      /** Failed operator/read token attempts allowed per client IP per minute; more answer 429. */
      max_failures_per_min: z.coerce.number().int().min(1).default(10),
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
      /** Cancel venue orders of the symbol that are not ours (no instance-id prefix) at startup. */
      cancel_foreign_orders: boolish.default(false),
      /**
       * Secret keying the client-order-id tags (≥ 16 chars). Empty: generated once and kept in the
       * database (engine_meta), so a fresh database gets a fresh secret. Set it (MM_CLIENT_ID_SECRET or
       * MM_CLIENT_ID_SECRET_FILE) to recognise the instance's orders across databases.
       */
      client_id_secret: z.union([z.literal(''), z.string().min(16, 'must have at least 16 characters')]).default(''),
      /** File holding `client_id_secret` (wins over the plain value; at least 16 characters). */
      client_id_secret_file: z.string().default(''),
      /** Storage check (SQLite file identity, probe write) period, ms; 0 = off. */
      storage_check_interval_ms: z.coerce.number().int().min(0).max(600_000).default(1000),
      /**
       * Lockstep with a sim file replay (README "Live replay start and lockstep"): acknowledge processed
       * market time and run the engine on market time. `auto`: when the connector's venue is the sim.
       * Default off; `npm start` turns it on for `SIM_DATA` replays (unless `SIM_LOCKSTEP=false`).
       */
      lockstep: z.enum(['auto', 'on', 'off']).default('off'),
    })
    .default({}),
});
/**
 * Cross-section checks of the whole config: every `funding_arb` leg names a known connector
 * (`exchange` or a key of `venues`), and no arbitrage symbol is a grid symbol (the two strategies
 * share the account and the portfolio caps, not a symbol).
 */
export const mmConfigChecked = mmConfigSchema.superRefine((c, ctx) => {
  const venues = new Set(['exchange', ...Object.keys(c.venues)]);
  const grid = new Set(Array.isArray(c.symbols) ? c.symbols.map((e) => e.symbol) : c.symbols === 'auto' ? [] : [c.grid.symbol]);
  c.funding_arb.pairs.forEach((p, i) => {
    for (const id of ['a', 'b'] as const)
      if (!venues.has(p.legs[id].venue))
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['funding_arb', 'pairs', i, 'legs', id, 'venue'], message: `unknown venue "${p.legs[id].venue}" (known: ${[...venues].join(', ')}; add it under venues:)` });
    if (c.funding_arb.enabled && grid.has(p.symbol))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['funding_arb', 'pairs', i, 'symbol'], message: `${p.symbol} is also a grid symbol; the arbitrage runs on other symbols` });
  });
});
export type MmConfig = z.infer<typeof mmConfigSchema>;

export const MM_ENV = [
  ['INSTANCE_ID', 'instance_id'],
  ['EXCHANGE_GRPC_ADDRESS', 'exchange.address'],
  ['CONNECTOR_TOKEN', 'exchange.token'],
  ['CONNECT_ATTEMPTS', 'exchange.connect_attempts'],
  ['DATABASE_URL', 'database.url'],
  ['SQLITE_PATH', 'database.sqlite_path'],
  ['SQLITE_SYNCHRONOUS', 'database.sqlite_synchronous'],
  ['PG_SYNCHRONOUS_COMMIT', 'database.pg_synchronous_commit'],
  ['MM_INTENT_JOURNAL', 'database.intent_journal'],
  ['MM_PORT', 'http.port'],
  ['MM_HOST', 'http.host'],
  ['SYMBOL', 'grid.symbol'],
  ['GRID_PRICE_INTERVAL', 'grid.price_interval'],
  ['GRID_ORDER_NOTIONAL', 'grid.order_notional'],
  ['GRID_BUY_WINDOW', 'grid.buy_window'],
  ['GRID_SELL_WINDOW', 'grid.sell_window'],
  ['CANCEL_ON_EXIT', 'engine.cancel_on_exit'],
  ['GRID_MODE', 'grid.mode'],
  ['OPERATOR_TOKEN', 'operator.token'],
  ['DEAD_MAN_ENABLED', 'dead_man.enabled'],
  ['DEAD_MAN_TIMEOUT_MS', 'dead_man.timeout_ms'],
  ['DEAD_MAN_INTERVAL_MS', 'dead_man.interval_ms'],
  ['DEAD_MAN_ON_SHUTDOWN', 'dead_man.on_shutdown'],
  ['DEAD_MAN_SHUTDOWN_GRACE_MS', 'dead_man.shutdown_grace_ms'],
  ['MM_SUMMARY_INTERVAL_MS', 'log.summary_interval_ms'],
  ['RECONCILE_INTERVAL_MS', 'engine.reconcile_interval_ms'],
  ['REQUEST_TIMEOUT_MS', 'exchange.request_timeout_ms'],
  ['CONNECTOR_TOKEN_FILE', 'exchange.token_file'],
  ['CONNECTOR_TLS_CA_FILE', 'exchange.tls.ca'],
  ['CONNECTOR_TLS_CERT_FILE', 'exchange.tls.cert'],
  ['CONNECTOR_TLS_KEY_FILE', 'exchange.tls.key'],
  ['OPERATOR_TOKEN_FILE', 'operator.token_file'],
  ['MM_READ_TOKEN', 'http.read_token'],
  ['MM_READ_TOKEN_FILE', 'http.read_token_file'],
  ['MM_METRICS_OPEN', 'http.metrics_open'],
  ['DATABASE_STATEMENT_TIMEOUT_MS', 'database.statement_timeout_ms'],
  ['MM_CLIENT_ID_SECRET', 'engine.client_id_secret'],
  ['MM_CLIENT_ID_SECRET_FILE', 'engine.client_id_secret_file'],
  ['MM_STORAGE_CHECK_INTERVAL_MS', 'engine.storage_check_interval_ms'],
  ['MM_MAX_CONSECUTIVE_REJECTIONS', 'risk.max_consecutive_rejections'],
  ['MM_STRESS_MOVE', 'risk.stress_move'],
  ['MM_MARGIN_ENABLED', 'risk.margin.enabled'],
  ['MM_MAX_POSITION_NOTIONAL', 'risk.exposure.max_position_notional'],
  ['MM_LOCKSTEP', 'engine.lockstep'],
  ['MM_SYMBOLS', 'symbols'],
  ['MM_MAX_TOTAL_NOTIONAL', 'risk.exposure.max_total_notional'],
  ['MM_MAX_TOTAL_OPEN_ORDER_NOTIONAL', 'risk.exposure.max_total_open_order_notional'],
  ['MM_ACCOUNT_MAX_DRAWDOWN', 'risk.account.max_drawdown'],
  ['MM_ACCOUNT_MAX_STALE_MS', 'risk.account.max_stale_ms'],
  ['MM_FUNDING_ARB', 'funding_arb.enabled'],
  ['MM_SPOT_GRPC_ADDRESS', 'venues.spot.address'],
] as const;

/**
 * `MM_*` variables the market maker reads outside {@link MM_ENV}. Every `MM_*` name must be either
 * bound in MM_ENV or listed here, or the start fails with "unknown environment variable".
 */
export const MM_EXTRA_ENV = [
  'MM_CRASH_POINT', // test-only fault injection (engine.factory.ts; arb_* points: arb/arb-fault.ts)
  'MM_CRASH_PROBABILITY',
  'MM_FAULT_SYMBOL', // test-only fault injection into one symbol engine (engine.service.ts)
  'MM_FAULT_AFTER_TICKS',
  'MM_FAULT_KIND',
  'MM_TOKEN', // docker-compose interpolation variable (the market maker's connector token)
] as const;

/**
 * Env-only secrets that may also come from a file (`DATABASE_URL_FILE=/run/secrets/database-url`).
 * Tokens (`OPERATOR_TOKEN_FILE`, `CONNECTOR_TOKEN_FILE`, `MM_READ_TOKEN_FILE`) are config keys
 * (`operator.token_file`, …) read by MmAccess with the same `readSecret`.
 */
export const MM_SECRET_ENV = ['DATABASE_URL'] as const;

/** Alert secrets that may come from a file (`ALERT_TELEGRAM_BOT_TOKEN_FILE`, `ALERT_SLACK_WEBHOOK_URL_FILE`). */
export const ALERT_SECRET_ENV = ['ALERT_TELEGRAM_BOT_TOKEN', 'ALERT_SLACK_WEBHOOK_URL'] as const;

/** Env prefixes the market maker owns (strictly checked). */
export const MM_ENV_PREFIXES = ['MM_'] as const;

export const MM_CONFIG = Symbol('MM_CONFIG');

/** @throws ConfigError naming the bad key. */
export function loadMmConfig(source: NodeJS.ProcessEnv = process.env): MmConfig {
  const env = withFileSecrets(source, MM_SECRET_ENV);
  const file = env.CONFIG_FILE ?? 'config/market-maker.yaml';
  return loadConfig(mmConfigChecked, { file, required: !!env.CONFIG_FILE, env: MM_ENV, source: env, strictEnvPrefixes: MM_ENV_PREFIXES, extraEnv: MM_EXTRA_ENV });
}

/**
 * The market maker's typed config namespace for `@nestjs/config` (`ConfigModule.forRoot({ load: [mmConfig] })`).
 * Inject with `@Inject(mmConfig.KEY) cfg: ConfigType<typeof mmConfig>`, or the MM_CONFIG alias.
 */
export const mmConfig = registerAs('mm', (): MmConfig => loadMmConfig());

/**
 * `ConfigModule.forRoot` validation: the zod schema over YAML + env (same as {@link loadMmConfig}).
 * @throws ConfigError naming the bad key; Nest does not start.
 */
export function validateMmEnv(env: Record<string, unknown>): Record<string, unknown> {
  loadMmConfig(env as NodeJS.ProcessEnv);
  return env;
}
