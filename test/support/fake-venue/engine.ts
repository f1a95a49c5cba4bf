/**
 * The in-memory exchange behind every fake venue dialect: one account, one or more instruments, a
 * deterministic price walk, resting limit orders that fill when the price crosses them, taker
 * fills for marketable orders, a USDT wallet and one net position per instrument.
 *
 * Units: prices in quote, quantities in the venue's amount unit (contracts for OKX/Gate swaps,
 * base for the rest — the dialect converts), times Unix ms. Decimal math via decimal.js.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import Decimal from 'decimal.js';

export type FSide = 'buy' | 'sell';
export type FStatus = 'new' | 'partially_filled' | 'filled' | 'canceled' | 'expired' | 'rejected';

export interface FInstrument {
  /** Venue id as the dialect names it (BTCUSDT, BTC-USDT-SWAP, BTC_USDT). */
  id: string;
  base: string;
  quote: string;
  /** Base units per amount unit. */
  contractSize: Decimal;
  tick: Decimal;
  price: Decimal;
}

export interface FOrder {
  id: string;
  clientId: string;
  instId: string;
  side: FSide;
  type: 'limit' | 'market';
  tif: 'GTC' | 'IOC' | 'FOK' | 'GTX';
  price: Decimal;
  qty: Decimal;
  filled: Decimal;
  avg: Decimal;
  status: FStatus;
  reduceOnly: boolean;
  createdAt: number;
  updatedAt: number;
  /** Spot margin orders: the venue's side effect as received (Binance `sideEffectType`), else undefined. */
  sideEffect?: MarginSideEffect;
  /** Spot margin: amount borrowed at placement for this order (asset = what it sells), 0 when none. */
  borrowedAtPlace?: Decimal;
}

/**
 * Spot margin side effect of an order (Binance `sideEffectType` names): `MARGIN_BUY` borrows the
 * shortfall of what the order sells at placement; `AUTO_REPAY` repays the debt of the asset the
 * fill brings in (interest first); `AUTO_BORROW_REPAY` does both; `NO_SIDE_EFFECT` neither.
 */
export type MarginSideEffect = 'NO_SIDE_EFFECT' | 'MARGIN_BUY' | 'AUTO_REPAY' | 'AUTO_BORROW_REPAY';

export interface FTrade {
  id: string;
  orderId: string;
  clientId: string;
  instId: string;
  side: FSide;
  price: Decimal;
  qty: Decimal;
  fee: Decimal;
  feeAsset: string;
  maker: boolean;
  realizedPnl: Decimal;
  time: number;
}

export interface FPosition {
  instId: string;
  /** Signed amount (contracts for contract venues). */
  size: Decimal;
  entry: Decimal;
}

export class FakeError extends Error {
  constructor(
    readonly kind: 'not_found' | 'duplicate' | 'insufficient' | 'post_only' | 'bad_request' | 'not_open',
    message: string,
  ) {
    super(message);
  }
}

/** Events: `order` (FOrder, FTrade | undefined), `ticker` (FInstrument), `trade` (FTrade). */
export class FakeEngine extends EventEmitter {
  readonly instruments = new Map<string, FInstrument>();
  readonly orders = new Map<string, FOrder>();
  readonly trades: FTrade[] = [];
  readonly positions = new Map<string, FPosition>();
  wallet = new Decimal('10000');
  readonly walletAsset = 'USDT';
  leverage = 10;
  private seq = 1_000_000;
  private tradeSeq = 5_000_000;
  private timer?: ReturnType<typeof setInterval>;
  private step = 0;
  /** Funding rate and next funding time served by every dialect. */
  fundingRate = new Decimal('0.0001');
  makerFee = new Decimal('0.0002');
  takerFee = new Decimal('0.0005');
  /** What the fake reports about the API key's permissions (each dialect in its venue's shape). */
  keyPermissions = { trade: true, withdraw: false };
  /**
   * Spot mode: no positions and no leverage; a fill moves the base and quote balances (`spot`
   * map, quote starts at `wallet`, fees in quote) and orders need the free balance of what they sell.
   */
  spot = false;
  readonly spotBalances = new Map<string, Decimal>();
  /** Order id format: `numeric` (sequence) or `uuid` (real Bybit linear order ids are UUIDs). */
  orderIds: 'numeric' | 'uuid' = 'numeric';
  /**
   * Spot margin (one margin account; the spot balances double as its assets): principal borrowed
   * and unpaid interest per asset, and each borrowable asset's hourly interest rate (fraction per
   * hour). Like Binance, the first hour's interest is charged at the borrow instant,
   * `roundUp(amount × rate, 8)`; {@link accrueInterestHour} books each further hour.
   */
  readonly marginBorrowed = new Map<string, Decimal>();
  readonly marginInterest = new Map<string, Decimal>();
  readonly marginHourlyRate = new Map<string, Decimal>([
    ['BTC', new Decimal('0.0000025')],
    ['ETH', new Decimal('0.0000035')],
    ['USDT', new Decimal('0.0000012')],
  ]);

