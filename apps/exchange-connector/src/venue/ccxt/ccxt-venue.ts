import { Logger } from '@nestjs/common';
import {
  type AccountSnapshot,
  type Candle,
  type Dec,
  type ExchangeVenue,
  type Fill,
  type FundingRate,
  type Order,
  type OrderEvent,
  type OrderRef,
  type OrderRequest,
  type Position,
  type PriceTick,
  type StreamObserver,
  type SymbolRules,
  type Ticker,
  type Unsubscribe,
  VenueError,
  ZERO,
  isTerminal,
  notFound,
} from '@mm/domain';
import { backoffDelay, sleep } from '@mm/platform';
import { parseCcxtError } from './ccxt-errors';
import {
  type CcxtMarket,
  type CcxtOhlcv,
  type CcxtOrder,
  type CcxtPosition,
  type CcxtTrade,
  type MarketView,
  accountOf,
  buildMarketViews,
  candleOf,
  fillOf,
  fundingHistoryOf,
  fundingOf,
  intervalMs,
  num,
  orderOf,
  positionOf,
  symbolRulesOf,
  tickerOf,
  validateOrderRequest,
} from './ccxt-mapping';
import { OrderIdMap } from './order-id-map';
import { type MarginAssetBalance, type SpotMarginMapping, type SpotMarginMode, marginAsset } from './ccxt-margin';

/** The five venues reached through ccxt. */
export const CCXT_VENUES = ['binance', 'bitget', 'gate', 'okx', 'bybit'] as const;
export type CcxtVenueId = (typeof CCXT_VENUES)[number];

/**
 * A stream observer that also wants liveness: `alive()` is called whenever the upstream source
 * proved it is live (a WebSocket message, or a successful poll that found no change). The
 * connector's StreamHub passes such observers to measure stream age; other callers may ignore it.
 */
export interface LivenessObserver<T> extends StreamObserver<T> {
  alive?(): void;
}

/** The ccxt (pro) exchange surface the adapter uses; the real object is a `ccxt.pro.<id>` instance. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CcxtExchange = any;

export interface CcxtVenueOptions {
  venue: CcxtVenueId;
  marketType: 'swap' | 'spot';
  exchange: CcxtExchange;
  /** Restrict the exposed symbols (domain form, e.g. BTCUSDT); all markets of the type when empty. */
  symbols?: string[];
  /** Poll interval of account and position streams (ms). */
  accountPollMs: number;
  /** Poll interval of the funding-rate stream (ms). */
  fundingPollMs: number;
  /** Periodic order reconciliation over REST (ms); 0 = only after a WebSocket gap. */
  ordersPollMs: number;
  /** Leverage reported when a venue omits it. */
  defaultLeverage: number;
  /** Look the client order id up on the venue before every PlaceOrder (closes the Binance "duplicate id allowed after close" gap at the cost of one REST call). */
  preCheckClientOrderId?: boolean;
  /** Venue order id ↔ wire int64 id map (synthetic ids for Bybit UUIDs); an in-memory one when absent. */
  orderIds?: OrderIdMap;
  /**
   * `marketType: spot` only: trade the spot margin account (`SPOT_MARGIN`, see ccxt-margin.ts): every
   * private call carries `mapping.route[mode]`, orders the per-side auto-borrow / auto-repay params,
   * and account/positions report each symbol's base net of borrowed principal and interest.
   */
  spotMargin?: { mode: SpotMarginMode; mapping: SpotMarginMapping };
  log?: Pick<Logger, 'log' | 'warn' | 'error'>;
  now?: () => number;
}

/** Where ccxt leaves derivative volumes in contracts (checked against ccxt 4.5 parseOHLCV/parseTicker). */
const VOLUME_IN_CONTRACTS: Record<CcxtVenueId, { ohlcv: boolean; ticker: boolean }> = {
  binance: { ohlcv: false, ticker: false },
  bybit: { ohlcv: false, ticker: false },
  bitget: { ohlcv: false, ticker: false },
  okx: { ohlcv: false, ticker: true },
  gate: { ohlcv: true, ticker: false },
};

const STATUS_RANK: Record<Order['status'], number> = { NEW: 0, PARTIALLY_FILLED: 1, FILLED: 2, CANCELED: 2, REJECTED: 2, EXPIRED: 2 };

interface Tracked {
  order: Order;
  fills: Map<string, Fill>;
}

/** Finished orders kept for late duplicates and lookups; older ones are forgotten (bounded memory). */
export const MAX_FINISHED_ORDERS_TRACKED = 5000;

/**
 * `ExchangeVenue` over one ccxt (ccxt.pro) exchange instance: Binance USD-M / spot, Bitget, Gate,
 * OKX, Bybit. REST calls go through ccxt's unified methods (ccxt signs; its rate limiter is on);
 * streams through ccxt.pro `watch*` with our reconnect backoff on top of ccxt's own.
 *
 * - Symbols are domain symbols (`BTCUSDT`), mapped to one ccxt market each (`BTC/USDT:USDT` for swap).
 * - Quantities are base units; ccxt contract amounts are converted with the market's contract size.
 * - Orders are validated before they reach the venue (`validateOrderRequest`, rules from ccxt's
 *   market precision/limits) and every ccxt error is mapped by `parseCcxtError`.
 * - The order stream merges ccxt.pro `watchOrders`, our own REST results (place/cancel) and REST
 *   reconciliation after every WebSocket gap, deduplicated per order by status and filled quantity;
 *   each fill is emitted once with its trade (`fetchMyTrades` when the push carries none).
 * - Account, positions and funding are polled (`accountPollMs`, `fundingPollMs`) and emitted only
 *   when changed; every successful poll counts as liveness.
 */
