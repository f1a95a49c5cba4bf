import { GridEngine, type EngineOptions } from './grid-engine';
import { type ExecutorConfig, OrderExecutor } from './order-executor';
import { type EngineDeps, noopAlerts, noopMetrics, quietLogger } from './ports';
import { RiskController, type RiskSettings } from './risk-controller';

/** Everything the engine is told to do: grid, engine timing, risk and order-executor settings. */
export interface GridEngineSettings extends EngineOptions {
  risk: RiskSettings;
  executor: ExecutorConfig;
}

/**
 * Builds a GridEngine with its executor and risk controller. The one place the engine is composed:
 * used by the app (over the RemoteExchange, the TypeORM store and the system scheduler) and by
 * backtests, benchmarks and tests (over an in-process venue, often a `VirtualScheduler` and an
 * `InMemoryStateStore`). Optional ports default to no-ops (metrics, alerts, logs, onFatal).
 */
export function buildGridEngine(deps: EngineDeps, settings: GridEngineSettings): GridEngine {
  const metrics = deps.metrics ?? noopMetrics;
  const alerts = deps.alerts ?? noopAlerts;
  const logger = deps.logger ?? quietLogger;
  const scheduler = deps.scheduler;
  const risk = new RiskController(settings.risk, metrics, alerts, logger('Risk'), () => scheduler.now());
  const executor = new OrderExecutor(deps.venue, settings.executor, scheduler, logger('OrderExecutor'), (ms) => risk.breaker.recordLatency(ms, scheduler.now()), deps.random);
  const { risk: _risk, executor: _executor, ...options } = settings;
  return new GridEngine(
    deps.venue,
    executor,
    deps.store,
    { ...options, ...(deps.portfolio ? { portfolio: deps.portfolio } : {}), ...(deps.accountView ? { accountView: deps.accountView } : {}) },
    metrics,
    risk,
    alerts,
    deps.onFatal ?? (() => undefined),
    scheduler,
    logger('GridEngine'),
    deps.crashHook,
  );
}
