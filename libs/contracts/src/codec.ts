import {
  type AccountSnapshot,
  type Candle,
  Dec,
  type Fill,
  type FundingRate,
  type Order,
  type OrderEvent,
  type OrderRequest,
  type OrderStatus,
  type OrderType,
  type Position,
  type PriceTick,
  type Side,
  type SymbolRules,
  type Ticker,
  type TimeInForce,
  ZERO,
  dec,
  invalidArgument,
} from '@mm/domain';
import type { Decimal } from './generated/google/type/decimal';
import type { Timestamp } from './generated/google/protobuf/timestamp';
import * as pb from './wire';

/**
 * Conversions between domain types (decimal.js, Unix ms, Binance-style enums) and wire messages
 * (google.type.Decimal strings, Timestamp / int64 ms, prefixed enums). Pure functions.
 */

/** Domain decimal → `google.type.Decimal`. Trailing zeros are kept as the value has them. */
export function toDec(d: Dec | undefined): Decimal | undefined {
  return d === undefined ? undefined : { value: d.toString() };
}

/** Longest decimal text accepted from the wire (60 significant digits plus sign, point and exponent fit easily). */
export const MAX_DECIMAL_LENGTH = 128;

/**
 * `google.type.Decimal` → domain decimal.
 * @throws VenueError INVALID_ARGUMENT naming `field` when missing (and `required`), not a decimal,
 *   longer than {@link MAX_DECIMAL_LENGTH} characters, or not finite (e.g. `1e999999999999999`).
 */
export function fromDec(w: Decimal | undefined | null, field: string, required = true): Dec {
  const v = typeof w?.value === 'string' ? w.value : '';
  if (v === '') {
    if (required) throw invalidArgument(field, 'is required');
    return ZERO;
  }
  if (v.length > MAX_DECIMAL_LENGTH) throw invalidArgument(field, `is too long (${v.length} characters, at most ${MAX_DECIMAL_LENGTH})`);
  let d: Dec;
  try {
    d = dec(v);
  } catch {
    throw invalidArgument(field, `is not a decimal: "${v.slice(0, 40)}"`);
  }
  if (!d.isFinite()) throw invalidArgument(field, `is out of range: "${v.slice(0, 40)}"`);
  return d;
}

/** Plain decimal notation accepted on order entry: optional minus, digits, optional fraction. */
const STRICT_DECIMAL_RE = /^-?\d+(\.\d+)?$/;
/** Most integer digits of an order price or quantity (1e30 is beyond any venue's range). */
export const MAX_ORDER_INTEGER_DIGITS = 30;
/** Most fraction digits of an order price or quantity (venues quote at most 18). */
export const MAX_ORDER_FRACTION_DIGITS = 18;

/**
 * Strict decimal for order entry: plain notation only (no whitespace, no exponent, no `+`, no
 * leading/trailing point), at most {@link MAX_ORDER_INTEGER_DIGITS} integer and
 * {@link MAX_ORDER_FRACTION_DIGITS} fraction digits. Digits beyond the venue's tick or step are
 * checked by the connector against the symbol rules.
 * @throws VenueError INVALID_ARGUMENT naming `field`.
 */
export function fromDecStrict(w: Decimal | undefined | null, field: string, required = true): Dec | undefined {
  const v = typeof w?.value === 'string' ? w.value : '';
  if (v === '') {
    if (required) throw invalidArgument(field, 'is required');
    return undefined;
  }
  const shown = JSON.stringify(v.slice(0, 40));
  if (v.length > MAX_DECIMAL_LENGTH) throw invalidArgument(field, `is too long (${v.length} characters, at most ${MAX_DECIMAL_LENGTH})`);
  if (!STRICT_DECIMAL_RE.test(v)) throw invalidArgument(field, `must be a plain decimal like 123.45 (no spaces, exponent or sign prefix), got ${shown}`);
  const [int, frac = ''] = v.replace(/^-/, '').split('.');
  if (int.replace(/^0+(?=\d)/, '').length > MAX_ORDER_INTEGER_DIGITS) throw invalidArgument(field, `is out of range: more than ${MAX_ORDER_INTEGER_DIGITS} integer digits`);
  if (frac.length > MAX_ORDER_FRACTION_DIGITS) throw invalidArgument(field, `has more than ${MAX_ORDER_FRACTION_DIGITS} decimal places`);
  return dec(v);
}

/** Decimal from the wire, or undefined when absent/empty. Invalid text still throws. */
export function fromDecOpt(w: Decimal | undefined | null, field: string): Dec | undefined {
  return w?.value ? fromDec(w, field) : undefined;
}