  constructor(instruments: FInstrument[]) {
    super();
    for (const i of instruments) this.instruments.set(i.id, i);
  }

  now(): number {
    return Date.now();
  }

  nextFundingTime(): number {
    const h8 = 8 * 3600e3;
    return Math.ceil((this.now() + 1) / h8) * h8;
  }

  /** Synthetic funding history: `limit` 8-hourly settlements ending at the last boundary, newest first; rates alternate 0.00012 / 0.0001. */
  fundingHistory(limit: number): { timeMs: number; rate: string }[] {
    const h8 = 8 * 3600e3;
    const last = Math.floor(this.now() / h8) * h8;
    return Array.from({ length: limit }, (_, k) => ({ timeMs: last - k * h8, rate: k % 2 ? '0.0001' : '0.00012' }));
  }

  /** Forwards engine events to a WebSocket's handlers until that socket closes. */
  listenUntilClose(ws: { on(event: 'close', cb: () => void): unknown }, handlers: Partial<Record<'ticker' | 'order' | 'publicTrade', (...args: any[]) => void>>): void {
    for (const [event, fn] of Object.entries(handlers)) this.on(event, fn);
    ws.on('close', () => {
      for (const [event, fn] of Object.entries(handlers)) this.off(event, fn);
    });
  }

  /** Starts the price walk: every `everyMs`, each price moves ±1 tick (deterministic zig-zag with drift). */
  start(everyMs = 200): void {
    this.timer = setInterval(() => this.tick(), everyMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.countdown) clearTimeout(this.countdown);
  }

  tick(): void {
    this.step++;
    for (const i of this.instruments.values()) {
      const dir = [1, -1, 1, 1, -1, -1, 1, -1][this.step % 8];
      i.price = i.price.plus(i.tick.mul(dir));
      this.match(i);
      this.emit('ticker', i);
    }
  }

  private publicTradeSeq = 9_000_000;

  /**
   * Tests: a public trade of `qty` (base units) at `price` printed on the venue (someone else's
   * trade): moves the price, emits `publicTrade` (public trade streams) and `ticker`. Does not
   * touch this fake's own account (a paper venue matches against the trade itself).
   */
  printTrade(instId: string, price: Decimal.Value, qty: Decimal.Value, side: FSide = 'buy'): void {
    const i = this.inst(instId);
    i.price = new Decimal(price);
    this.emit('publicTrade', { inst: i, id: this.publicTradeSeq++, price: new Decimal(price), qty: new Decimal(qty), side, time: this.now() });
    this.emit('ticker', i);
  }

  /** Sets the price (tests) and matches resting orders. */
  setPrice(instId: string, price: Decimal.Value): void {
    const i = this.inst(instId);
    i.price = new Decimal(price);
    this.match(i);
    this.emit('ticker', i);
  }

  inst(id: string): FInstrument {
    const i = this.instruments.get(id);
    if (!i) throw new FakeError('bad_request', `unknown instrument ${id}`);
    return i;
  }

  findByClientId(clientId: string): FOrder | undefined {
    for (const o of this.orders.values()) if (o.clientId === clientId) return o;
    return undefined;
  }

