import { Logger } from '@nestjs/common';
import {
  type AccountSnapshot,
  type Candle,
  Dec,
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
  dec,
  failedPrecondition,
  invalidArgument,
  isTerminal,
  notFound,
} from '@mm/domain';
import { Account } from '@mm/sim-exchange';
import { backoffDelay, sleep } from '@mm/platform';
import { parseCcxtError } from '../ccxt/ccxt-errors';
import { type CcxtExchange, type CcxtVenueId } from '../ccxt/ccxt-venue';
import {
  type CcxtMarket,
  type CcxtOhlcv,
  type MarketView,
  buildMarketViews,
  candleOf,
  fundingHistoryOf,
  fundingOf,
  intervalMs,
  num,
  symbolRulesOf,
  tickerOf,
  validateOrderRequest,
} from '../ccxt/ccxt-mapping';

export interface PaperVenueOptions {
  /** The real venue whose public market data drives the paper account. */
  source: CcxtVenueId;
  /** A keyless ccxt.pro instance of `source` (swap markets). */
  exchange: CcxtExchange;
  /** Domain symbols to trade (e.g. BTCUSDT); at least one. */
  symbols: string[];
  /** Initial USDT wallet. */
  initialBalance: Dec;
  leverage: number;
  /** Funding-rate poll, ms. */
  fundingPollMs: number;
  log?: Pick<Logger, 'log' | 'warn' | 'error'>;
  now?: () => number;
}

/** Persisted paper account (JSON, decimals as strings). */
export interface PaperState {
  kind: 'paper';
  version: 1;
  source: string;
  wallet: string;
  realizedPnl: string;
  positions: { symbol: string; size: string; entry: string }[];
  orders: (Omit<Order, 'price' | 'quantity' | 'executedQty' | 'avgPrice' | 'trades'> & { price: string; quantity: string; executedQty: string; avgPrice: string; tradeIds: string[] })[];
  trades: (Omit<Fill, 'price' | 'quantity' | 'fee' | 'realizedPnl'> & { price: string; quantity: string; fee: string; realizedPnl: string })[];
  nextOrderId: number;
  nextTradeId: number;
  /** Last settled funding time per symbol (Unix ms). */
  fundingSettled: Record<string, number>;
}

interface Sym {
  view: MarketView;
  rules: SymbolRules;
  maker: Dec;
  taker: Dec;
  last?: Dec;
  bid?: Dec;
  ask?: Dec;
  funding?: FundingRate;
}

/** Trades kept in memory and in the state file. */
const MAX_TRADES = 5000;
/** Terminal orders kept (oldest dropped first). */
const MAX_TERMINAL_ORDERS = 5000;

/**
 * Paper trading on live prices (`EXCHANGE=paper PAPER_SOURCE=<venue>`): the real venue's public
 * market data through ccxt (no keys) drives a simulated account — the sim's `Account` (USDT cross
 * margin, one-way positions, realized/unrealized PnL, funding).
 *
 * Matching rules:
 * - a resting LIMIT fills only when a public trade prints strictly through its price (buy: trade
 *   price < limit; sell: > limit), at the limit price as maker, for at most the traded quantity
 *   (shared by our resting orders in price-time priority, rounded down to the step size) — a trade
 *   at exactly our price does not fill it (we would be behind the venue's queue);
 * - at placement a LIMIT that crosses the live book (buy ≥ best ask, sell ≤ best bid; the last
 *   trade price when the book is unknown) is rejected when post-only, else fills in full as taker
 *   at the better of its limit and the touch; a MARKET order fills in full at the touch as taker
 *   (no depth walk); an IOC/FOK LIMIT that does not cross expires;
 * - fees: the venue's maker/taker rates from ccxt's market (fee schedule of the base tier);
 * - funding: the venue's current rate (`fetchFundingRate`, every `fundingPollMs`) is settled on the
 *   position when its funding time passes: wallet += −size × mark × rate.
 *
 * Market data: ccxt.pro `watchTrades` (fills and last price), `watchBidsAsks` or `watchTicker`
 * (best bid/ask), each retried with backoff; REST `fetchTicker` seeds prices at start.
 * State: `snapshotState()` / `restoreState()` (SIM_STATE_FILE persistence in the connector).
 */