export function msToTimestamp(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function timestampToMs(ts: Timestamp | undefined | null): number {
  if (!ts) return 0;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1_000_000);
}

const SIDE_TO_WIRE: Record<Side, pb.OrderSide> = { BUY: pb.OrderSide.ORDER_SIDE_BUY, SELL: pb.OrderSide.ORDER_SIDE_SELL };
const STATUS_TO_WIRE: Record<OrderStatus, pb.OrderStatus> = {
  NEW: pb.OrderStatus.ORDER_STATUS_NEW,
  PARTIALLY_FILLED: pb.OrderStatus.ORDER_STATUS_PARTIALLY_FILLED,
  FILLED: pb.OrderStatus.ORDER_STATUS_FILLED,
  CANCELED: pb.OrderStatus.ORDER_STATUS_CANCELED,
  REJECTED: pb.OrderStatus.ORDER_STATUS_REJECTED,
  EXPIRED: pb.OrderStatus.ORDER_STATUS_EXPIRED,
};
const TYPE_TO_WIRE: Record<OrderType, pb.OrderType> = {
  LIMIT: pb.OrderType.ORDER_TYPE_LIMIT,
  MARKET: pb.OrderType.ORDER_TYPE_MARKET,
};
const TIF_TO_WIRE: Record<TimeInForce, pb.TimeInForce> = {
  GTC: pb.TimeInForce.TIME_IN_FORCE_GTC,
  IOC: pb.TimeInForce.TIME_IN_FORCE_IOC,
  FOK: pb.TimeInForce.TIME_IN_FORCE_FOK,
  GTX: pb.TimeInForce.TIME_IN_FORCE_GTX,
};

function invert<K extends string, V extends string>(m: Record<K, V>): Record<string, K> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k])) as Record<string, K>;
}
const SIDE_FROM_WIRE = invert(SIDE_TO_WIRE);
const STATUS_FROM_WIRE = invert(STATUS_TO_WIRE);
const TYPE_FROM_WIRE = invert(TYPE_TO_WIRE);
const TIF_FROM_WIRE = invert(TIF_TO_WIRE);

export const sideToWire = (s: Side): pb.OrderSide => SIDE_TO_WIRE[s];
export const statusToWire = (s: OrderStatus): pb.OrderStatus => STATUS_TO_WIRE[s];

/** @throws VenueError INVALID_ARGUMENT naming `field` for UNSPECIFIED or unknown values. */
export function sideFromWire(w: pb.OrderSide | string, field = 'side'): Side {
  const s = SIDE_FROM_WIRE[w as string];
  if (!s) throw invalidArgument(field, `must be ORDER_SIDE_BUY or ORDER_SIDE_SELL, got ${String(w)}`);
  return s;
}
export function statusFromWire(w: pb.OrderStatus | string, field = 'status'): OrderStatus {
  const s = STATUS_FROM_WIRE[w as string];
  if (!s) throw invalidArgument(field, `unknown order status ${String(w)}`);
  return s;
}
export function typeFromWire(w: pb.OrderType | string, field = 'type'): OrderType {
  const s = TYPE_FROM_WIRE[w as string];
  if (!s) throw invalidArgument(field, `must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET, got ${String(w)}`);
  return s;
}
/** UNSPECIFIED time in force means GTC. */
export function tifFromWire(w: pb.TimeInForce | string | undefined, field = 'time_in_force'): TimeInForce {
  if (!w || w === pb.TimeInForce.TIME_IN_FORCE_UNSPECIFIED) return 'GTC';
  const s = TIF_FROM_WIRE[w as string];
  if (!s) throw invalidArgument(field, `unknown time in force ${String(w)}`);
  return s;
}

export function fillToWire(f: Fill): pb.Trade {
  return {
    tradeId: f.tradeId,
    orderId: f.orderId,
    symbol: f.symbol,
    side: sideToWire(f.side),
    price: toDec(f.price),
    quantity: toDec(f.quantity),
    fee: toDec(f.fee),
    feeAsset: f.feeAsset,
    timestamp: msToTimestamp(f.timestampMs),
    realizedPnl: toDec(f.realizedPnl),
  };
}

/** `clientOrderId` and `maker` are not on the wire Trade; the caller supplies the order's id. */
export function fillFromWire(t: pb.Trade, clientOrderId = ''): Fill {
  return {
    tradeId: t.tradeId,
    orderId: t.orderId,
    clientOrderId,
    symbol: t.symbol,
    side: sideFromWire(t.side, 'trade.side'),
    price: fromDec(t.price, 'trade.price'),
    quantity: fromDec(t.quantity, 'trade.quantity'),
    fee: fromDec(t.fee, 'trade.fee', false),
    feeAsset: t.feeAsset,
    timestampMs: timestampToMs(t.timestamp),
    realizedPnl: fromDec(t.realizedPnl, 'trade.realized_pnl', false),
    maker: false,
  };
}

