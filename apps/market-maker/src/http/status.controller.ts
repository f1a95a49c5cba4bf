import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { HealthCheck, HealthCheckService, type HealthIndicatorResult, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { EngineService } from '../engine/engine.service';
import { StorageProbe } from '../persistence/storage-probe';

/** `/health` (Terminus liveness), `/status` (component report) and `/slots` (operator view). */
@Controller()
export class StatusController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly engine: EngineService,
    private readonly dataSource: DataSource,
    private readonly storage: StorageProbe,
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
   * Health: 200 while the database answers, is the file that was opened and takes writes
   * ({@link StorageProbe}), and the engine has not failed; 503 otherwise. Open without the read token.
   */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 2000 }),
      async (): Promise<HealthIndicatorResult> => {
        const problem = await this.storage.check();
        const ind = this.indicator.check('storage');
        return problem ? ind.down({ problem }) : ind.up();
      },
      (): HealthIndicatorResult => {
        const state = this.engine.engine.state;
        if (state === 'failed') throw new Error(`engine failed: ${this.engine.engine.lastError}`);
        return { engine: { status: 'up', state } };
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
    const storageProblem = await this.storage.check();
    const dbUp = !storageProblem;
    // As they are now, not as last known: the gRPC channel's state and the switch's deadline.
    const link = this.engine.exchange.linkState();
    const connectorUp = this.engine.connectorState === 'connected' && link === 'READY';
    const nowMs = Date.now();
    const deadManArmed = this.engine.deadMan.armed && this.engine.deadMan.deadlineMs > nowMs;
    const components = {
      connector: { status: connectorUp ? 'up' : 'down', state: connectorUp ? 'connected' : this.engine.connectorState === 'connected' ? 'disconnected' : this.engine.connectorState, channel: link, exchange: this.engine.exchange.name },
      priceFeed: { status: s.priceFeed.connected && !s.priceFeed.stale ? 'up' : 'degraded', ...s.priceFeed, lastPrice: s.lastPrice },
      orderStream: { status: s.orderStream.connected && this.engine.streams.orders !== 'reconnecting' ? 'up' : 'down', ...s.orderStream },
      database: { status: dbUp ? 'up' : 'down', type: this.dataSource.options.type, ...(storageProblem ? { problem: storageProblem } : {}) },
      strategy: { status: s.state === 'running' ? 'up' : s.state === 'failed' ? 'down' : 'degraded', ...s },
      risk: { status: s.risk.breaker.state === 'CLOSED' && !s.risk.crashGuard.triggered && !s.risk.paused ? 'up' : 'degraded', ...s.risk },
      deadMan: {
        status: deadManArmed || !this.engine.deadManEnabled ? 'up' : 'degraded',
        enabled: this.engine.deadManEnabled,
        ...this.engine.deadMan,
        armed: deadManArmed,
        remainingMs: deadManArmed ? this.engine.deadMan.deadlineMs - nowMs : 0,
      },
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

  @Get('intents')
  intents() {
    return this.engine.engine.listIntents();
  }
}
