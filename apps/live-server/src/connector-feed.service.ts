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
  /** A new or updated candle; `latest` is false for an update of an older bar (not for the chart). */
  | { kind: 'candle'; candle: Candle; latest: boolean }
  | { kind: 'order'; event: OrderEvent }
  /** Account changed (or the running totals did). Totals as in {@link FeedSnapshot}. */
  | { kind: 'account'; account: AccountSnapshot; realizedPnl: Dec; fees: Dec }
  | { kind: 'position'; position: Position; realizedPnl: Dec }
  /** A stream's snapshot was (re)loaded after (re)connecting: clients should replace that part. */
  | { kind: 'resync'; part: 'klines' | 'orders'; snapshot: FeedSnapshot }
  | { kind: 'connector'; connected: boolean };

/** Everything a newly connected client needs. Candles ascending by open time. */
export interface FeedSnapshot {
  symbol: string;
  candles: Candle[];
  account?: AccountSnapshot;
  orders: Order[];
  position?: Position;
  /** Running sum of `last_trade.realized_pnl` of fills seen by this process (quote units). */
  realizedPnl: Dec;
  /** Running sum of fill fees seen by this process (fee asset units, normally the quote asset). */
  fees: Dec;
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;
/** The part of the raw grpc-js ExchangeService client the feed uses (read-only RPCs only). */
interface ExchangeReadClient extends grpc.Client {
  GetHistoricalKlines(r: pb.GetHistoricalKlinesRequest, md: grpc.Metadata, cb: Callback<pb.GetHistoricalKlinesResponse>): grpc.ClientUnaryCall;
  GetOpenOrders(r: pb.GetOpenOrdersRequest, md: grpc.Metadata, cb: Callback<pb.GetOpenOrdersResponse>): grpc.ClientUnaryCall;
  GetAccount(r: pb.GetAccountRequest, md: grpc.Metadata, cb: Callback<pb.Account>): grpc.ClientUnaryCall;
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
 * Read-only view of one connector account for one symbol, fed by ONE gRPC client.
 *
 * Subscribes to klines (1m), orders, account and positions; each stream is re-opened with
 * exponential backoff (`backoff.initial_ms` → `backoff.max_ms`) whenever it ends or fails, and the
 * matching snapshot (historical klines, open orders, account) is reloaded after it is open again.
 * Keeps the last `history_limit` candles, the open orders of the symbol, the last account and
 * position, and running realized-PnL / fee totals. Never calls an order-placing RPC.
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
  private candles: Candle[] = [];
  private readonly orders = new Map<string, Order>();
  private account?: AccountSnapshot;
  private position?: Position;
  private realizedPnl: Dec = ZERO;
  private fees: Dec = ZERO;
  private running = false;
  private lastConnected = false;

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
  }

