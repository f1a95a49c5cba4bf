import type { Dec } from './money';

/** Order side, Binance spelling. */
export type Side = 'BUY' | 'SELL';
export type OrderType = 'LIMIT' | 'MARKET';
/** GTX = good-till-crossing (post-only). */
export type TimeInForce = 'GTC' | 'IOC' | 'FOK' | 'GTX';
export type OrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'REJECTED' | 'EXPIRED';
export type MarketType = 'futures' | 'spot';

/** True for statuses after which an order can no longer fill. */
export function isTerminal(status: OrderStatus): boolean {
  return status === 'FILLED' || status === 'CANCELED' || status === 'REJECTED' || status === 'EXPIRED';
}

/**
 * Trading rules of one instrument, as the venue publishes them.
 * Prices must be multiples of `tickSize`, quantities multiples of `stepSize` and ≥ `minQty`,
 * and price × quantity (quote units) ≥ `minNotional`.
 */
export interface SymbolRules {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  tickSize: Dec;
  stepSize: Dec;
  minQty: Dec;
  /** Minimum order value in quote units. */
  minNotional: Dec;
  pricePrecision: number;
  quantityPrecision: number;
}

/** A new-order request in domain terms. `price` is required for LIMIT orders. */
export interface OrderRequest {
  symbol: string;
  side: Side;
  type: OrderType;
  timeInForce?: TimeInForce;
  /** Base-asset quantity. */
  quantity: Dec;
  price?: Dec;
  reduceOnly?: boolean;
  postOnly?: boolean;
  /** Caller-chosen id; a venue that already knows it returns the existing order. */
  clientOrderId?: string;
}

/** One execution. `fee` is in `feeAsset`; `realizedPnl` is the venue's own figure (excludes fees). */
export interface Fill {
  tradeId: string;
  orderId: string;
  clientOrderId: string;
  symbol: string;
  side: Side;
  price: Dec;
  quantity: Dec;
  fee: Dec;
  feeAsset: string;
  /** Execution time, Unix ms (venue clock). */
  timestampMs: number;
  realizedPnl: Dec;
  /** True when this execution added liquidity (maker fee). */
  maker: boolean;
}

/** An order as the venue reports it. Ids are strings: some venues' ids exceed 2^53. */
export interface Order {
  orderId: string;
  clientOrderId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price: Dec;
  quantity: Dec;
  executedQty: Dec;
  /** Volume-weighted fill price; zero while unfilled. */
  avgPrice: Dec;
  status: OrderStatus;
  reduceOnly: boolean;
  postOnly: boolean;
  /** Unix ms. */
  createdAtMs: number;
  /** Unix ms of the last change. */
  updateTimeMs: number;
  /** Executions of this order, oldest first (may be empty when the venue does not report them). */
  trades: Fill[];
}

/** An order-stream event: the order's new state and, for a fill, the execution that caused it. */
export interface OrderEvent {
  order: Order;
  lastTrade?: Fill;
}

/** Last traded/mid price of a symbol. `timestampMs` is the venue's event time, Unix ms. */
export interface PriceTick {
  symbol: string;
  price: Dec;
  timestampMs: number;
}

/** A candle. `openTimeMs` is Unix ms; `volume` is in base units. */
export interface Candle {
  symbol: string;
  openTimeMs: number;
  open: Dec;
  high: Dec;
  low: Dec;
  close: Dec;
  volume: Dec;
  closed: boolean;
}

/** A derivatives position. `size` is signed: > 0 long, < 0 short (base units). */
export interface Position {
  symbol: string;
  size: Dec;
  entryPrice: Dec;
  markPrice: Dec;
  unrealizedPnl: Dec;
  leverage: number;
  marginType: 'cross' | 'isolated';
  liquidationPrice: Dec;
  /** Initial margin at mark (|size| × mark / leverage, USDT), when the venue reports it. */
  initialMargin?: Dec;
  /** Maintenance margin at mark (USDT; tiered, see the venue), when the venue reports it. */
  maintenanceMargin?: Dec;
  /**
   * Cumulative funding received (+) / paid (−) by this symbol's position since start (USDT), when the
   * venue reports it (the sim; Binance: Σ `FUNDING_FEE` income of the symbol). Σ over symbols = the
   * account's `fundingPnl`.
   */
  fundingPnl?: Dec;
  /**
   * Spot margin account: base asset borrowed (principal outstanding, base units), when the venue
   * reports a margin account (wire `borrowed`). `size` is already net of it and of `borrowInterest`.
   */
  borrowed?: Dec;
  /** Spot margin account: interest owed on the borrowed base (accrued, unpaid, base units; wire `borrow_interest`). */
  borrowInterest?: Dec;
}

/** Account totals in the quote/settlement asset (USDT for USD-M). */
export interface AccountSnapshot {
  asset: string;
  totalWalletBalance: Dec;
  totalMarginBalance: Dec;
  availableBalance: Dec;
  positions: Position[];
  leverage: number;
  /** Cumulative venue-reported realized PnL since start (excludes fees). */
  realizedPnl: Dec;
  /** Σ maintenance margin of all positions (USDT), when the venue reports it (wire: `total_maintenance_margin`). */
  totalMaintenanceMargin?: Dec;
  /** Σ initial margin of all positions at mark (USDT), when the venue reports it. */
  totalInitialMargin?: Dec;
  /** totalMaintenanceMargin ÷ totalMarginBalance (fraction; ≥ 1 = liquidation), when the venue reports it. */
  marginRatio?: Dec;
  /** Cumulative funding received (+) / paid (−) since start (USDT), when the venue reports it. */
  fundingPnl?: Dec;
}

/** Funding rate of a perpetual. Times are Unix ms. */
export interface FundingRate {
  symbol: string;
  rate: Dec;
  /** The venue's predicted next rate; absent when the venue gives none (spot markets, REQ-FUND-003). */
  predictedRate?: Dec;
  /** Next settlement, Unix ms; 0 for a market without funding (spot, REQ-FUND-004). */
  nextFundingTimeMs: number;
  timestampMs: number;
}

/** 24 h ticker. */
export interface Ticker {
  symbol: string;
  lastPrice: Dec;
  priceChange: Dec;
  priceChangePercent: Dec;
  volume: Dec;
  quoteVolume: Dec;
  openInterest: Dec;
  timestampMs: number;
}