export class PaperVenue implements ExchangeVenue {
  readonly name: string;
  readonly marketType = 'futures' as const;
  private readonly ex: CcxtExchange;
  private readonly log: Pick<Logger, 'log' | 'warn' | 'error'>;
  private readonly now: () => number;
  private readonly account: Account;
  private readonly syms = new Map<string, Sym>();
  private orders = new Map<string, Order>();
  private byCid = new Map<string, Order>();
  private trades: Fill[] = [];
  private nextOrderId = 1;
  private nextTradeId = 1;
  private fundingSettled: Record<string, number> = {};
  private closed = false;
  private readonly stops: (() => void)[] = [];
  private readonly orderSubs = new Set<StreamObserver<OrderEvent>>();
  private readonly priceSubs = new Map<string, Set<StreamObserver<PriceTick>>>();
  private readonly accountSubs = new Set<StreamObserver<AccountSnapshot>>();
  private readonly positionSubs = new Map<string, Set<StreamObserver<Position>>>();
  private readonly fundingSubs = new Map<string, Set<StreamObserver<FundingRate>>>();
  private readonly stateSubs = new Set<() => void>();

  constructor(private readonly opts: PaperVenueOptions) {
    this.name = `paper-${opts.source}`;
    this.ex = opts.exchange;
    this.log = opts.log ?? new Logger(`paper:${opts.source}`);
    this.now = opts.now ?? Date.now;
    this.account = new Account(opts.initialBalance, opts.leverage);
  }

  /** Loads the venue's markets (public), seeds prices and funding over REST and starts the public streams. @throws Error naming the venue */
  async start(): Promise<void> {
    try {
      await this.ex.loadMarkets();
    } catch (e) {
      throw new Error(`loading ${this.opts.source} markets: ${parseCcxtError(e, this.opts.source).message}`);
    }
    const views = buildMarketViews(this.ex.markets as Record<string, CcxtMarket>, 'swap');
    for (const s of this.opts.symbols) {
      const v = views.get(s);
      if (!v) throw new VenueError('INVALID_ARGUMENT', `symbols: ${s} is not a swap market on ${this.opts.source}`, { field: 'symbols' });
      this.syms.set(s, {
        view: v,
        rules: symbolRulesOf(v, this.ex.precisionMode),
        maker: num((v.market as { maker?: number }).maker, dec('0.0002')),
        taker: num((v.market as { taker?: number }).taker, dec('0.0005')),
      });
    }
    for (const [symbol, s] of this.syms) {
      try {
        const t = await this.ex.fetchTicker(s.view.market.symbol);
        s.last = num(t.last ?? t.close);
        if (t.bid) s.bid = num(t.bid);
        if (t.ask) s.ask = num(t.ask);
      } catch (e) {
        this.log.warn(`${symbol}: initial ticker failed: ${parseCcxtError(e, this.opts.source).message}`);
      }
      this.stops.push(this.loop(`trades ${symbol}`, () => this.ex.watchTrades(s.view.market.symbol), (rows: CcxtTradeRow[]) => this.onTrades(symbol, rows)));
      if (this.ex.has?.watchBidsAsks)
        this.stops.push(this.loop(`book ${symbol}`, () => this.ex.watchBidsAsks([s.view.market.symbol]), (r: Record<string, CcxtTicker>) => this.onBook(symbol, r[s.view.market.symbol])));
      else this.stops.push(this.loop(`ticker ${symbol}`, () => this.ex.watchTicker(s.view.market.symbol), (t: CcxtTicker) => this.onBook(symbol, t)));
      this.stops.push(this.pollFunding(symbol));
    }
    this.log.log(`paper trading on ${this.opts.source} public data: ${[...this.syms.keys()].join(', ')} (fees maker/taker from the venue's schedule)`);
  }