export class CcxtVenue implements ExchangeVenue {
  readonly name: string;
  readonly marketType: 'futures' | 'spot';
  private readonly ex: CcxtExchange;
  /** Venue order id ↔ domain/wire order id (int64 decimal string). Domain `orderId`s are always wire ids. */
  private readonly ids: OrderIdMap;
  private readonly log: Pick<Logger, 'log' | 'warn' | 'error'>;
  private readonly now: () => number;
  private views = new Map<string, MarketView>();
  private byCcxt = new Map<string, MarketView>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly byCid = new Map<string, string>();
  /** Ids of tracked orders in a terminal state, oldest first (evicted past MAX_FINISHED_ORDERS_TRACKED). */
  private readonly finished = new Set<string>();
  private readonly orderObservers = new Set<LivenessObserver<OrderEvent>>();
  private orderStop?: () => void;
  private chain: Promise<void> = Promise.resolve();
  private realizedPnl: Dec = ZERO;
  private readonly pollKicks = new Set<() => void>();
  private closed = false;
  private readonly timers = new Set<ReturnType<typeof setInterval>>();
  private readonly closeHooks: (() => void)[] = [];

  /**
   * Arms the venue's own countdown cancel-all (ccxt `cancelAllOrdersAfter`; in ccxt 4.5.84 only
   * OKX `cancel-all-after` (timeOut 0 or 10..120 s) and Bybit DCP `disconnected-cancel-all`);
   * `timeoutMs` 0 disarms. Undefined where ccxt has no unified call (Binance, Gate, Bitget): the
   * connector's own dead-man timer is then the only mechanism.
   */
  readonly cancelAllAfter?: (symbol: string, timeoutMs: number) => Promise<void>;

  constructor(private readonly opts: CcxtVenueOptions) {
    this.name = opts.venue;
    this.marketType = opts.marketType === 'spot' ? 'spot' : 'futures';
    this.ex = opts.exchange;
    this.ids = opts.orderIds ?? new OrderIdMap();
    this.log = opts.log ?? new Logger(`ccxt:${opts.venue}`);
    this.now = opts.now ?? Date.now;
    if (this.ex.has?.cancelAllOrdersAfter)
      this.cancelAllAfter = async (symbol, timeoutMs) => {
        const v = this.view(symbol);
        await this.call(() => this.ex.cancelAllOrdersAfter(timeoutMs, { symbol: v.market.symbol }));
      };
  }

  /** Registers cleanup run by `close()` (e.g. stop watching credential files). */
  onClose(fn: () => void): void {
    this.closeHooks.push(fn);
  }

  /** The ccxt exchange (for credential rotation). */
  get exchange(): CcxtExchange {
    return this.ex;
  }

