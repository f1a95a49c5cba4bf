import * as fs from 'node:fs';
import { Logger } from '@nestjs/common';
import { Dec, type ExchangeVenue, type Scheduler, dec, systemScheduler } from '@mm/domain';
import { ConfigError, readSecret } from '@mm/platform';
import { type AlertSink, type CrashPoint, type EngineLogger, type EngineMetrics, type EngineStateStore, type GridEngine, type GridEngineSettings, type PortfolioLimiter, type AccountView, buildGridEngine } from '@mm/trading';
import type { MmConfig } from '../mm.config';
import type { MmMetrics } from '../http/mm.metrics';

/** Maps the app's validated config onto the engine's settings (the engine never sees MmConfig). */
export function engineSettingsFromConfig(config: MmConfig): GridEngineSettings {
  const g = config.grid;
  const r = config.risk;
  const b = r.breaker;
  const m = r.monitor;
  const x = config.executor;
  return {
    instanceId: config.instance_id,
    params: {
      symbol: g.symbol,
      mode: g.mode,
      inventorySkewFactor: dec(g.inventory_skew_factor),
      priceInterval: dec(g.price_interval),
      orderNotional: dec(g.order_notional),
      minOrderValue: dec(g.min_order_value),
      buyWindow: g.buy_window,
      sellWindow: g.sell_window,
      safetyBufferRatio: dec(g.safety_buffer_ratio),
      maxActiveOrders: g.max_active_orders,
      cancelHysteresisLevels: g.cancel_hysteresis_levels,
    },
    makerFee: dec(g.maker_fee),
    takerFee: dec(g.taker_fee),
    reconcileIntervalMs: config.engine.reconcile_interval_ms,
    pendingTimeoutMs: config.engine.pending_timeout_ms,
    stalePriceMs: config.engine.stale_price_ms,
    dynamicInterval: g.dynamic_interval ? { volatilityScale: dec(g.volatility_scale) } : null,
    maxLeverage: r.max_leverage,
    reconcileTolerancePct: dec(r.reconcile_tolerance_pct),
    cancelForeignOrders: config.engine.cancel_foreign_orders,
    marginLockMs: r.margin_lock_ms,
    clientIdSecret: clientIdSecret(config) || undefined,
    maxConsecutiveRejections: r.max_consecutive_rejections,
    rejectionBackoffMs: r.rejection_backoff_ms,
    storageCheckIntervalMs: config.engine.storage_check_interval_ms,
    stressCheck: dec(r.stress_move).gt(0) ? { move: dec(r.stress_move), maintenanceRate: dec(r.stress_maintenance_rate) } : null,
    cleaner: {
      maxOpenOrders: r.cleaner.max_open_orders,
      maxOrderAgeMs: r.cleaner.max_order_age_ms,
      cancelPartiallyFilled: r.cleaner.cancel_partially_filled,
    },
    risk: {
      symbol: g.symbol,
      breaker: {
        maxConsecutiveLosses: b.max_consecutive_losses,
        drawdownWindowMs: b.drawdown_window_ms,
        maxDrawdownAbs: new Dec(b.max_drawdown_abs),
        maxDrawdownPct: new Dec(b.max_drawdown_pct),
        latencyWindowMs: b.latency_window_ms,
        maxLatencyP99Ms: b.max_latency_p99_ms,
        minLatencySamples: b.min_latency_samples,
        maxPriceAgeMs: b.max_price_age_ms,
        maxOrderStreamAgeMs: b.max_order_stream_down_ms,
        cooldownMs: b.cooldown_ms,
        halfOpenProbeMs: b.half_open_probe_ms,
        conditionRecoveryMs: b.condition_recovery_ms,
      },
      monitor: m.enabled
        ? { symbols: m.symbols, averageWindow: m.average_window, volumeMultiplier: new Dec(m.volume_multiplier), policy: m.policy, recoveryThreshold: m.recovery_threshold,
            clearVolumeMultiplier: m.clear_volume_multiplier === undefined ? undefined : new Dec(m.clear_volume_multiplier),
            minTriggeredMs: m.min_triggered_ms, maxCandleGapMs: m.max_candle_gap_ms }
        : null,
      exposure: {
        maxPositionNotional: absoluteLimit(r.exposure.max_position_notional),
        maxTotalNotional: absoluteLimit(r.exposure.max_total_notional),
        maxOpenOrderNotional: absoluteLimit(r.exposure.max_open_order_notional),
      },
      exposurePctOfEquity: pctLimits({
        maxPositionNotional: r.exposure.max_position_notional,
        maxTotalNotional: r.exposure.max_total_notional,
        maxOpenOrderNotional: r.exposure.max_open_order_notional,
      }),
      margin: r.margin.enabled
        ? {
            stopOpeningMarginRatio: dec(r.margin.stop_opening_margin_ratio),
            reduceMarginRatio: dec(r.margin.reduce_margin_ratio),
            stopOpeningLiquidationDistance: dec(r.margin.stop_opening_liquidation_distance),
            reduceLiquidationDistance: dec(r.margin.reduce_liquidation_distance),
            checkIntervalMs: r.margin.check_interval_ms,
            recoveryMs: r.margin.recovery_ms,
            reduceFraction: dec(r.margin.reduce_fraction),
            exitSlippage: dec(r.margin.exit_slippage),
          }
        : null,
      keepExitsOnTrip: r.keep_exits_on_trip,
    },
    executor: { ratePerSec: x.rate_per_sec, burst: x.burst, maxAttempts: x.max_attempts, initialBackoffMs: x.initial_backoff_ms, maxBackoffMs: x.max_backoff_ms },
  };
}

/** An exposure limit of the config as an absolute quote amount: "5000" → 5000; "300%" → 0 (see `pctLimits`). */
function absoluteLimit(v: string): Dec {
  return v.endsWith('%') ? new Dec(0) : new Dec(v);
}