  // ───────────────────────────── market data → matching ─────────────────────────────

  private onBook(symbol: string, t: CcxtTicker | undefined): void {
    if (!t) return;
    const s = this.syms.get(symbol)!;
    if (t.bid !== undefined && t.bid !== null) s.bid = num(t.bid);
    if (t.ask !== undefined && t.ask !== null) s.ask = num(t.ask);
    if (!s.last && (t.last ?? t.close)) s.last = num(t.last ?? t.close);
    // A live book proves the price feed is alive even when no trade prints (quiet market).
    for (const ob of this.priceSubs.get(symbol) ?? []) (ob as { alive?: () => void }).alive?.();
  }

  /** Applies public trades: last price, then our resting orders that the trade printed through. */
  private onTrades(symbol: string, rows: CcxtTradeRow[]): void {
    const s = this.syms.get(symbol)!;
    for (const r of rows) {
      if (r.price === undefined || r.amount === undefined) continue;
      const price = num(r.price);
      const qty = num(r.amount).mul(s.view.contractSize);
      const ts = r.timestamp ?? this.now();
      s.last = price;
      for (const ob of this.priceSubs.get(symbol) ?? []) this.safe(() => ob.next({ symbol, price, timestampMs: ts }));
      this.matchTrade(s, price, qty);
    }
    this.settleFundingIfDue(symbol);
  }

  private matchTrade(s: Sym, price: Dec, qty: Dec): void {
    const resting = [...this.orders.values()].filter((o) => o.symbol === s.view.symbol && o.type === 'LIMIT' && !isTerminal(o.status));
    const buys = resting.filter((o) => o.side === 'BUY' && o.price.gt(price)).sort((a, b) => b.price.cmp(a.price) || a.createdAtMs - b.createdAtMs);
    const sells = resting.filter((o) => o.side === 'SELL' && o.price.lt(price)).sort((a, b) => a.price.cmp(b.price) || a.createdAtMs - b.createdAtMs);
    for (const side of [buys, sells]) {
      let left = qty;
      for (const o of side) {
        if (left.lte(0)) break;
        const want = o.quantity.minus(o.executedQty);
        const q = (want.lt(left) ? want : left).div(s.rules.stepSize).floor().mul(s.rules.stepSize);
        if (q.lte(0)) break;
        this.execute(s, o, o.price, q, true);
        left = left.minus(q);
      }
    }
  }

  private execute(s: Sym, o: Order, price: Dec, qty: Dec, maker: boolean): void {
    let clipped = false;
    if (o.reduceOnly) {
      const pos = this.account.position(o.symbol).size;
      if (pos.isZero() || pos.isPositive() === (o.side === 'BUY')) return this.finish(o, 'EXPIRED');
      if (qty.gt(pos.abs())) {
        qty = pos.abs();
        clipped = true;
      }
    }
    const fee = price.mul(qty).mul(maker ? s.maker : s.taker);
    const realizedPnl = this.account.applyFill(o.symbol, o.side, qty, price, fee);
    const now = this.now();
    const fill: Fill = { tradeId: String(this.nextTradeId++), orderId: o.orderId, clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, price, quantity: qty, fee, feeAsset: 'USDT', timestampMs: now, realizedPnl, maker };
    const before = o.executedQty;
    o.executedQty = before.plus(qty);
    o.avgPrice = before.isZero() ? price : o.avgPrice.mul(before).plus(price.mul(qty)).div(o.executedQty);
    o.status = o.executedQty.gte(o.quantity) ? 'FILLED' : 'PARTIALLY_FILLED';
    o.updateTimeMs = now;
    o.trades.push(fill);
    this.trades.push(fill);
    if (this.trades.length > MAX_TRADES) this.trades.splice(0, this.trades.length - MAX_TRADES);
    this.emitOrder(o, fill);
    this.emitPosition(o.symbol);
    this.emitAccount();
    if (clipped) this.finish(o, 'EXPIRED');
    this.changed();
  }