export function orderToWire(o: Order): pb.Order {
  return {
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: sideToWire(o.side),
    type: TYPE_TO_WIRE[o.type],
    price: toDec(o.price),
    quantity: toDec(o.quantity),
    executedQty: toDec(o.executedQty),
    avgPrice: toDec(o.avgPrice),
    status: statusToWire(o.status),
    createdAt: msToTimestamp(o.createdAtMs),
    updateTime: String(o.updateTimeMs),
    trades: o.trades.map(fillToWire),
  };
}

/** Wire Order → domain. Fields absent from the contract (tif, flags) come back as defaults. */
export function orderFromWire(o: pb.Order): Order {
  return {
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: sideFromWire(o.side, 'order.side'),
    type: typeFromWire(o.type, 'order.type'),
    timeInForce: 'GTC',
    price: fromDec(o.price, 'order.price', false),
    quantity: fromDec(o.quantity, 'order.quantity', false),
    executedQty: fromDec(o.executedQty, 'order.executed_qty', false),
    avgPrice: fromDec(o.avgPrice, 'order.avg_price', false),
    status: statusFromWire(o.status, 'order.status'),
    reduceOnly: false,
    postOnly: false,
    createdAtMs: timestampToMs(o.createdAt),
    updateTimeMs: Number(o.updateTime || 0),
    trades: (o.trades ?? []).map((t) => fillFromWire(t, o.clientOrderId)),
  };
}

export function orderEventToWire(e: OrderEvent, exchange: string): pb.OrderUpdate {
  const o = e.order;
  return {
    exchange,
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: sideToWire(o.side),
    type: TYPE_TO_WIRE[o.type],
    status: statusToWire(o.status),
    price: toDec(o.price),
    quantity: toDec(o.quantity),
    executedQty: toDec(o.executedQty),
    avgPrice: toDec(o.avgPrice),
    updateTime: String(o.updateTimeMs),
    lastTrade: e.lastTrade ? fillToWire(e.lastTrade) : undefined,
  };
}

export function orderEventFromWire(u: pb.OrderUpdate): OrderEvent {
  const order: Order = {
    orderId: u.orderId,
    clientOrderId: u.clientOrderId,
    symbol: u.symbol,
    side: sideFromWire(u.side, 'side'),
    type: typeFromWire(u.type, 'type'),
    timeInForce: 'GTC',
    price: fromDec(u.price, 'price', false),
    quantity: fromDec(u.quantity, 'quantity', false),
    executedQty: fromDec(u.executedQty, 'executed_qty', false),
    avgPrice: fromDec(u.avgPrice, 'avg_price', false),
    status: statusFromWire(u.status),
    reduceOnly: false,
    postOnly: false,
    createdAtMs: 0,
    updateTimeMs: Number(u.updateTime || 0),
    trades: [],
  };
  return { order, lastTrade: u.lastTrade ? fillFromWire(u.lastTrade, u.clientOrderId) : undefined };
}

export function orderRequestToWire(r: OrderRequest): pb.PlaceOrderRequest {
  return {
    symbol: r.symbol,
    side: sideToWire(r.side),
    type: TYPE_TO_WIRE[r.type],
    timeInForce: TIF_TO_WIRE[r.timeInForce ?? 'GTC'],
    quantity: toDec(r.quantity),
    price: toDec(r.price),
    reduceOnly: r.reduceOnly ?? false,
    postOnly: r.postOnly ?? false,
    clientOrderId: r.clientOrderId ?? '',
    useMargin: false,
  };
}

/** Shape of a symbol on the wire (`BTCUSDT`, `BTC/USDT:USDT`, …): 2–40 characters of `[A-Za-z0-9._/:-]`. */
export const SYMBOL_RE = /^[A-Za-z0-9._/:-]{2,40}$/;

/**
 * Wire PlaceOrderRequest → domain, validating shape (not venue rules).
 * `prefix` names the request in field paths (e.g. `orders[3].`).
 * @throws VenueError INVALID_ARGUMENT naming the field.
 */
