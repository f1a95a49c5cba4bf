/**
 * Pure mappings from ccxt's unified structures (https://docs.ccxt.com/#/README?id=unified-api) to
 * the domain types of `@mm/domain`. No ccxt import: the shapes below are the subset we read.
 *
 * Numbers: the adapter sets `exchange.number = String`, so ccxt returns every parsed decimal as
 * the venue's own string; a JS number is still accepted and converted through `String(x)` (the
 * shortest round-trip form). Quantities: ccxt counts derivative amounts in contracts; the domain
 * counts base units, so every amount is multiplied by the market's `contractSize` (1 for spot and
 * for venues quoting swaps in coin, e.g. Binance, Bybit, Bitget; 0.01 BTC on OKX BTC-USDT-SWAP,
 * 0.0001 BTC on Gate BTC_USDT).
 */
import {
  type AccountSnapshot,
  type Candle,
  Dec,
  type Fill,
  type FundingRate,
  type Order,
  type OrderStatus,
  type OrderType,
  type Position,
  type SymbolRules,
  type Ticker,
  type TimeInForce,
  ZERO,
  dec,
  decimalsOf,
  invalidArgument,
  isMultipleOf,
  type OrderRequest,
} from '@mm/domain';

/** A ccxt decimal: a string when `exchange.number = String`, a number otherwise. */
export type CcxtNum = string | number | undefined | null;

export interface CcxtMarket {
  id: string;
  symbol: string;
  base: string;
  quote: string;
  settle?: string;
  type: string;
  spot?: boolean;
  swap?: boolean;
  linear?: boolean;
  active?: boolean;
  contract?: boolean;
  contractSize?: CcxtNum;
  precision: { amount?: CcxtNum; price?: CcxtNum };
  limits: { amount?: { min?: CcxtNum; max?: CcxtNum }; cost?: { min?: CcxtNum }; price?: { min?: CcxtNum } };
  info?: unknown;
}

export interface CcxtTrade {
  id?: string;
  order?: string;
  symbol?: string;
  side?: string;
  price?: CcxtNum;
  amount?: CcxtNum;
  timestamp?: number;
  takerOrMaker?: string;
  fee?: { cost?: CcxtNum; currency?: string };
  info?: Record<string, unknown>;
}

export interface CcxtOrder {
  id: string;
  clientOrderId?: string;
  symbol: string;
  side?: string;
  type?: string;
  timeInForce?: string;
  postOnly?: boolean;
  reduceOnly?: boolean;
  status?: string;
  price?: CcxtNum;
  average?: CcxtNum;
  amount?: CcxtNum;
  filled?: CcxtNum;
  timestamp?: number;
  lastTradeTimestamp?: number;
  lastUpdateTimestamp?: number;
  trades?: CcxtTrade[];
  info?: Record<string, unknown>;
}

export interface CcxtPosition {
  symbol: string;
  side?: string;
  contracts?: CcxtNum;
  contractSize?: CcxtNum;
  entryPrice?: CcxtNum;
  markPrice?: CcxtNum;
  unrealizedPnl?: CcxtNum;
  leverage?: CcxtNum;
  marginMode?: string;
  liquidationPrice?: CcxtNum;
  info?: Record<string, unknown>;
}

export interface CcxtBalance {
  free?: Record<string, CcxtNum>;
  used?: Record<string, CcxtNum>;
  total?: Record<string, CcxtNum>;
  info?: unknown;
}

export interface CcxtTicker {
  symbol: string;
  timestamp?: number;
  last?: CcxtNum;
  close?: CcxtNum;
  change?: CcxtNum;
  percentage?: CcxtNum;
  baseVolume?: CcxtNum;
  quoteVolume?: CcxtNum;
  info?: Record<string, unknown>;
}

export interface CcxtFundingRate {
  symbol: string;
  fundingRate?: CcxtNum;
  nextFundingRate?: CcxtNum;
  fundingTimestamp?: number;
  nextFundingTimestamp?: number;
  timestamp?: number;
}