  private finish(o: Order, status: Order['status']): void {
    o.status = status;
    o.updateTimeMs = this.now();
    this.emitOrder(o);
    this.emitAccount();
    this.changed();
  }

  private pollFunding(symbol: string): () => void {
    const s = this.syms.get(symbol)!;
    const tick = async () => {
      try {
        const f = fundingOf(await this.ex.fetchFundingRate(s.view.market.symbol), s.view, this.now());
        this.settleFundingIfDue(symbol);
        const changed = !s.funding || !s.funding.rate.eq(f.rate) || s.funding.nextFundingTimeMs !== f.nextFundingTimeMs;
        s.funding = f;
        if (changed) for (const ob of this.fundingSubs.get(symbol) ?? []) this.safe(() => ob.next(f));
      } catch (e) {
        this.log.warn(`funding ${symbol} poll failed: ${parseCcxtError(e, this.opts.source).message}`);
      }
    };
    void tick();
    const t = setInterval(() => void tick(), this.opts.fundingPollMs);
    t.unref?.();
    return () => clearInterval(t);
  }

  /** Settles the last known rate once its funding time has passed (once per funding time). */
  private settleFundingIfDue(symbol: string): void {
    const s = this.syms.get(symbol)!;
    const f = s.funding;
    if (!f || !f.nextFundingTimeMs || this.now() < f.nextFundingTimeMs || (this.fundingSettled[symbol] ?? 0) >= f.nextFundingTimeMs) return;
    this.fundingSettled[symbol] = f.nextFundingTimeMs;
    const mark = s.last ?? ZERO;
    if (this.account.position(symbol).size.isZero() || mark.isZero()) return this.changed();
    const paid = this.account.applyFunding(symbol, mark, f.rate);
    this.log.log(`funding ${symbol}: rate ${f.rate} at ${new Date(f.nextFundingTimeMs).toISOString()}, wallet ${paid.gte(0) ? '+' : ''}${paid} USDT`);
    this.emitPosition(symbol);
    this.emitAccount();
    this.changed();
  }

  // ───────────────────────────── orders ─────────────────────────────

  private sym(symbol: string): Sym {
    const s = this.syms.get(symbol);
    if (!s) throw notFound(`unknown symbol "${symbol}"`, 'UNKNOWN_SYMBOL');
    return s;
  }