export function orderRequestFromWire(r: pb.PlaceOrderRequest, prefix = ''): OrderRequest {
  if (!r.symbol) throw invalidArgument(`${prefix}symbol`, 'is required');
  if (!SYMBOL_RE.test(r.symbol)) throw invalidArgument(`${prefix}symbol`, `invalid symbol "${r.symbol.slice(0, 40)}"`);
  const type = typeFromWire(r.type, `${prefix}type`);
  const quantity = fromDecStrict(r.quantity, `${prefix}quantity`) as Dec;
  if (!quantity.gt(0)) throw invalidArgument(`${prefix}quantity`, 'must be > 0');
  const price = fromDecStrict(r.price, `${prefix}price`, type === 'LIMIT');
  if (price !== undefined && !price.gt(0)) throw invalidArgument(`${prefix}price`, 'must be > 0');
  if (r.clientOrderId && !/^[A-Za-z0-9_.:\-]{1,36}$/.test(r.clientOrderId)) {
    throw invalidArgument(`${prefix}client_order_id`, 'must be 1–36 characters of [A-Za-z0-9_.:-]');
  }
  const tif = tifFromWire(r.timeInForce, `${prefix}time_in_force`);
  return {
    symbol: r.symbol,
    side: sideFromWire(r.side, `${prefix}side`),
    type,
    timeInForce: r.postOnly ? 'GTX' : tif,
    quantity,
    price,
    reduceOnly: r.reduceOnly,
    postOnly: r.postOnly || tif === 'GTX',
    clientOrderId: r.clientOrderId || undefined,
  };
}

export function priceToWire(p: PriceTick, exchange: string): pb.PriceChange {
  return { exchange, symbol: p.symbol, price: toDec(p.price), timestamp: msToTimestamp(p.timestampMs) };
}
export function priceFromWire(p: pb.PriceChange): PriceTick {
  return { symbol: p.symbol, price: fromDec(p.price, 'price'), timestampMs: timestampToMs(p.timestamp) };
}

export function candleToWire(c: Candle): pb.Candle {
  return {
    symbol: c.symbol,
    open: toDec(c.open),
    high: toDec(c.high),
    low: toDec(c.low),
    close: toDec(c.close),
    volume: toDec(c.volume),
    timestamp: String(c.openTimeMs),
    isClosed: c.closed,
  };
}
export function candleFromWire(c: pb.Candle): Candle {
  return {
    symbol: c.symbol,
    openTimeMs: Number(c.timestamp),
    open: fromDec(c.open, 'open'),
    high: fromDec(c.high, 'high'),
    low: fromDec(c.low, 'low'),
    close: fromDec(c.close, 'close'),
    volume: fromDec(c.volume, 'volume', false),
    closed: c.isClosed,
  };
}

export function positionToWire(p: Position): pb.Position {
  return {
    symbol: p.symbol,
    size: toDec(p.size),
    entryPrice: toDec(p.entryPrice),
    markPrice: toDec(p.markPrice),
    unrealizedPnl: toDec(p.unrealizedPnl),
    leverage: p.leverage,
    marginType: p.marginType,
    isolatedMargin: toDec(ZERO),
    liquidationPrice: toDec(p.liquidationPrice),
    haircut: undefined,
    narrativeSector: '',
    fundingPnl: p.fundingPnl ? toDec(p.fundingPnl) : undefined,
    borrowed: p.borrowed ? toDec(p.borrowed) : undefined,
    borrowInterest: p.borrowInterest ? toDec(p.borrowInterest) : undefined,
  };
}
export function positionFromWire(p: pb.Position): Position {
  return {
    symbol: p.symbol,
    size: fromDec(p.size, 'size', false),
    entryPrice: fromDec(p.entryPrice, 'entry_price', false),
    markPrice: fromDec(p.markPrice, 'mark_price', false),
    unrealizedPnl: fromDec(p.unrealizedPnl, 'unrealized_pnl', false),
    leverage: p.leverage,
    marginType: p.marginType === 'isolated' ? 'isolated' : 'cross',
    liquidationPrice: fromDec(p.liquidationPrice, 'liquidation_price', false),
    ...(p.fundingPnl ? { fundingPnl: fromDec(p.fundingPnl, 'funding_pnl', false) } : {}),
    ...(p.borrowed ? { borrowed: fromDec(p.borrowed, 'borrowed', false) } : {}),
    ...(p.borrowInterest ? { borrowInterest: fromDec(p.borrowInterest, 'borrow_interest', false) } : {}),
  };
}