export interface CcxtFundingHistory {
  symbol: string;
  fundingRate?: CcxtNum;
  timestamp?: number;
}

/** `[timestamp ms, open, high, low, close, volume]` as ccxt returns OHLCV rows. */
export type CcxtOhlcv = [number, CcxtNum, CcxtNum, CcxtNum, CcxtNum, CcxtNum];

/** The one market the domain sees for a domain symbol (`BTCUSDT`). */
export interface MarketView {
  /** Domain symbol: base + quote, upper case, no separator. */
  symbol: string;
  market: CcxtMarket;
  /** Base units per ccxt amount unit (contract). */
  contractSize: Dec;
}

/** Parses a ccxt decimal. @returns `fallback` (default 0) when absent/empty. @throws Error on garbage. */
export function num(x: CcxtNum, fallback: Dec = ZERO): Dec {
  if (x === undefined || x === null || x === '') return fallback;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) return fallback;
    return dec(String(x));
  }
  return dec(x);
}

/** Parses a ccxt decimal, `undefined` when absent. */
export function optNum(x: CcxtNum): Dec | undefined {
  return x === undefined || x === null || x === '' ? undefined : num(x);
}

/** Domain symbol of a ccxt market: `BTC/USDT:USDT` → `BTCUSDT`. */
export function domainSymbolOf(m: Pick<CcxtMarket, 'base' | 'quote'>): string {
  return `${m.base}${m.quote}`.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/**
 * Builds the domain view of the markets ccxt loaded: spot markets for `spot`, USDT-settled linear
 * perpetuals (`swap`, `linear`, settle = quote) for `swap`. Inactive markets are skipped; the first
 * market wins when two normalise to the same domain symbol.
 */
export function buildMarketViews(markets: Record<string, CcxtMarket>, marketType: 'swap' | 'spot'): Map<string, MarketView> {
  const out = new Map<string, MarketView>();
  for (const m of Object.values(markets)) {
    if (m.active === false) continue;
    if (marketType === 'spot' ? !m.spot : !(m.swap && m.linear !== false && (m.settle ?? m.quote) === m.quote)) continue;
    const symbol = domainSymbolOf(m);
    if (!symbol || out.has(symbol)) continue;
    out.set(symbol, { symbol, market: m, contractSize: m.contract || m.swap ? num(m.contractSize, dec(1)) : dec(1) });
  }
  return out;
}

/**
 * ccxt `precisionMode` values (ccxt/js/src/base/functions/number.js): DECIMAL_PLACES = 2,
 * SIGNIFICANT_DIGITS = 3, TICK_SIZE = 4. Every venue used here is TICK_SIZE in ccxt 4.5.
 */
export const TICK_SIZE = 4;

function increment(x: CcxtNum, precisionMode: number): Dec | undefined {
  const v = optNum(x);
  if (!v) return undefined;
  if (precisionMode === TICK_SIZE) return v.gt(0) ? v : undefined;
  return new Dec(10).pow(v.neg()); // decimal places → 10^-n
}

/**
 * Trading rules from a ccxt market: tick = `precision.price`, step = `precision.amount` ×
 * contractSize, minQty = max(`limits.amount.min`, 1 contract step) × contractSize, minNotional =
 * `limits.cost.min` (0 when the venue publishes none). Source of the rules: the venue's own
 * instrument list as parsed by ccxt (`loadMarkets`).
 */
export function symbolRulesOf(v: MarketView, precisionMode = TICK_SIZE): SymbolRules {
  const m = v.market;
  const tick = increment(m.precision.price, precisionMode) ?? dec('0.00000001');
  const stepContracts = increment(m.precision.amount, precisionMode) ?? dec(1);
  const step = stepContracts.mul(v.contractSize);
  const minAmount = optNum(m.limits.amount?.min);
  const minQty = Dec.max(minAmount ? minAmount.mul(v.contractSize) : step, step);
  return {
    symbol: v.symbol,
    baseAsset: m.base,
    quoteAsset: m.quote,
    tickSize: tick,
    stepSize: step,
    minQty,
    minNotional: num(m.limits.cost?.min),
    pricePrecision: decimalsOf(tick),
    quantityPrecision: decimalsOf(step),
  };
}

/**
 * The one pre-venue validation used for every ccxt venue (same checks and messages as the sim):
 * quantity > 0, a multiple of the step and ≥ minQty; LIMIT price > 0 and on the tick; price ×
 * quantity ≥ minNotional (for MARKET with `refPrice`, skipped without). Reduce-only orders skip the
 * notional check (venues exempt closing orders).
 * @throws VenueError INVALID_ARGUMENT naming the field, reason FILTER_VIOLATION.
 */
export function validateOrderRequest(req: OrderRequest, rules: SymbolRules, refPrice?: Dec): void {
  if (req.side !== 'BUY' && req.side !== 'SELL') throw invalidArgument('side', `must be BUY or SELL, got "${String(req.side)}"`);
  if (req.type !== 'LIMIT' && req.type !== 'MARKET') throw invalidArgument('type', `must be LIMIT or MARKET, got "${String(req.type)}"`);
  const postOnly = req.postOnly === true || req.timeInForce === 'GTX';
  if (postOnly && req.type === 'MARKET') throw invalidArgument('post_only', 'post-only requires a LIMIT order');
  const q = req.quantity;
  if (!Dec.isDecimal(q) || !q.isFinite() || !q.gt(0)) throw invalidArgument('quantity', `must be > 0, got ${String(q)}`, 'FILTER_VIOLATION');
  if (!isMultipleOf(q, rules.stepSize))
    throw invalidArgument('quantity', `${q} is not a multiple of the step size ${rules.stepSize}`, 'FILTER_VIOLATION');
  if (q.lt(rules.minQty)) throw invalidArgument('quantity', `${q} is below the minimum quantity ${rules.minQty}`, 'FILTER_VIOLATION');
  let price = refPrice;
  if (req.type === 'LIMIT') {
    const p = req.price;
    if (p === undefined || !Dec.isDecimal(p) || !p.isFinite() || !p.gt(0))
      throw invalidArgument('price', `a LIMIT order needs a price > 0, got ${String(p)}`, 'FILTER_VIOLATION');
    if (!isMultipleOf(p, rules.tickSize)) throw invalidArgument('price', `${p} is not a multiple of the tick size ${rules.tickSize}`, 'FILTER_VIOLATION');
    price = p;
  }
  if (price && !req.reduceOnly && rules.minNotional.gt(0)) {
    const notional = price.mul(q);
    if (notional.lt(rules.minNotional))
      throw invalidArgument(
        'quantity',
        `notional ${notional} (price × quantity) is below the minimum notional ${rules.minNotional} ${rules.quoteAsset}`,
        'FILTER_VIOLATION',
      );
  }
}

const side = (s: string | undefined): 'BUY' | 'SELL' => (String(s).toLowerCase() === 'sell' ? 'SELL' : 'BUY');

/** ccxt unified order status (+ filled amount) → domain status. */
export function orderStatusOf(status: string | undefined, filled: Dec, amount: Dec): OrderStatus {
  switch (status) {
    case 'closed':
      return 'FILLED';
    case 'canceled':
    case 'cancelled':
      return 'CANCELED';
    case 'expired':
      return 'EXPIRED';
    case 'rejected':
      return 'REJECTED';
    default:
      if (filled.gt(0)) return filled.gte(amount) && amount.gt(0) ? 'FILLED' : 'PARTIALLY_FILLED';
      return 'NEW';
  }
}

function tifOf(o: CcxtOrder): TimeInForce {
  if (o.postOnly) return 'GTX';
  const t = String(o.timeInForce ?? 'GTC').toUpperCase();
  if (t === 'PO' || t === 'GTX' || t === 'POC') return 'GTX';
  return t === 'IOC' || t === 'FOK' ? t : 'GTC';
}

/** First present key of `info` (venue raw field), as a decimal. */
function infoNum(info: Record<string, unknown> | undefined, keys: string[]): Dec | undefined {
  if (!info) return undefined;
  for (const k of keys) {
    const v = info[k];
    if (typeof v === 'string' || typeof v === 'number') {
      const d = optNum(v);
      if (d) return d;
    }
  }
  return undefined;
}

/** Raw `info` fields that carry realized PnL per execution, per venue (Binance `realizedPnl`, Bybit `execPnl`/`closedPnl`, OKX `fillPnl`/`pnl`, Bitget `profit`, Gate `pnl`). */
const PNL_KEYS = ['realizedPnl', 'rp', 'execPnl', 'closedPnl', 'fillPnl', 'pnl', 'profit'];

/** ccxt trade → domain fill (quantity in base units; fee in the fee currency as the venue charged it, sign as ccxt reports: positive = paid). */
export function fillOf(t: CcxtTrade, v: MarketView, clientOrderId = ''): Fill {
  return {
    tradeId: String(t.id ?? ''),
    orderId: String(t.order ?? ''),
    clientOrderId,
    symbol: v.symbol,
    side: side(t.side),
    price: num(t.price),
    quantity: num(t.amount).mul(v.contractSize),
    fee: num(t.fee?.cost),
    feeAsset: t.fee?.currency ?? '',
    timestampMs: t.timestamp ?? 0,
    realizedPnl: infoNum(t.info, PNL_KEYS) ?? ZERO,
    maker: t.takerOrMaker === 'maker',
  };
}

/** ccxt order → domain order (quantities in base units; missing price/average → 0). */
export function orderOf(o: CcxtOrder, v: MarketView): Order {
  const amount = num(o.amount).mul(v.contractSize);
  const filled = num(o.filled).mul(v.contractSize);
  const type: OrderType = String(o.type).toLowerCase() === 'market' ? 'MARKET' : 'LIMIT';
  const tif = tifOf(o);
  const created = o.timestamp ?? 0;
  const cid = o.clientOrderId ?? '';
  return {
    orderId: String(o.id),
    clientOrderId: cid,
    symbol: v.symbol,
    side: side(o.side),
    type,
    timeInForce: tif,
    price: num(o.price),
    quantity: amount,
    executedQty: filled,
    avgPrice: filled.gt(0) ? num(o.average) : ZERO,
    status: orderStatusOf(o.status, filled, amount),
    reduceOnly: o.reduceOnly === true,
    postOnly: tif === 'GTX',
    createdAtMs: created,
    updateTimeMs: o.lastUpdateTimestamp ?? o.lastTradeTimestamp ?? created,
    trades: (o.trades ?? []).filter((t) => t.id !== undefined && t.amount !== undefined && t.price !== undefined).map((t) => fillOf(t, v, cid)),
  };
}

/** ccxt position → domain position: size signed (short < 0) in base units. */
export function positionOf(p: CcxtPosition, v: MarketView, defaultLeverage = 1): Position {
  const contracts = num(p.contracts).abs();
  const size = contracts.mul(v.contractSize);
  const lev = optNum(p.leverage);
  return {
    symbol: v.symbol,
    size: p.side === 'short' ? size.neg() : size,
    entryPrice: num(p.entryPrice),
    markPrice: num(p.markPrice),
    unrealizedPnl: num(p.unrealizedPnl),
    // Gate reports cross positions with leverage 0: fall back to the default.
    leverage: lev && lev.gt(0) ? lev.toNumber() : defaultLeverage,
    marginType: p.marginMode === 'isolated' ? 'isolated' : 'cross',
    liquidationPrice: num(p.liquidationPrice),
  };
}

/**
 * Balance + positions → account snapshot in `asset` (the settle currency): wallet = `total[asset]`,
 * margin balance = wallet + Σ unrealized PnL, available = `free[asset]`. `realizedPnl` is the
 * caller's running total since start (the venues publish no such account figure).
 */
export function accountOf(b: CcxtBalance, asset: string, positions: Position[], leverage: number, realizedPnl: Dec = ZERO): AccountSnapshot {
  const wallet = num(b.total?.[asset]);
  const upnl = positions.reduce((a, p) => a.plus(p.unrealizedPnl), ZERO);
  return {
    asset,
    totalWalletBalance: wallet,
    totalMarginBalance: wallet.plus(upnl),
    availableBalance: num(b.free?.[asset]),
    positions,
    leverage,
    realizedPnl,
  };
}

/** Interval string (`1m`, `4h`, `1d`, `1w`, `1M`) → milliseconds (a month counts 30 days). */
export function intervalMs(interval: string): number {
  const m = /^(\d+)([smhdwM])$/.exec(interval);
  if (!m) throw invalidArgument('interval', `invalid interval "${interval.slice(0, 10)}"`);
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, M: 30 * 86400e3 }[m[2] as 's'];
  return Number(m[1]) * unit;
}

