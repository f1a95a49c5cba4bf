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
import { LockstepAcker, ReplayClock, type TapOptions, tapMarketEvents } from './lockstep';
import type { GridEngine } from '@mm/trading';

/**
 * Nest wrapper: builds the RemoteExchange, order executor, risk controller, alerts and GridEngine
 * from config, runs them for the app's lifetime, and keeps the dead-man's switch armed.
 */
@Injectable()
export class EngineService implements OnApplicationShutdown {
  private readonly log = new Logger('EngineService');
  readonly exchange: RemoteExchange;
  /** The engine (rebuilt once before it starts when lockstep turns on; see `setUpLockstep`). */
  engine: GridEngine;
  private readonly buildEngine: (config: MmConfig) => GridEngine;
  private readonly tapOptions: TapOptions = {};
  private readonly venue: ReturnType<typeof tapMarketEvents>;
  readonly store: GridStore;
  readonly alerts: AlertService;
  connectorState: 'connecting' | 'connected' | 'unreachable' = 'connecting';
  readonly streams: Record<string, string> = {};
  deadMan: { armed: boolean; deadlineMs: number; venueEnforced: boolean; lastError?: string } = { armed: false, deadlineMs: 0, venueEnforced: false };
  private heartbeatTimer?: NodeJS.Timeout;
  /** The engine's clock: the wall clock, or market time in lockstep with a sim replay. */
  readonly clock = new ReplayClock();
  /** Lockstep acknowledgements (set when lockstep is on). */
  lockstep?: LockstepAcker;
  private lastAckError = 0;

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
    this.venue = tapMarketEvents(this.exchange, (ms) => this.lockstep?.onEvent(ms), this.tapOptions);
    // The hot write (intents, slots, fills) goes through a prepared-statement journal, not TypeORM.
    const journal = config.database.intent_journal
      ? openIntentJournal(dataSource.options as { type: string }, { sqliteSynchronous: config.database.sqlite_synchronous, pgSynchronousCommit: config.database.pg_synchronous_commit, statementTimeoutMs: config.database.statement_timeout_ms })
      : undefined;
    this.store = new FillLogStore(dataSource, g.symbol, journal);
    this.buildEngine = (cfg) => buildEngineFromConfig(this.venue, this.store, cfg, metrics, this.alerts, (err) => this.die(err), process.env, this.clock);
    this.engine = this.buildEngine(config);
  }

  /** Dead-man timeout sent with every heartbeat (0 = disarmed when the switch is off). */
  private get heartbeatTimeoutMs(): number {
    return this.config.dead_man.enabled ? this.config.dead_man.timeout_ms : 0;
  }

  /**
   * Lockstep with a sim file replay: `engine.lockstep` on, or `auto` and the connector's venue is the
   * sim. Then the engine runs on market time ({@link ReplayClock}, starting at the end of the replay's
   * kline history) and acknowledges processed market time ({@link LockstepAcker}).
   */
  private async setUpLockstep(): Promise<boolean> {
    const mode = this.config.engine.lockstep;
    if (mode === 'off' || (mode === 'auto' && this.exchange.name !== 'sim')) return false;
    const symbol = this.config.grid.symbol;
    // Venue latency to a local sim is no market condition, and on the replay clock a call that spans
    // a market-time step would read as seconds: the latency breaker input is off in lockstep.
    this.engine = this.buildEngine({ ...this.config, risk: { ...this.config.risk, breaker: { ...this.config.risk.breaker, max_latency_p99_ms: 0 } } });
    this.tapOptions.barrier = () => this.exchange.getLatestPrice(symbol).then(() => undefined);
    this.tapOptions.beforeEvent = (ms) => this.lockstep?.beforeEvent(ms);
    const last = (await this.exchange.getHistoricalKlines(symbol, '1m', 1).catch(() => [])).at(-1);
    this.clock.activate(last ? last.openTimeMs + 60_000 : Date.now());
    this.lockstep = new LockstepAcker({
      clock: this.clock,
      whenIdle: () => this.engine.whenIdle(),
      blocked: () => this.venue.pendingTicks() > 0,
      send: async (ms) => {
        const r = await this.exchange.heartbeat(this.config.instance_id, symbol, this.heartbeatTimeoutMs, ms);
        if (this.config.dead_man.enabled) this.deadMan = { armed: true, deadlineMs: r.deadlineMs, venueEnforced: r.venueEnforced };
      },
      onError: (e) => {
        if (Date.now() - this.lastAckError < 10_000) return;
        this.lastAckError = Date.now();
        this.log.warn(`lockstep acknowledgement failed (retrying): ${e.message}`);
      },
    });
    this.log.log(`lockstep with the sim replay: engine on market time from ${new Date(this.clock.now()).toISOString()}, acknowledging processed market time`);
    return true;
  }

  /** Waits (≤ 10 s) until every stream the engine opened is attached on the connector. */
  private async streamsAttached(): Promise<void> {
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const states = Object.values(this.streams);
      if (states.length > 0 && states.every((s) => s === 'subscribed')) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    this.log.warn('lockstep: not every stream attached after 10 s; joining the replay anyway');
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
    await this.store.journal?.connect();
    const lockstep = await this.setUpLockstep();
    if (!lockstep) {
      if (this.config.dead_man.enabled) {
        await this.heartbeat();
        this.startHeartbeats();
      }
      await this.engine.start();
    } else {
      // The replay starts with its first trading client (an armed switch or an acknowledgement, plus an
      // orders stream). Start the engine first and join only when its price and order streams are
      // attached, so the first market instant reaches it (market time stands still until then).
      await this.engine.start();
      await this.streamsAttached();
      await this.engine.whenIdle();
      const tickers = await this.exchange.getTickers().catch(() => []);
      await this.lockstep!.join(tickers.find((t) => t.symbol === this.config.grid.symbol)?.timestampMs ?? 1);
      if (this.config.dead_man.enabled) this.startHeartbeats();
    }
  }

  private startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.dead_man.interval_ms);
    this.heartbeatTimer.unref();
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
    this.lockstep?.stop();
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