  place(p: { instId: string; side: FSide; type: 'limit' | 'market'; qty: Decimal; price?: Decimal; clientId?: string; tif?: FOrder['tif']; reduceOnly?: boolean; sideEffect?: MarginSideEffect }): FOrder {
    const inst = this.inst(p.instId);
    if (p.clientId && this.findByClientId(p.clientId)) throw new FakeError('duplicate', `duplicate client order id ${p.clientId}`);
    if (!p.qty.gt(0)) throw new FakeError('bad_request', 'quantity must be > 0');
    const tif = p.tif ?? 'GTC';
    const limit = p.type === 'limit' ? p.price! : inst.price;
    const crosses = p.type === 'market' || (p.side === 'buy' ? limit.gte(inst.price) : limit.lte(inst.price));
    if (crosses && tif === 'GTX') throw new FakeError('post_only', 'post-only order would take');
    const notional = limit.mul(p.qty).mul(inst.contractSize);
    let borrowedAtPlace = new Decimal(0);
    if (this.spot && (p.sideEffect === 'MARGIN_BUY' || p.sideEffect === 'AUTO_BORROW_REPAY')) {
      const [asset, need] = p.side === 'buy' ? [inst.quote, notional] : [inst.base, p.qty];
      const short = need.minus(this.spotFree(asset));
      if (short.gt(0)) {
        this.borrow(asset, short);
        borrowedAtPlace = short;
      }
    }
    if (this.spot) {
      if (p.side === 'buy' ? notional.gt(this.spotFree(inst.quote)) : p.qty.gt(this.spotFree(inst.base))) throw new FakeError('insufficient', `insufficient ${p.side === 'buy' ? inst.quote : inst.base} balance`);
    } else if (!p.reduceOnly && notional.div(this.leverage).gt(this.available())) throw new FakeError('insufficient', 'insufficient margin');
    const now = this.now();
    const o: FOrder = {
      id: this.orderIds === 'uuid' ? (this.seq++, randomUUID()) : String(this.seq++),
      clientId: p.clientId || `fake${this.seq}`,
      instId: p.instId,
      side: p.side,
      type: p.type,
      tif,
      price: p.type === 'limit' ? limit : new Decimal(0),
      qty: p.qty,
      filled: new Decimal(0),
      avg: new Decimal(0),
      status: 'new',
      reduceOnly: !!p.reduceOnly,
      createdAt: now,
      updatedAt: now,
      sideEffect: p.sideEffect,
      borrowedAtPlace,
    };
    this.orders.set(o.id, o);
    this.emit('order', o, undefined);
    if (crosses) setImmediate(() => this.fill(o, inst.price, o.qty, false));
    else if (tif === 'IOC' || tif === 'FOK') setImmediate(() => this.finish(o, 'expired'));
    return o;
  }

  cancel(id: string): FOrder {
    const o = this.orders.get(id);
    if (!o) throw new FakeError('not_found', `order ${id} does not exist`);
    if (o.status !== 'new' && o.status !== 'partially_filled') throw new FakeError('not_open', `order ${id} is ${o.status}`);
    this.finish(o, 'canceled');
    return o;
  }

  open(instId?: string): FOrder[] {
    return [...this.orders.values()].filter((o) => (o.status === 'new' || o.status === 'partially_filled') && (!instId || o.instId === instId));
  }

  /** Spot: total balance of an asset (quote starts at `wallet`). */
  spotBalance(asset: string): Decimal {
    return this.spotBalances.get(asset) ?? (asset === this.walletAsset ? this.wallet : new Decimal(0));
  }

  /** Spot: balance minus what open orders reserve (buys: quote notional; sells: base quantity). */
  spotFree(asset: string): Decimal {
    let used = new Decimal(0);
    for (const o of this.open()) {
      const i = this.inst(o.instId);
      const left = o.qty.minus(o.filled);
      if (o.side === 'buy' && i.quote === asset) used = used.plus(left.mul(o.type === 'limit' ? o.price : i.price));
      if (o.side === 'sell' && i.base === asset) used = used.plus(left);
    }
    return this.spotBalance(asset).minus(used);
  }

