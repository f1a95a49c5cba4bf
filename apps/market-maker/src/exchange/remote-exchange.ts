import * as grpc from '@grpc/grpc-js';
import type {
  AccountSnapshot,
  Candle,
  Dec,
  ExchangeVenue,
  FundingRate,
  MarketType,
  Order,
  OrderEvent,
  OrderRef,
  OrderRequest,
  Position,
  PriceTick,
  StreamObserver,
  SymbolRules,
  Ticker,
  Unsubscribe,
} from '@mm/domain';
import {
  accountFromWire,
  candleFromWire,
  exchangeClientConstructor,
  fromDec,
  fromGrpcError,
  fundingFromWire,
  orderEventFromWire,
  orderFromWire,
  orderRequestToWire,
  pb,
  positionFromWire,
  priceFromWire,
  symbolRulesFromWire,
  tickerFromWire,
} from '@mm/contracts';
import { backoffDelay, sleep } from '@mm/platform';

export interface RemoteExchangeOptions {
  /** host:port of the exchange connector. */
  address: string;
  /** Bearer token sent as `authorization` metadata (empty: none). */
  token?: string;
  /** Channel credentials (TLS / mTLS, see `grpcClientCredentials`); plaintext when absent. */
  credentials?: grpc.ChannelCredentials;
  /** Connection attempts at startup before giving up (backoff 1 s, 2 s, 4 s … ≤ 30 s). */
  connectAttempts: number;
  /** Deadline of each unary call, ms. */
  requestTimeoutMs: number;
  /** Stream reconnect backoff bounds, ms. */
  streamBackoff?: { initialMs: number; maxMs: number };
  onStreamState?: (stream: string, state: 'subscribed' | 'reconnecting', detail?: string) => void;
  /**
   * Called for every stream message that cannot be decoded (bad decimal, NaN/∞, a price ≤ 0, …);
   * the message is counted (`undecodableMessages`, `undecodablePrices`) and not delivered. Hook for
   * the app's metric and alert (e.g. a `mm_undecodable_messages_total{stream}` counter and a CRITICAL
   * alert for `price`).
   */
  onUndecodable?: (stream: string, detail: string) => void;
}

/**
 * The venue as seen through the exchange connector (`opensqt.market_maker.v1.ExchangeService` over
 * gRPC). Implements the same `ExchangeVenue` port as the venues inside the connector, so the strategy
 * does not know it is remote. Unary errors arrive as `VenueError`s (status code, field and reason kept;
 * DEADLINE_EXCEEDED counts as UNAVAILABLE: the outcome is unknown). Streams reconnect forever with
 * backoff and call `observer.subscribed(true)` once the connector has re-attached them.
 */
export class RemoteExchange implements ExchangeVenue {
  name = 'remote';
  marketType: MarketType = 'futures';
  private readonly client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  private readonly streams = new Set<() => void>();
  private closed = false;
  /** Undecodable messages per stream name (`price`, `orders`, …) since construction; never dropped silently. */
  readonly undecodableMessages: Record<string, number> = {};

  /** Price messages that could not be decoded (counted, not delivered; the feed is reported unhealthy until a good one arrives). */
  get undecodablePrices(): number {
    return this.undecodableMessages.price ?? 0;
  }

