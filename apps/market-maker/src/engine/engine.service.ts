import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { assertPrefix } from '@mm/grid';
import { grpcClientCredentials, withFileSecrets } from '@mm/platform';
import { ALERT_SECRET_ENV, MM_CONFIG, type MmConfig } from '../mm.config';
import { MmAccess } from '../http/access';
import { RemoteExchange } from '../exchange/remote-exchange';
import type { GridStore } from '../persistence/grid.store';
import { openIntentJournal } from '../persistence/intent-journal';
import { FillLogStore } from '../telemetry/fill-log.store';
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
    access: MmAccess,
  ) {
    const g = config.grid;
    assertPrefix(config.instance_id);
    this.alerts = new AlertService({ ...alertConfigFromEnv(withFileSecrets(process.env, ALERT_SECRET_ENV)), instance: `${config.instance_id}/${g.symbol}` });
    this.exchange = new RemoteExchange({
      address: config.exchange.address,
      token: access.connectorToken || undefined,
      credentials: grpcClientCredentials(config.exchange.tls, 'exchange.tls').credentials,
      connectAttempts: config.exchange.connect_attempts,
      requestTimeoutMs: config.exchange.request_timeout_ms,
      onStreamState: (stream, state, detail) => {
        this.streams[stream] = state;
        this.engine?.streamState(stream, state);
        if (state === 'reconnecting') this.log.warn(`${stream} stream reconnecting: ${detail ?? ''}`);
      },
      // an undecodable price is never dropped silently: counted, alerted, and the stream reports
      // 'reconnecting' (feed unhealthy for the engine) until a message decodes again
      onUndecodable: (stream, detail) => {
        metrics.undecodable.inc({ stream });
        this.log.error(`${stream} stream: ${detail}`);
        this.alerts.notify({ kind: 'feed_undecodable', level: 'CRITICAL', title: `Undecodable ${stream} message`, message: detail, dedupeKey: `undecodable-${stream}` });
      },
    });
    // The hot write (intents, slots, fills) goes through a prepared-statement journal, not TypeORM.
    const journal = config.database.intent_journal
      ? openIntentJournal(dataSource.options as { type: string }, { sqliteSynchronous: config.database.sqlite_synchronous, pgSynchronousCommit: config.database.pg_synchronous_commit, statementTimeoutMs: config.database.statement_timeout_ms })
      : undefined;
    this.store = new FillLogStore(dataSource, g.symbol, journal);
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

  /** Shutdown policy: `dead_man.on_shutdown` (README "Safe shutdown"). */
  get shutdownPolicy(): 'keep_armed' | 'cancel' | 'disarm' {
    return this.config.engine.cancel_on_exit ? 'cancel' : this.config.dead_man.on_shutdown;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const policy = this.shutdownPolicy;
    await this.engine.stop(policy === 'cancel');
    const { instance_id: id, grid, dead_man: dm } = this.config;
    if (this.deadMan.armed && policy === 'keep_armed') {
      // Last heartbeat with the grace as timeout, never disarm: a replacement re-arms it and keeps the
      // orders; if none arrives in time the connector (or the venue's native countdown) cancels them.
      await this.exchange
        .heartbeat(id, grid.symbol, dm.shutdown_grace_ms)
        .then((r) => this.log.log(`shutdown: orders kept, dead-man's switch stays armed until ${new Date(r.deadlineMs).toISOString()} (grace ${dm.shutdown_grace_ms} ms)`))
        .catch((e: Error) => this.log.warn(`shutdown: last heartbeat failed (${e.message}); the switch fires at its previous deadline`));
    } else if (this.deadMan.armed) {
      await this.exchange.heartbeat(id, grid.symbol, 0).catch(() => undefined);
      this.log.log(policy === 'cancel' ? "shutdown: orders cancelled, dead-man's switch disarmed" : "shutdown: dead-man's switch disarmed, orders left unprotected");
    }
    await this.alerts.close();
    await this.exchange.close();
    await this.store.journal?.close();
  }
}
