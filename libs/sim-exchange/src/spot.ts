import {
  Dec,
  ZERO,
  failedPrecondition,
  invalidArgument,
  isMultipleOf,
  isTerminal,
  notFound,
  VenueError,
  type AccountSnapshot,
  type Candle,
  type Clock,
  type ExchangeVenue,
  type Fill,
  type FundingRate,
  type Order,
  type OrderEvent,
  type OrderRef,
  type OrderRequest,
  type OrderStatus,
  type Position,
  type PriceTick,
  type StreamObserver,
  type SymbolRules,
  type Ticker,
  type Unsubscribe,
} from '@mm/domain';
import { loadKlineCsv } from './csv';
import { candlePath } from './market-data';

/**
 * Simulated spot market with cross-margin borrowing (issue 10 "Venues", REQ-ARB-007), one venue
 * per market beside the perpetual {@link SimExchange}: the funding-arb strategy holds one
 * `SimSpotExchange` for its spot leg and one `SimExchange` for its perp leg, both advanced on the
 * same market time (in-process; a connector process per market would wrap it the same way).
 *
 * Model (all money in decimal, asset amounts rounded to {@link SPOT_ASSET_DP} places):
 * - Balances per asset: `free`, `locked` (by open orders), `borrowed` (margin principal) and
 *   `interest` (accrued, unpaid). Net = free + locked − borrowed − interest.
 * - Price path: each 1-minute candle is walked as {@link candlePath} (open → extremes → close,
 *   sampled every `tickIntervalMs`). A resting LIMIT fills in full at its own price (maker fee)
 *   as soon as a path point reaches it (touch model). MARKET orders and non-post-only LIMITs that
 *   cross the last price fill at once at the last price (taker fee). A post-only (GTX or
 *   `postOnly`) LIMIT that would cross is rejected (`POST_ONLY_WOULD_TAKE`).
 * - Fees are charged in the quote asset: fee = price × qty × rate, rounded half-up to
 *   {@link SPOT_ASSET_DP} places (a documented simplification of Binance, which deducts the
 *   bought asset).
 * - Margin: with `autoBorrow` a SELL larger than the free base borrows the shortfall (Binance
 *   `sideEffectType=MARGIN_BUY`), and base received by a BUY repays debt first, interest before
 *   principal (`AUTO_REPAY`). {@link borrow}/{@link repay} do the same explicitly. Borrowing is
 *   refused (`INSUFFICIENT_MARGIN`) when the liabilities' value would exceed net equity ×
 *   (`maxLeverage` − 1) (Binance cross margin 3× → 2 × equity).
 * - Interest (REQ-ARB-007): at every UTC hour boundary `H` (market time, `H mod 3 600 000 = 0`)
 *   reached while an asset's principal `P` is outstanding, `interest += roundUp(P × r, 8)` with
 *   `r` the asset's hourly rate; charged before any fill at the same instant. No interest for the
 *   fraction of an hour before the first boundary (simplified from Binance, which also charges
 *   the first hour at the borrow instant).
 * - Funding: a spot market has none. `getFundingRate` answers rate 0, next funding time 0, the
 *   receipt time (market ms) and no predicted rate (REQ-FUND-003/004).
 */

/** Decimal places of every asset amount (balances, fees, interest). */
export const SPOT_ASSET_DP = 8;
const HOUR_MS = 3_600_000;

/** One spot instrument. Exactly one of `candles` / `derivedFrom` is given. */
export interface SimSpotSymbolConfig {
  rules: SymbolRules;
  /** The spot price path: candles or a Binance spot klines CSV (`open_time_ms,open,high,low,close,volume_base`). */
  candles?: readonly Candle[] | { csvPath: string };
  /** No spot data: derive the path from the perpetual's candles with the {@link deriveSpotCandles} basis model. */
  derivedFrom?: { perpCandles: readonly Candle[] | { csvPath: string }; basis?: Dec };
}

export interface SimSpotOptions {
  name?: string;
  symbols: SimSpotSymbolConfig[];
  /** Initial free balances per asset, e.g. `{ USDT: dec('100000') }`. */
  balances: Record<string, Dec>;
  /** Candles before the start that are already history (market time starts at the next one's open). Default 0. */
  historyCandles?: number;
  /** Fee fractions (0.001 = 10 bp). Defaults: Binance spot VIP0 0.001 / 0.001. */
  makerFee?: Dec;
  takerFee?: Dec;
  /** Hourly interest rate per borrowable asset (fraction per hour, e.g. BTC 0.0000025). Assets absent here cannot be borrowed. */
  hourlyInterest?: Record<string, Dec>;
  /** SELLs borrow the base shortfall and BUYs repay debt first. Default false. */
  autoBorrow?: boolean;
  /** Cross-margin leverage cap (≥ 1); liabilities ≤ equity × (maxLeverage − 1). Default 3. */
  maxLeverage?: number;
  /** Market ms between price-path samples within a candle. Default 15 000. */
  tickIntervalMs?: number;
}

