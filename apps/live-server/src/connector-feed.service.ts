import * as grpc from '@grpc/grpc-js';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  accountFromWire,
  candleFromWire,
  exchangeClientConstructor,
  orderEventFromWire,
  orderFromWire,
  pb,
  positionFromWire,
} from '@mm/contracts';
import {
  type AccountSnapshot,
  type Candle,
  type Dec,
  type Order,
  type OrderEvent,
  type Position,
  ZERO,
  isTerminal,
} from '@mm/domain';
import { assertNotDevToken, backoffDelay, grpcClientCredentials, readSecret } from '@mm/platform';
import { LIVE_CONFIG, type LiveConfig } from './live.config';
import { quoteAssetOf } from './messages';

/** A change of the feed's state, in domain terms (mapped to live messages by the gateway). */
export type FeedEvent =
  /** A new or updated candle of `symbol`; `latest` is false for an update of an older bar (not for the chart). */
  | { kind: 'candle'; symbol: string; candle: Candle; latest: boolean }
  | { kind: 'order'; symbol: string; event: OrderEvent }
  /**
   * The account changed (`symbol` undefined: for every symbol), or the running totals of `symbol` did
   * (a new fill). Totals per symbol from {@link ConnectorFeedService.snapshot}.
   */
  | { kind: 'account'; account: AccountSnapshot; symbol?: string }
  | { kind: 'position'; symbol: string; position: Position; realizedPnl: Dec }
  /** A stream's snapshot was (re)loaded after (re)connecting: clients should replace that part (klines: of `symbol`; orders: of every symbol). */
  | { kind: 'resync'; part: 'klines'; symbol: string }
  | { kind: 'resync'; part: 'orders' }
  | { kind: 'connector'; connected: boolean }
  /** The account was re-read by {@link ConnectorFeedService.refreshAccount} (marks, margins moved): for the overview only. */
  | { kind: 'refreshed' };

/** Everything a newly connected client of one symbol needs. Candles ascending by open time. */
export interface FeedSnapshot {
  symbol: string;
  candles: Candle[];
  account?: AccountSnapshot;
  orders: Order[];
  position?: Position;
  /** Running sum of `last_trade.realized_pnl` of this symbol's fills seen by this process (quote units). */
  realizedPnl: Dec;
  /** Running sum of this symbol's fill fees seen by this process (fee asset units, normally the quote asset). */
  fees: Dec;
}

/** Per-symbol part of {@link FeedOverview}. */
export interface FeedSymbolState {
  symbol: string;
  position?: Position;
  /** Close of the newest candle, if any (quote units). */
  lastPrice?: Dec;
  realizedPnl: Dec;
  fees: Dec;
}

/** The whole account across the monitored symbols (for the account overview). */
export interface FeedOverview {
  account?: AccountSnapshot;
  symbols: FeedSymbolState[];
}

/** Most symbols one live server monitors (bounds memory: `history_limit` candles each). */
export const MAX_SYMBOLS = 50;

