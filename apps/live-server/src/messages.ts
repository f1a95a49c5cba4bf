import type { AccountSnapshot, Candle, Dec, Fill, Order, OrderStatus, OrderType, Position, Side } from '@mm/domain';

/**
 * The live WebSocket protocol (text frames, one `{type, data}` JSON object each), as read by the
 * OpenSQT live page (see live-protocol.md "Recommended server output"). Pure mapping functions
 * domain → message. Conventions: times are Unix SECONDS, money/quantities are decimal strings
 * (`Dec.toString()`), sides `BUY`/`SELL`, statuses in Binance spelling, order ids are strings.
 */

/** One candle. `time` = open time, Unix seconds; OHLCV as decimal strings (volume in base units). */
export interface LiveCandle {
  time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/**
 * Account totals in `asset` (`USDT`/`USDC`). `balance` = wallet balance, `free` = available,
 * `marginBalance` = wallet + unrealized PnL. Extras: `realizedPnL` and `fees` = running totals of
 * fills seen by this process (decimal strings, quote units).
 */
export interface LiveAccount {
  asset: string;
  free: string;
  balance: string;
  marginBalance: string;
  symbol: string;
  realizedPnL: string;
  fees: string;
}

/** An order. `id` is the venue order id as a string (ids may exceed 2^53). Quantities in base units. */
export interface LiveOrder {
  id: string;
  clientOrderId: string;
  price: string;
  side: Side;
  status: OrderStatus;
  type: OrderType;
  symbol: string;
  quantity: string;
  executedQty: string;
}

/** One execution. `side` lower-case, `price` = fill price, `amount` = fill quantity, `time` Unix seconds. */
export interface LiveTrade {
  side: 'buy' | 'sell';
  price: string;
  amount: string;
  symbol: string;
  time: number;
  orderId: string;
  tradeId: string;
  fee: string;
  feeAsset: string;
  realizedPnL: string;
}

/**
 * Position of the monitored symbol. `amount` is signed (> 0 long, < 0 short, base units);
 * `realizedPnL` is the running total of fills seen by this process.
 */
export interface LivePosition {
  symbol: string;
  amount: string;
  entryPrice: string;
  unrealizedPnL: string;
  realizedPnL: string;
  markPrice: string;
  liquidationPrice: string;
  leverage: number;
}

/** Connector link state (extra type; the legacy page ignores it). */
export interface LiveConnectorState {
  state: 'connected' | 'disconnected';
}

/** Every message the server sends. */
export type LiveMessage =
  | { type: 'history'; data: LiveCandle[] }
  | { type: 'kline'; data: LiveCandle }
  | { type: 'account'; data: LiveAccount }
  | { type: 'orders'; data: LiveOrder | LiveOrder[] }
  | { type: 'trade_event'; data: LiveTrade }
  | { type: 'position'; data: LivePosition }
  | { type: 'connector'; data: LiveConnectorState };

/** Unix ms → Unix seconds (floor). */
export const toSeconds = (ms: number): number => Math.floor(ms / 1000);

/** Settlement asset shown by the page: `USDC` for …USDC symbols, else `USDT`. */
export function quoteAssetOf(symbol: string): 'USDT' | 'USDC' {
  return /USDC$/i.test(symbol.replace(/:.*$/, '')) ? 'USDC' : 'USDT';
}

export function toLiveCandle(c: Candle): LiveCandle {
  return {
    time: toSeconds(c.openTimeMs),
    open: c.open.toString(),
    high: c.high.toString(),
    low: c.low.toString(),
    close: c.close.toString(),
    volume: c.volume.toString(),
  };
}

export function toLiveAccount(a: AccountSnapshot, symbol: string, realizedPnl: Dec, fees: Dec): LiveAccount {
  return {
    asset: a.asset || quoteAssetOf(symbol),
    free: a.availableBalance.toString(),
    balance: a.totalWalletBalance.toString(),
    marginBalance: a.totalMarginBalance.toString(),
    symbol,
    realizedPnL: realizedPnl.toString(),
    fees: fees.toString(),
  };
}

export function toLiveOrder(o: Order): LiveOrder {
  return {
    id: o.orderId,
    clientOrderId: o.clientOrderId,
    price: o.price.toString(),
    side: o.side,
    status: o.status,
    type: o.type,
    symbol: o.symbol,
    quantity: o.quantity.toString(),
    executedQty: o.executedQty.toString(),
  };
}

/** @param nowMs used when the fill carries no timestamp. */
export function toLiveTrade(f: Fill, nowMs: number = Date.now()): LiveTrade {
  return {
    side: f.side === 'BUY' ? 'buy' : 'sell',
    price: f.price.toString(),
    amount: f.quantity.toString(),
    symbol: f.symbol,
    time: toSeconds(f.timestampMs > 0 ? f.timestampMs : nowMs),
    orderId: f.orderId,
    tradeId: f.tradeId,
    fee: f.fee.toString(),
    feeAsset: f.feeAsset,
    realizedPnL: f.realizedPnl.toString(),
  };
}

export function toLivePosition(p: Position, realizedPnl: Dec): LivePosition {
  return {
    symbol: p.symbol,
    amount: p.size.toString(),
    entryPrice: p.entryPrice.toString(),
    unrealizedPnL: p.unrealizedPnl.toString(),
    realizedPnL: realizedPnl.toString(),
    markPrice: p.markPrice.toString(),
    liquidationPrice: p.liquidationPrice.toString(),
    leverage: p.leverage,
  };
}

/** The per-connection snapshot, in protocol order: history, account (if known), orders, position (if known). */
export function snapshotMessages(s: {
  symbol: string;
  candles: readonly Candle[];
  account?: AccountSnapshot;
  orders: readonly Order[];
  position?: Position;
  realizedPnl: Dec;
  fees: Dec;
}): LiveMessage[] {
  const out: LiveMessage[] = [{ type: 'history', data: s.candles.map(toLiveCandle) }];
  if (s.account) out.push({ type: 'account', data: toLiveAccount(s.account, s.symbol, s.realizedPnl, s.fees) });
  out.push({ type: 'orders', data: s.orders.map(toLiveOrder) });
  if (s.position) out.push({ type: 'position', data: toLivePosition(s.position, s.realizedPnl) });
  return out;
}