  /** Spot margin: principal outstanding of `asset`. */
  borrowed(asset: string): Decimal {
    return this.marginBorrowed.get(asset) ?? new Decimal(0);
  }

  /** Spot margin: unpaid interest of `asset`. */
  interest(asset: string): Decimal {
    return this.marginInterest.get(asset) ?? new Decimal(0);
  }

  /**
   * Spot margin: borrows `amount` of `asset` into the balance and charges the first hour's interest
   * (`roundUp(amount × hourly rate, 8)`). @throws FakeError insufficient when the asset is not borrowable.
   */
  borrow(asset: string, amount: Decimal): void {
    const rate = this.marginHourlyRate.get(asset);
    if (!rate) throw new FakeError('insufficient', `${asset} is not borrowable`);
    this.marginBorrowed.set(asset, this.borrowed(asset).plus(amount));
    this.marginInterest.set(asset, this.interest(asset).plus(amount.mul(rate).toDecimalPlaces(8, Decimal.ROUND_UP)));
    this.spotBalances.set(asset, this.spotBalance(asset).plus(amount));
  }

  /** Spot margin, tests: one hour of interest on every outstanding principal, `roundUp(principal × rate, 8)`. */
  accrueInterestHour(): void {
    for (const [asset, p] of this.marginBorrowed) {
      if (!p.gt(0)) continue;
      this.marginInterest.set(asset, this.interest(asset).plus(p.mul(this.marginHourlyRate.get(asset) ?? 0).toDecimalPlaces(8, Decimal.ROUND_UP)));
    }
  }

  /** Spot margin: repays the debt of `asset` from its free balance, interest first, then principal. Returns the amount paid. */
  repay(asset: string): Decimal {
    const pay = Decimal.min(this.spotFree(asset), this.interest(asset).plus(this.borrowed(asset)));
    if (!pay.gt(0)) return new Decimal(0);
    const toInterest = Decimal.min(pay, this.interest(asset));
    this.marginInterest.set(asset, this.interest(asset).minus(toInterest));
    this.marginBorrowed.set(asset, this.borrowed(asset).minus(pay.minus(toInterest)));
    this.spotBalances.set(asset, this.spotBalance(asset).minus(pay));
    return pay;
  }

  private countdown?: ReturnType<typeof setTimeout>;
  /** How often the venue-side countdown cancel-all fired. */
  countdownFired = 0;

  /**
   * Venue-native countdown cancel-all (OKX `cancel-all-after`, Binance `countdownCancelAll`): unless
   * re-armed within `ms`, every open order is cancelled by the venue itself; 0 disarms.
   * @returns the trigger time (Unix ms, 0 when disarmed).
   */
  armCountdown(ms: number): number {
    if (this.countdown) clearTimeout(this.countdown);
    this.countdown = undefined;
    if (ms <= 0) return 0;
    this.countdown = setTimeout(() => {
      this.countdown = undefined;
      this.countdownFired++;
      for (const o of this.open()) this.finish(o, 'canceled');
    }, ms);
    this.countdown.unref?.();
    return this.now() + ms;
  }

  position(instId: string): FPosition {
    let p = this.positions.get(instId);
    if (!p) this.positions.set(instId, (p = { instId, size: new Decimal(0), entry: new Decimal(0) }));
    return p;
  }

  unrealized(instId: string): Decimal {
    const p = this.position(instId);
    const i = this.inst(instId);
    return i.price.minus(p.entry).mul(p.size).mul(i.contractSize);
  }

  available(): Decimal {
    let used = new Decimal(0);
    for (const p of this.positions.values()) {
      const i = this.inst(p.instId);
      used = used.plus(p.size.abs().mul(i.price).mul(i.contractSize).div(this.leverage));
    }
    for (const o of this.open()) {
      const i = this.inst(o.instId);
      if (!o.reduceOnly) used = used.plus(o.qty.minus(o.filled).mul(o.price).mul(i.contractSize).div(this.leverage));
    }
    return this.wallet.plus(this.totalUnrealized()).minus(used);
  }

