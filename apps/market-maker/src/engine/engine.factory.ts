import { dec, type ExchangeVenue } from '@mm/domain';
import type { MmConfig } from '../mm.config';
import type { GridStore } from '../persistence/grid.store';
import type { MmMetrics } from '../http/mm.metrics';
import { GridEngine } from './grid-engine';
import { OrderExecutor } from './order-executor';
import { type AlertSink, RiskController } from './risk-controller';

/**
 * Builds a GridEngine with its executor and risk controller from validated config. The one place the
 * engine is composed: used by the app (over the RemoteExchange) and by benchmarks and tests (over an
 * in-process venue). `MM_CRASH_POINT` / `MM_CRASH_PROBABILITY` (test-only fault injection) are read from `env`.
 */
export function buildGridEngine(
  exchange: ExchangeVenue,
  store: GridStore,
  config: MmConfig,
  metrics: MmMetrics,
  alerts: AlertSink,
  onFatal: (err: Error) => void,
  env: NodeJS.ProcessEnv = process.env,
): GridEngine {
  const g = config.grid;
  const risk = new RiskController(config, metrics, alerts);
  const x = config.executor;
  const executor = new OrderExecutor(
    exchange,
    { ratePerSec: x.rate_per_sec, burst: x.burst, maxAttempts: x.max_attempts, initialBackoffMs: x.initial_backoff_ms, maxBackoffMs: x.max_backoff_ms },
    (ms) => risk.breaker.recordLatency(ms, Date.now()),
  );
  const crashPoint = env.MM_CRASH_POINT;
  return new GridEngine(
    exchange,
    executor,
    store,
    {
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
      maxLeverage: config.risk.max_leverage,
      reconcileTolerancePct: dec(config.risk.reconcile_tolerance_pct),
      cancelForeignOrders: config.engine.cancel_foreign_orders,
      marginLockMs: config.risk.margin_lock_ms,
      cleaner: {
        maxOpenOrders: config.risk.cleaner.max_open_orders,
        maxOrderAgeMs: config.risk.cleaner.max_order_age_ms,
        cancelPartiallyFilled: config.risk.cleaner.cancel_partially_filled,
      },
      crash:
        crashPoint === 'after_intent_commit' || crashPoint === 'after_venue_answer'
          ? { point: crashPoint, probability: Number(env.MM_CRASH_PROBABILITY ?? '0') }
          : undefined,
    },
    metrics,
    risk,
    alerts,
    onFatal,
  );
}
