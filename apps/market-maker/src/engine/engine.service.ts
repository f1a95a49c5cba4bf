import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { assertPrefix } from '@mm/grid';
import { MM_CONFIG, type MmConfig } from '../mm.config';
import { RemoteExchange } from '../exchange/remote-exchange';
import { GridStore } from '../persistence/grid.store';
import { openIntentJournal } from '../persistence/intent-journal';
import { MmMetrics } from '../http/mm.metrics';
import { AlertService, alertConfigFromEnv } from '../alerts';
import { buildEngineFromConfig } from './engine.factory';
import type { GridEngine } from '@mm/trading';

/**
 * Nest wrapper: builds the RemoteExchange, order executor, risk controller, alerts and GridEngine
 * from config, runs them for the app's lifetime, and keeps the dead-man's switch armed.
 */
@Injectable()
export class EngineService implements OnApplicationShutdown {
  private readonly log = new Logger('EngineService');
  readonly exchange: RemoteExchange;
  readonly engine: GridEngine;
  readonly store: GridStore;
  readonly alerts: AlertService;
  connectorState: 'connecting' | 'connected' | 'unreachable' = 'connecting';
  readonly streams: Record<string, string> = {};
  deadMan: { armed: boolean; deadlineMs: number; venueEnforced: boolean; lastError?: string } = { armed: false, deadlineMs: 0, venueEnforced: false };
  private heartbeatTimer?: NodeJS.Timeout;

  get deadManEnabled(): boolean {
    return this.config.dead_man.enabled;
  }

  constructor(
    @Inject(MM_CONFIG) private readonly config: MmConfig,
    dataSource: DataSource,
    metrics: MmMetrics,
  ) {
    const g = config.grid;
    assertPrefix(config.instance_id);
    this.alerts = new AlertService({ ...alertConfigFromEnv(process.env), instance: `${config.instance_id}/${g.symbol}` });
    this.exchange = new RemoteExchange({
      address: config.exchange.address,
      token: config.exchange.token || undefined,
      connectAttempts: config.exchange.connect_attempts,
      requestTimeoutMs: config.exchange.request_timeout_ms,
      onStreamState: (stream, state, detail) => {
        this.streams[stream] = state;
        this.engine?.streamState(stream, state);
        if (state === 'reconnecting') this.log.warn(`${stream} stream reconnecting: ${detail ?? ''}`);
      },
    });
    // The hot write (intents, slots, fills) goes through a prepared-statement journal, not TypeORM.
    const journal = config.database.intent_journal
      ? openIntentJournal(dataSource.options as { type: string }, { sqliteSynchronous: config.database.sqlite_synchronous, pgSynchronousCommit: config.database.pg_synchronous_commit })
      : undefined;
    this.store = new GridStore(dataSource, g.symbol, journal);
    this.engine = buildEngineFromConfig(this.exchange, this.store, config, metrics, this.alerts, (err) => this.die(err));
  }

  /** Connects (with backoff; fails fast after the configured attempts), arms the dead-man's switch, starts the engine. */
  async run(): Promise<void> {
    try {
      await this.exchange.connect();
      this.connectorState = 'connected';
      this.log.log(`connected to exchange connector ${this.config.exchange.address} (${this.exchange.name}, ${this.exchange.marketType})`);
    } catch (e) {
      this.connectorState = 'unreachable';
      this.alerts.notify({ kind: 'venue_disconnected', level: 'CRITICAL', title: 'Exchange connector unreachable', message: (e as Error).message });
      throw e;
    }
    if (this.config.dead_man.enabled) {
      await this.heartbeat();
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.dead_man.interval_ms);
      this.heartbeatTimer.unref();
    }
    await this.store.journal?.connect();
    await this.engine.start();
  }

  private async heartbeat(): Promise<void> {
    try {
      const r = await this.exchange.heartbeat(this.config.instance_id, this.config.grid.symbol, this.config.dead_man.timeout_ms);
      this.deadMan = { armed: true, deadlineMs: r.deadlineMs, venueEnforced: r.venueEnforced };
    } catch (e) {
      this.deadMan = { ...this.deadMan, lastError: (e as Error).message };
      this.log.warn(`dead-man's switch heartbeat failed: ${(e as Error).message}`);
    }
  }

  private die(err: Error): void {
    this.log.error(`fatal: ${err.message}; exiting so a restart recovers from the database and the venue`);
    this.alerts.notify({ kind: 'strategy_crashed', level: 'CRITICAL', title: 'Strategy stopped', message: err.message });
    void this.alerts.flush(2000).finally(() => process.exit(1));
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.engine.stop(this.config.engine.cancel_on_exit);
    // A deliberate stop disarms the switch (orders stay for the next start unless cancel_on_exit);
    // a crash leaves it armed, so the connector cancels our orders if we do not come back in time.
    if (this.deadMan.armed) await this.exchange.heartbeat(this.config.instance_id, this.config.grid.symbol, 0).catch(() => undefined);
    await this.alerts.close();
    await this.exchange.close();
    await this.store.journal?.close();
  }
}