  async placeOrder(req: OrderRequest): Promise<Order> {
    const s = this.syms.get(req.symbol);
    if (!s) throw invalidArgument('symbol', `unknown symbol "${req.symbol}"`, 'UNKNOWN_SYMBOL');
    if (req.clientOrderId) {
      const known = this.byCid.get(req.clientOrderId);
      if (known) return snap(known);
    }
    const last = s.last;
    if (!last || last.isZero()) throw new VenueError('UNAVAILABLE', `no market data for ${req.symbol} from ${this.opts.source} yet`);
    validateOrderRequest(req, s.rules, last);
    const postOnly = req.postOnly === true || req.timeInForce === 'GTX';
    const tif = req.timeInForce ?? (postOnly ? 'GTX' : 'GTC');
    const buy = req.side === 'BUY';
    const touch = buy ? (s.ask ?? last) : (s.bid ?? last);
    const crosses = req.type === 'MARKET' || (buy ? req.price!.gte(touch) : req.price!.lte(touch));
    if (crosses && postOnly) throw invalidArgument('post_only', `order would immediately match and take (best ${buy ? 'ask' : 'bid'} ${touch} on ${this.opts.source})`, 'POST_ONLY_WOULD_TAKE');
    const pos = this.account.position(req.symbol).size;
    if (req.reduceOnly && (pos.isZero() || pos.isPositive() === buy || req.quantity.gt(pos.abs())))
      throw invalidArgument('reduce_only', `${req.side} ${req.quantity} would not reduce the position ${pos}`, 'REDUCE_ONLY_REJECTED');
    const fillPrice = req.type === 'MARKET' ? touch : buy ? Dec.min(req.price!, touch) : Dec.max(req.price!, touch);
    if (!req.reduceOnly) {
      const need = crosses ? pos.plus(buy ? req.quantity : req.quantity.neg()).abs().minus(pos.abs()).mul(fillPrice).div(this.account.leverage) : req.price!.mul(req.quantity).div(this.account.leverage);
      const avail = this.snapshot().availableBalance;
      if (need.gt(0) && need.gt(avail)) throw failedPrecondition(`insufficient margin: order needs ${need} USDT initial margin, available ${avail} USDT`, 'INSUFFICIENT_MARGIN');
    }
    const now = this.now();
    const o: Order = {
      orderId: String(this.nextOrderId++),
      clientOrderId: req.clientOrderId || `paper-${this.nextOrderId - 1}`,
      symbol: req.symbol,
      side: req.side,
      type: req.type,
      timeInForce: tif,
      price: req.type === 'LIMIT' ? req.price! : ZERO,
      quantity: req.quantity,
      executedQty: ZERO,
      avgPrice: ZERO,
      status: 'NEW',
      reduceOnly: !!req.reduceOnly,
      postOnly,
      createdAtMs: now,
      updateTimeMs: now,
      trades: [],
    };
    this.orders.set(o.orderId, o);
    this.byCid.set(o.clientOrderId, o);
    this.emitOrder(o);
    if (crosses) this.execute(s, o, fillPrice, o.quantity, false);
    else if (tif === 'IOC' || tif === 'FOK') this.finish(o, 'EXPIRED');
    else {
      this.emitAccount();
      this.changed();
    }
    this.prune();
    return snap(o);
  }

  async cancelOrder(symbol: string, orderId: string): Promise<Order> {
    this.sym(symbol);
    const o = this.orders.get(orderId);
    if (!o || o.symbol !== symbol) throw notFound(`order ${orderId} not found on ${symbol}`);
    return this.cancel(o);
  }

  async cancelOrderByClientOrderId(symbol: string, clientOrderId: string): Promise<Order> {
    this.sym(symbol);
    const o = this.byCid.get(clientOrderId);
    if (!o || o.symbol !== symbol) throw notFound(`order with clientOrderId ${clientOrderId} not found on ${symbol}`);
    return this.cancel(o);
  }

  private cancel(o: Order): Order {
    if (isTerminal(o.status)) throw failedPrecondition(`order ${o.orderId} is ${o.status}`, 'ORDER_NOT_OPEN');
    this.finish(o, 'CANCELED');
    return snap(o);
  }

  async cancelAllOrders(symbol: string): Promise<Order[]> {
    this.sym(symbol);
    return [...this.orders.values()].filter((o) => o.symbol === symbol && !isTerminal(o.status)).map((o) => this.cancel(o));
  }

  async getOrder(symbol: string, ref: OrderRef): Promise<Order> {
    this.sym(symbol);
    const o = ref.orderId !== undefined ? this.orders.get(ref.orderId) : this.byCid.get(ref.clientOrderId);
    if (!o || o.symbol !== symbol) throw notFound(`order ${ref.orderId ?? `with clientOrderId ${ref.clientOrderId}`} not found on ${symbol}`);
    return snap(o);
  }

  async getOpenOrders(symbol?: string): Promise<Order[]> {
    if (symbol) this.sym(symbol);
    return [...this.orders.values()].filter((o) => !isTerminal(o.status) && (!symbol || o.symbol === symbol)).map(snap);
  }

