import { dec, type Fill, type Order, type OrderStatus, type OrderType, type Side, type TimeInForce } from '@mm/domain';

/**
 * Serializable account/order state of a {@link SimExchange} (JSON-safe: decimals as strings, times
 * as Unix ms). Market data is not stored: the replay position (`marketTimeMs`) is, and the same
 * candle data is replayed up to it on restore.
 */
export interface SimState {
  version: 1;
  /** Venue name the state belongs to. */
  venue: string;
  /** Market time (Unix ms) when saved. */
  marketTimeMs: number;
  nextOrderId: number;
  nextTradeId: number;
  nextClientSeq: number;
  account: {
    wallet: string;
    realizedPnl: string;
    /** Cumulative funding received (+) / paid (−), USDT; absent in states saved before it existed. */
    fundingPnl?: string;
    /** One-way positions: signed size (base units) and entry price (quote units). */
    positions: { symbol: string; size: string; entry: string; /** Cumulative funding of the symbol, USDT; absent in older states. */ fundingPnl?: string }[];
  };
  /** Every accepted order in placement order, with its trades. */
  orders: SimOrderState[];
}

/** An order in {@link SimState}. */
export interface SimOrderState {
  orderId: string;
  clientOrderId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price: string;
  quantity: string;
  executedQty: string;
  avgPrice: string;
  status: OrderStatus;
  reduceOnly: boolean;
  postOnly: boolean;
  createdAtMs: number;
  updateTimeMs: number;
  trades: {
    tradeId: string;
    price: string;
    quantity: string;
    fee: string;
    feeAsset: string;
    timestampMs: number;
    realizedPnl: string;
    maker: boolean;
  }[];
}

/** Domain order → {@link SimOrderState}. */
export function orderToState(o: Order): SimOrderState {
  return {
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    timeInForce: o.timeInForce,
    price: o.price.toString(),
    quantity: o.quantity.toString(),
    executedQty: o.executedQty.toString(),
    avgPrice: o.avgPrice.toString(),
    status: o.status,
    reduceOnly: o.reduceOnly,
    postOnly: o.postOnly,
    createdAtMs: o.createdAtMs,
    updateTimeMs: o.updateTimeMs,
    trades: o.trades.map((t) => ({
      tradeId: t.tradeId,
      price: t.price.toString(),
      quantity: t.quantity.toString(),
      fee: t.fee.toString(),
      feeAsset: t.feeAsset,
      timestampMs: t.timestampMs,
      realizedPnl: t.realizedPnl.toString(),
      maker: t.maker,
    })),
  };
}

/** {@link SimOrderState} → domain order (its trades carry the order's ids, symbol and side). */
export function orderFromState(s: SimOrderState): Order {
  const o: Order = {
    orderId: s.orderId,
    clientOrderId: s.clientOrderId,
    symbol: s.symbol,
    side: s.side,
    type: s.type,
    timeInForce: s.timeInForce,
    price: dec(s.price),
    quantity: dec(s.quantity),
    executedQty: dec(s.executedQty),
    avgPrice: dec(s.avgPrice),
    status: s.status,
    reduceOnly: s.reduceOnly,
    postOnly: s.postOnly,
    createdAtMs: s.createdAtMs,
    updateTimeMs: s.updateTimeMs,
    trades: [],
  };
  o.trades = s.trades.map(
    (t): Fill => ({
      tradeId: t.tradeId,
      orderId: s.orderId,
      clientOrderId: s.clientOrderId,
      symbol: s.symbol,
      side: s.side,
      price: dec(t.price),
      quantity: dec(t.quantity),
      fee: dec(t.fee),
      feeAsset: t.feeAsset,
      timestampMs: t.timestampMs,
      realizedPnl: dec(t.realizedPnl),
      maker: t.maker,
    }),
  );
  return o;
}

const SIDES = new Set(['BUY', 'SELL']);
const TYPES = new Set(['LIMIT', 'MARKET']);
const STATUSES = new Set(['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED']);

/**
 * Checks the shape of parsed JSON as a {@link SimState} (types, enums, decimals).
 * @throws Error `invalid sim state: <path>: <problem>`.
 */
export function parseSimState(raw: unknown): SimState {
  const fail = (path: string, problem: string): never => {
    throw new Error(`invalid sim state: ${path}: ${problem}`);
  };
  const obj = (v: unknown, path: string): Record<string, unknown> =>
    v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(path, 'must be an object');
  const num = (v: unknown, path: string): number => (typeof v === 'number' && Number.isFinite(v) ? v : fail(path, 'must be a finite number'));
  const str = (v: unknown, path: string): string => (typeof v === 'string' ? v : fail(path, 'must be a string'));
  const decimal = (v: unknown, path: string): string => {
    const s = str(v, path);
    try {
      dec(s);
    } catch {
      fail(path, 'must be a decimal string');
    }
    return s;
  };
  const root = obj(raw, '(root)');
  if (root.version !== 1) fail('version', 'must be 1');
  str(root.venue, 'venue');
  num(root.marketTimeMs, 'marketTimeMs');
  for (const k of ['nextOrderId', 'nextTradeId', 'nextClientSeq']) if (!Number.isInteger(num(root[k], k))) fail(k, 'must be an integer');
  const acc = obj(root.account, 'account');
  decimal(acc.wallet, 'account.wallet');
  decimal(acc.realizedPnl, 'account.realizedPnl');
  if (acc.fundingPnl !== undefined) decimal(acc.fundingPnl, 'account.fundingPnl');
  if (!Array.isArray(acc.positions)) fail('account.positions', 'must be an array');
  (acc.positions as unknown[]).forEach((p, i) => {
    const o = obj(p, `account.positions[${i}]`);
    str(o.symbol, `account.positions[${i}].symbol`);
    decimal(o.size, `account.positions[${i}].size`);
    decimal(o.entry, `account.positions[${i}].entry`);
    if (o.fundingPnl !== undefined) decimal(o.fundingPnl, `account.positions[${i}].fundingPnl`);
  });
  if (!Array.isArray(root.orders)) fail('orders', 'must be an array');
  (root.orders as unknown[]).forEach((p, i) => {
    const at = `orders[${i}]`;
    const o = obj(p, at);
    for (const k of ['orderId', 'clientOrderId', 'symbol', 'timeInForce']) str(o[k], `${at}.${k}`);
    if (!SIDES.has(o.side as string)) fail(`${at}.side`, 'must be BUY or SELL');
    if (!TYPES.has(o.type as string)) fail(`${at}.type`, 'must be LIMIT or MARKET');
    if (!STATUSES.has(o.status as string)) fail(`${at}.status`, 'unknown status');
    for (const k of ['price', 'quantity', 'executedQty', 'avgPrice']) decimal(o[k], `${at}.${k}`);
    num(o.createdAtMs, `${at}.createdAtMs`);
    num(o.updateTimeMs, `${at}.updateTimeMs`);
    if (!Array.isArray(o.trades)) fail(`${at}.trades`, 'must be an array');
    (o.trades as unknown[]).forEach((t, j) => {
      const tr = obj(t, `${at}.trades[${j}]`);
      str(tr.tradeId, `${at}.trades[${j}].tradeId`);
      for (const k of ['price', 'quantity', 'fee', 'realizedPnl']) decimal(tr[k], `${at}.trades[${j}].${k}`);
      num(tr.timestampMs, `${at}.trades[${j}].timestampMs`);
    });
  });
  return raw as SimState;
}
