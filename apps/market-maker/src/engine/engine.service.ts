import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Dec, type ExchangeVenue, type PriceTick, type StreamObserver, roundToIncrement } from '@mm/domain';
import { assertPrefix } from '@mm/grid';
import { backoffDelay, grpcClientCredentials, withFileSecrets } from '@mm/platform';
import { AccountView, type AccountReading, type GridEngine, SharedPortfolioLimiter, accountMarginRatio } from '@mm/trading';
import { ALERT_SECRET_ENV, MM_CONFIG, type MmConfig, type SymbolEntry, gridSchema, symbolEntrySchema } from '../mm.config';
import { MmAccess } from '../http/access';
import { RemoteExchange } from '../exchange/remote-exchange';
import { type IntentJournal, openIntentJournal } from '../persistence/intent-journal';
import { FillLogStore } from '../telemetry/fill-log.store';
import { MmMetrics } from '../http/mm.metrics';
import { AlertService, alertConfigFromEnv } from '../alerts';
import { buildEngineFromConfig, clientIdSecret } from './engine.factory';
import { ArbRunner } from '../arb/arb-runner';
import { LockstepAcker, ReplayClock, type TapOptions, tapMarketEvents } from './lockstep';
import { type SymbolRecord, SymbolTable } from './symbol-table';

/** Lifecycle of one symbol engine under the orchestrator. */
export type RunnerStatus = 'starting' | 'running' | 'paused' | 'restarting' | 'stopped';

/** One symbol engine of the orchestrator: its durable record, effective config, engine and store. */
export interface SymbolRunner {
  symbol: string;
  record: SymbolRecord;
  /** The app config with this symbol's grid (template `grid` + the record's overrides). */
  config: MmConfig;
  engine: GridEngine;
  store: FillLogStore;
  status: RunnerStatus;
  /** Supervisor restarts so far (reset after a start that stayed up for a minute). */
  restarts: number;
  lastError?: string;
  /** Wall time of the next restart attempt (Unix ms), while `restarting`. */
  restartAtMs?: number;
  restartTimer?: NodeJS.Timeout;
  startedAtMs?: number;
}

