import { type AccountSnapshot, type Candle, type Dec, type Fill, type Order, type OrderStatus, type OrderType, type Position, type Side, ZERO } from '@mm/domain';

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

/**
 * Symbols of the connector account (opt-in: sent only to clients of `/ws?overview=1`). `current` is
 * the symbol this connection shows; `default` is what `/ws` without `?symbol=` shows.
 */
export interface LiveSymbols {
  symbols: string[];
  default: string;
  current: string;
}

/**
 * One symbol's line of the account overview. Decimal strings: `amount` signed in base units
 * (> 0 long), prices in quote units, money in the settlement asset rounded to 8 decimals.
 * `notional` = |amount| × mark. `liquidationPrice` "0" = none; `liquidationDistancePct` =
 * |mark − liquidation| ÷ mark × 100 (2 decimals), null without a position or liquidation price.
 * `realizedPnL`/`fees` are running totals of fills seen by this process; `lastPrice` = newest candle close.
 */
export interface LiveOverviewPosition {
  symbol: string;
  amount: string;
  entryPrice: string;
  markPrice: string;
  unrealizedPnL: string;
  notional: string;
  liquidationPrice: string;
  liquidationDistancePct: string | null;
  leverage: number;
  realizedPnL: string;
  fees: string;
  lastPrice: string | null;
}

/**
 * The whole cross-margin account (opt-in: `/ws?overview=1`, type `account_overview`), money in `asset`
 * rounded to 8 decimals. `equity` = margin balance = wallet + unrealized PnL; `marginRatio` = total
 * maintenance margin ÷ margin balance (Binance USDⓈ-M definition; fraction, 6 decimals; ≥ 1 =
 * liquidation), null when the venue does not report maintenance margin or equity ≤ 0.
 * `positions`: one line per monitored symbol (flat ones included), in the symbol list's order.
 */
export interface LiveAccountOverview {
  asset: string;
  walletBalance: string;
  equity: string;
  available: string;
  unrealizedPnL: string;
  maintenanceMargin: string | null;
  marginRatio: string | null;
  realizedPnL: string;
  fees: string;
  positions: LiveOverviewPosition[];
}

/** Every message the server sends. */
export type LiveMessage =
  | { type: 'history'; data: LiveCandle[] }
  | { type: 'kline'; data: LiveCandle }
  | { type: 'account'; data: LiveAccount }
  | { type: 'orders'; data: LiveOrder | LiveOrder[] }
  | { type: 'trade_event'; data: LiveTrade }
  | { type: 'position'; data: LivePosition }
  | { type: 'connector'; data: LiveConnectorState }
  | { type: 'symbols'; data: LiveSymbols }
  | { type: 'account_overview'; data: LiveAccountOverview };

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

/** Decimals of settlement-asset amounts in the overview (Binance reports USDT balances with 8). */
const MONEY_DP = 8;
const money = (d: Dec): string => d.toDecimalPlaces(MONEY_DP).toString();

/**
 * The account overview from the last account snapshot and each symbol's state (see
 * {@link LiveAccountOverview} for definitions). Pure; decimal.js throughout.
 * @param o.account undefined before the first account snapshot: balances are then "0".
 */
export function toAccountOverview(
  o: { account?: AccountSnapshot; symbols: ReadonlyArray<{ symbol: string; position?: Position; lastPrice?: Dec; realizedPnl: Dec; fees: Dec }> },
  asset: string,
): LiveAccountOverview {
  const a = o.account;
  const wallet = a?.totalWalletBalance ?? ZERO;
  const equity = a?.totalMarginBalance ?? ZERO;
  const mm = a?.totalMaintenanceMargin;
  let ratio: Dec | undefined = a?.marginRatio;
  if (!ratio && mm && equity.gt(0)) ratio = mm.div(equity);
  let realized = ZERO;
  let fees = ZERO;
  const positions = o.symbols.map((s): LiveOverviewPosition => {
    realized = realized.plus(s.realizedPnl);
    fees = fees.plus(s.fees);
    const p = s.position;
    const size = p?.size ?? ZERO;
    const mark = p && p.markPrice.gt(0) ? p.markPrice : (s.lastPrice ?? ZERO);
    const liq = p?.liquidationPrice ?? ZERO;
    const distance = !size.isZero() && liq.gt(0) && mark.gt(0) ? mark.minus(liq).abs().div(mark).mul(100).toDecimalPlaces(2).toString() : null;
    return {
      symbol: s.symbol,
      amount: size.toString(),
      entryPrice: (p?.entryPrice ?? ZERO).toString(),
      markPrice: mark.toString(),
      unrealizedPnL: money(p?.unrealizedPnl ?? ZERO),
      notional: money(size.abs().mul(mark)),
      liquidationPrice: liq.toString(),
      liquidationDistancePct: distance,
      leverage: p?.leverage ?? 0,
      realizedPnL: money(s.realizedPnl),
      fees: money(s.fees),
      lastPrice: s.lastPrice ? s.lastPrice.toString() : null,
    };
  });
  return {
    asset: a?.asset || asset,
    walletBalance: money(wallet),
    equity: money(equity),
    available: money(a?.availableBalance ?? ZERO),
    unrealizedPnL: money(equity.minus(wallet)),
    maintenanceMargin: mm ? money(mm) : null,
    marginRatio: ratio ? ratio.toDecimalPlaces(6).toString() : null,
    realizedPnL: money(realized),
    fees: money(fees),
    positions,
  };
}