/** Per-asset state (see the class doc). */
export interface SpotBalance {
  asset: string;
  free: Dec;
  locked: Dec;
  borrowed: Dec;
  interest: Dec;
  /** Cumulative interest accrued since start (asset units). */
  interestAccrued: Dec;
}

/**
 * Spot path derived from the perpetual's (no spot file): spot = perp ÷ (1 + basis), per OHLC
 * value, rounded half-even to `tickSize`; volume copied. `basis` = perp ÷ spot − 1 is constant; its
 * default −0.00045 is the mean of the real Binance BTCUSDT/ETHUSDT 1m data 2025-05-20 → 06-24.
 * @throws Error when basis ≤ −1 or tickSize ≤ 0.
 */
export function deriveSpotCandles(perp: readonly Candle[], tickSize: Dec, basis: Dec = DEFAULT_SPOT_BASIS): Candle[] {
  if (!basis.gt(-1)) throw new Error(`basis must be > -1, got ${basis.toString()}`);
  if (!tickSize.gt(0)) throw new Error(`tickSize must be > 0, got ${tickSize.toString()}`);
  const k = basis.add(1);
  const r = (p: Dec) => p.div(k).div(tickSize).toDecimalPlaces(0, Dec.ROUND_HALF_EVEN).mul(tickSize);
  return perp.map((c) => ({ ...c, open: r(c.open), high: r(c.high), low: r(c.low), close: r(c.close) }));
}

/** Default perp ÷ spot − 1 of the derived spot path (−4.5 bp). */
export const DEFAULT_SPOT_BASIS = new Dec('-0.00045');

/**
 * Binance spot trading rules of BTCUSDT / ETHUSDT (tick 0.01; step 0.00001 / 0.0001; min
 * notional 5 USDT). @throws Error for other symbols (pass explicit rules).
 */
export function defaultSpotRules(symbol: string): SymbolRules {
  const step = symbol === 'BTCUSDT' ? '0.00001' : symbol === 'ETHUSDT' ? '0.0001' : undefined;
  if (!step) throw new Error(`defaultSpotRules: no default rules for ${symbol}; pass rules explicitly`);
  return {
    symbol,
    baseAsset: symbol.slice(0, -4),
    quoteAsset: 'USDT',
    tickSize: new Dec('0.01'),
    stepSize: new Dec(step),
    minQty: new Dec(step),
    minNotional: new Dec('5'),
    pricePrecision: 2,
    quantityPrecision: step.length - 2,
  };
}

interface SpotSym {
  rules: SymbolRules;
  candles: readonly Candle[];
  /** Index of the next candle to walk. */
  next: number;
  /** Path points of the candle being walked, and the index of the next one. */
  path: { timeMs: number; price: Dec }[];
  pathIdx: number;
  last: Dec;
  lastMs: number;
  priceSubs: Set<Sub<PriceTick>>;
}

interface SpotOrder {
  o: Order;
  /** Quote (BUY) or base (SELL) still locked for this order. */
  locked: Dec;
}

interface Sub<T> {
  observer: StreamObserver<T>;
}

const r8 = (d: Dec) => d.toDecimalPlaces(SPOT_ASSET_DP, Dec.ROUND_HALF_UP);
const up8 = (d: Dec) => d.toDecimalPlaces(SPOT_ASSET_DP, Dec.ROUND_UP);

/** See the file doc. Manual time only: {@link advance} moves market time. */
export class SimSpotExchange implements ExchangeVenue {
  readonly name: string;
  readonly marketType = 'spot' as const;
  /** Market-time clock (Unix ms). */
  readonly clock: Clock = { now: () => this.nowMs };

  private nowMs: number;
  private readonly syms = new Map<string, SpotSym>();
  private readonly bal = new Map<string, SpotBalance>();
  private readonly makerFee: Dec;
  private readonly takerFee: Dec;
  private readonly hourly: Map<string, Dec>;
  private readonly autoBorrow: boolean;
  private readonly maxLeverage: Dec;
  private readonly tickIntervalMs: number;
  private readonly open: SpotOrder[] = [];
  private readonly byId = new Map<string, SpotOrder>();
  private readonly byClientId = new Map<string, SpotOrder>();
  private readonly orderSubs = new Set<Sub<OrderEvent>>();
  private nextOrderId = 5_000_001;
  private nextTradeId = 1;
  private nextClientSeq = 1;
  private timer?: ReturnType<typeof setInterval>;