/**
 * OHLCV row → candle; `closed` when the candle's end is at or before `nowMs`. Volume in base units:
 * multiplied by the contract size when the venue's row counts contracts (`volumeInContracts`; ccxt
 * passes Gate futures' `v` through as contracts, while OKX rows already carry base volume).
 */
export function candleOf(row: CcxtOhlcv, v: MarketView, ivMs: number, nowMs: number, volumeInContracts = false): Candle {
  return {
    symbol: v.symbol,
    openTimeMs: row[0],
    open: num(row[1]),
    high: num(row[2]),
    low: num(row[3]),
    close: num(row[4]),
    volume: volumeInContracts ? num(row[5]).mul(v.contractSize) : num(row[5]),
    closed: row[0] + ivMs <= nowMs,
  };
}

/** Current funding rate: `predictedRate` = ccxt `nextFundingRate`, else the current rate. */
export function fundingOf(f: CcxtFundingRate, v: MarketView, nowMs: number): FundingRate {
  const rate = num(f.fundingRate);
  return {
    symbol: v.symbol,
    rate,
    predictedRate: optNum(f.nextFundingRate) ?? rate,
    nextFundingTimeMs: f.fundingTimestamp ?? f.nextFundingTimestamp ?? 0,
    timestampMs: f.timestamp ?? nowMs,
  };
}