export function accountToWire(a: AccountSnapshot): pb.Account {
  return {
    totalWalletBalance: toDec(a.totalWalletBalance),
    totalMarginBalance: toDec(a.totalMarginBalance),
    availableBalance: toDec(a.availableBalance),
    positions: a.positions.map(positionToWire),
    accountLeverage: a.leverage,
    isUnified: false,
    healthScore: undefined,
    marginMode: pb.MarginMode.MARGIN_MODE_REGULAR,
    adjustedEquity: toDec(a.totalMarginBalance),
    totalMaintenanceMargin: a.totalMaintenanceMargin ? toDec(a.totalMaintenanceMargin) : undefined,
    fundingPnl: a.fundingPnl ? toDec(a.fundingPnl) : undefined,
  };
}
export function accountFromWire(a: pb.Account, asset = 'USDT'): AccountSnapshot {
  return {
    asset,
    totalWalletBalance: fromDec(a.totalWalletBalance, 'total_wallet_balance', false),
    totalMarginBalance: fromDec(a.totalMarginBalance, 'total_margin_balance', false),
    availableBalance: fromDec(a.availableBalance, 'available_balance', false),
    positions: (a.positions ?? []).map(positionFromWire),
    leverage: a.accountLeverage,
    realizedPnl: ZERO,
    ...(a.totalMaintenanceMargin ? { totalMaintenanceMargin: fromDec(a.totalMaintenanceMargin, 'total_maintenance_margin', false) } : {}),
    ...(a.fundingPnl ? { fundingPnl: fromDec(a.fundingPnl, 'funding_pnl', false) } : {}),
  };
}

export function symbolRulesToWire(s: SymbolRules): pb.SymbolInfo {
  return {
    symbol: s.symbol,
    pricePrecision: s.pricePrecision,
    quantityPrecision: s.quantityPrecision,
    baseAsset: s.baseAsset,
    quoteAsset: s.quoteAsset,
    minQuantity: toDec(s.minQty),
    minNotional: toDec(s.minNotional),
    tickSize: toDec(s.tickSize),
    stepSize: toDec(s.stepSize),
    narrativeSector: '',
  };
}
/** Tick/step fall back to 10^-precision when a connector omits them (older connectors). */
export function symbolRulesFromWire(s: pb.SymbolInfo): SymbolRules {
  const tick = fromDecOpt(s.tickSize, 'tick_size') ?? new Dec(1).div(new Dec(10).pow(s.pricePrecision));
  const step = fromDecOpt(s.stepSize, 'step_size') ?? new Dec(1).div(new Dec(10).pow(s.quantityPrecision));
  return {
    symbol: s.symbol,
    baseAsset: s.baseAsset,
    quoteAsset: s.quoteAsset,
    tickSize: tick,
    stepSize: step,
    minQty: fromDec(s.minQuantity, 'min_quantity', false),
    minNotional: fromDec(s.minNotional, 'min_notional', false),
    pricePrecision: s.pricePrecision,
    quantityPrecision: s.quantityPrecision,
  };
}

export function fundingToWire(f: FundingRate, exchange: string): pb.FundingRate & pb.FundingUpdate {
  return {
    exchange,
    symbol: f.symbol,
    rate: toDec(f.rate),
    predictedRate: toDec(f.predictedRate),
    nextFundingTime: String(f.nextFundingTimeMs),
    timestamp: String(f.timestampMs),
  };
}
export function fundingFromWire(f: pb.FundingRate | pb.FundingUpdate): FundingRate {
  return {
    symbol: f.symbol,
    rate: fromDec(f.rate, 'rate', false),
    predictedRate: f.predictedRate?.value ? fromDec(f.predictedRate, 'predicted_rate') : undefined,
    nextFundingTimeMs: Number(f.nextFundingTime || 0),
    timestampMs: Number(f.timestamp || 0),
  };
}

export function tickerToWire(t: Ticker): pb.Ticker {
  return {
    symbol: t.symbol,
    priceChange: toDec(t.priceChange),
    priceChangePercent: toDec(t.priceChangePercent),
    lastPrice: toDec(t.lastPrice),
    volume: toDec(t.volume),
    quoteVolume: toDec(t.quoteVolume),
    timestamp: String(t.timestampMs),
    openInterest: toDec(t.openInterest),
  };
}
export function tickerFromWire(t: pb.Ticker): Ticker {
  return {
    symbol: t.symbol,
    lastPrice: fromDec(t.lastPrice, 'last_price', false),
    priceChange: fromDec(t.priceChange, 'price_change', false),
    priceChangePercent: fromDec(t.priceChangePercent, 'price_change_percent', false),
    volume: fromDec(t.volume, 'volume', false),
    quoteVolume: fromDec(t.quoteVolume, 'quote_volume', false),
    openInterest: fromDec(t.openInterest, 'open_interest', false),
    timestampMs: Number(t.timestamp || 0),
  };
}
