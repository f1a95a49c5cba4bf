import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { EngineService } from '../engine/engine.service';

/** `/health` (Terminus liveness), `/status` (component report) and `/slots` (operator view). */
@Controller()
export class StatusController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly engine: EngineService,
    private readonly dataSource: DataSource,
    private readonly indicator: HealthIndicatorService,
  ) {}

  /**
   * Kubernetes readiness: 200 once the engine has started (recovered and quoting, paused, or with
   * the breaker open: that is state, not unreadiness, and the operator API must stay reachable);
   * 503 while starting/recovering or after a failure or stop.
   */
  @Get('ready')
  ready(@Res({ passthrough: true }) res: Response) {
    const state = this.engine.engine.state;
    const ready = state === 'running';
    if (!ready) res.status(503);
    return { status: ready ? 'ready' : 'not_ready', state };
  }

  /** Kubernetes liveness: 200 while the process answers HTTP (no venue or database dependency). */
  @Get('live')
  live() {
    return { status: 'alive', uptimeSeconds: Math.round(process.uptime()) };
  }

  /**
   * Liveness: 200 while the database answers, the engine's storage check passes (the SQLite file is
   * the one opened and a probe write commits) and the engine has not failed; 503 otherwise.
   */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 2000 }),
      () => {
        const e = this.engine.engine;
        const check = this.indicator.check('engine');
        if (e.state === 'failed') return check.down({ state: e.state, error: `engine failed: ${e.lastError}` });
        if (e.storageFault) return check.down({ state: e.state, error: `storage lost: ${e.storageFault}` });
        return check.up({ state: e.state });
      },
    ]);
  }

  /**
   * Every component with its own status ("up" | "degraded" | "down"); the overall `status` is "ok"
   * only when all are up (HTTP 200), else "degraded" (HTTP 503).
   */
  @Get('status')
  async status(@Res({ passthrough: true }) res: Response) {
    const s = this.engine.engine.snapshot();
    const dbUp = this.dataSource.isInitialized;
    // As they are now, not as last known: the gRPC channel's state and the switch's deadline.
    const link = this.engine.exchange.linkState();
    const connectorUp = this.engine.connectorState === 'connected' && link === 'READY';
    const nowMs = Date.now();
    const deadManArmed = this.engine.deadMan.armed && this.engine.deadMan.deadlineMs > nowMs;
    const components = {
      connector: { status: connectorUp ? 'up' : 'down', state: connectorUp ? 'connected' : this.engine.connectorState === 'connected' ? 'disconnected' : this.engine.connectorState, channel: link, exchange: this.engine.exchange.name },
      priceFeed: { status: s.priceFeed.connected && !s.priceFeed.stale ? 'up' : 'degraded', ...s.priceFeed, lastPrice: s.lastPrice },
      orderStream: { status: s.orderStream.connected && this.engine.streams.orders !== 'reconnecting' ? 'up' : 'down', ...s.orderStream },
      database: { status: dbUp && s.storage.ok ? 'up' : 'down', type: this.dataSource.options.type, ...s.storage },
      strategy: { status: s.state === 'running' ? 'up' : s.state === 'failed' ? 'down' : 'degraded', ...s },
      risk: { status: s.risk.breaker.state === 'CLOSED' && !s.risk.crashGuard.triggered && !s.risk.paused && !('open' in s.risk.margin && s.risk.margin.open) ? 'up' : 'degraded', ...s.risk },
      deadMan: {
        status: deadManArmed || !this.engine.deadManEnabled ? 'up' : 'degraded',
        enabled: this.engine.deadManEnabled,
        ...this.engine.deadMan,
        armed: deadManArmed,
        remainingMs: deadManArmed ? this.engine.deadMan.deadlineMs - nowMs : 0,
      },
      alerts: { status: 'up', ...this.engine.alerts.stats() },
    };
    const symbols = this.engine.symbolsStatus();
    const symbolsUp = Object.values(symbols).every((x) => x.status === 'running' && x.breaker.state === 'CLOSED');
    const withSymbols = { ...components, symbols: { status: symbolsUp ? 'up' : 'degraded', default: this.engine.defaultSymbol, count: Object.keys(symbols).length, removed: Object.fromEntries(this.engine.removed) } };
    const ok = Object.values(withSymbols).every((c) => c.status === 'up');
    if (!ok) res.status(503);
    return {
      status: ok ? 'ok' : 'degraded',
      time: new Date().toISOString(),
      components: withSymbols,
      // every symbol engine (strategy state, inventory, realized PnL, breaker, orders blocked and why)
      symbols,
      // the account as the venue reports it, and the portfolio limiter's book shared by the engines
      account: await this.engine.account(),
      portfolio: this.engine.portfolio.snapshot(),
      // funding arbitrage: each pair's legs (venue, position), delta, workflow in flight and recent workflows
      fundingArb: this.engine.arb.status(),
    };
  }

  @Get('slots')
  slots() {
    return this.engine.engine.listSlots();
  }

  @Get('intents')
  intents() {
    return this.engine.engine.listIntents();
  }
}
