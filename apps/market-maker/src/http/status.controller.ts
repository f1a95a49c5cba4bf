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
    let dbUp = true;
    try {
      await this.dataSource.query('SELECT 1');
    } catch {
      dbUp = false;
    }
    const components = {
      connector: { status: this.engine.connectorState === 'connected' ? 'up' : 'down', state: this.engine.connectorState, exchange: this.engine.exchange.name },
      priceFeed: { status: s.priceFeed.connected && !s.priceFeed.stale ? 'up' : 'degraded', ...s.priceFeed, lastPrice: s.lastPrice },
      orderStream: { status: s.orderStream.connected && this.engine.streams.orders !== 'reconnecting' ? 'up' : 'down', ...s.orderStream },
      database: { status: dbUp && s.storage.ok ? 'up' : 'down', type: this.dataSource.options.type, ...s.storage },
      strategy: { status: s.state === 'running' ? 'up' : s.state === 'failed' ? 'down' : 'degraded', ...s },
      risk: { status: s.risk.breaker.state === 'CLOSED' && !s.risk.crashGuard.triggered && !s.risk.paused ? 'up' : 'degraded', ...s.risk },
      deadMan: { status: this.engine.deadMan.armed || !this.engine.deadManEnabled ? 'up' : 'degraded', enabled: this.engine.deadManEnabled, ...this.engine.deadMan },
      alerts: { status: 'up', ...this.engine.alerts.stats() },
    };
    const ok = Object.values(components).every((c) => c.status === 'up');
    if (!ok) res.status(503);
    return { status: ok ? 'ok' : 'degraded', time: new Date().toISOString(), components };
  }

  @Get('slots')
  slots() {
    return this.engine.engine.listSlots();
  }
}