  /** The monitored symbol. */
  get symbol(): string {
    return this.cfg.symbol;
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

  /** Current state for a new client (copies). */
  snapshot(): FeedSnapshot {
    return {
      symbol: this.cfg.symbol,
      candles: [...this.candles],
      account: this.account,
      orders: [...this.orders.values()],
      position: this.position,
      realizedPnl: this.realizedPnl,
      fees: this.fees,
    };
  }

  onApplicationBootstrap(): void {
    this.running = true;
    const symbol = this.cfg.symbol;
    this.run<pb.Candle>({
      name: 'klines',
      open: (md) => this.client.SubscribeKlines({ symbols: [symbol], interval: '1m' }, md),
      seed: async () => {
        const res = await this.unary<pb.GetHistoricalKlinesResponse>((md, cb) =>
          this.client.GetHistoricalKlines({ symbol, interval: '1m', limit: this.cfg.history_limit }, md, cb),
        );
        const fresh = res.candles.map(candleFromWire).filter((c) => !c.symbol || c.symbol === symbol);
        const byTime = new Map<number, Candle>([...this.candles, ...fresh].map((c) => [c.openTimeMs, c]));
        this.candles = [...byTime.values()].sort((a, b) => a.openTimeMs - b.openTimeMs).slice(-this.cfg.history_limit);
        this.emit({ kind: 'resync', part: 'klines', snapshot: this.snapshot() });
      },
      onData: (w) => this.applyCandle(candleFromWire(w)),
    });
    this.run<pb.OrderUpdate>({
      name: 'orders',
      open: (md) => this.client.SubscribeOrders({}, md),
      seed: async () => {
        const res = await this.unary<pb.GetOpenOrdersResponse>((md, cb) =>
          this.client.GetOpenOrders({ symbol, useMargin: false }, md, cb),
        );
        this.orders.clear();
        for (const o of res.orders.map(orderFromWire)) {
          if (o.symbol === symbol && !isTerminal(o.status)) this.orders.set(o.orderId, o);
        }
        this.emit({ kind: 'resync', part: 'orders', snapshot: this.snapshot() });
      },
      onData: (w) => this.applyOrderEvent(orderEventFromWire(w)),
    });
    this.run<pb.Account>({
      name: 'account',
      open: (md) => this.client.SubscribeAccount({}, md),
      seed: async () => {
        const account = accountFromWire(await this.unary<pb.Account>((md, cb) => this.client.GetAccount({}, md, cb)), quoteAssetOf(symbol));
        this.applyAccount(account);
        const pos = account.positions.find((p) => p.symbol === symbol);
        if (pos && !this.position) this.applyPosition(pos);
      },
      onData: (w) => this.applyAccount(accountFromWire(w, quoteAssetOf(symbol))),
    });
    this.run<pb.Position>({
      name: 'positions',
      open: (md) => this.client.SubscribePositions({ symbol }, md),
      onData: (w) => {
        const p = positionFromWire(w);
        if (p.symbol === symbol) this.applyPosition(p);
      },
    });
  }

  onModuleDestroy(): void {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.calls) c.cancel();
    this.calls.clear();
    this.client.close();
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
    if (c.symbol && c.symbol !== this.cfg.symbol) return;
    const last = this.candles[this.candles.length - 1];
    if (!last || c.openTimeMs > last.openTimeMs) {
      this.candles.push(c);
      if (this.candles.length > this.cfg.history_limit) this.candles.splice(0, this.candles.length - this.cfg.history_limit);
      this.emit({ kind: 'candle', candle: c, latest: true });
    } else if (c.openTimeMs === last.openTimeMs) {
      this.candles[this.candles.length - 1] = c;
      this.emit({ kind: 'candle', candle: c, latest: true });
    } else {
      const i = this.candles.findIndex((x) => x.openTimeMs === c.openTimeMs);
      if (i >= 0) this.candles[i] = c;
      this.emit({ kind: 'candle', candle: c, latest: false });
    }
  }

  private applyOrderEvent(e: OrderEvent): void {
    const o = e.order;
    if (o.symbol !== this.cfg.symbol) return;
    if (isTerminal(o.status)) this.orders.delete(o.orderId);
    else this.orders.set(o.orderId, o);
    const t = e.lastTrade;
    const key = t && `${o.orderId}/${t.tradeId || o.executedQty.toString()}`;
    const fresh = key !== undefined && !this.seenTrades.has(key);
    if (t && key && fresh) {
      this.seenTrades.add(key);
      if (this.seenTrades.size > SEEN_TRADES_MAX) this.seenTrades.delete(this.seenTrades.values().next().value as string);
      this.realizedPnl = this.realizedPnl.plus(t.realizedPnl);
      this.fees = this.fees.plus(t.fee);
    }
    this.emit({ kind: 'order', event: fresh ? e : { order: o } });
    if (fresh && this.account) this.emit({ kind: 'account', account: this.account, realizedPnl: this.realizedPnl, fees: this.fees });
  }

  private applyAccount(a: AccountSnapshot): void {
    this.account = a;
    this.emit({ kind: 'account', account: a, realizedPnl: this.realizedPnl, fees: this.fees });
  }

  private applyPosition(p: Position): void {
    this.position = p;
    this.emit({ kind: 'position', position: p, realizedPnl: this.realizedPnl });
  }
}