  /** @throws Error naming the symbol/option for missing or empty data, unknown assets or bad options. */
  constructor(opts: SimSpotOptions) {
    this.name = opts.name ?? 'simspot';
    this.makerFee = opts.makerFee ?? new Dec('0.001');
    this.takerFee = opts.takerFee ?? new Dec('0.001');
    this.hourly = new Map(Object.entries(opts.hourlyInterest ?? {}));
    for (const [a, r] of this.hourly) if (!r.isFinite() || r.isNegative()) throw new Error(`hourlyInterest.${a} must be ≥ 0`);
    this.autoBorrow = opts.autoBorrow ?? false;
    const lev = opts.maxLeverage ?? 3;
    if (!(lev >= 1)) throw new Error(`maxLeverage must be ≥ 1, got ${lev}`);
    this.maxLeverage = new Dec(lev);
    this.tickIntervalMs = opts.tickIntervalMs ?? 15_000;
    if (!(this.tickIntervalMs > 0)) throw new Error(`tickIntervalMs must be > 0, got ${this.tickIntervalMs}`);
    const history = opts.historyCandles ?? 0;
    if (!opts.symbols.length) throw new Error('symbols: at least one spot symbol is required');
    let start = Infinity;
    for (const c of opts.symbols) {
      const sym = c.rules.symbol;
      const load = (src: readonly Candle[] | { csvPath: string }) => ('csvPath' in src ? loadKlineCsv(src.csvPath, sym) : src);
      let candles: readonly Candle[];
      if (c.candles && !c.derivedFrom) candles = load(c.candles);
      else if (c.derivedFrom && !c.candles) candles = deriveSpotCandles(load(c.derivedFrom.perpCandles), c.rules.tickSize, c.derivedFrom.basis);
      else throw new Error(`symbols.${sym}: give exactly one of candles / derivedFrom`);
      if (candles.length <= history) throw new Error(`symbols.${sym}: ${candles.length} candles, need more than historyCandles=${history}`);
      const first = candles[history];
      start = Math.min(start, first.openTimeMs);
      this.syms.set(sym, {
        rules: c.rules,
        candles,
        next: history,
        path: [],
        pathIdx: 0,
        last: history > 0 ? candles[history - 1].close : first.open,
        lastMs: first.openTimeMs,
        priceSubs: new Set(),
      });
      this.balance(c.rules.baseAsset);
      this.balance(c.rules.quoteAsset);
    }
    this.nowMs = start;
    for (const [asset, amount] of Object.entries(opts.balances)) {
      if (!this.bal.has(asset)) throw new Error(`balances.${asset}: not an asset of the spot symbols (${[...this.bal.keys()].join(', ')})`);
      if (amount.isNegative()) throw new Error(`balances.${asset} must be ≥ 0`);
      this.balance(asset).free = r8(amount);
    }
    for (const a of this.hourly.keys()) if (!this.bal.has(a)) throw new Error(`hourlyInterest.${a}: not an asset of the spot symbols (${[...this.bal.keys()].join(', ')})`);
  }

  // ---- time -------------------------------------------------------------------------------