interface SymbolState {
  candles: Candle[];
  orders: Map<string, Order>;
  position?: Position;
  realizedPnl: Dec;
  fees: Dec;
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;
/** The part of the raw grpc-js ExchangeService client the feed uses (read-only RPCs only). */
interface ExchangeReadClient extends grpc.Client {
  GetHistoricalKlines(r: pb.GetHistoricalKlinesRequest, md: grpc.Metadata, cb: Callback<pb.GetHistoricalKlinesResponse>): grpc.ClientUnaryCall;
  GetOpenOrders(r: pb.GetOpenOrdersRequest, md: grpc.Metadata, cb: Callback<pb.GetOpenOrdersResponse>): grpc.ClientUnaryCall;
  GetAccount(r: pb.GetAccountRequest, md: grpc.Metadata, cb: Callback<pb.Account>): grpc.ClientUnaryCall;
  GetSymbols(r: pb.GetSymbolsRequest, md: grpc.Metadata, cb: Callback<pb.GetSymbolsResponse>): grpc.ClientUnaryCall;
  SubscribeKlines(r: pb.SubscribeKlinesRequest, md: grpc.Metadata): grpc.ClientReadableStream<pb.Candle>;
  SubscribeOrders(r: pb.SubscribeOrdersRequest, md: grpc.Metadata): grpc.ClientReadableStream<pb.OrderUpdate>;
  SubscribeAccount(r: pb.SubscribeAccountRequest, md: grpc.Metadata): grpc.ClientReadableStream<pb.Account>;
  SubscribePositions(r: pb.SubscribePositionsRequest, md: grpc.Metadata): grpc.ClientReadableStream<pb.Position>;
}

/** One long-lived server stream: how to open it, what to (re)load once it is open, and what to do per message. */
interface StreamSpec<T> {
  name: string;
  open(md: grpc.Metadata): grpc.ClientReadableStream<T>;
  seed?(): Promise<void>;
  onData(msg: T): void;
}

const UNARY_DEADLINE_MS = 10_000;
const SEEN_TRADES_MAX = 10_000;

/**
 * Read-only view of one connector account for one or more symbols, fed by ONE gRPC client.
 *
 * Symbols: `symbols` from the config when given (the default `symbol` is always included, first),
 * else every symbol the connector serves (`GetSymbols`, asked once at start, retried with backoff
 * while the connector is unreachable; a connector without that RPC → the default symbol only), at
 * most {@link MAX_SYMBOLS}. The list is fixed for the life of the process.
 *
 * Subscribes to klines (1m, all symbols in one stream), orders, account and positions; each stream
 * is re-opened with exponential backoff (`backoff.initial_ms` → `backoff.max_ms`) whenever it ends or
 * fails, and the matching snapshot (historical klines and open orders per symbol, account) is
 * reloaded after it is open again. Keeps per symbol the last `history_limit` candles, the open
 * orders, the last position and running realized-PnL / fee totals, and the last account. With one
 * symbol the requests are exactly those of the single-symbol monitor (positions stream filtered by
 * the symbol). Never calls an order-placing RPC.
 */
@Injectable()
export class ConnectorFeedService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(ConnectorFeedService.name);
  private readonly client: ExchangeReadClient;
  private readonly listeners = new Set<(e: FeedEvent) => void>();
  private readonly calls = new Set<grpc.ClientReadableStream<unknown>>();
  private readonly openStreams = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly seenTrades = new Set<string>();
  private readonly states = new Map<string, SymbolState>();
  private symbolList: readonly string[] = [];
  private resolved = false;
  private account?: AccountSnapshot;
  private running = false;
  private lastConnected = false;
  private refreshing = false;

  private readonly token: string;

  /** @throws ConfigError for an unreadable `connector.token_file`, a dev token in production, or bad TLS files. */
  constructor(@Inject(LIVE_CONFIG) private readonly cfg: LiveConfig) {
    this.token = readSecret(cfg.connector.token, cfg.connector.token_file, 'connector.token_file');
    assertNotDevToken(this.token, 'connector.token');
    const Ctor = exchangeClientConstructor();
    this.client = new Ctor(cfg.connector.address, grpcClientCredentials(cfg.connector.tls, 'connector.tls').credentials, {
      'grpc.initial_reconnect_backoff_ms': cfg.backoff.initial_ms,
      'grpc.max_reconnect_backoff_ms': cfg.backoff.max_ms,
      'grpc.keepalive_time_ms': 300_000, // ≥ the 5 min servers tolerate by default (no too_many_pings GOAWAY)
      'grpc.keepalive_timeout_ms': 20_000,
    }) as unknown as ExchangeReadClient;
    this.setSymbols(cfg.symbols.length ? cfg.symbols : [cfg.symbol]);
  }

  /** The default symbol (`symbol` in the config): what a client gets when it names none. */
  get symbol(): string {
    return this.cfg.symbol;
  }

  /** The monitored symbols, default first (just the default until the connector's list is known). */
  get symbols(): readonly string[] {
    return this.symbolList;
  }

  /** True once the symbol list is final (configured, or read from the connector). */
  get symbolsResolved(): boolean {
    return this.resolved;
  }

  /** True when `symbol` is monitored (exact spelling). */
  has(symbol: string): boolean {
    return this.states.has(symbol);
  }

  /** True when the gRPC channel is READY and all four streams are open (and their snapshots loaded). */
  get connected(): boolean {
    return (
      this.openStreams.size === 4 &&
      this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY
    );
  }