/** Settled funding history, oldest first; `nextFundingTimeMs` = the next entry's time (or +8 h for the last). */
export function fundingHistoryOf(rows: CcxtFundingHistory[], v: MarketView): FundingRate[] {
  const sorted = [...rows].sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
  return sorted.map((r, i) => ({
    symbol: v.symbol,
    rate: num(r.fundingRate),
    predictedRate: num(r.fundingRate),
    nextFundingTimeMs: sorted[i + 1]?.timestamp ?? (r.timestamp ?? 0) + 8 * 3600e3,
    timestampMs: r.timestamp ?? 0,
  }));
}

/**
 * 24 h ticker: volume in base units (ccxt's `baseVolume`, × contract size when the venue reports it
 * in contracts — OKX swaps' `vol24h`); `openInterest` from `info` when the venue includes it, else 0.
 */
export function tickerOf(t: CcxtTicker, v: MarketView, nowMs: number, volumeInContracts = false): Ticker {
  return {
    symbol: v.symbol,
    lastPrice: num(t.last ?? t.close),
    priceChange: num(t.change),
    priceChangePercent: num(t.percentage),
    volume: volumeInContracts ? num(t.baseVolume).mul(v.contractSize) : num(t.baseVolume),
    quoteVolume: num(t.quoteVolume),
    openInterest: (infoNum(t.info, ['openInterest', 'total_size']) ?? ZERO).mul(t.info && 'total_size' in t.info ? v.contractSize : 1),
    timestampMs: t.timestamp ?? nowMs,
  };
}