  totalUnrealized(): Decimal {
    let u = new Decimal(0);
    for (const p of this.positions.values()) u = u.plus(this.unrealized(p.instId));
    return u;
  }

  private match(i: FInstrument): void {
    for (const o of this.open(i.id)) {
      if (o.type !== 'limit') continue;
      if ((o.side === 'buy' && i.price.lte(o.price)) || (o.side === 'sell' && i.price.gte(o.price))) this.fill(o, o.price, o.qty.minus(o.filled), true);
    }
  }

  private fill(o: FOrder, price: Decimal, qty: Decimal, maker: boolean): void {
    if (o.status !== 'new' && o.status !== 'partially_filled') return;
    const i = this.inst(o.instId);
    if (this.spot) return this.spotFill(o, i, price, qty, maker);
    const p = this.position(o.instId);
    const signed = o.side === 'buy' ? qty : qty.neg();
    let realized = new Decimal(0);
    if (!p.size.isZero() && p.size.isPositive() !== signed.isPositive()) {
      const closing = Decimal.min(p.size.abs(), qty);
      realized = price.minus(p.entry).mul(closing).mul(i.contractSize).mul(p.size.isPositive() ? 1 : -1);
    }
    const newSize = p.size.plus(signed);
    if (newSize.isZero()) p.entry = new Decimal(0);
    else if (p.size.isZero() || p.size.isPositive() === signed.isPositive()) p.entry = p.entry.mul(p.size.abs()).plus(price.mul(qty)).div(newSize.abs());
    else if (newSize.isPositive() !== p.size.isPositive()) p.entry = price;
    p.size = newSize;
    const fee = price.mul(qty).mul(i.contractSize).mul(maker ? this.makerFee : this.takerFee);
    this.wallet = this.wallet.plus(realized).minus(fee);
    const now = this.now();
    const t: FTrade = {
      id: String(this.tradeSeq++),
      orderId: o.id,
      clientId: o.clientId,
      instId: o.instId,
      side: o.side,
      price,
      qty,
      fee,
      feeAsset: this.walletAsset,
      maker,
      realizedPnl: realized,
      time: now,
    };
    this.trades.push(t);
    o.avg = o.filled.isZero() ? price : o.avg.mul(o.filled).plus(price.mul(qty)).div(o.filled.plus(qty));
    o.filled = o.filled.plus(qty);
    o.status = o.filled.gte(o.qty) ? 'filled' : 'partially_filled';
    o.updatedAt = now;
    this.emit('trade', t);
    this.emit('order', o, t);
  }

  private spotFill(o: FOrder, i: FInstrument, price: Decimal, qty: Decimal, maker: boolean): void {
    const fee = price.mul(qty).mul(maker ? this.makerFee : this.takerFee);
    const signed = o.side === 'buy' ? qty : qty.neg();
    this.spotBalances.set(i.base, this.spotBalance(i.base).plus(signed));
    this.spotBalances.set(i.quote, this.spotBalance(i.quote).minus(price.mul(signed)).minus(fee));
    // AUTO_REPAY: what the fill brings in pays that asset's debt (base for a BUY, quote for a SELL).
    if (o.sideEffect === 'AUTO_REPAY' || o.sideEffect === 'AUTO_BORROW_REPAY') this.repay(o.side === 'buy' ? i.base : i.quote);
    const now = this.now();
    const t: FTrade = { id: String(this.tradeSeq++), orderId: o.id, clientId: o.clientId, instId: o.instId, side: o.side, price, qty, fee, feeAsset: i.quote, maker, realizedPnl: new Decimal(0), time: now };
    this.trades.push(t);
    o.avg = o.filled.isZero() ? price : o.avg.mul(o.filled).plus(price.mul(qty)).div(o.filled.plus(qty));
    o.filled = o.filled.plus(qty);
    o.status = o.filled.gte(o.qty) ? 'filled' : 'partially_filled';
    o.updatedAt = now;
    this.emit('trade', t);
    this.emit('order', o, t);
  }

  private finish(o: FOrder, status: FStatus): void {
    o.status = status;
    o.updatedAt = this.now();
    this.emit('order', o, undefined);
  }
}