/** A bad operator request (the controller answers 400 / 404 / 409 with the message). */
export class OrchestratorError extends Error {
  constructor(
    readonly code: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** Supervisor restart backoff (the shared `backoffDelay` of @mm/platform), ms. */
const RESTART_BACKOFF = { initialMs: 1000, maxMs: 60_000 };

/**
 * Nest wrapper and **symbol orchestrator**: one RemoteExchange link and one account, N symbol engines
 * (GridEngine of libs/trading), each with its own grid config and state store, all consulting one
 * shared portfolio limiter (`risk.exposure.max_total_notional`, `max_total_open_order_notional`).
 *
 * Which symbols run: `symbols` absent → `grid.symbol` only (single-symbol mode: a fatal engine error
 * ends the process, as before); a list → one engine per entry; `auto` → every symbol the venue serves
 * with the grid scaled per symbol ({@link autoGrid}). The durable `active_symbol` table
 * ({@link SymbolTable}) wins over the config for the symbols it knows, so operator changes (add, pause,
 * remove) survive restarts. With several engines a failed engine stops alone: its symbol is held
 * (`restarting`, alert `strategy_crashed`) and the supervisor restarts it with exponential backoff; the
 * others keep trading. The dead-man's switch is armed per symbol; lockstep acknowledges market time
 * once every engine is idle.
 */
/** What the account and PnL figures of `/status` mean (shown next to them). */
export const ACCOUNT_DEFINITIONS = {
  equity: 'account margin balance = wallet balance + unrealized PnL of every position at mark (venue, quote)',
  marginRatio: 'Σ maintenance margin ÷ margin balance (venue; liquidation at 1)',
  fundingPnl: 'cumulative funding received (+) / paid (−) by the account (venue, quote); fundingBySymbol: the same per symbol',
  drawdown: '(peak − equity) ÷ peak, peak = highest account equity since start or the last breaker reset',
  strategyRealizedPnl: 'per symbol: Σ over closed grid round trips (per slot: sell − buy of the slot quantity) − every fee (maker/taker) of their fills (quote)',
  venueRealizedPnl: "per symbol: the venue's average-cost realized PnL of the fills since the engine started (seeded with the venue position and entry price at start): each closing fill realizes (fill price − average entry price) × closed quantity, fees excluded (quote)",
  symbolEquity: "per symbol: account margin balance at the engine's start + strategy realized PnL since + this symbol's own funding since + unrealized PnL of its slots at the last price (quote)",
};

@Injectable()
export class EngineService implements OnApplicationShutdown {
  private readonly log = new Logger('EngineService');
  readonly exchange: RemoteExchange;
  readonly runners = new Map<string, SymbolRunner>();
  /** Symbols removed through the operator API during this run (with the chosen position handling). */
  readonly removed = new Map<string, { position: 'keep' | 'flatten'; positionQty: string; flattenOrderId?: string }>();
  readonly portfolio: SharedPortfolioLimiter;
  /** One account view for every symbol engine: one account poll per `risk.margin.check_interval_ms`, account drawdown and staleness (`risk.account.*`). */
  readonly accountView: AccountView;
  readonly table: SymbolTable;
  /** The funding-rate arbitrage beside the grid engines (`funding_arb`), under the same portfolio limiter. */
  readonly arb: ArbRunner;
  private readonly tapOptions: TapOptions = {};
  private readonly venue: ReturnType<typeof tapMarketEvents>;
  private readonly journal?: IntentJournal;
  readonly alerts: AlertService;
  connectorState: 'connecting' | 'connected' | 'unreachable' = 'connecting';
  readonly streams: Record<string, string> = {};
  deadMan: { armed: boolean; deadlineMs: number; venueEnforced: boolean; lastError?: string } = { armed: false, deadlineMs: 0, venueEnforced: false };
  private heartbeatTimer?: NodeJS.Timeout;
  /** The engines' clock: the wall clock, or market time in lockstep with a sim replay. */
  readonly clock = new ReplayClock();
  /** Lockstep acknowledgements (set when lockstep is on). */
  lockstep?: LockstepAcker;
  private lockstepOn = false;
  private lastAckError = 0;
  private shuttingDown = false;
  /** The symbol whose engine backs the single-symbol endpoints (`/status` strategy, `/slots`, operator pause…). */
  readonly defaultSymbol: string;

  get deadManEnabled(): boolean {
    return this.config.dead_man.enabled;
  }

  /** More than the single-symbol mode: a `symbols` list or `auto`, or symbols added at runtime. */
  get multi(): boolean {
    return this.config.symbols !== undefined || this.runners.size > 1;
  }

  /** The default symbol's engine (else the first one): what the single-symbol endpoints show. */
  get engine(): GridEngine {
    return (this.runners.get(this.defaultSymbol) ?? [...this.runners.values()][0] ?? this.placeholder!).engine;
  }

  /** Kept when every symbol was removed, so the single-symbol endpoints still answer. */
  private placeholder?: SymbolRunner;

  constructor(
    @Inject(MM_CONFIG) private readonly config: MmConfig,
    private readonly dataSource: DataSource,
    private readonly metrics: MmMetrics,
    access: MmAccess,
  ) {
    assertPrefix(config.instance_id);
    const list = Array.isArray(config.symbols) ? config.symbols : null;
    this.defaultSymbol = list && !list.some((e) => e.symbol === config.grid.symbol) ? list[0].symbol : config.grid.symbol;
    this.alerts = new AlertService({ ...alertConfigFromEnv(withFileSecrets(process.env, ALERT_SECRET_ENV)), instance: `${config.instance_id}/${this.defaultSymbol}` });
    this.exchange = new RemoteExchange({
      address: config.exchange.address,
      token: access.connectorToken || undefined,
      credentials: grpcClientCredentials(config.exchange.tls, 'exchange.tls').credentials,
      connectAttempts: config.exchange.connect_attempts,
      requestTimeoutMs: config.exchange.request_timeout_ms,
      onStreamState: (stream, state, detail) => {
        this.streams[stream] = state;
        for (const r of this.runners.values()) r.engine.streamState(stream, state);
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
    this.journal = config.database.intent_journal
      ? openIntentJournal(dataSource.options as { type: string }, { sqliteSynchronous: config.database.sqlite_synchronous, pgSynchronousCommit: config.database.pg_synchronous_commit, statementTimeoutMs: config.database.statement_timeout_ms })
      : undefined;
    // The cross-symbol cap takes a quote amount; a "N%" of equity total limit is applied by each
    // engine's own exposure screen (its symbol's share), so the shared limiter leaves it off.
    const total = config.risk.exposure.max_total_notional;
    if (total.endsWith('%')) this.log.warn(`risk.exposure.max_total_notional ${total}: a percentage is checked per symbol engine; give a quote amount to cap the sum across symbols`);
    this.portfolio = new SharedPortfolioLimiter({ maxTotalNotional: new Dec(total.endsWith('%') ? 0 : total), maxTotalOpenOrderNotional: new Dec(config.risk.exposure.max_total_open_order_notional) });
    this.accountView = new AccountView(this.exchange, this.clock, { pollIntervalMs: config.risk.margin.check_interval_ms, maxDrawdown: new Dec(config.risk.account.max_drawdown), maxStaleMs: config.risk.account.max_stale_ms }, new Logger('AccountView'));
    this.accountView.subscribe((r) => this.accountMetrics(r));
    this.table = new SymbolTable(dataSource);
    this.arb = new ArbRunner(config, dataSource, this.exchange, this.portfolio, metrics, this.alerts);
    const entry = list?.find((e) => e.symbol === this.defaultSymbol);
    const rec: SymbolRecord = { symbol: this.defaultSymbol, status: 'active', grid: entry ? overridesOf(entry) : {}, source: 'config' };
    this.runners.set(rec.symbol, this.makeRunner(rec));
  }

  /** The default symbol's store (single-symbol callers). */
  get store(): FillLogStore {
    return (this.runners.get(this.defaultSymbol) ?? [...this.runners.values()][0] ?? this.placeholder!).store;
  }

  /**
   * The effective config of a symbol: `grid` with the record's overrides (validated by the grid
   * schema), and the per-symbol client-order-id secret when one is configured (see GridStore.secretScope).
   * @throws OrchestratorError 400 naming the bad key.
   */
  configFor(rec: SymbolRecord): MmConfig {
    const parsed = gridSchema.safeParse({ ...this.config.grid, ...rec.grid, symbol: rec.symbol });
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new OrchestratorError(400, `grid.${i.path.join('.')}: ${i.message}`);
    }
    let engine = this.config.engine;
    const secret = rec.symbol === this.defaultSymbol ? '' : clientIdSecret(this.config);
    if (secret) engine = { ...engine, client_id_secret: `${secret}:${rec.symbol}`, client_id_secret_file: '' };
    // Venue latency to a local sim is no market condition, and on the replay clock a call that spans
    // a market-time step would read as seconds: the latency breaker input is off in lockstep.
    const risk = this.lockstepOn ? { ...this.config.risk, breaker: { ...this.config.risk.breaker, max_latency_p99_ms: 0 } } : this.config.risk;
    return { ...this.config, grid: parsed.data, engine, risk };
  }

  private makeRunner(rec: SymbolRecord, previous?: SymbolRunner): SymbolRunner {
    const config = this.configFor(rec);
    const store = previous?.store ?? new FillLogStore(this.dataSource, rec.symbol, this.journal);
    if (rec.symbol !== this.defaultSymbol) store.secretScope = rec.symbol;
    const venue = previous ? this.venue : faultInjection(this.venue, rec.symbol, process.env);
    const engine = buildEngineFromConfig(venue, store, config, this.metrics, this.alerts, (err) => this.onEngineFatal(rec.symbol, err), process.env, this.clock, this.portfolio, this.accountView);
    return { symbol: rec.symbol, record: rec, config, engine, store, status: 'stopped', restarts: previous?.restarts ?? 0, lastError: previous?.lastError };
  }

  /** Last funding settlement seen per symbol (rate, market time) from the venue's funding stream. */
  readonly funding = new Map<string, { rate: string; timestampMs: number; settlements: number }>();
  private readonly fundingSubs = new Map<string, () => void>();

  /**
   * Subscribes to a symbol's funding stream (once): settlements show in `/status`, and in lockstep
   * the settlement instant (a market instant without price or order event) is acknowledged too.
   */
  private watchFunding(symbol: string): void {
    if (this.fundingSubs.has(symbol)) return;
    this.fundingSubs.set(
      symbol,
      this.venue.watchFundingRate(symbol, {
        next: (f) => {
          const prev = this.funding.get(symbol);
          this.funding.set(symbol, { rate: f.rate.toString(), timestampMs: f.timestampMs, settlements: (prev?.settlements ?? 0) + 1 });
        },
        error: (e) => this.log.warn(`${symbol} funding stream: ${e.message}`),
      }),
    );
  }

  /** Dead-man timeout sent with every heartbeat (0 = disarmed when the switch is off). */
  private get heartbeatTimeoutMs(): number {
    return this.config.dead_man.enabled ? this.config.dead_man.timeout_ms : 0;
  }

  /**
   * The records to run: configured symbols (or, for `auto`, every symbol the venue serves) merged
   * with the durable table (see SymbolTable.seed).
   */
  private async resolveRecords(): Promise<SymbolRecord[]> {
    const s = this.config.symbols;
    let configured: SymbolRecord[];
    if (s === undefined) configured = [{ symbol: this.config.grid.symbol, status: 'active', grid: {}, source: 'config' }];
    else if (s === 'auto') {
      configured = [];
      // the funding arbitrage's symbols on this connector are not grid symbols
      const arb = new Set(this.config.funding_arb.enabled ? this.config.funding_arb.pairs.flatMap((p) => (['a', 'b'] as const).filter((l) => p.legs[l].venue === 'exchange').map((l) => p.legs[l].symbol ?? p.symbol)) : []);
      for (const symbol of await this.exchange.getSymbols()) if (!arb.has(symbol)) configured.push({ symbol, status: 'active', grid: await this.autoGrid(symbol), source: 'auto' });
    } else configured = s.map((e) => ({ symbol: e.symbol, status: 'active', grid: overridesOf(e), source: 'config' }));
    return this.table.seed(configured);
  }

  /**
   * `symbols: auto` grid for one symbol, scaled to its price and rules (README "Several symbols"):
   * price_interval = last price × `symbol_auto.price_interval_ratio`, rounded down to the tick (≥ 1 tick);
   * order_notional = max(`grid.order_notional`, 1.1 × the symbol's min notional), rounded up to
   * 0.01 quote (the engine rounds each order's quantity to the step); min_order_value = the min notional.
   */
  async autoGrid(symbol: string): Promise<Omit<SymbolEntry, 'symbol'>> {
    const rules = await this.exchange.getSymbolRules(symbol);
    const price = await this.exchange.getLatestPrice(symbol);
    const raw = roundToIncrement(price.mul(this.config.symbol_auto.price_interval_ratio), rules.tickSize, 'down');
    const interval = raw.gt(0) ? raw : rules.tickSize;
    const floor = rules.minNotional.mul('1.1');
    const notional = Dec.max(new Dec(this.config.grid.order_notional), floor).toDecimalPlaces(2, Dec.ROUND_UP);
    const minValue = Dec.max(new Dec(this.config.grid.min_order_value), rules.minNotional);
    return { price_interval: interval.toString(), order_notional: notional.toString(), min_order_value: minValue.toString() };
  }

  /**
   * Lockstep with a sim file replay: `engine.lockstep` on, or `auto` and the connector's venue is the
   * sim. Then the engines run on market time ({@link ReplayClock}, starting at the end of the replay's
   * kline history) and the process acknowledges processed market time once every engine is idle.
   */
  private async setUpLockstep(): Promise<boolean> {
    const mode = this.config.engine.lockstep;
    if (mode === 'off' || (mode === 'auto' && this.exchange.name !== 'sim')) return false;
    const symbol = this.defaultSymbol;
    this.lockstepOn = true;
    this.tapOptions.barrier = () => this.exchange.getLatestPrice(symbol).then(() => undefined);
    this.tapOptions.beforeEvent = (ms) => this.lockstep?.beforeEvent(ms);
    const last = (await this.exchange.getHistoricalKlines(symbol, '1m', 1).catch(() => [])).at(-1);
    this.clock.activate(last ? last.openTimeMs + 60_000 : Date.now());
    this.lockstep = new LockstepAcker({
      clock: this.clock,
      whenIdle: () => this.whenIdle(),
      blocked: () => this.venue.pendingTicks() > 0,
      send: async (ms) => {
        for (const s of this.heartbeatSymbols()) {
          const r = await this.exchange.heartbeat(this.config.instance_id, s, this.heartbeatTimeoutMs, ms);
          if (this.config.dead_man.enabled) this.deadMan = { armed: true, deadlineMs: r.deadlineMs, venueEnforced: r.venueEnforced };
        }
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

  /** Resolves when every engine is idle (lockstep). */
  async whenIdle(): Promise<void> {
    for (;;) {
      const engines = [...this.runners.values()].map((r) => r.engine);
      await this.accountView.whenIdle();
      await Promise.all(engines.map((e) => e.whenIdle()));
      const now = [...this.runners.values()].map((r) => r.engine);
      if (now.length === engines.length && now.every((e, i) => e === engines[i])) return;
    }
  }

  /** Symbols whose dead-man's switch this process keeps armed (every runner's, the default one first). */
  private heartbeatSymbols(): string[] {
    const all = [...this.runners.keys()];
    return all.length ? all : [this.defaultSymbol];
  }

  /** Waits (≤ 10 s) until every stream the engines opened is attached on the connector. */
  private async streamsAttached(): Promise<void> {
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const states = Object.values(this.streams);
      if (states.length > 0 && states.every((s) => s === 'subscribed')) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    this.log.warn('lockstep: not every stream attached after 10 s; joining the replay anyway');
  }

  /** Connects (with backoff; fails fast after the configured attempts), resolves the symbols, arms the dead-man's switch, starts the engines. */
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
    await this.journal?.connect();
    const lockstep = await this.setUpLockstep();
    await this.accountView.start();
    const records = await this.resolveRecords();
    // (Re)build: lockstep changes the engines' settings, the table may differ from the config.
    const old = new Map(this.runners);
    this.runners.clear();
    for (const rec of records) this.runners.set(rec.symbol, this.makeRunner(rec, old.get(rec.symbol)));
    if (this.runners.size === 0) {
      this.placeholder = old.get(this.defaultSymbol);
      this.log.warn('no active symbol (every symbol was removed through the operator API): add one with POST /operator/symbols');
    }
    this.log.log(`symbols: ${[...this.runners.values()].map((r) => `${r.symbol} (${r.record.status}, interval ${r.config.grid.price_interval}, notional ${r.config.grid.order_notional})`).join(', ') || 'none'}`);
    for (const r of this.runners.values()) this.watchFunding(r.symbol);
    if (!lockstep) {
      if (this.config.dead_man.enabled) {
        await this.heartbeat();
        this.startHeartbeats();
      }
      for (const r of this.runners.values()) await this.startRunner(r);
      await this.startArb();
    } else {
      // The replay starts with its first trading client (an armed switch or an acknowledgement, plus an
      // orders stream). Start the engines first and join only when their price and order streams are
      // attached, so the first market instant reaches them (market time stands still until then).
      for (const r of this.runners.values()) await this.startRunner(r);
      await this.streamsAttached();
      await this.whenIdle();
      const tickers = await this.exchange.getTickers().catch(() => []);
      await this.lockstep!.join(tickers.find((t) => t.symbol === this.defaultSymbol)?.timestampMs ?? 1);
      if (this.config.dead_man.enabled) this.startHeartbeats();
      await this.startArb();
    }
  }

  /**
   * Starts the funding arbitrage when `funding_arb.enabled` (after the grid engines: both share the
   * portfolio limiter). A failed start is fatal (crash-only: a restart resumes from the journal).
   */
  private async startArb(): Promise<void> {
    if (!this.arb.enabled) return;
    try {
      await this.arb.start();
    } catch (e) {
      this.arb.startError = (e as Error).message;
      this.alerts.notify({ kind: 'strategy_crashed', level: 'CRITICAL', title: 'Funding arbitrage failed to start', message: (e as Error).message });
      throw e;
    }
  }

  /**
   * Starts one runner's engine (paused if its record says so). Single-symbol mode: a failed start
   * throws (the process exits, as before). Several symbols: the failure goes to the supervisor.
   */
  private async startRunner(r: SymbolRunner): Promise<void> {
    r.status = 'starting';
    try {
      await r.engine.start();
      if (r.engine.state === 'failed') return; // onEngineFatal took over
      if (r.record.status === 'paused') await r.engine.setPaused(true);
      r.status = r.record.status === 'paused' ? 'paused' : 'running';
      r.startedAtMs = Date.now();
      this.metrics.engineUp.set({ symbol: r.symbol }, r.status === 'running' ? 1 : 0);
    } catch (e) {
      if (!this.multi) throw e;
      this.onEngineFatal(r.symbol, e as Error);
    }
  }

  /**
   * A symbol engine failed (exception, stream failure, failed start). Single-symbol mode: the process
   * exits (crash-only; a restart recovers). Several symbols: only this engine stops; it is held with
   * the reason and restarted after `backoffDelay(restarts)` (1 s doubling to 60 s).
   */
  private onEngineFatal(symbol: string, err: Error): void {
    if (!this.multi) return this.die(err);
    const r = this.runners.get(symbol);
    if (!r || this.shuttingDown || r.status === 'restarting') return;
    if (r.startedAtMs && Date.now() - r.startedAtMs > 60_000) r.restarts = 0;
    const delay = backoffDelay(r.restarts, RESTART_BACKOFF);
    r.status = 'restarting';
    r.lastError = err.message;
    r.restartAtMs = Date.now() + delay;
    this.metrics.engineUp.set({ symbol }, 0);
    this.log.error(`${symbol} engine failed: ${err.message}; the other symbols keep trading; restart in ${delay} ms (attempt ${r.restarts + 1})`);
    this.alerts.notify({ kind: 'strategy_crashed', level: 'CRITICAL', title: `Symbol engine stopped: ${symbol}`, message: `${err.message}; restarting in ${delay} ms`, fields: { symbol }, dedupeKey: `crash:${symbol}` });
    r.restartTimer = setTimeout(() => void this.restart(symbol), delay);
    r.restartTimer.unref();
  }

  private async restart(symbol: string): Promise<void> {
    const r = this.runners.get(symbol);
    if (!r || this.shuttingDown || r.status !== 'restarting') return;
    await r.engine.stop(false).catch(() => undefined);
    const next = this.makeRunner(r.record, r);
    next.restarts = r.restarts + 1;
    next.status = 'starting';
    this.runners.set(symbol, next);
    this.metrics.engineRestarts.inc({ symbol });
    this.log.warn(`${symbol}: supervisor restart ${next.restarts}`);
    await this.startRunner(next);
  }

  // ---------------------------------------------------------------- operator actions

  /** Every symbol: running ones and the ones removed (durable). */
  async listSymbols() {
    const rows = await this.table.list();
    return rows.map((row) => {
      const r = this.runners.get(row.symbol);
      return { symbol: row.symbol, status: r?.status ?? row.status, record: row.status, source: row.source, grid: r ? r.config.grid : { ...row.grid }, restarts: r?.restarts ?? 0, lastError: r?.lastError };
    });
  }

  private runner(symbol: string): SymbolRunner {
    const r = this.runners.get(symbol);
    if (!r) throw new OrchestratorError(404, `symbol ${symbol} is not active (GET /operator/symbols lists them)`);
    return r;
  }

  /**
   * Adds a symbol engine at runtime: validates `{ symbol, …grid overrides }` (strict: unknown keys are
   * errors naming them), checks the venue serves the symbol, stores it (active) and starts its engine.
   * @throws OrchestratorError 400 (bad body, unknown symbol), 409 (already active).
   */
  async addSymbol(body: unknown) {
    const parsed = symbolEntrySchema.safeParse(body ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new OrchestratorError(400, `${i.path.join('.') || '(body)'}: ${i.message}`);
    }
    const symbol = parsed.data.symbol;
    if (this.runners.has(symbol)) throw new OrchestratorError(409, `symbol ${symbol} is already active`);
    const served = await this.exchange.getSymbols();
    if (!served.includes(symbol)) throw new OrchestratorError(400, `symbol: the venue does not serve ${symbol} (it serves ${served.join(', ')})`);
    const rec: SymbolRecord = { symbol, status: 'active', grid: overridesOf(parsed.data), source: 'operator' };
    const runner = this.makeRunner(rec); // validates the merged grid (400 naming the key)
    await this.table.put(rec);
    this.removed.delete(symbol);
    this.runners.set(symbol, runner);
    this.watchFunding(symbol);
    if (this.config.dead_man.enabled) await this.heartbeatOne(symbol);
    this.log.warn(`operator: added ${symbol} (interval ${runner.config.grid.price_interval}, notional ${runner.config.grid.order_notional})`);
    await this.startRunner(runner);
    return this.symbolStatus(runner);
  }

  /** Pauses (no new orders; live ones stay) or resumes one symbol; durable. */
  async setSymbolPaused(symbol: string, paused: boolean) {
    const r = this.runner(symbol);
    await r.engine.setPaused(paused);
    r.record = { ...r.record, status: paused ? 'paused' : 'active' };
    await this.table.setStatus(symbol, r.record.status);
    if (r.status === 'running' || r.status === 'paused') r.status = paused ? 'paused' : 'running';
    this.metrics.engineUp.set({ symbol }, r.status === 'running' ? 1 : 0);
    return this.symbolStatus(r);
  }

  /**
   * Removes a symbol at runtime: cancels its orders, stops its engine, marks it removed (durable), and
   * handles the position as told — `keep` (left on the venue, still counted by the portfolio limiter)
   * or `flatten` (one reduce-only market order for the venue position).
   * @throws OrchestratorError 400 without an explicit `position`, 404 for an inactive symbol.
   */
  async removeSymbol(symbol: string, position: unknown) {
    if (position !== 'keep' && position !== 'flatten') throw new OrchestratorError(400, 'position: must be "keep" or "flatten" (explicit choice for the symbol\'s venue position)');
    const r = this.runner(symbol);
    if (r.restartTimer) clearTimeout(r.restartTimer);
    if (r.engine.state === 'running') await r.engine.cancelAll();
    await r.engine.stop(false);
    // whatever is left under our prefix (an engine that had failed could not cancel): cancel it too
    for (const o of await this.exchange.getOpenOrders(symbol)) {
      if (o.clientOrderId.startsWith(this.config.instance_id)) await this.exchange.cancelOrderByClientOrderId(symbol, o.clientOrderId).catch((e: Error) => this.log.warn(`remove ${symbol}: cancel ${o.clientOrderId} failed: ${e.message}`));
    }
    r.status = 'stopped';
    this.runners.delete(symbol);
    if (this.runners.size === 0) this.placeholder = r;
    await this.table.setStatus(symbol, 'removed');
    this.metrics.engineUp.set({ symbol }, 0);
    // no live order of ours is left for this symbol: disarm its switch
    if (this.config.dead_man.enabled) await this.exchange.heartbeat(this.config.instance_id, symbol, 0).catch(() => undefined);
    const pos = (await this.exchange.getPositions(symbol)).find((p) => p.symbol === symbol);
    const qty = pos?.size ?? new Dec(0);
    let flattenOrderId: string | undefined;
    if (position === 'flatten' && !qty.isZero()) {
      const o = await this.exchange.placeOrder({ symbol, side: qty.gt(0) ? 'SELL' : 'BUY', type: 'MARKET', quantity: qty.abs(), reduceOnly: true, clientOrderId: `${this.config.instance_id}F${Date.now().toString(36)}` });
      flattenOrderId = o.orderId;
      this.portfolio.forget(symbol);
    } else if (position === 'flatten') this.portfolio.forget(symbol);
    else this.portfolio.report(symbol, { positionQty: qty, markPrice: pos?.markPrice ?? new Dec(0), openOpeningNotional: new Dec(0) });
    const info = { position: position as 'keep' | 'flatten', positionQty: qty.toString(), flattenOrderId };
    this.removed.set(symbol, info);
    this.log.warn(`operator: removed ${symbol}; position ${qty} ${position === 'keep' ? 'kept' : `flattened (reduce-only order ${flattenOrderId ?? 'none needed'})`}`);
    return { symbol, status: 'removed', ...info };
  }

  // ---------------------------------------------------------------- status

  /** One symbol for `/status` and the operator API. */
  symbolStatus(r: SymbolRunner) {
    const s = r.engine.snapshot();
    return {
      symbol: r.symbol,
      status: r.status,
      source: r.record.source,
      restarts: r.restarts,
      lastError: r.lastError,
      restartInMs: r.status === 'restarting' && r.restartAtMs ? Math.max(0, r.restartAtMs - Date.now()) : undefined,
      grid: { price_interval: r.config.grid.price_interval, order_notional: r.config.grid.order_notional, buy_window: r.config.grid.buy_window, sell_window: r.config.grid.sell_window, mode: r.config.grid.mode },
      state: s.state,
      engineError: s.lastError,
      lastPrice: s.lastPrice,
      anchorPrice: s.anchorPrice,
      inventory: s.inventory,
      realizedPnl: s.realizedPnl,
      /** Strategy (per-slot, net of every fee) and venue (average-cost, fees excluded, since start) realized PnL side by side; see `account.definitions`. */
      strategyRealizedPnl: s.realizedPnl,
      venueRealizedPnl: s.venueRealizedPnl,
      fundingPnl: s.fundingPnl,
      equity: s.equity,
      unrealizedPnl: s.unrealizedPnl,
      feesPaid: s.feesPaid,
      fills: s.fills,
      slots: s.slots,
      priceFeed: s.priceFeed,
      breaker: s.risk.breaker,
      crashGuard: s.risk.crashGuard,
      paused: s.risk.paused,
      /** Why account risk (shared account view: drawdown, stale reading) stops this symbol's opening orders; null = not. */
      accountBlock: s.risk.accountBlock,
      blocked: s.risk.blocked,
      funding: this.funding.get(r.symbol) ?? null,
    };
  }

  /** Every active symbol, by symbol. */
  symbolsStatus() {
    return Object.fromEntries([...this.runners.values()].map((r) => [r.symbol, this.symbolStatus(r)]));
  }

  /** The account as the venue reports it now (equity, margin ratio when the venue reports one); null when unreachable. */
  async account() {
    const a = await Promise.race([this.exchange.getAccount(), new Promise<null>((r) => setTimeout(() => r(null), 2000).unref())]).catch(() => null);
    if (!a) return null;
    return {
      asset: a.asset,
      equity: a.totalMarginBalance.toString(),
      walletBalance: a.totalWalletBalance.toString(),
      availableBalance: a.availableBalance.toString(),
      marginRatio: a.marginRatio?.toString() ?? null,
      maintenanceMargin: a.totalMaintenanceMargin?.toString() ?? null,
      fundingPnl: a.fundingPnl?.toString() ?? null,
      fundingBySymbol: Object.fromEntries(a.positions.filter((p) => p.fundingPnl).map((p) => [p.symbol, p.fundingPnl!.toString()])),
      positions: Object.fromEntries(a.positions.filter((p) => !p.size.isZero()).map((p) => [p.symbol, { size: p.size.toString(), entryPrice: p.entryPrice.toString(), markPrice: p.markPrice.toString(), unrealizedPnl: p.unrealizedPnl.toString(), liquidationPrice: p.liquidationPrice.toString(), fundingPnl: p.fundingPnl?.toString() ?? null }])),
      /** The shared account view every engine reads (last poll): drawdown breaker and staleness that stop opening on every symbol. */
      risk: this.accountView.snapshot(this.clock.now()),
      definitions: ACCOUNT_DEFINITIONS,
    };
  }

  /** Account gauges from one account-view reading (metrics in quote units and ratios). */
  private accountMetrics(r: AccountReading): void {
    const m = this.metrics;
    const a = r.account;
    m.accountEquity.set(a.totalMarginBalance.toNumber());
    const ratio = accountMarginRatio(a);
    m.accountMarginRatio.set(ratio ? ratio.toNumber() : Number.NaN);
    if (a.fundingPnl) m.accountFundingPnl.set(a.fundingPnl.toNumber());
    for (const p of a.positions) if (p.fundingPnl) m.accountFundingBySymbol.set({ symbol: p.symbol }, p.fundingPnl.toNumber());
    m.accountDrawdown.set(this.accountView.drawdownFraction()?.toNumber() ?? 0);
    m.accountReadingAge.set(0);
    const block = this.accountView.blocksOpening(r.atMs);
    m.accountOpeningBlocked.set({ reason: 'drawdown' }, this.accountView.drawdown.open ? 1 : 0);
    m.accountOpeningBlocked.set({ reason: 'stale' }, block && !this.accountView.drawdown.open ? 1 : 0);
  }

  /** Refreshes the time-dependent account gauges (reading age, staleness), for the metrics scrape. */
  refreshAccountMetrics(): void {
    const now = this.clock.now();
    const age = this.accountView.ageMs(now);
    if (age !== null) this.metrics.accountReadingAge.set(age / 1000);
    const block = this.accountView.blocksOpening(now);
    this.metrics.accountOpeningBlocked.set({ reason: 'stale' }, block && !this.accountView.drawdown.open ? 1 : 0);
  }

  // ---------------------------------------------------------------- dead-man's switch, shutdown

  private startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.dead_man.interval_ms);
    this.heartbeatTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    for (const s of this.heartbeatSymbols()) await this.heartbeatOne(s);
  }

  private async heartbeatOne(symbol: string): Promise<void> {
    try {
      const r = await this.exchange.heartbeat(this.config.instance_id, symbol, this.config.dead_man.timeout_ms);
      this.deadMan = { armed: true, deadlineMs: r.deadlineMs, venueEnforced: r.venueEnforced };
    } catch (e) {
      this.deadMan = { ...this.deadMan, lastError: (e as Error).message };
      this.log.warn(`dead-man's switch heartbeat (${symbol}) failed: ${(e as Error).message}`);
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
    this.shuttingDown = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.lockstep?.stop();
    this.accountView.stop();
    const policy = this.shutdownPolicy;
    for (const r of this.runners.values()) {
      if (r.restartTimer) clearTimeout(r.restartTimer);
      await r.engine.stop(policy === 'cancel');
    }
    const { instance_id: id, dead_man: dm } = this.config;
    for (const symbol of this.heartbeatSymbols()) {
      if (this.deadMan.armed && policy === 'keep_armed') {
        // Last heartbeat with the grace as timeout, never disarm: a replacement re-arms it and keeps the
        // orders; if none arrives in time the connector (or the venue's native countdown) cancels them.
        await this.exchange
          .heartbeat(id, symbol, dm.shutdown_grace_ms)
          .then((r) => this.log.log(`shutdown: orders kept, dead-man's switch stays armed until ${new Date(r.deadlineMs).toISOString()} (grace ${dm.shutdown_grace_ms} ms) for ${symbol}`))
          .catch((e: Error) => this.log.warn(`shutdown: last heartbeat failed (${e.message}); the switch fires at its previous deadline`));
      } else if (this.deadMan.armed) {
        await this.exchange.heartbeat(id, symbol, 0).catch(() => undefined);
        this.log.log(policy === 'cancel' ? `shutdown: orders cancelled, dead-man's switch disarmed (${symbol})` : `shutdown: dead-man's switch disarmed, orders left unprotected (${symbol})`);
      }
    }
    await this.arb.stop();
    for (const u of this.fundingSubs.values()) u();
    await this.alerts.close();
    await this.exchange.close();
    await this.journal?.close();
  }
}

/** The grid overrides of a `symbols` entry (every key but `symbol`, undefined ones dropped). */
export function overridesOf(e: SymbolEntry): Omit<SymbolEntry, 'symbol'> {
  const { symbol: _symbol, ...rest } = e;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Omit<SymbolEntry, 'symbol'>;
}

/**
 * Test-only fault injection into one symbol engine (`MM_FAULT_SYMBOL=ETHUSDT`, `MM_FAULT_AFTER_TICKS=n`,
 * `MM_FAULT_KIND=error|stale`): after n price ticks of that symbol its first engine's price stream
 * fails (`error`: the engine fails and the supervisor restarts it, the restarted engine is healthy) or
 * goes silent (`stale`: its stale-feed breaker opens). Other symbols and restarts are untouched.
 */
export function faultInjection<V extends ExchangeVenue>(venue: V, symbol: string, env: NodeJS.ProcessEnv): V {
  if (!env.MM_FAULT_SYMBOL || env.MM_FAULT_SYMBOL !== symbol) return venue;
  const after = Number(env.MM_FAULT_AFTER_TICKS ?? '20');
  const kind = env.MM_FAULT_KIND === 'stale' ? 'stale' : 'error';
  return new Proxy(venue, {
    get(target, prop, receiver) {
      if (prop === 'watchPrice')
        return (sym: string, o: StreamObserver<PriceTick>) => {
          let n = 0;
          return target.watchPrice(sym, {
            ...o,
            next: (t: PriceTick) => {
              n++;
              if (n <= after) return o.next(t);
              if (kind === 'error' && n === after + 1) o.error?.(new Error(`injected fault: ${sym} price stream failed after ${after} ticks (MM_FAULT_SYMBOL)`));
            },
          });
        };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