/** The exposure limits given as "N%" of equity, as percentages; undefined when none is. */
function pctLimits(limits: Record<'maxPositionNotional' | 'maxTotalNotional' | 'maxOpenOrderNotional', string>): GridEngineSettings['risk']['exposurePctOfEquity'] {
  const out: NonNullable<GridEngineSettings['risk']['exposurePctOfEquity']> = {};
  for (const [k, v] of Object.entries(limits) as [keyof typeof limits, string][]) if (v.endsWith('%')) out[k] = new Dec(v.slice(0, -1));
  return Object.keys(out).length ? out : undefined;
}

/** The engine's metrics port onto the app's Prometheus metrics. */
export function engineMetrics(m: MmMetrics): EngineMetrics {
  return {
    fillBooked: (symbol, side, qty) => m.onFill(symbol, side, qty),
    orderPlaced: (symbol, side) => m.ordersPlaced.inc({ symbol, side }),
    orderRejected: (symbol, reason) => m.rejected.inc({ symbol, reason }),
    orderBlocked: (symbol, reason) => m.ordersBlocked.inc({ symbol, reason }),
    exchangeLatency: (operation, seconds) => m.exchangeLatency.observe({ operation }, seconds * 1000),
    gridState: (symbol, inventory, activeOrders, realizedPnl) => {
      m.positionSize.set({ symbol }, inventory.toNumber());
      m.ordersActive.set({ symbol }, activeOrders);
      if (realizedPnl) m.pnlRealized.set({ symbol }, realizedPnl.toNumber());
    },
    // every price tick: remembered, written to the gauges at a scrape
    markState: (symbol, unrealized, feedAgeSeconds) => m.markState(symbol, unrealized, feedAgeSeconds),
    divergence: (symbol, diff) => m.divergence.set({ symbol }, diff.toNumber()),
    breakerState: (symbol, state, reason) => {
      m.breakerOpen.set({ symbol }, state === 'OPEN' ? 1 : state === 'HALF_OPEN' ? 0.5 : 0);
      if (state === 'OPEN') m.breakerTrips.inc({ symbol, reason: reason ?? 'unknown' });
    },
    crashGuard: (symbol, triggered) => m.riskTriggered.set({ symbol }, triggered ? 1 : 0),
    foreignOrder: (symbol, where) => m.foreignOrders.inc({ symbol, where }),
    storageHealthy: (symbol, healthy) => m.storageHealthy.set({ symbol }, healthy ? 1 : 0),
    marginState: (symbol, ratio, distance) => {
      // Fractions; NaN when the venue reports none (Prometheus shows the series as absent data).
      m.marginRatio.set({ symbol }, ratio ? ratio.toNumber() : Number.NaN);
      m.liquidationDistance.set({ symbol }, distance ? distance.toNumber() : Number.NaN);
    },
    fundingPnl: (symbol, funding) => m.fundingPnl.set({ symbol }, funding.toNumber()),
  };
}

/**
 * Test-only fault injection from `MM_CRASH_POINT` / `MM_CRASH_PROBABILITY`: SIGKILL this process at
 * the named engine point with that probability. Undefined when not configured.
 */
export function crashHookFromEnv(env: NodeJS.ProcessEnv, log: EngineLogger): ((point: CrashPoint) => void) | undefined {
  const point = env.MM_CRASH_POINT;
  if (point !== 'after_intent_commit' && point !== 'after_venue_answer') return undefined;
  const probability = Number(env.MM_CRASH_PROBABILITY ?? '0');
  return (p) => {
    if (p === point && Math.random() < probability) {
      log.warn(`fault injection: SIGKILL at ${p}`);
      // The logger may write asynchronously (a transport thread, a buffered stream) and SIGKILL
      // loses what is not yet written: the line that says why the process died goes out synchronously.
      fs.writeSync(process.stderr.fd, `fault injection: SIGKILL at ${p}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
}

/**
 * Builds the GridEngine as the app runs it, from validated config: Nest loggers, Prometheus metrics,
 * the wall-clock scheduler (unless one is given), the env's fault injection and, for the orchestrator's
 * symbol engines, the account's shared portfolio limiter and account view. Used by the app (over
 * the RemoteExchange) and by benchmarks and tests (over an in-process venue).
 */
export function buildEngineFromConfig(
  exchange: ExchangeVenue,
  store: EngineStateStore,
  config: MmConfig,
  metrics: MmMetrics,
  alerts: AlertSink,
  onFatal: (err: Error) => void,
  env: NodeJS.ProcessEnv = process.env,
  scheduler: Scheduler = systemScheduler,
  portfolio?: PortfolioLimiter,
  accountView?: AccountView,
): GridEngine {
  const logger = (context: string) => new Logger(context);
  return buildGridEngine(
    {
      venue: exchange,
      store,
      scheduler,
      metrics: engineMetrics(metrics),
      alerts,
      logger,
      onFatal,
      crashHook: crashHookFromEnv(env, logger('GridEngine')),
      random: Math.random,
      portfolio,
      accountView,
    },
    engineSettingsFromConfig(config),
  );
}

/**
 * The per-instance client-order-id secret from `engine.client_id_secret` or `engine.client_id_secret_file`
 * ('' when neither is set: the store generates and keeps one).
 * @throws ConfigError when the file can't be read or holds fewer than 16 characters.
 */
export function clientIdSecret(config: MmConfig): string {
  const secret = readSecret(config.engine.client_id_secret, config.engine.client_id_secret_file || undefined, 'engine.client_id_secret_file');
  if (secret && secret.length < 16) throw new ConfigError('engine.client_id_secret_file', 'must hold at least 16 characters');
  return secret;
}