  /**
   * Loads markets and validates the credentials with a signed call (`fetchBalance`).
   * @throws VenueError (mapped ccxt error) when either fails; the caller exits non-zero.
   */
  async start(): Promise<void> {
    try {
      await this.ex.loadMarkets();
    } catch (e) {
      throw new Error(`loading markets: ${parseCcxtError(e, this.name).message}`);
    }
    this.views = buildMarketViews(this.ex.markets as Record<string, CcxtMarket>, this.opts.marketType);
    if (this.opts.symbols?.length) {
      const keep = new Map<string, MarketView>();
      for (const s of this.opts.symbols) {
        const v = this.views.get(s);
        if (!v) throw new VenueError('INVALID_ARGUMENT', `symbols: ${s} is not a ${this.opts.marketType} market on ${this.name}`, { field: 'symbols' });
        keep.set(s, v);
      }
      this.views = keep;
    }
    this.byCcxt = new Map([...this.views.values()].map((v) => [v.market.symbol, v]));
    try {
      await this.ex.fetchBalance(this.acct());
    } catch (e) {
      throw new Error(`credential validation (signed fetchBalance): ${parseCcxtError(e, this.name).message}`);
    }
    if (this.opts.ordersPollMs > 0) {
      const t = setInterval(() => void this.reconcile('poll'), this.opts.ordersPollMs);
      t.unref?.();
      this.timers.add(t);
    }
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private get volumes(): { ohlcv: boolean; ticker: boolean } {
    return this.marketType === 'spot' ? { ohlcv: false, ticker: false } : VOLUME_IN_CONTRACTS[this.name as CcxtVenueId];
  }

  /** Params routing a private REST call to the margin account (`{}` for a plain account), merged with `extra`. */
  private acct(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const m = this.opts.spotMargin;
    return m ? { ...m.mapping.route[m.mode], ...extra } : extra;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async call(fn: () => Promise<any>, field?: string): Promise<any> {
    try {
      return await fn();
    } catch (e) {
      throw parseCcxtError(e, this.name, field);
    }
  }

  private view(symbol: string): MarketView {
    const v = this.views.get(symbol);
    if (!v) throw notFound(`unknown symbol "${symbol}"`, 'UNKNOWN_SYMBOL');
    return v;
  }

  private viewOfCcxt(ccxtSymbol: string | undefined): MarketView | undefined {
    return ccxtSymbol ? this.byCcxt.get(ccxtSymbol) : undefined;
  }

  /** Domain client order id from a venue one (Gate prefixes `t-`). */
  private domainCid(cid: string | undefined): string {
    if (!cid) return '';
    return this.name === 'gate' && cid.startsWith('t-') ? cid.slice(2) : cid;
  }

  private toOrder(o: CcxtOrder, v?: MarketView): Order | undefined {
    const view = v ?? this.viewOfCcxt(o.symbol);
    if (!view) return undefined;
    const order = orderOf(o, view);
    order.orderId = this.ids.toWire(order.orderId);
    order.clientOrderId = this.domainCid(order.clientOrderId);
    for (const t of order.trades) {
      t.clientOrderId = order.clientOrderId;
      t.orderId = order.orderId;
    }
    return order;
  }

  /**
   * The venue's id of a domain (wire) order id. A synthetic id unknown to the map (no map file and
   * a restart since it was issued) is recovered from the symbol's open orders.
   * @throws VenueError NOT_FOUND ORDER_NOT_FOUND when it cannot be resolved.
   */
  private async venueOrderId(v: MarketView, orderId: string): Promise<string> {
    const known = this.ids.toVenue(orderId);
    if (known) return known;
    await this.getOpenOrders(v.symbol).catch(() => undefined);
    const again = this.ids.toVenue(orderId);
    if (again) return again;
    throw new VenueError('NOT_FOUND', `order ${orderId} not found on ${v.symbol} (unknown synthetic id)`, { reason: 'ORDER_NOT_FOUND' });
  }

  private async fetchByClientId(v: MarketView, cid: string): Promise<CcxtOrder> {
    const s = v.market.symbol;
    switch (this.name as CcxtVenueId) {
      case 'binance':
        return this.ex.fetchOrder(undefined, s, this.acct({ origClientOrderId: cid }));
      case 'okx':
        return this.ex.fetchOrder(undefined, s, { clOrdId: cid });
      case 'bitget':
        return this.ex.fetchOrder(undefined, s, { clientOid: cid });
      case 'bybit': {
        // ccxt's bybit.fetchOrder needs an order id (it formats `id.toString()` when nothing is
        // found), so query by orderLinkId through ccxt's signed implicit endpoint and parse with ccxt.
        const res = await this.ex.privateGetV5OrderRealtime({ category: v.market.linear === false || v.market.spot ? 'spot' : 'linear', symbol: v.market.id, orderLinkId: cid });
        const row = res?.result?.list?.[0];
        if (!row) throw notFound(`order with clientOrderId ${cid} not found on ${v.symbol}`);
        return this.ex.parseOrder(row, v.market);
      }
      case 'gate':
        return this.ex.fetchOrder(undefined, s, { clientOrderId: cid });
    }
  }

  private async fetchById(v: MarketView, id: string): Promise<CcxtOrder> {
    const venueId = await this.venueOrderId(v, id);
    return this.ex.fetchOrder(venueId, v.market.symbol, this.acct(this.name === 'bybit' ? { acknowledged: true } : {}));
  }

  // ───────────────────────────── symbols ─────────────────────────────

  async getSymbols(): Promise<string[]> {
    return [...this.views.keys()];
  }

  /** Rules from ccxt's market (precision = tick/step, limits = min qty/notional). @throws NOT_FOUND UNKNOWN_SYMBOL */
  async getSymbolRules(symbol: string): Promise<SymbolRules> {
    return symbolRulesOf(this.view(symbol), this.ex.precisionMode);
  }

  // ───────────────────────────── orders ─────────────────────────────

  /**
   * Validates, then `createOrder`. A known `clientOrderId` (seen by this process, or reported as a
   * duplicate by the venue) returns the existing order instead of placing a second one.
   * @throws VenueError INVALID_ARGUMENT (field named) before the venue; mapped ccxt errors after.
   */
  async placeOrder(req: OrderRequest): Promise<Order> {
    let v: MarketView;
    try {
      v = this.view(req.symbol);
    } catch {
      throw new VenueError('INVALID_ARGUMENT', `symbol: unknown symbol "${req.symbol}"`, { field: 'symbol', reason: 'UNKNOWN_SYMBOL' });
    }
    const cid = req.clientOrderId || undefined;
    if (cid) {
      const known = this.byCid.get(cid);
      if (known) return this.getOrder(req.symbol, { orderId: known });
      if (this.opts.preCheckClientOrderId) {
        const existing = await this.lookupCid(v, cid);
        if (existing) return existing;
      }
    }
    const rules = symbolRulesOf(v, this.ex.precisionMode);
    validateOrderRequest(req, rules, req.type === 'MARKET' ? await this.getLatestPrice(req.symbol).catch(() => undefined) : undefined);
    const amount = req.quantity.div(v.contractSize).toString();
    const margin = this.opts.spotMargin?.mapping;
    // Spot margin: auto-borrow / auto-repay per side; a reduce-only order only repays (never borrows).
    const params: Record<string, unknown> = margin ? this.acct(req.reduceOnly ? margin.reduceOnly : margin.order[req.side]) : {};
    if (cid) params.clientOrderId = cid;
    const postOnly = req.postOnly === true || req.timeInForce === 'GTX';
    if (postOnly) params.postOnly = true;
    else if (req.timeInForce && req.timeInForce !== 'GTC') params.timeInForce = req.timeInForce;
    if (req.reduceOnly && !margin) params.reduceOnly = true;
    let raw: CcxtOrder;
    try {
      raw = await this.ex.createOrder(
        v.market.symbol,
        req.type === 'MARKET' ? 'market' : 'limit',
        req.side === 'BUY' ? 'buy' : 'sell',
        amount,
        req.type === 'LIMIT' ? req.price!.toString() : undefined,
        params,
      );
    } catch (e) {
      const err = parseCcxtError(e, this.name);
      if (cid && (err.code === 'ALREADY_EXISTS' || err.code === 'INVALID_ARGUMENT')) {
        // The venue's duplicate-id error (some venues report it as a generic bad request) → lookup.
        const existing = await this.lookupCid(v, cid);
        if (existing) return existing;
      }
      throw err;
    }
    let order = this.toOrder(raw, v)!;
    if (!order.clientOrderId && cid) order.clientOrderId = cid;
    // Some venues acknowledge with the id only (OKX, Bybit, Bitget): complete the order from REST.
    if (!raw.amount || !raw.status) {
      const full = await this.call(() => this.fetchById(v, order.orderId)).catch(() => undefined);
      const o = full ? this.toOrder(full, v) : undefined;
      if (o) order = { ...o, clientOrderId: o.clientOrderId || order.clientOrderId };
      else
        order = {
          ...order,
          side: req.side,
          type: req.type,
          quantity: req.quantity,
          price: req.price ?? ZERO,
          status: 'NEW',
          reduceOnly: !!req.reduceOnly,
          postOnly,
          timeInForce: postOnly ? 'GTX' : (req.timeInForce ?? 'GTC'),
          createdAtMs: order.createdAtMs || this.now(),
          updateTimeMs: order.updateTimeMs || this.now(),
        };
    }
    this.ingest(order);
    return order;
  }

  private async lookupCid(v: MarketView, cid: string): Promise<Order | undefined> {
    try {
      const raw = await this.fetchByClientId(v, cid);
      const o = raw ? this.toOrder(raw, v) : undefined;
      if (o) {
        if (!o.clientOrderId) o.clientOrderId = cid;
        this.ingest(o);
      }
      return o;
    } catch (e) {
      const err = parseCcxtError(e, this.name);
      if (err.code === 'NOT_FOUND' || err.code === 'INVALID_ARGUMENT') return undefined;
      throw err;
    }
  }

  /** @throws NOT_FOUND (unknown order), FAILED_PRECONDITION ORDER_NOT_OPEN (already terminal). */
  async cancelOrder(symbol: string, orderId: string): Promise<Order> {
    const v = this.view(symbol);
    const known = this.tracked.get(orderId)?.order;
    if (known && isTerminal(known.status)) throw new VenueError('FAILED_PRECONDITION', `order ${orderId} is ${known.status}`, { reason: 'ORDER_NOT_OPEN' });
    let raw: CcxtOrder | undefined;
    try {
      const venueId = await this.venueOrderId(v, orderId);
      raw = await this.ex.cancelOrder(venueId, v.market.symbol, this.acct());
    } catch (e) {
      const err = parseCcxtError(e, this.name);
      if (err.code === 'NOT_FOUND' || err.code === 'INVALID_ARGUMENT') {
        // Not open any more, or never existed: tell the two apart.
        const cur = await this.call(() => this.fetchById(v, orderId)).catch(() => undefined);
        const o = cur ? this.toOrder(cur, v) : undefined;
        if (o && isTerminal(o.status)) {
          this.ingest(o);
          throw new VenueError('FAILED_PRECONDITION', `order ${orderId} is ${o.status}`, { reason: 'ORDER_NOT_OPEN' });
        }
        if (!o) throw new VenueError('NOT_FOUND', `order ${orderId} not found on ${symbol}: ${err.message}`, { reason: 'ORDER_NOT_FOUND' });
      }
      throw err;
    }
    let order = raw ? this.toOrder(raw, v) : undefined;
    if (!order || order.status !== 'CANCELED' || order.quantity.isZero()) {
      const cur = await this.call(() => this.fetchById(v, orderId)).catch(() => undefined);
      const o = cur ? this.toOrder(cur, v) : undefined;
      order = o && isTerminal(o.status) ? o : { ...(o ?? known ?? order!), status: 'CANCELED', updateTimeMs: this.now() };
    }
    this.ingest(order);
    return order;
  }

  /**
   * Cancels an open order by the client order id given at placement: resolves it (this process's
   * map, else the venue's lookup by client id) and cancels it by id.
   * @throws NOT_FOUND (no such client order id), FAILED_PRECONDITION ORDER_NOT_OPEN (already terminal).
   */
  async cancelOrderByClientOrderId(symbol: string, clientOrderId: string): Promise<Order> {
    const v = this.view(symbol);
    let orderId = this.byCid.get(clientOrderId);
    if (!orderId) {
      const o = await this.lookupCid(v, clientOrderId);
      if (!o) throw new VenueError('NOT_FOUND', `order with clientOrderId ${clientOrderId} not found on ${symbol}`, { reason: 'ORDER_NOT_FOUND' });
      if (isTerminal(o.status)) throw new VenueError('FAILED_PRECONDITION', `order ${o.orderId} (clientOrderId ${clientOrderId}) is ${o.status}`, { reason: 'ORDER_NOT_OPEN' });
      orderId = o.orderId;
    }
    return this.cancelOrder(symbol, orderId);
  }

  /** Cancels each open order of the symbol (fetchOpenOrders + cancelOrder) and returns them. */
  async cancelAllOrders(symbol: string): Promise<Order[]> {
    const open = await this.getOpenOrders(symbol);
    const out: Order[] = [];
    for (const o of open) {
      try {
        out.push(await this.cancelOrder(symbol, o.orderId));
      } catch (e) {
        if (!(e instanceof VenueError && (e.code === 'NOT_FOUND' || e.code === 'FAILED_PRECONDITION'))) throw e;
      }
    }
    return out;
  }

  /** @throws NOT_FOUND when the venue does not know the order. */
  async getOrder(symbol: string, ref: OrderRef): Promise<Order> {
    const v = this.view(symbol);
    let raw: CcxtOrder | undefined;
    try {
      raw = ref.orderId !== undefined ? await this.fetchById(v, ref.orderId) : await this.fetchByClientId(v, ref.clientOrderId);
    } catch (e) {
      const err = parseCcxtError(e, this.name);
      if (err.code === 'INVALID_ARGUMENT' && !err.field) throw new VenueError('NOT_FOUND', err.message, { reason: 'ORDER_NOT_FOUND' });
      throw err;
    }
    const o = raw ? this.toOrder(raw, v) : undefined;
    if (!o || !o.orderId || o.orderId === 'undefined')
      throw notFound(`order ${ref.orderId ?? `with clientOrderId ${ref.clientOrderId}`} not found on ${symbol}`);
    if (!o.clientOrderId && ref.clientOrderId) o.clientOrderId = ref.clientOrderId;
    const t = this.tracked.get(o.orderId);
    if (t && o.trades.length === 0) o.trades = [...t.fills.values()];
    if (!o.clientOrderId && t) o.clientOrderId = t.order.clientOrderId;
    return o;
  }

  async getOpenOrders(symbol?: string): Promise<Order[]> {
    const syms = symbol ? [this.view(symbol)] : undefined;
    let raws: CcxtOrder[] = [];
    if (syms) raws = await this.call(() => this.ex.fetchOpenOrders(syms[0].market.symbol, undefined, undefined, this.acct()));
    else {
      try {
        raws = await this.ex.fetchOpenOrders(undefined, undefined, undefined, this.acct());
      } catch {
        for (const v of this.views.values()) raws.push(...(await this.call(() => this.ex.fetchOpenOrders(v.market.symbol, undefined, undefined, this.acct()))));
      }
    }
    const out = raws.map((r) => this.toOrder(r)).filter((o): o is Order => !!o && !isTerminal(o.status));
    for (const o of out) if (!o.clientOrderId) o.clientOrderId = this.tracked.get(o.orderId)?.order.clientOrderId ?? '';
    return out;
  }

  // ───────────────────────────── account & market data ─────────────────────────────

  private settleAsset(): string {
    const first = this.views.values().next().value as MarketView | undefined;
    return first?.market.settle ?? first?.market.quote ?? 'USDT';
  }

  /**
   * Balance in the settle asset plus positions (swap). Spot margin: wallet = the quote asset's net
   * (free + locked − borrowed − interest), available = its free balance, positions = each symbol's
   * base net of borrowed principal and interest ({@link marginPositions}).
   */
  async getAccount(): Promise<AccountSnapshot> {
    if (this.opts.spotMargin) {
      const bal = await this.call(() => this.ex.fetchBalance(this.acct()));
      const rows = this.opts.spotMargin.mapping.balances(bal.info, this.opts.spotMargin.mode);
      const quote = marginAsset(rows, this.settleAsset());
      const snap = accountOf(bal, quote.asset, this.marginPositions(rows), 1, this.realizedPnl);
      return { ...snap, totalWalletBalance: quote.net, totalMarginBalance: quote.net, availableBalance: quote.free };
    }
    const [bal, positions] = await Promise.all([this.call(() => this.ex.fetchBalance()), this.marketType === 'futures' ? this.getPositions() : Promise.resolve([])]);
    const lev = positions.find((p) => !p.size.isZero())?.leverage ?? positions[0]?.leverage ?? this.opts.defaultLeverage;
    return accountOf(bal, this.settleAsset(), positions, lev, this.realizedPnl);
  }

  /**
   * Spot margin: one position per exposed symbol, `size` = the base asset's net (free + locked −
   * borrowed − interest; negative = short spot on borrowed base), `borrowed` / `borrowInterest` the
   * base debt (base units). Not priced: entry, mark, unrealized PnL and liquidation price are 0
   * (margin level is account-wide on the venue). Leverage 1, margin type = the `SPOT_MARGIN` mode.
   */
  private marginPositions(rows: MarginAssetBalance[], views: MarketView[] = [...this.views.values()]): Position[] {
    return views.map((v) => {
      const b = marginAsset(rows, v.market.base);
      return {
        symbol: v.symbol,
        size: b.net,
        entryPrice: ZERO,
        markPrice: ZERO,
        unrealizedPnl: ZERO,
        leverage: 1,
        marginType: this.opts.spotMargin!.mode,
        liquidationPrice: ZERO,
        borrowed: b.borrowed,
        borrowInterest: b.interest,
      };
    });
  }

  /** Positions of the exposed symbols (flat ones included as size 0). Spot: none; spot margin: {@link marginPositions}. */
  async getPositions(symbol?: string): Promise<Position[]> {
    if (this.marketType === 'spot') {
      const views = symbol ? [this.view(symbol)] : [...this.views.values()];
      if (!this.opts.spotMargin) return [];
      const bal = await this.call(() => this.ex.fetchBalance(this.acct()));
      return this.marginPositions(this.opts.spotMargin.mapping.balances(bal.info, this.opts.spotMargin.mode), views);
    }
    const views = symbol ? [this.view(symbol)] : [...this.views.values()];
    const raws: CcxtPosition[] = await this.call(() => this.ex.fetchPositions(views.length <= 20 ? views.map((v) => v.market.symbol) : undefined));
    const bySym = new Map<string, Position>();
    for (const r of raws) {
      const v = this.viewOfCcxt(r.symbol);
      if (!v || !views.includes(v)) continue;
      const p = positionOf(r, v, this.opts.defaultLeverage);
      const prev = bySym.get(v.symbol);
      if (!prev || prev.size.isZero()) bySym.set(v.symbol, p);
    }
    if (views.length <= 20)
      for (const v of views)
        if (!bySym.has(v.symbol))
          bySym.set(v.symbol, { symbol: v.symbol, size: ZERO, entryPrice: ZERO, markPrice: ZERO, unrealizedPnl: ZERO, leverage: this.opts.defaultLeverage, marginType: 'cross', liquidationPrice: ZERO });
    return [...bySym.values()];
  }

  /** Total (wallet) balance of `asset`; 0 when the venue lists none. */
  async getBalance(asset: string): Promise<Dec> {
    const bal = await this.call(() => this.ex.fetchBalance(this.acct()));
    return num(bal.total?.[asset]);
  }

  async getLatestPrice(symbol: string): Promise<Dec> {
    const v = this.view(symbol);
    const t = await this.call(() => this.ex.fetchTicker(v.market.symbol));
    return num(t.last ?? t.close);
  }

  async getTickers(): Promise<Ticker[]> {
    const views = [...this.views.values()];
    const now = this.now();
    if (views.length === 1) return [tickerOf(await this.call(() => this.ex.fetchTicker(views[0].market.symbol)), views[0], now, this.volumes.ticker)];
    const all = await this.call(() => this.ex.fetchTickers(views.map((v) => v.market.symbol)));
    return views.filter((v) => all[v.market.symbol]).map((v) => tickerOf(all[v.market.symbol], v, now, this.volumes.ticker));
  }

  /** Open interest in base units (`fetchOpenInterest`; Gate, which lacks it, from the ticker's `total_size`). */
  async getOpenInterest(symbol: string): Promise<Dec> {
    const v = this.view(symbol);
    if (this.marketType === 'spot') return ZERO;
    if (!this.ex.has?.fetchOpenInterest) return (await this.getTickers()).find((t) => t.symbol === symbol)?.openInterest ?? ZERO;
    const oi = await this.call(() => this.ex.fetchOpenInterest(v.market.symbol));
    const amount = oi.openInterestAmount ?? oi.baseVolume;
    return amount !== undefined ? num(amount).mul(oi.openInterestAmount !== undefined ? v.contractSize : 1) : ZERO;
  }

  async getHistoricalKlines(symbol: string, interval: string, limit: number): Promise<Candle[]> {
    const v = this.view(symbol);
    const iv = intervalMs(interval);
    const rows: CcxtOhlcv[] = await this.call(() => this.ex.fetchOHLCV(v.market.symbol, interval, undefined, limit), 'interval');
    const now = this.now();
    return rows.slice(-limit).map((r) => candleOf(r, v, iv, now, this.volumes.ohlcv));
  }

  async getFundingRate(symbol: string): Promise<FundingRate> {
    const v = this.view(symbol);
    if (this.marketType === 'spot') return { symbol, rate: ZERO, predictedRate: ZERO, nextFundingTimeMs: 0, timestampMs: this.now() };
    return fundingOf(await this.call(() => this.ex.fetchFundingRate(v.market.symbol)), v, this.now());
  }

  async getFundingRates(): Promise<FundingRate[]> {
    const out: FundingRate[] = [];
    for (const s of this.views.keys()) out.push(await this.getFundingRate(s));
    return out;
  }

  async getHistoricalFundingRates(symbol: string, limit: number): Promise<FundingRate[]> {
    const v = this.view(symbol);
    if (this.marketType === 'spot') return [];
    const rows = await this.call(() => this.ex.fetchFundingRateHistory(v.market.symbol, undefined, limit));
    return fundingHistoryOf(rows, v).slice(-limit);
  }

  // ───────────────────────────── order tracking ─────────────────────────────

  /** Queues an order state for the order stream (dedup + fill resolution run serially). */
  private ingest(o: Order, source = 'rest'): void {
    this.chain = this.chain.then(() => this.apply(o)).catch((e: unknown) => this.log.warn(`order ${o.orderId} (${source}): ${(e as Error).message}`));
  }

  private async apply(o: Order): Promise<void> {
    if (o.clientOrderId) this.byCid.set(o.clientOrderId, o.orderId);
    const prev = this.tracked.get(o.orderId);
    if (prev) {
      if (!o.clientOrderId) o.clientOrderId = prev.order.clientOrderId;
      if (STATUS_RANK[o.status] < STATUS_RANK[prev.order.status] || o.executedQty.lt(prev.order.executedQty)) return;
      if (o.status === prev.order.status && o.executedQty.eq(prev.order.executedQty)) return;
      if (isTerminal(prev.order.status)) return;
    }
    const t: Tracked = prev ?? { order: o, fills: new Map() };
    const before = prev?.order.executedQty ?? ZERO;
    if (!prev) {
      this.tracked.set(o.orderId, t);
      if (o.status !== 'NEW') this.emitOrder({ order: { ...o, status: 'NEW', executedQty: ZERO, avgPrice: ZERO, trades: [] } });
    }
    if (o.executedQty.gt(before)) {
      const fills = await this.newFills(o, t, o.executedQty.minus(before));
      let cum = before;
      fills.forEach((f, i) => {
        cum = cum.plus(f.quantity);
        t.fills.set(f.tradeId, f);
        this.realizedPnl = this.realizedPnl.plus(f.realizedPnl);
        const last = i === fills.length - 1;
        const order = last ? { ...o, trades: [...t.fills.values()] } : { ...o, status: 'PARTIALLY_FILLED' as const, executedQty: cum, trades: [...t.fills.values()] };
        this.emitOrder({ order, lastTrade: f });
      });
      this.kickPolls();
    } else {
      this.emitOrder({ order: { ...o, trades: [...t.fills.values()] } });
    }
    t.order = { ...o, trades: [] };
    if (isTerminal(o.status)) this.forgetOldFinished(o.orderId);
  }

  /** Records `orderId` as finished and drops the oldest finished orders beyond the cap. */
  private forgetOldFinished(orderId: string): void {
    this.finished.delete(orderId);
    this.finished.add(orderId);
    for (const old of this.finished) {
      if (this.finished.size <= MAX_FINISHED_ORDERS_TRACKED) break;
      this.finished.delete(old);
      const cid = this.tracked.get(old)?.order.clientOrderId;
      this.tracked.delete(old);
      if (cid && this.byCid.get(cid) === old) this.byCid.delete(cid);
    }
  }

  /** The executions that raised `o` from its tracked filled quantity by `delta`: pushed trades, else `fetchMyTrades`, else one synthesized fill. */
  private async newFills(o: Order, t: Tracked, delta: Dec): Promise<Fill[]> {
    let fills = o.trades.filter((f) => f.tradeId && !t.fills.has(f.tradeId));
    const covered = (fs: Fill[]) => fs.reduce((a, f) => a.plus(f.quantity), ZERO).gte(delta);
    if (!covered(fills)) {
      const v = this.view(o.symbol);
      try {
        const raws: CcxtTrade[] = await this.ex.fetchMyTrades(v.market.symbol, Math.max(0, o.createdAtMs - 60_000), undefined, this.acct());
        const venueId = this.ids.toVenue(o.orderId) ?? o.orderId;
        const found = raws
          .filter((r) => String(r.order) === venueId)
          .map((r) => ({ ...fillOf(r, v, o.clientOrderId), orderId: o.orderId }))
          .filter((f) => !t.fills.has(f.tradeId));
        if (covered(found)) fills = found;
      } catch (e) {
        this.log.warn(`fetchMyTrades for order ${o.orderId}: ${parseCcxtError(e, this.name).message}`);
      }
    }
    if (!covered(fills)) {
      const prevQty = o.executedQty.minus(delta);
      const prevNotional = t.order.avgPrice.mul(prevQty);
      const price = o.avgPrice.gt(0) ? o.avgPrice.mul(o.executedQty).minus(prevNotional).div(delta) : o.price;
      fills = [
        {
          tradeId: `${o.orderId}:${o.executedQty.toString()}`,
          orderId: o.orderId,
          clientOrderId: o.clientOrderId,
          symbol: o.symbol,
          side: o.side,
          price,
          quantity: delta,
          fee: ZERO,
          feeAsset: '',
          timestampMs: o.updateTimeMs || this.now(),
          realizedPnl: ZERO,
          maker: o.type === 'LIMIT',
        },
      ];
    }
    return fills.sort((a, b) => a.timestampMs - b.timestampMs);
  }

  private emitOrder(e: OrderEvent): void {
    for (const ob of this.orderObservers) {
      try {
        ob.next(e);
      } catch (err) {
        this.log.warn(`order observer failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * REST backfill: every tracked order not yet terminal is re-read (open orders per symbol, then
   * `fetchOrder` for those no longer open), so fills and cancels that happened during a WebSocket
   * gap are emitted.
   */
  async reconcile(why: string): Promise<void> {
    const open = [...this.tracked.values()].map((t) => t.order).filter((o) => !isTerminal(o.status));
    if (open.length === 0) return;
    const symbols = new Set(open.map((o) => o.symbol));
    for (const s of symbols) {
      try {
        const now = await this.getOpenOrders(s);
        const still = new Set(now.map((o) => o.orderId));
        for (const o of now) if (this.tracked.has(o.orderId)) this.ingest(o, why);
        for (const o of open.filter((x) => x.symbol === s && !still.has(x.orderId))) {
          const cur = await this.getOrder(s, { orderId: o.orderId }).catch(() => undefined);
          if (cur) this.ingest(cur, why);
        }
      } catch (e) {
        this.log.warn(`order backfill (${why}) for ${s} failed: ${(e as Error).message}`);
      }
    }
    await this.chain;
  }

  // ───────────────────────────── streams ─────────────────────────────

  /**
   * Runs `watch` (a ccxt.pro watch* call) in a loop. Errors (connection lost, timeouts) are retried
   * with exponential backoff (0.5 s → 30 s, jitter); `onGap` runs after each recovery attempt.
   */
  private loop<T>(what: string, watch: () => Promise<T>, onValue: (v: T) => void, observer: LivenessObserver<unknown>, onGap?: () => void): Unsubscribe {
    let stopped = false;
    let attempt = 0;
    let announced = false;
    const run = async () => {
      while (!stopped && !this.closed) {
        try {
          const p = watch();
          if (attempt > 0 && onGap) onGap();
          const v = await p;
          if (stopped) return;
          if (!announced || attempt > 0) observer.subscribed?.(announced);
          announced = true;
          attempt = 0;
          observer.alive?.();
          onValue(v);
        } catch (e) {
          if (stopped || this.closed) return;
          const err = parseCcxtError(e, this.name);
          if (err.code === 'INVALID_ARGUMENT' || err.code === 'NOT_FOUND' || err.code === 'UNAUTHENTICATED' || err.code === 'PERMISSION_DENIED') {
            this.log.error(`${what} stream failed: ${err.message}`);
            observer.error?.(err);
            return;
          }
          const delay = backoffDelay(attempt++, { initialMs: 500, maxMs: 30_000 });
          this.log.warn(`${what} stream interrupted (${err.message}); retrying in ${delay} ms`);
          await sleep(delay);
        }
      }
    };
    void run();
    return () => {
      stopped = true;
    };
  }

  /** Polls `fetch` every `everyMs`, emitting only when `key(value)` changed; each success is liveness. */
  private poll<T>(what: string, everyMs: number, fetch: () => Promise<T[]>, key: (v: T) => string, observer: LivenessObserver<T>, id: (v: T) => string = () => ''): Unsubscribe {
    let stopped = false;
    const last = new Map<string, string>();
    let running = false;
    let first = true;
    const tick = async () => {
      if (running || stopped) return;
      running = true;
      try {
        const values = await fetch();
        if (stopped) return;
        if (first) observer.subscribed?.(false);
        first = false;
        observer.alive?.();
        for (const v of values) {
          const k = key(v);
          if (last.get(id(v)) !== k) {
            last.set(id(v), k);
            observer.next(v);
          }
        }
      } catch (e) {
        this.log.warn(`${what} poll failed: ${(e as Error).message}`);
      } finally {
        running = false;
      }
    };
    const t = setInterval(() => void tick(), everyMs);
    t.unref?.();
    const kick = () => void tick();
    this.pollKicks.add(kick);
    void tick();
    return () => {
      stopped = true;
      clearInterval(t);
      this.pollKicks.delete(kick);
    };
  }

  private kickPolls(): void {
    for (const k of this.pollKicks) k();
  }

  /** Last price from ccxt.pro `watchTicker`. @throws NOT_FOUND UNKNOWN_SYMBOL */
  watchPrice(symbol: string, observer: LivenessObserver<PriceTick>): Unsubscribe {
    const v = this.view(symbol);
    let lastTs = 0;
    return this.loop(
      `price ${symbol}`,
      () => this.ex.watchTicker(v.market.symbol),
      (t: { last?: string; close?: string; timestamp?: number }) => {
        const ts = t.timestamp ?? this.now();
        if (ts < lastTs) return;
        lastTs = ts;
        const p = t.last ?? t.close;
        if (p !== undefined && p !== null) observer.next({ symbol, price: num(p), timestampMs: ts });
      },
      observer,
    );
  }

  /** Every order event of the account (ccxt.pro `watchOrders` + REST results + gap backfill). */
  watchOrders(observer: LivenessObserver<OrderEvent>): Unsubscribe {
    this.orderObservers.add(observer);
    if (!this.orderStop) {
      const relay: LivenessObserver<unknown> = {
        next: () => undefined,
        subscribed: (reconnect) => {
          for (const o of this.orderObservers) o.subscribed?.(reconnect);
        },
        alive: () => {
          for (const o of this.orderObservers) o.alive?.();
        },
      };
      const first = this.views.values().next().value?.market.symbol;
      const m = this.opts.spotMargin;
      // Spot margin: the margin account's own user stream (isolated: the one symbol's, see SPOT_MARGIN).
      const params = m
        ? [m.mode === 'isolated' ? first : undefined, undefined, undefined, m.mapping.watchOrders[m.mode]]
        : this.name === 'gate' || this.name === 'bitget'
          ? [first]
          : [];
      this.orderStop = this.loop(
        'orders',
        () => this.ex.watchOrders(...params),
        (orders: CcxtOrder[]) => {
          for (const raw of orders.slice(-50)) {
            const o = this.toOrder(raw);
            if (o) this.ingest(o, 'ws');
          }
        },
        relay,
        () => void this.reconcile('reconnect'),
      );
    }
    return () => {
      this.orderObservers.delete(observer);
      if (this.orderObservers.size === 0) {
        this.orderStop?.();
        this.orderStop = undefined;
      }
    };
  }

  /** Candles from ccxt.pro `watchOHLCV`: the forming candle (closed=false) and each closed one. */
  watchKlines(symbol: string, interval: string, observer: LivenessObserver<Candle>): Unsubscribe {
    const v = this.view(symbol);
    const iv = intervalMs(interval);
    let lastOpen = 0;
    let lastKey = '';
    return this.loop(
      `klines ${symbol} ${interval}`,
      () => this.ex.watchOHLCV(v.market.symbol, interval),
      (rows: CcxtOhlcv[]) => {
        const now = this.now();
        const fresh = rows.filter((r) => r[0] >= lastOpen).sort((a, b) => a[0] - b[0]);
        fresh.forEach((r, i) => {
          const c = candleOf(r, v, iv, now, this.volumes.ohlcv);
          if (i < fresh.length - 1) c.closed = true;
          const key = `${c.openTimeMs}:${c.close}:${c.volume}:${c.closed}`;
          if (key === lastKey) return;
          lastKey = key;
          lastOpen = c.openTimeMs;
          observer.next(c);
        });
      },
      observer,
    );
  }

  /** Account snapshot, polled every `accountPollMs` and after each fill; emitted when changed. */
  watchAccount(observer: LivenessObserver<AccountSnapshot>): Unsubscribe {
    return this.poll(
      'account',
      this.opts.accountPollMs,
      async () => [await this.getAccount()],
      (a) => JSON.stringify([a.totalWalletBalance, a.totalMarginBalance, a.availableBalance, a.realizedPnl, a.positions.map((p) => [p.symbol, p.size, p.unrealizedPnl])]),
      observer,
    );
  }

  /** Positions ('' = all exposed symbols), polled every `accountPollMs` and after each fill; emitted per symbol when changed. */
  watchPositions(symbol: string, observer: LivenessObserver<Position>): Unsubscribe {
    if (symbol) this.view(symbol);
    return this.poll(
      'positions',
      this.opts.accountPollMs,
      () => this.getPositions(symbol || undefined),
      (p) => JSON.stringify([p.size, p.entryPrice, p.unrealizedPnl, p.markPrice, p.leverage, p.liquidationPrice]),
      observer,
      (p) => p.symbol,
    );
  }

  /** Funding rate, polled every `fundingPollMs`; emitted when rate, prediction or next time changes. */
  watchFundingRate(symbol: string, observer: LivenessObserver<FundingRate>): Unsubscribe {
    this.view(symbol);
    return this.poll(
      'funding',
      this.opts.fundingPollMs,
      async () => [await this.getFundingRate(symbol)],
      (f) => JSON.stringify([f.rate, f.predictedRate, f.nextFundingTimeMs]),
      observer,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const h of this.closeHooks.splice(0)) h();
    this.orderStop?.();
    try {
      await this.ex.close?.();
    } catch {
      /* closing */
    }
  }
}