  constructor(private readonly opts: RemoteExchangeOptions) {
    const Ctor = exchangeClientConstructor();
    this.client = new Ctor(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 15000,
      'grpc.keepalive_timeout_ms': 5000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5000,
    }) as never;
  }

  /**
   * Waits until the connector answers, with exponential backoff, then reads its name and type.
   * @throws Error `cannot reach exchange connector at <address> after N attempts: <last error>`.
   */
  async connect(): Promise<void> {
    let last = '';
    for (let attempt = 0; attempt < this.opts.connectAttempts; attempt++) {
      try {
        await new Promise<void>((resolve, reject) =>
          this.client.waitForReady(Date.now() + Math.max(1000, this.opts.requestTimeoutMs), (err?: Error) => (err ? reject(err) : resolve())),
        );
        const { name } = await this.unary<pb.GetNameResponse>('GetName', {});
        const { type } = await this.unary<pb.GetTypeResponse>('GetType', {});
        this.name = name;
        this.marketType = type === pb.ExchangeType.EXCHANGE_TYPE_SPOT ? 'spot' : 'futures';
        return;
      } catch (e) {
        last = (e as Error).message;
        if (attempt + 1 < this.opts.connectAttempts) await sleep(backoffDelay(attempt, { initialMs: 1000, maxMs: 30000 }));
      }
    }
    throw new Error(`cannot reach exchange connector at ${this.opts.address} after ${this.opts.connectAttempts} attempts: ${last}`);
  }

  /** The gRPC channel's connectivity state right now (`READY`, `CONNECTING`, `TRANSIENT_FAILURE`, `IDLE`, `SHUTDOWN`). */
  linkState(): string {
    return grpc.connectivityState[this.client.getChannel().getConnectivityState(false)] ?? 'UNKNOWN';
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.opts.token) md.set('authorization', `Bearer ${this.opts.token}`);
    return md;
  }

  private unary<T>(method: string, req: object): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fn = this.client[method] as (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: T) => void) => void;
      fn.call(this.client, req, this.metadata(), { deadline: Date.now() + this.opts.requestTimeoutMs }, (err, value) =>
        err ? reject(fromGrpcError(err)) : resolve(value),
      );
    });
  }

  /** Opens a server stream that re-opens itself with backoff until unsubscribed. */
  private stream<W, T>(name: string, method: string, req: object, decode: (w: W) => T, observer: StreamObserver<T>): Unsubscribe {
    let call: grpc.ClientReadableStream<W> | undefined;
    let stopped = false;
    let attempt = 0;
    let everSubscribed = false;
    const backoff = this.opts.streamBackoff ?? { initialMs: 500, maxMs: 30000 };
    const open = () => {
      if (stopped || this.closed) return;
      const fn = this.client[method] as (r: object, m: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientReadableStream<W>;
      const c = fn.call(this.client, req, this.metadata(), { waitForReady: true } as grpc.CallOptions);
      call = c;
      let ended = false;
      // after an undecodable message the stream reports 'reconnecting' (unhealthy) until a message decodes again
      let poisoned = false;
      c.on('metadata', () => {
        attempt = 0;
        this.opts.onStreamState?.(name, 'subscribed');
        observer.subscribed?.(everSubscribed);
        everSubscribed = true;
      });
      c.on('data', (w: W) => {
        let value: T;
        try {
          value = decode(w);
        } catch (e) {
          const detail = `undecodable message: ${(e as Error).message}`;
          this.undecodableMessages[name] = (this.undecodableMessages[name] ?? 0) + 1;
          poisoned = true;
          this.opts.onStreamState?.(name, 'reconnecting', detail);
          this.opts.onUndecodable?.(name, detail);
          return;
        }
        if (poisoned) {
          poisoned = false;
          this.opts.onStreamState?.(name, 'subscribed', 'messages decode again');
        }
        observer.next(value);
      });
      const retry = (why: string) => {
        if (ended) return;
        ended = true;
        if (stopped || this.closed) return;
        this.opts.onStreamState?.(name, 'reconnecting', why);
        const delay = backoffDelay(attempt++, backoff);
        setTimeout(open, delay).unref?.();
      };
      c.on('error', (e: grpc.ServiceError) => {
        if (e.code === grpc.status.INVALID_ARGUMENT || e.code === grpc.status.PERMISSION_DENIED || e.code === grpc.status.UNAUTHENTICATED) {
          ended = true;
          observer.error?.(fromGrpcError(e));
          return;
        }
        retry(`${grpc.status[e.code] ?? e.code}: ${e.details}`);
      });
      c.on('end', () => retry('stream ended'));
    };
    open();
    const stop = () => {
      stopped = true;
      call?.cancel();
      this.streams.delete(stop);
    };
    this.streams.add(stop);
    return stop;
  }

  async getSymbols(): Promise<string[]> {
    return (await this.unary<pb.GetSymbolsResponse>('GetSymbols', {})).symbols;
  }
  async getSymbolRules(symbol: string): Promise<SymbolRules> {
    return symbolRulesFromWire(await this.unary<pb.SymbolInfo>('GetSymbolInfo', { symbol }));
  }
  async placeOrder(req: OrderRequest): Promise<Order> {
    return orderFromWire(await this.unary<pb.Order>('PlaceOrder', orderRequestToWire(req)));
  }
  /** The contract's CancelOrder returns no order; the final state is looked up afterwards. */
  async cancelOrder(symbol: string, orderId: string): Promise<Order> {
    await this.unary('CancelOrder', { symbol, orderId });
    return this.getOrder(symbol, { orderId });
  }
  /** CancelOrder with `client_order_id` (order_id 0); the final state is looked up afterwards by the same client order id. */
  async cancelOrderByClientOrderId(symbol: string, clientOrderId: string): Promise<Order> {
    await this.unary('CancelOrder', { symbol, orderId: '0', clientOrderId });
    return this.getOrder(symbol, { clientOrderId });
  }
  async cancelAllOrders(symbol: string): Promise<Order[]> {
    const open = await this.getOpenOrders(symbol);
    await this.unary('CancelAllOrders', { symbol });
    return open;
  }
  async getOrder(symbol: string, ref: OrderRef): Promise<Order> {
    return orderFromWire(await this.unary<pb.Order>('GetOrder', { symbol, orderId: ref.orderId ?? '0', clientOrderId: ref.clientOrderId ?? '' }));
  }
  async getOpenOrders(symbol?: string): Promise<Order[]> {
    return (await this.unary<pb.GetOpenOrdersResponse>('GetOpenOrders', { symbol: symbol ?? '' })).orders.map(orderFromWire);
  }
  async getAccount(): Promise<AccountSnapshot> {
    return accountFromWire(await this.unary<pb.Account>('GetAccount', {}));
  }
  async getPositions(symbol?: string): Promise<Position[]> {
    return (await this.unary<pb.GetPositionsResponse>('GetPositions', { symbol: symbol ?? '' })).positions.map(positionFromWire);
  }
  async getBalance(asset: string): Promise<Dec> {
    return fromDec((await this.unary<pb.GetBalanceResponse>('GetBalance', { asset })).balance, 'balance');
  }
  async getLatestPrice(symbol: string): Promise<Dec> {
    return fromDec((await this.unary<pb.GetLatestPriceResponse>('GetLatestPrice', { symbol })).price, 'price');
  }
  async getTickers(): Promise<Ticker[]> {
    return (await this.unary<pb.GetTickersResponse>('GetTickers', {})).tickers.map(tickerFromWire);
  }
  async getOpenInterest(symbol: string): Promise<Dec> {
    return fromDec((await this.unary<pb.GetOpenInterestResponse>('GetOpenInterest', { symbol })).openInterest, 'open_interest', false);
  }
  async getHistoricalKlines(symbol: string, interval: string, limit: number): Promise<Candle[]> {
    return (await this.unary<pb.GetHistoricalKlinesResponse>('GetHistoricalKlines', { symbol, interval, limit })).candles.map(candleFromWire);
  }
  async getFundingRate(symbol: string): Promise<FundingRate> {
    return fundingFromWire(await this.unary<pb.FundingRate>('GetFundingRate', { symbol }));
  }
  async getFundingRates(): Promise<FundingRate[]> {
    return (await this.unary<pb.GetFundingRatesResponse>('GetFundingRates', {})).rates.map(fundingFromWire);
  }
  async getHistoricalFundingRates(symbol: string, limit: number): Promise<FundingRate[]> {
    return (await this.unary<pb.GetHistoricalFundingRatesResponse>('GetHistoricalFundingRates', { symbol, limit })).rates.map(fundingFromWire);
  }

  /**
   * Dead-man's switch heartbeat: the connector cancels every `symbol` order unless another heartbeat
   * arrives within `timeoutMs` (0 disarms). Returns the deadline (Unix ms) and whether the venue itself
   * enforces it.
   */
  async heartbeat(clientId: string, symbol: string, timeoutMs: number): Promise<{ deadlineMs: number; venueEnforced: boolean }> {
    const r = await this.unary<pb.HeartbeatResponse>('Heartbeat', { clientId, symbol, timeoutMs: String(timeoutMs) });
    return { deadlineMs: Number(r.deadlineMs), venueEnforced: r.venueEnforced };
  }

  watchPrice(symbol: string, observer: StreamObserver<PriceTick>): Unsubscribe {
    return this.stream('price', 'SubscribePrice', { symbols: [symbol] }, decodePrice, observer);
  }
  watchOrders(observer: StreamObserver<OrderEvent>): Unsubscribe {
    return this.stream('orders', 'SubscribeOrders', {}, orderEventFromWire, observer);
  }
  watchKlines(symbol: string, interval: string, observer: StreamObserver<Candle>): Unsubscribe {
    return this.stream('klines', 'SubscribeKlines', { symbols: [symbol], interval }, candleFromWire, observer);
  }
  watchAccount(observer: StreamObserver<AccountSnapshot>): Unsubscribe {
    return this.stream('account', 'SubscribeAccount', {}, (a: pb.Account) => accountFromWire(a), observer);
  }
  watchPositions(symbol: string, observer: StreamObserver<Position>): Unsubscribe {
    return this.stream('positions', 'SubscribePositions', { symbol }, positionFromWire, observer);
  }
  watchFundingRate(symbol: string, observer: StreamObserver<FundingRate>): Unsubscribe {
    return this.stream('funding', 'SubscribeFundingRate', { symbol }, fundingFromWire, observer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const stop of [...this.streams]) stop();
    this.client.close();
  }
}

/** A price message: decodable and a positive, finite price (a zero/negative price is not a price). */
function decodePrice(w: pb.PriceChange): PriceTick {
  const p = priceFromWire(w);
  if (!p.price.isFinite() || !p.price.gt(0)) throw new Error(`price must be a positive decimal, got ${p.price.toString()}`);
  return p;
}