  /** Drops the oldest terminal orders beyond MAX_TERMINAL_ORDERS. */
  private prune(): void {
    const terminal = [...this.orders.values()].filter((o) => isTerminal(o.status));
    for (const o of terminal.slice(0, Math.max(0, terminal.length - MAX_TERMINAL_ORDERS))) {
      this.orders.delete(o.orderId);
      if (this.byCid.get(o.clientOrderId) === o) this.byCid.delete(o.clientOrderId);
    }
  }

  // ───────────────────────────── account & market data ─────────────────────────────

  private mark(symbol: string): Dec {
    return this.syms.get(symbol)?.last ?? ZERO;
  }

  private snapshot(): AccountSnapshot {
    const open = new Map<string, Dec>();
    for (const o of this.orders.values())
      if (!isTerminal(o.status) && !o.reduceOnly && o.type === 'LIMIT') open.set(o.symbol, (open.get(o.symbol) ?? ZERO).plus(o.price.mul(o.quantity.minus(o.executedQty))));
    return this.account.snapshot([...this.syms.keys()], (s) => this.mark(s), (s) => open.get(s) ?? ZERO);
  }

  /** One position as the venue reports it, with cross-margin figures at the current marks. */
  private position(symbol: string): Position {
    return this.account.toPosition(symbol, this.account.marginState([...this.syms.keys()], (s) => this.mark(s)));
  }

  async getAccount(): Promise<AccountSnapshot> {
    return this.snapshot();
  }

  async getPositions(symbol?: string): Promise<Position[]> {
    if (symbol) this.sym(symbol);
    return (symbol ? [symbol] : [...this.syms.keys()]).map((s) => this.position(s));
  }

  async getBalance(asset: string): Promise<Dec> {
    return asset === 'USDT' ? this.account.wallet : ZERO;
  }

  async getSymbols(): Promise<string[]> {
    return [...this.syms.keys()];
  }

  async getSymbolRules(symbol: string): Promise<SymbolRules> {
    return this.sym(symbol).rules;
  }

  async getLatestPrice(symbol: string): Promise<Dec> {
    const s = this.sym(symbol);
    if (s.last) return s.last;
    const t = await this.call(() => this.ex.fetchTicker(s.view.market.symbol));
    return num(t.last ?? t.close);
  }

  async getTickers(): Promise<Ticker[]> {
    const out: Ticker[] = [];
    for (const s of this.syms.values()) out.push(tickerOf(await this.call(() => this.ex.fetchTicker(s.view.market.symbol)), s.view, this.now(), false));
    return out;
  }

  async getOpenInterest(symbol: string): Promise<Dec> {
    const s = this.sym(symbol);
    if (!this.ex.has?.fetchOpenInterest) return ZERO;
    const oi = await this.call(() => this.ex.fetchOpenInterest(s.view.market.symbol));
    return oi.openInterestAmount !== undefined ? num(oi.openInterestAmount).mul(s.view.contractSize) : num(oi.baseVolume);
  }

  async getHistoricalKlines(symbol: string, interval: string, limit: number): Promise<Candle[]> {
    const s = this.sym(symbol);
    const iv = intervalMs(interval);
    const rows: CcxtOhlcv[] = await this.call(() => this.ex.fetchOHLCV(s.view.market.symbol, interval, undefined, limit));
    return rows.slice(-limit).map((r) => candleOf(r, s.view, iv, this.now(), this.opts.source === 'gate'));
  }

  async getFundingRate(symbol: string): Promise<FundingRate> {
    const s = this.sym(symbol);
    return s.funding ?? fundingOf(await this.call(() => this.ex.fetchFundingRate(s.view.market.symbol)), s.view, this.now());
  }

  async getFundingRates(): Promise<FundingRate[]> {
    const out: FundingRate[] = [];
    for (const s of this.syms.keys()) out.push(await this.getFundingRate(s));
    return out;
  }

  async getHistoricalFundingRates(symbol: string, limit: number): Promise<FundingRate[]> {
    const s = this.sym(symbol);
    return fundingHistoryOf(await this.call(() => this.ex.fetchFundingRateHistory(s.view.market.symbol, undefined, limit)), s.view).slice(-limit);
  }