  /** Registers a listener for every state change. Returns an unsubscribe function. */
  onEvent(listener: (e: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Current state of one symbol for a new client (copies).
   * @param symbol a monitored symbol (default: the default symbol). @throws Error for an unmonitored symbol.
   */
  snapshot(symbol: string = this.cfg.symbol): FeedSnapshot {
    const st = this.stateOf(symbol);
    return {
      symbol,
      candles: [...st.candles],
      account: this.account,
      orders: [...st.orders.values()],
      position: st.position,
      realizedPnl: st.realizedPnl,
      fees: st.fees,
    };
  }

  /** Running realized-PnL and fee totals of one monitored symbol's fills. @throws Error for an unmonitored symbol. */
  totals(symbol: string): { realizedPnl: Dec; fees: Dec } {
    const st = this.stateOf(symbol);
    return { realizedPnl: st.realizedPnl, fees: st.fees };
  }

  /** Open orders of one monitored symbol (a copy). @throws Error for an unmonitored symbol. */
  openOrders(symbol: string): Order[] {
    return [...this.stateOf(symbol).orders.values()];
  }

  /** Candles of one monitored symbol, ascending (a copy). @throws Error for an unmonitored symbol. */
  candlesOf(symbol: string): Candle[] {
    return [...this.stateOf(symbol).candles];
  }

  /** The account and every monitored symbol's position, last price and running totals. */
  overview(): FeedOverview {
    return {
      account: this.account,
      symbols: this.symbolList.map((symbol) => {
        const st = this.stateOf(symbol);
        const last = st.candles[st.candles.length - 1];
        return { symbol, position: st.position, lastPrice: last?.close, realizedPnl: st.realizedPnl, fees: st.fees };
      }),
    };
  }

  /**
   * Re-reads the account (`GetAccount`) once: venues push account and position updates on fills and
   * funding only, so marks, unrealized PnL, margin ratio and liquidation prices go stale in between.
   * Updates the stored account and positions silently (no `account`/`position` event: the default
   * protocol's traffic is unchanged) and emits `refreshed`. No-op while disconnected or while a
   * previous refresh is in flight. Errors are logged at debug level (the next period retries).
   */
  refreshAccount(): void {
    if (!this.running || this.refreshing || !this.connected) return;
    this.refreshing = true;
    this.unary<pb.Account>((md, cb) => this.client.GetAccount({}, md, cb)).then(
      (w) => {
        this.refreshing = false;
        if (!this.running) return;
        const a = accountFromWire(w, quoteAssetOf(this.cfg.symbol));
        this.account = a;
        for (const p of a.positions) {
          const st = this.states.get(p.symbol);
          if (st) st.position = p;
        }
        this.emit({ kind: 'refreshed' });
      },
      (err: Error) => {
        this.refreshing = false;
        this.log.debug(`account refresh failed: ${err.message}`);
      },
    );
  }

  onApplicationBootstrap(): void {
    this.running = true;
    if (this.cfg.symbols.length) this.startStreams();
    else this.resolveSymbols(0);
  }

  onModuleDestroy(): void {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.calls) c.cancel();
    this.calls.clear();
    this.client.close();
  }

  private stateOf(symbol: string): SymbolState {
    const st = this.states.get(symbol);
    if (!st) throw new Error(`symbol ${symbol} is not monitored`);
    return st;
  }

  /** Sets the list: the default first, duplicates dropped, at most {@link MAX_SYMBOLS}. */
  private setSymbols(list: readonly string[]): void {
    const all = [...new Set([this.cfg.symbol, ...list])];
    if (all.length > MAX_SYMBOLS) this.log.warn(`monitoring the first ${MAX_SYMBOLS} of ${all.length} symbols`);
    this.symbolList = all.slice(0, MAX_SYMBOLS);
    for (const s of this.symbolList) {
      if (!this.states.has(s)) this.states.set(s, { candles: [], orders: new Map(), realizedPnl: ZERO, fees: ZERO });
    }
    for (const s of [...this.states.keys()]) if (!this.symbolList.includes(s)) this.states.delete(s);
  }

  /** Asks the connector for its symbols (retried with backoff), then starts the streams. */
  private resolveSymbols(attempt: number): void {
    if (!this.running) return;
    this.unary<pb.GetSymbolsResponse>((md, cb) => this.client.GetSymbols({}, md, cb)).then(
      (res) => {
        if (!this.running) return;
        const served = (res.symbols ?? []).filter((s) => typeof s === 'string' && s.length > 0);
        if (served.length && !served.includes(this.cfg.symbol)) {
          this.log.error(`the connector does not serve the default symbol ${this.cfg.symbol} (serves ${served.slice(0, 10).join(', ')})`);
        }
        this.setSymbols(served);
        this.finishResolve();
      },
      (err: grpc.ServiceError) => {
        if (!this.running) return;
        if (err.code === grpc.status.UNIMPLEMENTED) {
          this.log.warn('connector has no GetSymbols: monitoring the default symbol only');
          this.finishResolve();
          return;
        }
        const delay = backoffDelay(attempt, { initialMs: this.cfg.backoff.initial_ms, maxMs: this.cfg.backoff.max_ms });
        this.log.warn(`GetSymbols failed (${grpc.status[err.code] ?? err.code} ${err.details ?? err.message}); retrying in ${delay} ms`);
        this.schedule(() => this.resolveSymbols(attempt + 1), delay);
      },
    );
  }

  private finishResolve(): void {
    this.resolved = true;
    this.log.log(`monitoring ${this.symbolList.join(', ')} (default ${this.cfg.symbol})`);
    this.startStreams();
  }

  private startStreams(): void {
    this.resolved = true;
    const symbols = [...this.symbolList];
    const only = symbols.length === 1 ? symbols[0] : '';
    const asset = quoteAssetOf(this.cfg.symbol);
    this.run<pb.Candle>({
      name: 'klines',
      open: (md) => this.client.SubscribeKlines({ symbols, interval: '1m' }, md),
      seed: async () => {
        const all = await Promise.all(
          symbols.map((symbol) =>
            this.unary<pb.GetHistoricalKlinesResponse>((md, cb) =>
              this.client.GetHistoricalKlines({ symbol, interval: '1m', limit: this.cfg.history_limit }, md, cb),
            ),
          ),
        );
        symbols.forEach((symbol, i) => {
          const st = this.stateOf(symbol);
          const fresh = all[i].candles.map(candleFromWire).filter((c) => !c.symbol || c.symbol === symbol);
          const byTime = new Map<number, Candle>([...st.candles, ...fresh].map((c) => [c.openTimeMs, c]));
          st.candles = [...byTime.values()].sort((a, b) => a.openTimeMs - b.openTimeMs).slice(-this.cfg.history_limit);
          this.emit({ kind: 'resync', part: 'klines', symbol });
        });
      },
      onData: (w) => this.applyCandle(candleFromWire(w)),
    });
    this.run<pb.OrderUpdate>({
      name: 'orders',
      open: (md) => this.client.SubscribeOrders({}, md),
      seed: async () => {
        const all = await Promise.all(
          symbols.map((symbol) =>
            this.unary<pb.GetOpenOrdersResponse>((md, cb) => this.client.GetOpenOrders({ symbol, useMargin: false }, md, cb)),
          ),
        );
        symbols.forEach((symbol, i) => {
          const st = this.stateOf(symbol);
          st.orders.clear();
          for (const o of all[i].orders.map(orderFromWire)) {
            if (o.symbol === symbol && !isTerminal(o.status)) st.orders.set(o.orderId, o);
          }
        });
        this.emit({ kind: 'resync', part: 'orders' });
      },
      onData: (w) => this.applyOrderEvent(orderEventFromWire(w)),
    });
    this.run<pb.Account>({
      name: 'account',
      open: (md) => this.client.SubscribeAccount({}, md),
      seed: async () => {
        const account = accountFromWire(await this.unary<pb.Account>((md, cb) => this.client.GetAccount({}, md, cb)), asset);
        this.applyAccount(account, true);
      },
      onData: (w) => this.applyAccount(accountFromWire(w, asset), false),
    });
    this.run<pb.Position>({
      name: 'positions',
      open: (md) => this.client.SubscribePositions({ symbol: only }, md),
      onData: (w) => {
        const p = positionFromWire(w);
        if (this.states.has(p.symbol)) this.applyPosition(p);
      },
    });
  }

  private emit(e: FeedEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error(`listener failed: ${(err as Error).message}`);
      }
    }
  }

  private updateConnected(): void {
    const now = this.connected;
    if (now === this.lastConnected) return;
    this.lastConnected = now;
    this.log.log(`connector ${now ? 'connected' : 'disconnected'} (${this.cfg.connector.address})`);
    this.emit({ kind: 'connector', connected: now });
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata({ waitForReady: true });
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  private unary<T>(call: (md: grpc.Metadata, cb: Callback<T>) => grpc.ClientUnaryCall): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const c = call(this.metadata(), (err, res) => {
        clearTimeout(timer);
        if (err || res === undefined) reject(err ?? new Error('empty response'));
        else resolve(res);
      });
      const timer = setTimeout(() => c.cancel(), UNARY_DEADLINE_MS);
    });
  }

  private schedule(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, ms);
    this.timers.add(t);
  }

  /**
   * Keeps one stream open forever: open the call (waitForReady), and once the channel is READY (or
   * the stream sends headers/data) load its snapshot; on end/error wait the backoff and start over.
   * The backoff resets when the previous stream delivered data or lived for more than 5 s.
   */
  private run<T>(spec: StreamSpec<T>, attempt = 0): void {
    if (!this.running) return;
    let done = false;
    let openedAt = 0;
    let gotData = false;
    const call = spec.open(this.metadata());
    this.calls.add(call as grpc.ClientReadableStream<unknown>);
    const restart = (why: string): void => {
      if (done) return;
      done = true;
      call.removeAllListeners();
      call.on('error', () => undefined);
      call.cancel();
      this.calls.delete(call as grpc.ClientReadableStream<unknown>);
      this.openStreams.delete(spec.name);
      this.updateConnected();
      if (!this.running) return;
      const n = gotData || (openedAt > 0 && Date.now() - openedAt > 5000) ? 0 : attempt;
      const delay = backoffDelay(n, { initialMs: this.cfg.backoff.initial_ms, maxMs: this.cfg.backoff.max_ms });
      this.log.warn(`${spec.name} stream ${why}; resubscribing in ${delay} ms`);
      this.schedule(() => this.run(spec, n + 1), delay);
    };
    const opened = (): void => {
      if (openedAt || done) return;
      openedAt = Date.now();
      (spec.seed?.() ?? Promise.resolve()).then(
        () => {
          if (done) return;
          this.openStreams.add(spec.name);
          this.updateConnected();
          this.log.log(`${spec.name} stream open${spec.seed ? ', snapshot loaded' : ''}`);
        },
        (err: Error) => restart(`snapshot failed (${err.message})`),
      );
    };
    // servers usually send stream headers only with the first message: a READY channel counts as open
    const awaitReady = (): void =>
      this.client.waitForReady(Date.now() + 10_000, (err) => {
        if (done || !this.running) return;
        if (err) awaitReady();
        else opened();
      });
    awaitReady();
    call.on('metadata', opened);
    call.on('data', (msg: T) => {
      gotData = true;
      opened();
      try {
        spec.onData(msg);
      } catch (err) {
        this.log.warn(`${spec.name}: bad message dropped: ${(err as Error).message}`);
      }
    });
    call.on('error', (err: grpc.ServiceError) => restart(`failed: ${grpc.status[err.code] ?? err.code} ${err.details ?? ''}`));
    call.on('end', () => restart('ended'));
  }

  private applyCandle(c: Candle): void {
    const symbol = c.symbol || this.cfg.symbol;
    const st = this.states.get(symbol);
    if (!st) return;
    const candles = st.candles;
    const last = candles[candles.length - 1];
    if (!last || c.openTimeMs > last.openTimeMs) {
      candles.push(c);
      if (candles.length > this.cfg.history_limit) candles.splice(0, candles.length - this.cfg.history_limit);
      this.emit({ kind: 'candle', symbol, candle: c, latest: true });
    } else if (c.openTimeMs === last.openTimeMs) {
      candles[candles.length - 1] = c;
      this.emit({ kind: 'candle', symbol, candle: c, latest: true });
    } else {
      const i = candles.findIndex((x) => x.openTimeMs === c.openTimeMs);
      if (i >= 0) candles[i] = c;
      this.emit({ kind: 'candle', symbol, candle: c, latest: false });
    }
  }

  private applyOrderEvent(e: OrderEvent): void {
    const o = e.order;
    const st = this.states.get(o.symbol);
    if (!st) return;
    if (isTerminal(o.status)) st.orders.delete(o.orderId);
    else st.orders.set(o.orderId, o);
    const t = e.lastTrade;
    const key = t && `${o.orderId}/${t.tradeId || o.executedQty.toString()}`;
    const fresh = key !== undefined && !this.seenTrades.has(key);
    if (t && key && fresh) {
      this.seenTrades.add(key);
      if (this.seenTrades.size > SEEN_TRADES_MAX) this.seenTrades.delete(this.seenTrades.values().next().value as string);
      st.realizedPnl = st.realizedPnl.plus(t.realizedPnl);
      st.fees = st.fees.plus(t.fee);
    }
    this.emit({ kind: 'order', symbol: o.symbol, event: fresh ? e : { order: o } });
    if (fresh && this.account) this.emit({ kind: 'account', account: this.account, symbol: o.symbol });
  }

  /**
   * Stores the account. Positions it carries update the overview silently; the per-symbol `position`
   * event is sent for them only from the snapshot (`seed`) of a symbol whose position is still unknown.
   */
  private applyAccount(a: AccountSnapshot, seed: boolean): void {
    this.account = a;
    const seeded: Position[] = [];
    for (const p of a.positions) {
      const st = this.states.get(p.symbol);
      if (!st) continue;
      if (seed && !st.position) seeded.push(p);
      else st.position = p;
    }
    this.emit({ kind: 'account', account: a });
    for (const p of seeded) this.applyPosition(p);
  }

  private applyPosition(p: Position): void {
    const st = this.stateOf(p.symbol);
    st.position = p;
    this.emit({ kind: 'position', symbol: p.symbol, position: p, realizedPnl: st.realizedPnl });
  }
}
