import type { Dec } from './money';
import type {
  AccountSnapshot,
  Candle,
  FundingRate,
  MarketType,
  Order,
  OrderEvent,
  OrderRequest,
  Position,
  PriceTick,
  SymbolRules,
  Ticker,
} from './types';

/** Stops a subscription. Idempotent. */
export type Unsubscribe = () => void;

/**
 * Receives a stream's values. `subscribed` is called each time the stream is established on the
 * server side: once at first (`reconnect` false) and again after every transport reconnect
 * (`reconnect` true: values may have been missed in between — reconcile then).
 */
export interface StreamObserver<T> {
  next(value: T): void;
  subscribed?(reconnect: boolean): void;
  /** A stream that ended for good (not called for transient reconnects). */
  error?(err: Error): void;
}

/** Which order to look up: by venue id or by client order id. */
export type OrderRef = { orderId: string; clientOrderId?: undefined } | { clientOrderId: string; orderId?: undefined };

/**
 * The exchange port: one venue account, in domain types. Implemented by the simulated venue and
 * the ccxt adapters inside the connector, and by the gRPC `RemoteExchange` inside the market maker,
 * so the strategy never learns which venue it is talking to.
 *
 * Errors are `VenueError`s (see errors.ts). Times are Unix ms.
 */
export interface ExchangeVenue {
  readonly name: string;
  readonly marketType: MarketType;

  getSymbols(): Promise<string[]>;
  /** @throws VenueError NOT_FOUND (reason UNKNOWN_SYMBOL) for an unknown symbol. */
  getSymbolRules(symbol: string): Promise<SymbolRules>;

  /**
   * Places an order. With a `clientOrderId` the venue already knows, returns that order instead.
   * @throws VenueError INVALID_ARGUMENT naming the field (tick, step, min notional, post-only cross…)
   */
  placeOrder(req: OrderRequest): Promise<Order>;
  /** Cancels an open order and returns its final state. @throws NOT_FOUND, FAILED_PRECONDITION (not open) */
  cancelOrder(symbol: string, orderId: string): Promise<Order>;
  /**
   * Cancels an open order by the client order id it was placed with and returns its final state.
   * Works on every venue, including those whose native ids are not int64 (Bybit); the grid should
   * prefer it to `cancelOrder` when it knows the client order id.
   * @throws NOT_FOUND (no order with that client order id), FAILED_PRECONDITION (not open)
   */
  cancelOrderByClientOrderId(symbol: string, clientOrderId: string): Promise<Order>;
  /** Cancels every open order of a symbol; returns the cancelled orders. */
  cancelAllOrders(symbol: string): Promise<Order[]>;
  /** @throws VenueError NOT_FOUND when no such order exists. */
  getOrder(symbol: string, ref: OrderRef): Promise<Order>;
  getOpenOrders(symbol?: string): Promise<Order[]>;
  /**
   * Optional, in-process venues only (the simulated venue): a counter the venue bumps on every change
   * of an order or a position it makes (placement, fill, cancellation, expiry, liquidation, state
   * restore), any symbol. Two equal readings guarantee that `getOpenOrders` and `getPositions` answer
   * the same in between. Remote venues do not implement it (their state can change unseen).
   */
  orderStateVersion?(): number;

  getAccount(): Promise<AccountSnapshot>;
  getPositions(symbol?: string): Promise<Position[]>;
  /** Wallet balance of one asset. */
  getBalance(asset: string): Promise<Dec>;
  getLatestPrice(symbol: string): Promise<Dec>;
  getTickers(): Promise<Ticker[]>;
  getOpenInterest(symbol: string): Promise<Dec>;
  /** Up to `limit` most recent candles, oldest first. `interval` like "1m". */
  getHistoricalKlines(symbol: string, interval: string, limit: number): Promise<Candle[]>;
  getFundingRate(symbol: string): Promise<FundingRate>;
  getFundingRates(): Promise<FundingRate[]>;
  getHistoricalFundingRates(symbol: string, limit: number): Promise<FundingRate[]>;

  watchPrice(symbol: string, observer: StreamObserver<PriceTick>): Unsubscribe;
  /** Every order event of the account, all symbols. */
  watchOrders(observer: StreamObserver<OrderEvent>): Unsubscribe;
  watchKlines(symbol: string, interval: string, observer: StreamObserver<Candle>): Unsubscribe;
  watchAccount(observer: StreamObserver<AccountSnapshot>): Unsubscribe;
  /** Position changes; all symbols when `symbol` is empty. */
  watchPositions(symbol: string, observer: StreamObserver<Position>): Unsubscribe;
  watchFundingRate(symbol: string, observer: StreamObserver<FundingRate>): Unsubscribe;

  /**
   * Optional: arm the venue's own countdown cancel-all for `symbol` (Binance `countdownCancelAll`,
   * OKX `cancel-all-after`, …): if not re-armed within `timeoutMs`, the venue cancels every open
   * order of the symbol itself. `timeoutMs` 0 disarms. Absent when the venue has no such feature.
   */
  cancelAllAfter?(symbol: string, timeoutMs: number): Promise<void>;

  close(): Promise<void>;
}