  // ───────────────────────────── streams ─────────────────────────────

  watchPrice(symbol: string, observer: StreamObserver<PriceTick>): Unsubscribe {
    this.sym(symbol);
    return this.sub(this.priceSubs, symbol, observer);
  }

  watchOrders(observer: StreamObserver<OrderEvent>): Unsubscribe {
    this.orderSubs.add(observer);
    observer.subscribed?.(false);
    return () => this.orderSubs.delete(observer);
  }

  watchKlines(symbol: string, interval: string, observer: StreamObserver<Candle>): Unsubscribe {
    const s = this.sym(symbol);
    const iv = intervalMs(interval);
    let lastKey = '';
    return this.loop(
      `klines ${symbol} ${interval}`,
      () => this.ex.watchOHLCV(s.view.market.symbol, interval),
      (rows: CcxtOhlcv[]) => {
        for (const r of rows) {
          const c = candleOf(r, s.view, iv, this.now(), this.opts.source === 'gate');
          const key = `${c.openTimeMs}:${c.close}:${c.volume}`;
          if (key !== lastKey) observer.next(c);
          lastKey = key;
        }
      },
      observer,
    );
  }

  watchAccount(observer: StreamObserver<AccountSnapshot>): Unsubscribe {
    this.accountSubs.add(observer);
    observer.subscribed?.(false);
    observer.next(this.snapshot());
    return () => this.accountSubs.delete(observer);
  }

  watchPositions(symbol: string, observer: StreamObserver<Position>): Unsubscribe {
    if (symbol) this.sym(symbol);
    const stop = this.sub(this.positionSubs, symbol, observer);
    for (const s of symbol ? [symbol] : [...this.syms.keys()]) observer.next(this.position(s));
    return stop;
  }

  watchFundingRate(symbol: string, observer: StreamObserver<FundingRate>): Unsubscribe {
    const s = this.sym(symbol);
    const stop = this.sub(this.fundingSubs, symbol, observer);
    if (s.funding) observer.next(s.funding);
    return stop;
  }

  private sub<T>(map: Map<string, Set<StreamObserver<T>>>, key: string, observer: StreamObserver<T>): Unsubscribe {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(observer);
    observer.subscribed?.(false);
    return () => set.delete(observer);
  }

  private emitOrder(o: Order, lastTrade?: Fill): void {
    const e: OrderEvent = { order: snap(o), lastTrade };
    for (const ob of this.orderSubs) this.safe(() => ob.next(e));
  }

  private emitPosition(symbol: string): void {
    const p = this.position(symbol);
    for (const key of [symbol, '']) for (const ob of this.positionSubs.get(key) ?? []) this.safe(() => ob.next(p));
  }