  /**
   * Timer mode (the connector): every `wakeMs` wall ms, market time advances by the wall time
   * elapsed × `speed` (market ms per wall ms, > 0). Tests and in-process backtests use {@link advance}
   * instead. Idempotent; {@link close} stops it.
   * @throws Error for speed ≤ 0.
   */
  start(speed: number, wakeMs = 50): void {
    if (!(speed > 0)) throw new Error(`speed must be > 0, got ${speed}`);
    if (this.timer) return;
    let wall = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      const ms = Math.max(0, Math.floor((now - wall) * speed));
      wall = now;
      this.advance(ms);
    }, wakeMs);
    this.timer.unref?.();
  }

  /**
   * Moves market time forward by `ms` (≥ 0): walks every symbol's path points with time ≤ the
   * target in time order, charging interest at each hour boundary before the points at or after it.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`advance: ms must be ≥ 0, got ${ms}`);
    const target = this.nowMs + ms;
    for (;;) {
      let best: SpotSym | undefined;
      let bestT = Infinity;
      for (const s of this.syms.values()) {
        const t = this.peek(s);
        if (t !== undefined && t < bestT) [best, bestT] = [s, t];
      }
      if (!best || bestT > target) break;
      this.chargeInterestUntil(bestT);
      this.nowMs = Math.max(this.nowMs, bestT);
      const p = best.path[best.pathIdx++];
      this.move(best, p.timeMs, p.price);
    }
    this.chargeInterestUntil(target);
    this.nowMs = target;
  }

  /** Time of the symbol's next path point (loads the next candle's path when needed). */
  private peek(s: SpotSym): number | undefined {
    if (s.pathIdx >= s.path.length) {
      if (s.next >= s.candles.length) return undefined;
      s.path = candlePath(s.candles[s.next++], this.tickIntervalMs, s.rules.tickSize);
      s.pathIdx = 0;
    }
    return s.path[s.pathIdx].timeMs;
  }

  /** Hour boundaries in (now, t]: book one hour of interest on each borrowed asset. */
  private chargeInterestUntil(t: number): void {
    let h = (Math.floor(this.nowMs / HOUR_MS) + 1) * HOUR_MS;
    // a boundary at exactly nowMs was already charged when time reached it
    for (; h <= t; h += HOUR_MS) {
      for (const b of this.bal.values()) {
        if (!b.borrowed.gt(0)) continue;
        const i = up8(b.borrowed.mul(this.hourly.get(b.asset) ?? ZERO));
        b.interest = b.interest.add(i);
        b.interestAccrued = b.interestAccrued.add(i);
      }
      this.nowMs = h;
    }
  }

  private move(s: SpotSym, t: number, price: Dec): void {
    s.last = price;
    s.lastMs = t;
    for (const sub of s.priceSubs) this.safe(() => sub.observer.next({ symbol: s.rules.symbol, price, timestampMs: t }));
    for (const so of [...this.open]) {
      const o = so.o;
      if (o.symbol !== s.rules.symbol || isTerminal(o.status)) continue;
      if (o.side === 'BUY' ? price.lte(o.price) : price.gte(o.price)) this.fill(so, o.price, true);
    }
  }

  // ---- balances and margin ------------------------------------------------------------------

  private balance(asset: string): SpotBalance {
    let b = this.bal.get(asset);
    if (!b) this.bal.set(asset, (b = { asset, free: ZERO, locked: ZERO, borrowed: ZERO, interest: ZERO, interestAccrued: ZERO }));
    return b;
  }

  /** Last price of `asset` in the quote asset (1 for USDT). @throws Error for an asset with no market. */
  private priceOf(asset: string): Dec {
    if (asset === 'USDT') return new Dec(1);
    for (const s of this.syms.values()) if (s.rules.baseAsset === asset) return s.last;
    throw new Error(`no market prices ${asset}`);
  }

  /** Net equity and liabilities in USDT at last prices. */
  private equity(): { equity: Dec; liabilities: Dec } {
    let equity = ZERO;
    let liabilities = ZERO;
    for (const b of this.bal.values()) {
      const p = this.priceOf(b.asset);
      const debt = b.borrowed.add(b.interest);
      equity = equity.add(b.free.add(b.locked).sub(debt).mul(p));
      liabilities = liabilities.add(debt.mul(p));
    }
    return { equity, liabilities };
  }

  /**
   * Borrows `amount` of `asset` on margin (free balance += amount, principal += amount).
   * @throws VenueError INVALID_ARGUMENT (amount ≤ 0 or off the 8-dp grid; asset not borrowable),
   *   FAILED_PRECONDITION `INSUFFICIENT_MARGIN` when liabilities would exceed equity × (maxLeverage − 1).
   */
  borrow(asset: string, amount: Dec): Promise<SpotBalance> {
    return this.query(() => {
      this.doBorrow(asset, amount);
      return { ...this.balance(asset) };
    });
  }

  private doBorrow(asset: string, amount: Dec): void {
    if (!amount.gt(0) || !amount.eq(r8(amount))) throw invalidArgument('amount', `must be > 0 with at most ${SPOT_ASSET_DP} decimals, got ${amount.toString()}`);
    if (!this.hourly.has(asset)) throw invalidArgument('asset', `${asset} is not borrowable on ${this.name}`);
    const { equity, liabilities } = this.equity();
    const after = liabilities.add(amount.mul(this.priceOf(asset)));
    if (after.gt(equity.mul(this.maxLeverage.sub(1))))
      throw failedPrecondition(`borrow ${amount.toString()} ${asset}: liabilities ${after.toFixed(2)} USDT would exceed equity ${equity.toFixed(2)} × ${this.maxLeverage.sub(1).toString()}`, 'INSUFFICIENT_MARGIN');
    const b = this.balance(asset);
    b.free = b.free.add(amount);
    b.borrowed = b.borrowed.add(amount);
  }

  /**
   * Repays up to `amount` of `asset` from its free balance: accrued interest first, then principal.
   * @returns the asset's state after. @throws VenueError INVALID_ARGUMENT (amount ≤ 0, more than free).
   */
  repay(asset: string, amount: Dec): Promise<SpotBalance> {
    return this.query(() => {
      if (!amount.gt(0)) throw invalidArgument('amount', `must be > 0, got ${amount.toString()}`);
      const b = this.balance(asset);
      if (amount.gt(b.free)) throw invalidArgument('amount', `${amount.toString()} ${asset} exceeds the free balance ${b.free.toString()}`);
      this.payDebt(b, amount);
      return { ...b };
    });
  }

  /** Pays min(amount, debt) from free: interest, then principal. Returns the amount used. */
  private payDebt(b: SpotBalance, amount: Dec): Dec {
    const toInterest = Dec.min(amount, b.interest);
    const toPrincipal = Dec.min(amount.sub(toInterest), b.borrowed);
    b.interest = b.interest.sub(toInterest);
    b.borrowed = b.borrowed.sub(toPrincipal);
    const used = toInterest.add(toPrincipal);
    b.free = b.free.sub(used);
    return used;
  }

  /** Every asset's state (copies). */
  balances(): SpotBalance[] {
    return [...this.bal.values()].map((b) => ({ ...b }));
  }

  /** Orders placed again under a client order id the venue already knew (answered with the existing order). */
  private duplicateClientOrderIds = 0;

  /**
   * Venue-side evidence for tests and the connector's HTTP `/status`: market time, client order ids
   * sent twice, and every balance with its margin debt (decimal strings; net = free + locked − borrowed − interest).
   */
  status(): { marketTimeMs: number; duplicateClientOrderIds: number; balances: Record<string, { free: string; locked: string; borrowed: string; interest: string; interestAccrued: string; net: string }> } {
    const balances: Record<string, { free: string; locked: string; borrowed: string; interest: string; interestAccrued: string; net: string }> = {};
    for (const b of this.bal.values())
      balances[b.asset] = { free: b.free.toString(), locked: b.locked.toString(), borrowed: b.borrowed.toString(), interest: b.interest.toString(), interestAccrued: b.interestAccrued.toString(), net: b.free.add(b.locked).sub(b.borrowed).sub(b.interest).toString() };
    return { marketTimeMs: this.nowMs, duplicateClientOrderIds: this.duplicateClientOrderIds, balances };
  }

  // ---- orders -------------------------------------------------------------------------------

  placeOrder(req: OrderRequest): Promise<Order> {
    return this.query(() => this.place(req));
  }

  private place(req: OrderRequest): Order {
    const s = this.sym(req.symbol);
    const r = s.rules;
    if (req.clientOrderId !== undefined) {
      const known = this.byClientId.get(req.clientOrderId);
      if (known) {
        this.duplicateClientOrderIds++;
        return snap(known.o);
      }
    }
    if (req.side !== 'BUY' && req.side !== 'SELL') throw invalidArgument('side', `must be BUY or SELL, got ${String(req.side)}`);
    if (req.reduceOnly) throw invalidArgument('reduce_only', 'spot orders cannot be reduce-only', 'REDUCE_ONLY_REJECTED');
    if (!req.quantity.gt(0) || !isMultipleOf(req.quantity, r.stepSize)) throw invalidArgument('quantity', `must be > 0 and a multiple of step size ${r.stepSize.toString()}`, 'FILTER_VIOLATION');
    if (req.quantity.lt(r.minQty)) throw invalidArgument('quantity', `below min qty ${r.minQty.toString()}`, 'FILTER_VIOLATION');
    const postOnly = req.postOnly === true || req.timeInForce === 'GTX';
    let price: Dec;
    if (req.type === 'LIMIT') {
      if (!req.price || !req.price.gt(0) || !isMultipleOf(req.price, r.tickSize)) throw invalidArgument('price', `must be > 0 and a multiple of tick size ${r.tickSize.toString()}`, 'FILTER_VIOLATION');
      price = req.price;
    } else if (req.type === 'MARKET') {
      if (postOnly) throw invalidArgument('post_only', 'a MARKET order cannot be post-only');
      price = s.last;
    } else throw invalidArgument('type', `must be LIMIT or MARKET, got ${String(req.type)}`);
    if (price.mul(req.quantity).lt(r.minNotional)) throw invalidArgument('quantity', `notional below min notional ${r.minNotional.toString()}`, 'FILTER_VIOLATION');
    const crosses = req.type === 'MARKET' || (req.side === 'BUY' ? price.gte(s.last) : price.lte(s.last));
    if (postOnly && crosses) throw invalidArgument('price', `post-only ${req.side} at ${price.toString()} would take (last ${s.last.toString()})`, 'POST_ONLY_WOULD_TAKE');
    if (req.clientOrderId !== undefined && !/^[A-Za-z0-9._:-]{1,36}$/.test(req.clientOrderId)) throw invalidArgument('client_order_id', 'must be 1–36 of A-Z a-z 0-9 . _ : -');

    // lock what the order may spend: BUY quote = notional × (1 + the larger fee) at the limit (or last) price; SELL base = qty
    let locked: Dec;
    if (req.side === 'BUY') {
      const q = this.balance(r.quoteAsset);
      locked = up8(price.mul(req.quantity).mul(Dec.max(this.takerFee, this.makerFee).add(1)));
      if (locked.gt(q.free)) throw failedPrecondition(`BUY needs ${locked.toString()} ${r.quoteAsset}, free ${q.free.toString()}`, 'INSUFFICIENT_MARGIN');
      q.free = q.free.sub(locked);
      q.locked = q.locked.add(locked);
    } else {
      const b = this.balance(r.baseAsset);
      const short = req.quantity.sub(b.free);
      if (short.gt(0)) {
        if (!this.autoBorrow) throw failedPrecondition(`SELL needs ${req.quantity.toString()} ${r.baseAsset}, free ${b.free.toString()}`, 'INSUFFICIENT_MARGIN');
        this.doBorrow(r.baseAsset, short);
      }
      locked = req.quantity;
      b.free = b.free.sub(locked);
      b.locked = b.locked.add(locked);
    }
    const o: Order = {
      orderId: String(this.nextOrderId++),
      clientOrderId: req.clientOrderId ?? `simspot-${this.nextClientSeq++}`,
      symbol: r.symbol,
      side: req.side,
      type: req.type,
      timeInForce: req.type === 'MARKET' ? 'IOC' : postOnly ? 'GTX' : (req.timeInForce ?? 'GTC'),
      price: req.type === 'LIMIT' ? price : ZERO,
      quantity: req.quantity,
      executedQty: ZERO,
      avgPrice: ZERO,
      status: 'NEW',
      reduceOnly: false,
      postOnly,
      createdAtMs: this.nowMs,
      updateTimeMs: this.nowMs,
      trades: [],
    };
    const so: SpotOrder = { o, locked };
    this.byId.set(o.orderId, so);
    this.byClientId.set(o.clientOrderId, so);
    if (crosses) this.fill(so, s.last, false);
    else if (o.timeInForce === 'IOC' || o.timeInForce === 'FOK') this.finish(so, 'EXPIRED');
    else {
      this.open.push(so);
      this.emitOrder(o);
    }
    return snap(o);
  }

  /** Fills the order's whole remaining quantity at `price`; moves balances, charges the fee, auto-repays. */
  private fill(so: SpotOrder, price: Dec, maker: boolean): void {
    const o = so.o;
    const r = this.sym(o.symbol).rules;
    const qty = o.quantity.sub(o.executedQty);
    const notional = price.mul(qty);
    const fee = r8(notional.mul(maker ? this.makerFee : this.takerFee));
    const base = this.balance(r.baseAsset);
    const quote = this.balance(r.quoteAsset);
    if (o.side === 'BUY') {
      const spend = r8(notional).add(fee);
      quote.locked = quote.locked.sub(so.locked);
      quote.free = quote.free.add(so.locked.sub(spend));
      so.locked = ZERO;
      base.free = base.free.add(qty);
      if (this.autoBorrow && base.borrowed.add(base.interest).gt(0)) this.payDebt(base, Dec.min(qty, base.free));
    } else {
      base.locked = base.locked.sub(qty);
      so.locked = ZERO;
      quote.free = quote.free.add(r8(notional).sub(fee));
    }
    const t: Fill = {
      tradeId: String(this.nextTradeId++),
      orderId: o.orderId,
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      price,
      quantity: qty,
      fee,
      feeAsset: r.quoteAsset,
      timestampMs: this.nowMs,
      realizedPnl: ZERO,
      maker,
    };
    o.avgPrice = o.executedQty.isZero() ? price : o.avgPrice.mul(o.executedQty).add(notional).div(o.quantity);
    o.executedQty = o.quantity;
    o.trades.push(t);
    this.finish(so, 'FILLED', t);
  }

  private finish(so: SpotOrder, status: OrderStatus, lastTrade?: Fill): void {
    const o = so.o;
    if (so.locked.gt(0)) {
      const r = this.sym(o.symbol).rules;
      const b = this.balance(o.side === 'BUY' ? r.quoteAsset : r.baseAsset);
      b.locked = b.locked.sub(so.locked);
      b.free = b.free.add(so.locked);
      so.locked = ZERO;
    }
    o.status = status;
    o.updateTimeMs = this.nowMs;
    const i = this.open.indexOf(so);
    if (i >= 0) this.open.splice(i, 1);
    this.emitOrder(o, lastTrade);
  }

  cancelOrder(symbol: string, orderId: string): Promise<Order> {
    return this.query(() => this.cancel(symbol, this.byId.get(orderId)));
  }

  cancelOrderByClientOrderId(symbol: string, clientOrderId: string): Promise<Order> {
    return this.query(() => this.cancel(symbol, this.byClientId.get(clientOrderId)));
  }

  private cancel(symbol: string, so: SpotOrder | undefined): Order {
    this.sym(symbol);
    if (!so || so.o.symbol !== symbol) throw notFound('order not found');
    if (isTerminal(so.o.status)) throw failedPrecondition(`order ${so.o.orderId} is ${so.o.status}`, 'ORDER_NOT_OPEN');
    this.finish(so, 'CANCELED');
    return snap(so.o);
  }

  cancelAllOrders(symbol: string): Promise<Order[]> {
    return this.query(() => {
      this.sym(symbol);
      return this.open.filter((so) => so.o.symbol === symbol).map((so) => this.cancel(symbol, so));
    });
  }

  getOrder(symbol: string, ref: OrderRef): Promise<Order> {
    return this.query(() => {
      this.sym(symbol);
      const so = ref.clientOrderId !== undefined ? this.byClientId.get(ref.clientOrderId) : this.byId.get(ref.orderId);
      if (!so || so.o.symbol !== symbol) throw notFound('order not found');
      return snap(so.o);
    });
  }

  getOpenOrders(symbol?: string): Promise<Order[]> {
    return this.query(() => this.open.filter((so) => !symbol || so.o.symbol === symbol).map((so) => snap(so.o)));
  }

  // ---- account and market data ------------------------------------------------------------

  /**
   * Quote-asset view: wallet = USDT free + locked − USDT debt; margin balance = net equity of all
   * assets at last prices (USDT); available = USDT free. Positions: the margin positions of
   * {@link getPositions} (none without margin borrowing).
   */
  getAccount(): Promise<AccountSnapshot> {
    return this.query(() => {
      const q = this.balance('USDT');
      const { equity } = this.equity();
      return {
        asset: 'USDT',
        totalWalletBalance: q.free.add(q.locked).sub(q.borrowed).sub(q.interest),
        totalMarginBalance: r8(equity),
        availableBalance: q.free,
        positions: this.marginPositions(),
        leverage: 1,
        realizedPnl: ZERO,
      };
    });
  }

  /**
   * Spot margin positions, as the ccxt spot margin connector reports them: one per symbol whose base
   * asset can be borrowed (listed in `hourlyInterest`), flat ones included; `size` = the base asset's
   * net (free + locked − borrowed − interest; negative = short on borrowed base), `borrowed` = principal
   * owed and `borrowInterest` = interest owed, base units. Not priced (entry, mark, unrealized PnL and
   * liquidation price 0; margin is account-wide). A spot market without borrowing has no positions.
   */
  getPositions(symbol?: string): Promise<Position[]> {
    return this.query(() => this.marginPositions(symbol));
  }

  private marginPositions(symbol?: string): Position[] {
    const out: Position[] = [];
    for (const s of this.syms.values()) {
      if (symbol && s.rules.symbol !== symbol) continue;
      if (!this.hourly.has(s.rules.baseAsset)) continue;
      const b = this.balance(s.rules.baseAsset);
      out.push({
        symbol: s.rules.symbol,
        size: b.free.add(b.locked).sub(b.borrowed).sub(b.interest),
        entryPrice: ZERO,
        markPrice: ZERO,
        unrealizedPnl: ZERO,
        leverage: 1,
        marginType: 'cross',
        liquidationPrice: ZERO,
        borrowed: b.borrowed,
        borrowInterest: b.interest,
      });
    }
    return out;
  }

  /** Gross holding of `asset` (free + locked; debts not subtracted, see {@link balances}). */
  getBalance(asset: string): Promise<Dec> {
    return this.query(() => {
      const b = this.bal.get(asset);
      return b ? b.free.add(b.locked) : ZERO;
    });
  }

  getSymbols(): Promise<string[]> {
    return Promise.resolve([...this.syms.keys()]);
  }

  getSymbolRules(symbol: string): Promise<SymbolRules> {
    return this.query(() => ({ ...this.sym(symbol).rules }));
  }

  getLatestPrice(symbol: string): Promise<Dec> {
    return this.query(() => this.sym(symbol).last);
  }

  getTickers(): Promise<Ticker[]> {
    return this.query(() =>
      [...this.syms.values()].map((s) => ({
        symbol: s.rules.symbol,
        lastPrice: s.last,
        priceChange: ZERO,
        priceChangePercent: ZERO,
        volume: ZERO,
        quoteVolume: ZERO,
        openInterest: ZERO,
        timestampMs: this.nowMs,
      })),
    );
  }

  getOpenInterest(symbol: string): Promise<Dec> {
    return this.query(() => (this.sym(symbol), ZERO));
  }

  /** Up to `limit` closed candles before market time, oldest first (`1m` only). */
  getHistoricalKlines(symbol: string, interval: string, limit: number): Promise<Candle[]> {
    return this.query(() => {
      if (interval !== '1m') throw invalidArgument('interval', `only '1m' is supported, got "${interval}"`);
      const s = this.sym(symbol);
      const closed = s.candles.filter((c) => c.openTimeMs + 60_000 <= this.nowMs);
      return closed.slice(Math.max(0, closed.length - Math.min(limit, 1000))).map((c) => ({ ...c, closed: true }));
    });
  }

  /** Spot: rate 0, next funding time 0, `timestampMs` = receipt (market) time, no predicted rate (REQ-FUND-003/004). */
  getFundingRate(symbol: string): Promise<FundingRate> {
    return this.query(() => this.noFunding(this.sym(symbol).rules.symbol));
  }

  getFundingRates(): Promise<FundingRate[]> {
    return this.query(() => [...this.syms.keys()].map((s) => this.noFunding(s)));
  }

  private noFunding(symbol: string): FundingRate {
    return { symbol, rate: ZERO, nextFundingTimeMs: 0, timestampMs: this.nowMs };
  }

  /** Spot has no funding history: always empty. */
  getHistoricalFundingRates(symbol: string): Promise<FundingRate[]> {
    return this.query(() => (this.sym(symbol), []));
  }

  watchPrice(symbol: string, observer: StreamObserver<PriceTick>): Unsubscribe {
    return subscribe(this.sym(symbol).priceSubs, observer);
  }

  watchOrders(observer: StreamObserver<OrderEvent>): Unsubscribe {
    return subscribe(this.orderSubs, observer);
  }

  /** Not streamed by the spot sim (poll {@link getHistoricalKlines}); the subscription stays silent. */
  watchKlines(symbol: string, _interval: string, observer: StreamObserver<Candle>): Unsubscribe {
    this.sym(symbol);
    return subscribe(new Set<Sub<Candle>>(), observer);
  }

  /** Not streamed (poll {@link getAccount}); the subscription stays silent. */
  watchAccount(observer: StreamObserver<AccountSnapshot>): Unsubscribe {
    return subscribe(new Set<Sub<AccountSnapshot>>(), observer);
  }

  /** Spot has no positions: the subscription stays silent. */
  watchPositions(_symbol: string, observer: StreamObserver<Position>): Unsubscribe {
    return subscribe(new Set<Sub<Position>>(), observer);
  }

  /** Spot has no funding: the subscription stays silent. */
  watchFundingRate(symbol: string, observer: StreamObserver<FundingRate>): Unsubscribe {
    this.sym(symbol);
    return subscribe(new Set<Sub<FundingRate>>(), observer);
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  private sym(symbol: string): SpotSym {
    const s = this.syms.get(symbol);
    if (!s) throw notFound(`unknown symbol "${symbol}"`, 'UNKNOWN_SYMBOL');
    return s;
  }

  private query<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof VenueError || e instanceof Error ? e : new Error(String(e)));
    }
  }

  private emitOrder(o: Order, lastTrade?: Fill): void {
    const ev: OrderEvent = lastTrade ? { order: snap(o), lastTrade } : { order: snap(o) };
    for (const sub of this.orderSubs) this.safe(() => sub.observer.next(ev));
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch {
      // an observer's failure must not break the venue
    }
  }
}

function snap(o: Order): Order {
  return { ...o, trades: [...o.trades] };
}

/** Adds an observer; told `subscribed(false)` on the next microtask. */
function subscribe<T>(subs: Set<Sub<T>>, observer: StreamObserver<T>): Unsubscribe {
  const sub: Sub<T> = { observer };
  subs.add(sub);
  if (observer.subscribed)
    queueMicrotask(() => {
      if (subs.has(sub))
        try {
          observer.subscribed?.(false);
        } catch {
          // ignore observer failure
        }
    });
  return () => void subs.delete(sub);
}