  private emitAccount(): void {
    if (this.accountSubs.size === 0) return;
    const a = this.snapshot();
    for (const ob of this.accountSubs) this.safe(() => ob.next(a));
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.warn(`observer failed: ${(e as Error).message}`);
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async call(fn: () => Promise<any>): Promise<any> {
    try {
      return await fn();
    } catch (e) {
      throw parseCcxtError(e, this.opts.source);
    }
  }

  /** Runs a ccxt.pro watch call in a loop, retrying with backoff (0.5 s → 30 s). */
  private loop<T>(what: string, watch: () => Promise<T>, onValue: (v: T) => void, observer?: StreamObserver<unknown>): Unsubscribe {
    let stopped = false;
    let attempt = 0;
    let announced = false;
    void (async () => {
      while (!stopped && !this.closed) {
        try {
          const v = await watch();
          if (stopped || this.closed) return;
          if (!announced || attempt > 0) observer?.subscribed?.(announced);
          announced = true;
          attempt = 0;
          onValue(v);
        } catch (e) {
          if (stopped || this.closed) return;
          const delay = backoffDelay(attempt++, { initialMs: 500, maxMs: 30_000 });
          this.log.warn(`${what} stream from ${this.opts.source} interrupted (${parseCcxtError(e, this.opts.source).message}); retrying in ${delay} ms`);
          await sleep(delay);
        }
      }
    })();
    return () => {
      stopped = true;
    };
  }

  // ───────────────────────────── persistence ─────────────────────────────

  onStateChange(cb: () => void): Unsubscribe {
    this.stateSubs.add(cb);
    return () => this.stateSubs.delete(cb);
  }

  private changed(): void {
    for (const cb of this.stateSubs) this.safe(cb);
  }

  snapshotState(): PaperState {
    const positions = [...this.syms.keys()].map((symbol) => {
      const p = this.account.position(symbol);
      return { symbol, size: p.size.toString(), entry: p.entry.toString() };
    });
    return {
      kind: 'paper',
      version: 1,
      source: this.opts.source,
      wallet: this.account.wallet.toString(),
      realizedPnl: this.account.realizedPnl.toString(),
      positions,
      orders: [...this.orders.values()].map(({ trades, price, quantity, executedQty, avgPrice, ...rest }) => ({
        ...rest,
        price: price.toString(),
        quantity: quantity.toString(),
        executedQty: executedQty.toString(),
        avgPrice: avgPrice.toString(),
        tradeIds: trades.map((t) => t.tradeId),
      })),
      trades: this.trades.map(({ price, quantity, fee, realizedPnl, ...rest }) => ({ ...rest, price: price.toString(), quantity: quantity.toString(), fee: fee.toString(), realizedPnl: realizedPnl.toString() })),
      nextOrderId: this.nextOrderId,
      nextTradeId: this.nextTradeId,
      fundingSettled: { ...this.fundingSettled },
    };
  }

  /** Restores a `snapshotState()` (before start). @throws Error when the state is not a paper state of this source. */
  restoreState(raw: unknown): void {
    const st = raw as PaperState;
    if (!st || st.kind !== 'paper' || st.version !== 1) throw new Error('state file is not a paper-venue state (kind "paper", version 1)');
    if (st.source !== this.opts.source) throw new Error(`state file is for paper source ${st.source}, not ${this.opts.source}`);
    this.account.wallet = dec(st.wallet);
    this.account.realizedPnl = dec(st.realizedPnl);
    for (const p of st.positions) Object.assign(this.account.position(p.symbol), { size: dec(p.size), entry: dec(p.entry) });
    this.trades = st.trades.map((t) => ({ ...t, price: dec(t.price), quantity: dec(t.quantity), fee: dec(t.fee), realizedPnl: dec(t.realizedPnl) }));
    const byTrade = new Map(this.trades.map((t) => [t.tradeId, t]));
    this.orders = new Map();
    this.byCid = new Map();
    for (const { tradeIds, ...o } of st.orders) {
      const order: Order = { ...o, price: dec(o.price), quantity: dec(o.quantity), executedQty: dec(o.executedQty), avgPrice: dec(o.avgPrice), trades: tradeIds.map((id) => byTrade.get(id)).filter((t): t is Fill => !!t) };
      this.orders.set(order.orderId, order);
      this.byCid.set(order.clientOrderId, order);
    }
    this.nextOrderId = st.nextOrderId;
    this.nextTradeId = st.nextTradeId;
    this.fundingSettled = { ...st.fundingSettled };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.stops.splice(0)) s();
    try {
      await this.ex.close?.();
    } catch {
      /* closing */
    }
  }
}

interface CcxtTradeRow {
  price?: string | number;
  amount?: string | number;
  timestamp?: number;
  side?: string;
}

interface CcxtTicker {
  bid?: string | number | null;
  ask?: string | number | null;
  last?: string | number | null;
  close?: string | number | null;
}

function snap(o: Order): Order {
  return { ...o, trades: o.trades.slice() };
}
