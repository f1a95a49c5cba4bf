import {
  Dec,
  ZERO,
  failedPrecondition,
  invalidArgument,
  isMultipleOf,
  isTerminal,
  notFound,
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
  type TimeInForce,
  type Unsubscribe,
} from '@mm/domain';
import { Account, USDT_DP } from './account';
import { loadKlineCsv, type FundingPoint, type MarkPricePoint } from './csv';
import type { MarginTier } from './margin';
import type { MarketEvent, MarketEventSource } from './events';
import { MINUTE_MS, RandomWalk, hashString, pathTicks, toTicks } from './market-data';
import { OrderBook, type Resting } from './order-book';
import { type SimState, orderFromState, orderToState, parseSimState } from './snapshot';

/** Candles to replay: an in-memory list (ascending `openTimeMs`, 1 minute apart or more) or a CSV file. */
export type CandleSource = readonly Candle[] | { csvPath: string };

/** One simulated instrument. */
/**
 * Default number of ended orders a sim keeps queryable (see `SimExchangeOptions.retainTerminalOrders`):
 * hours of a busy grid's history, a few MB.
 */
export const DEFAULT_RETAIN_TERMINAL_ORDERS = 10_000;

export interface SimSymbolConfig {
  /** Filters enforced on orders (see `defaultSymbolRules` for Binance values). */
  rules: SymbolRules;
  /** 1-minute candles to replay; absent → an endless seeded random walk. */
  candles?: CandleSource;
  /** Settled funding rates, any order; paid when market time crosses `fundingTimeMs`. */
  fundingRates?: FundingPoint[];
  /** Random-walk start price (quote units), default 100 000. Ignored with `candles`. */
  startPrice?: Dec;
  /**
   * Tick-level or recorded market events instead of candles (trades, top-of-book, prices, klines,
   * funding; see {@link MarketEvent} and the class doc). Excludes `candles` and `fundingRates`.
   */
  events?: MarketEventSource;
  /** Leverage of this symbol (1–125); default `SimExchangeOptions.leverage`. */
  leverage?: number;
  /** Maintenance-margin brackets; default `marginTiersFor(symbol)` (Binance's for BTCUSDT/ETHUSDT). */
  marginTiers?: readonly MarginTier[];
  /**
   * Mark-price samples (e.g. `loadMarkPriceCsv`). Funding settles at the sample nearest to the
   * funding time (within ±60 s); otherwise, and for margin, the mark is the symbol's last price.
   */
  markPrices?: MarkPricePoint[];
}

/** A forced close by the sim's liquidation engine (see `SimExchange` class doc, "Liquidation"). */
export interface SimLiquidation {
  /** Market time (Unix ms). */
  timeMs: number;
  symbol: string;
  /** Order (client id `autoclose-…`) that closed the position. */
  orderId: string;
  clientOrderId: string;
  /** Side of the closing order. */
  side: 'BUY' | 'SELL';
  /** Closed size (base units). */
  quantity: Dec;
  /** Close price: the mark price (quote units). */
  price: Dec;
  /** Liquidation clearance fee charged (USDT). */
  fee: Dec;
  realizedPnl: Dec;
  /** Account state that triggered it (USDT, full precision): margin balance, Σ maintenance margin. */
  marginBalance: Dec;
  maintenanceMargin: Dec;
  /** Loss beyond the wallet the insurance fund took (USDT, ≥ 0; booked once, on the last close). */
  insuranceFundCover: Dec;
}

/**
 * How resting orders fill on a kline path (see the class doc):
 * `touch`: when the path reaches the limit price, in full; `conservative`: only when the path
 * trades through the limit by at least one tick, and at most `volumeShare` × the candle's volume
 * (all resting orders of the symbol together, per candle), partially if need be.
 */
export type KlineFillModel = 'touch' | 'conservative';

/** Construction options of {@link SimExchange}. All times are market-time Unix ms. */
export interface SimExchangeOptions {
  symbols: SimSymbolConfig[];
  /** Market ms per wall-clock ms in timer mode, default 60 (one candle per wall second). */
  speed?: number;
  /** Maker fee rate (fraction of notional), default 0.0002. */
  makerFee?: Dec;
  /** Taker fee rate (fraction of notional), default 0.0005. */
  takerFee?: Dec;
  /** Initial USDT wallet balance, default 10 000. */
  initialBalance?: Dec;
  /** Leverage for initial margin (cross), default 10. */
  leverage?: number;
  /** Market ms between intra-minute path points, default 1000 (60 points per candle). */
  tickIntervalMs?: number;
  /** Candles that are history before replay starts, default 100. */
  historyCandles?: number;
  /** Random-walk seed, default 1 (each symbol mixes in a hash of its name). */
  seed?: number;
  /** Venue name, default 'sim'. */
  name?: string;
  /** true: no timers; the caller drives market time with `advance()` / `runToEnd()`. */
  manual?: boolean;
  /** Replay start for random-walk-only setups (rounded down to the minute); default: now. */
  startTimeMs?: number;
  /** Called with whatever an observer threw (the error is otherwise swallowed). */
  onObserverError?: (err: unknown) => void;
  /** Kline fill model, default `touch`. */
  fillModel?: KlineFillModel;
  /** `conservative` fill model: share (0, 1] of each candle's base volume resting orders may fill, default 0.1. */
  volumeShare?: number;
  /**
   * Liquidation clearance fee rate (fraction of the closed notional), default 0.0125 (1.25 %,
   * Binance's rate for most USDⓈ-M perpetuals). Negative: liquidation off (margin then only checked at order entry).
   */
  liquidationFeeRate?: Dec;
  /**
   * Ended orders (filled, cancelled, expired, rejected) kept queryable by id and client order id,
   * default {@link DEFAULT_RETAIN_TERMINAL_ORDERS}; older ones are forgotten (bounded memory and state
   * snapshots on a venue that runs for days). Open orders are always kept.
   */
  retainTerminalOrders?: number;
}

/**
 * Controls timer-mode replay from outside (see `SimExchange.setGate`): the connector pauses the
 * replay while no trading client is connected and holds it in lockstep with its clients' acknowledgements.
 */
export interface LockstepGate {
  /** false: market time stands still. */
  running(): boolean;
  /** true: do not emit events past the acknowledged market time (see `ackedMs`). */
  readonly lockstep: boolean;
  /** Market time (Unix ms) up to which every lockstep client has processed all events; Infinity = no one to wait for. */
  ackedMs(): number;
  /**
   * Market ms the replay may run past the acknowledged time (default 0 = strict: after instant T
   * nothing later until acknowledged ≥ T). A window lets clients acknowledge less often at the
   * cost of strict determinism.
   */
  readonly windowMs?: number;
}

/** Replay progress. `candlesReplayed` = 1-minute candles closed since replay start (max over symbols). */
export interface SimStatus {
  marketTimeMs: number;
  finished: boolean;
  candlesReplayed: number;
  /** PlaceOrder requests that named a client order id the venue already had (answered idempotently). */
  duplicateClientOrderIds: number;
}

interface Sub<T> {
  observer: StreamObserver<T>;
}

/** Per-symbol replay state. Prices on the hot path are whole ticks (JS integers). */
interface Sym {
  rules: SymbolRules;
  symbol: string;
  tickNum: number;
  stepDp: number;
  book: OrderBook;
  candles: Candle[];
  walk?: RandomWalk;
  /** Index of the current (forming) candle; `ended` when past the data. */
  cur: number;
  ended: boolean;
  times: number[];
  ticks: number[];
  n: number;
  pi: number;
  feedNext: number;
  feedIsClose: boolean;
  funding: FundingPoint[];
  fi: number;
  fundNext: number;
  rate: Dec;
  next: number;
  last: number;
  lastTime: number;
  hi: number;
  lo: number;
  lastDec: Dec;
  lastDecTicks: number;
  priceCache: Map<number, Dec>;
  replayed: number;
  dirty: boolean;
  /** Conservative model: fill capacity left in the current candle, in steps (Infinity: uncapped). */
  cap: number;
  stepNum: number;
  /** Event-fed symbol: its source, whether the sim aggregates candles itself, best bid/ask in ticks (NaN unknown). */
  src?: MarketEventSource;
  aggregate: boolean;
  bid: number;
  ask: number;
  bidDec?: Dec;
  askDec?: Dec;
  /** Event mode: the forming 1-minute candle (ticks) or, with provided klines, the latest forming kline. */
  form?: { openTimeMs: number; o: number; h: number; l: number; c: number; volume: Dec };
  formKline?: Candle;
  /** Mark-price samples, ascending time (Unix ms) and price (quote units). */
  markTimes: number[];
  markVals: Dec[];
  /** Float mirrors of the position (liquidation pre-check): size (base), entry (quote). */
  posNum: number;
  entryNum: number;
  /** Float maintenance brackets: [cap, mmr, cum]. */
  tiersNum: [number, number, number][];
  priceSubs: Set<Sub<PriceTick>>;
  klineSubs: Set<Sub<Candle>>;
  fundingSubs: Set<Sub<FundingRate>>;
  positionSubs: Set<Sub<Position>>;
}

const TIFS: ReadonlySet<string> = new Set<TimeInForce>(['GTC', 'IOC', 'FOK', 'GTX']);
const FUNDING_PERIOD_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
/** Timer period in wall ms. */
const WAKE_MS = 15;
/** Most market time one wake may process, in wall ms at `speed` (keeps the event loop responsive). */
const MAX_WAKE_WALL_MS = 250;
/** Random-walk candles kept in memory before the oldest half is dropped. */
const WALK_KEEP = 10_000;

/** Largest distance (ms) between a funding time and the mark-price sample used for it. */
const MARK_MATCH_MS = 60_000;

function sortedMarks(m: readonly MarkPricePoint[] | undefined): { markTimes: number[]; markVals: Dec[] } {
  const list = [...(m ?? [])].sort((a, b) => a.timeMs - b.timeMs);
  return { markTimes: list.map((x) => x.timeMs), markVals: list.map((x) => x.price) };
}

function sign(d: Dec): number {
  return d.isZero() ? 0 : d.isNegative() ? -1 : 1;
}

function snap(o: Order): Order {
  return { ...o, trades: o.trades.slice() };
}

/**
 * A simulated Binance-style USDT-margined perpetual venue replaying 1-minute candles (CSV or a
 * seeded random walk) on market time.
 *
 * **Time.** Market time is data time (Unix ms); every event timestamp is market time. Each candle
 * is expanded into an intra-minute path (see `candlePath`); path points are processed in time
 * order across symbols. Timer mode (`start()`) advances market time by `speed` × wall time, waking
 * every 15 ms (at most 250 wall-ms worth of market time per wake, so an overloaded replay falls
 * behind rather than blocking the event loop); manual mode advances only through `advance()` /
 * `runToEnd()`. Replay starts after
 * `historyCandles` candles, which are history. When CSV data runs out the replay stops
 * (`finished`) and prices stay.
 *
 * **Matching (kline path, `fillModel: 'touch'`, default).** On every path point p: a resting BUY
 * fills when p ≤ limit, a SELL when p ≥ limit, in full at the limit price as maker.
 * `fillModel: 'conservative'`: only when p < limit (BUY) / p > limit (SELL), i.e. through by ≥ 1
 * tick, and all resting orders of the symbol together fill at most `volumeShare` × the candle's
 * volume (floored to the step) per candle, best price first; the rest of an order keeps resting
 * (PARTIALLY_FILLED).
 *
 * **Event-fed symbols** (`SimSymbolConfig.events`: trades, top of book, recorded prices/klines/funding;
 * see `MarketEvent`): a trade at p fills resting BUYs with limit > p (SELLs with limit < p) at their
 * limit, up to the trade's quantity; a book update sets bid/ask (crossing checks and taker fills use
 * them) and the price (mid floored to the tick), and fills BUYs with limit > ask up to the ask size
 * (SELLs with limit < bid up to the bid size); a price event fills like a path point (touch or
 * through, uncapped); funding events set the rate, which settles at their `nextFundingTimeMs`.
 * Without kline events the sim builds 1-minute candles from the prices (volume = traded quantity).
 * `stepNext()` processes one market instant at a time (all events with that timestamp), for drivers
 * and lockstep; timer mode may be put under a `LockstepGate` (`setGate`).
 *
 * **Placement.** A LIMIT that crosses p (buy ≥ p, sell ≤ p; with a book feed buy ≥ ask, sell ≤
 * bid) is rejected when post-only (GTX), otherwise it fills in full at p (the ask/bid with a book
 * feed) as taker; a MARKET order fills there as taker; an IOC/FOK LIMIT that does not cross expires. Fee = price × qty × rate (USDT, not
 * rounded). A reduce-only order is clipped to the position at fill time, or expires when flat.
 *
 * **Units.** Prices and fees in quote units (USDT), quantities in base units, times in Unix ms,
 * fee/funding rates as fractions (0.0002 = 0.02 %).
 *
 * **Margin** (one USDT cross-margin account over all symbols; see `Account` and `margin.ts`):
 * available = wallet + Σ uPnL − Σ |size|·mark/leverage(symbol) − Σ open-order notional/leverage(symbol).
 * A resting non-reduce-only order needs price × qty / leverage; an immediate fill needs the growth
 * of |position| × p / leverage; reduce-only orders need none. Maintenance margin is tiered per
 * symbol (Binance's brackets for BTCUSDT/ETHUSDT); positions report a cross-margin liquidation price.
 *
 * **Mark price.** A symbol's mark price is its last price. Funding settles at the mark of the
 * funding time: the `markPrices` sample nearest to it within ±60 s (e.g. from 8 h mark-price
 * klines: the close at each 8 h boundary; Binance funding times carry a few ms of jitter), else the
 * last price. Unrealized PnL, margins and liquidation use the last price as mark (8 h samples say
 * nothing about the path between them). Funding amount = −size × mark × rate (USDT; booked to the wallet, then an account
 * and a position event; the funding stream carries the settled rate).
 *
 * **Liquidation** (cross margin, see `Account` for margin and liquidation price). After every
 * price move of a symbol with a position and after every funding payment the sim checks the
 * margin ratio = Σ maintenance margin ÷ margin balance; at ≥ 100 % (margin balance ≤ maintenance
 * margin) it liquidates the whole account, as Binance's liquidation engine does for a cross
 * account: (1) every open order of the account is cancelled (CANCELED events); (2) every position
 * is closed in full by a reduce-only MARKET order with client order id `autoclose-<marketTimeMs>-<symbol>`
 * (Binance names its liquidation orders `autoclose-…`) filled at the mark price as taker, with the
 * liquidation clearance fee `liquidationFeeRate` × notional instead of the taker fee, capped at what
 * is left of the wallet; (3) a wallet still negative is set to 0 (the insurance fund takes the
 * loss). Order, position and account events are emitted as for any fill; `liquidations()` reports them. Simplification: Binance liquidates large positions tier by
 * tier and at the bankruptcy price; the sim closes everything at once at the mark.
 *
 * **Streams** call observers synchronously; a throwing observer is isolated. Prices and forming
 * candles are coalesced to the latest per symbol per timer wake (or per `tickIntervalMs` chunk
 * of `advance()`); order, fill, account, position, funding events and closed candles are all
 * delivered. `placeOrder`/`cancelOrder` act synchronously (the promise is already settled), so an
 * observer may trade from inside a callback.
 */
export class SimExchange implements ExchangeVenue {
  readonly name: string;
  readonly marketType = 'futures' as const;
  /** Market-time clock (Unix ms) for components that must run on the simulator's time. */
  readonly clock: Clock = { now: () => this.nowMs };

  private readonly syms = new Map<string, Sym>();
  private readonly symList: Sym[] = [];
  private readonly account: Account;
  private readonly makerFee: Dec;
  private readonly takerFee: Dec;
  private readonly speed: number;
  private readonly tickIntervalMs: number;
  private readonly manual: boolean;
  private readonly onObserverError?: (err: unknown) => void;
  private readonly conservative: boolean;
  private readonly volumeShare: number;
  private lockstep?: LockstepGate;
  private readonly liquidationFee: Dec;
  private readonly liquidationOn: boolean;
  private readonly liqLog: SimLiquidation[] = [];
  private walletNum = 0;
  private openPositions = 0;
  private lastEmittedMs = -Infinity;

  private nowMs: number;
  private finiteLeft = 0;
  private readonly hasFinite: boolean;
  private finished = false;
  private finishedFired = false;
  private processing = false;
  private timer?: ReturnType<typeof setInterval>;
  private wallAnchor = 0;
  private marketAnchor = 0;

  private nextOrderId = 1_000_001;
  private nextTradeId = 1;
  private nextClientSeq = 1;
  /** Orders by id, in placement order (a Map iterates in insertion order): open ones and the last `retainTerminalOrders` ended ones. */
  private readonly byId = new Map<string, Order>();
  /** Ended orders in the order they ended, oldest first from `terminalHead` (see `retire`). */
  private terminal: Order[] = [];
  private terminalHead = 0;
  private readonly retired = new WeakSet<Order>();
  private readonly retainTerminalOrders: number;
  private readonly byClientId = new Map<string, Order>();

  private readonly orderSubs = new Set<Sub<OrderEvent>>();
  private readonly accountSubs = new Set<Sub<AccountSnapshot>>();
  private readonly allPositionSubs = new Set<Sub<Position>>();
  private readonly finishedCbs = new Set<() => void>();
  private readonly stateCbs = new Set<() => void>();
  /** Order/position changes so far (see `orderStateVersion`). */
  private orderChanges = 0;

  /** @throws Error for invalid options or candle data (empty, unsorted, overlapping). */
  constructor(opts: SimExchangeOptions) {
    if (!opts.symbols?.length) throw new Error('SimExchange: at least one symbol is required');
    this.name = opts.name ?? 'sim';
    this.speed = opts.speed ?? 60;
    this.makerFee = opts.makerFee ?? new Dec('0.0002');
    this.takerFee = opts.takerFee ?? new Dec('0.0005');
    this.tickIntervalMs = opts.tickIntervalMs ?? 1000;
    this.manual = opts.manual ?? false;
    this.onObserverError = opts.onObserverError;
    const leverage = opts.leverage ?? 10;
    const fm = opts.fillModel ?? 'touch';
    if (fm !== 'touch' && fm !== 'conservative') throw new Error(`SimExchange: fillModel must be touch or conservative, got ${String(fm)}`);
    this.conservative = fm === 'conservative';
    this.volumeShare = opts.volumeShare ?? 0.1;
    if (!(this.volumeShare > 0 && this.volumeShare <= 1)) throw new Error(`SimExchange: volumeShare must be in (0, 1], got ${this.volumeShare}`);
    this.retainTerminalOrders = opts.retainTerminalOrders ?? DEFAULT_RETAIN_TERMINAL_ORDERS;
    if (!(Number.isInteger(this.retainTerminalOrders) && this.retainTerminalOrders >= 0)) throw new Error(`SimExchange: retainTerminalOrders must be an integer ≥ 0, got ${this.retainTerminalOrders}`);
    const history = opts.historyCandles ?? 100;
    if (!(this.speed > 0)) throw new Error(`SimExchange: speed must be > 0, got ${this.speed}`);
    if (!(this.tickIntervalMs > 0)) throw new Error(`SimExchange: tickIntervalMs must be > 0`);
    if (!(leverage > 0)) throw new Error(`SimExchange: leverage must be > 0, got ${leverage}`);
    if (!Number.isInteger(history) || history < 0) throw new Error(`SimExchange: historyCandles must be an integer ≥ 0`);
    this.account = new Account(opts.initialBalance ?? new Dec(10000), leverage);
    this.walletNum = this.account.wallet.toNumber();
    this.liquidationFee = opts.liquidationFeeRate ?? new Dec('0.0125');
    this.liquidationOn = !this.liquidationFee.isNegative();

    const seen = new Set<string>();
    const loaded = opts.symbols.map((cfg) => {
      const symbol = cfg.rules.symbol;
      if (seen.has(symbol)) throw new Error(`SimExchange: duplicate symbol ${symbol}`);
      if (!cfg.rules.tickSize.gt(0) || !cfg.rules.stepSize.gt(0)) throw new Error(`SimExchange: ${symbol} tick/step must be > 0`);
      seen.add(symbol);
      if (cfg.leverage !== undefined && !(Number.isInteger(cfg.leverage) && cfg.leverage >= 1 && cfg.leverage <= 125))
        throw new Error(`SimExchange: ${symbol} leverage must be an integer in 1..125, got ${cfg.leverage}`);
      this.account.configureSymbol(symbol, { leverage: cfg.leverage, tiers: cfg.marginTiers, tickSize: cfg.rules.tickSize });
      let candles: Candle[] | undefined;
      if (cfg.events !== undefined) {
        if (cfg.candles !== undefined || cfg.fundingRates !== undefined)
          throw new Error(`SimExchange: ${symbol}: events exclude candles and fundingRates`);
        if (!cfg.events.peek()) throw new Error(`SimExchange: ${symbol} has no market events`);
      } else if (cfg.candles !== undefined) {
        candles =
          'csvPath' in cfg.candles
            ? loadKlineCsv(cfg.candles.csvPath, symbol)
            : cfg.candles.map((c) => (c.symbol === symbol && c.closed ? c : { ...c, symbol, closed: true }));
        if (candles.length === 0) throw new Error(`SimExchange: ${symbol} has no candles`);
        for (let i = 1; i < candles.length; i++) {
          if (candles[i].openTimeMs < candles[i - 1].openTimeMs + MINUTE_MS)
            throw new Error(`SimExchange: ${symbol} candles must ascend ≥ 1 minute apart (index ${i})`);
        }
      }
      return { cfg, symbol, candles };
    });

    const finite = loaded.filter((l) => l.candles || l.cfg.events);
    this.hasFinite = finite.length > 0;
    const start = this.hasFinite
      ? Math.max(...finite.map((l) => (l.cfg.events ? l.cfg.events.peek()!.timeMs : l.candles![Math.min(history, l.candles!.length - 1)].openTimeMs)))
      : Math.floor((opts.startTimeMs ?? Date.now()) / MINUTE_MS) * MINUTE_MS;
    this.nowMs = start;

    for (const { cfg, symbol, candles } of loaded) {
      const rules = cfg.rules;
      const tickNum = rules.tickSize.toNumber();
      let list: Candle[];
      let cur: number;
      let walk: RandomWalk | undefined;
      if (cfg.events) {
        list = [];
        cur = 0;
        this.finiteLeft++;
      } else if (candles) {
        list = candles;
        cur = list.findIndex((c) => c.openTimeMs + MINUTE_MS > start);
        if (cur < 0) cur = list.length;
        this.finiteLeft++;
      } else {
        walk = new RandomWalk(((opts.seed ?? 1) ^ hashString(symbol)) >>> 0, rules, cfg.startPrice ?? new Dec(100000));
        list = [];
        for (let i = 0; i <= history; i++) list.push(walk.next(start - (history - i) * MINUTE_MS));
        cur = history;
      }
      const funding = [...(cfg.fundingRates ?? [])].sort((a, b) => a.fundingTimeMs - b.fundingTimeMs);
      let fi = funding.findIndex((f) => f.fundingTimeMs > start);
      if (fi < 0) fi = funding.length;
      const first = cfg.events ? rules.tickSize : cur > 0 ? list[cur - 1].close : list[cur].open;
      const s: Sym = {
        rules,
        symbol,
        tickNum,
        stepDp: rules.stepSize.decimalPlaces(),
        book: new OrderBook(),
        candles: list,
        walk,
        cur,
        ended: false,
        times: [],
        ticks: [],
        n: 0,
        pi: 0,
        feedNext: Infinity,
        feedIsClose: false,
        funding,
        fi,
        fundNext: funding[fi]?.fundingTimeMs ?? Infinity,
        rate: fi > 0 ? funding[fi - 1].rate : ZERO,
        next: Infinity,
        last: toTicks(first, tickNum),
        lastTime: start,
        hi: -Infinity,
        lo: Infinity,
        lastDec: first,
        lastDecTicks: NaN,
        priceCache: new Map(),
        cap: Infinity,
        stepNum: rules.stepSize.toNumber(),
        src: cfg.events,
        aggregate: cfg.events ? !cfg.events.providesKlines : false,
        bid: NaN,
        ask: NaN,
        replayed: 0,
        dirty: false,
        ...sortedMarks(cfg.markPrices),
        posNum: 0,
        entryNum: 0,
        tiersNum: this.account.margin(symbol).tiers.map((t) => [t.cap.toNumber(), t.mmr.toNumber(), t.cum.toNumber()]),
        priceSubs: new Set(),
        klineSubs: new Set(),
        fundingSubs: new Set(),
        positionSubs: new Set(),
      };
      this.syms.set(symbol, s);
      this.symList.push(s);
      if (s.src) {
        s.feedNext = s.src.peek()!.timeMs;
        s.next = Math.min(s.feedNext, s.fundNext);
      } else this.loadCandle(s);
    }
    // the opening point(s) at the start time; nobody is listening yet
    this.runUntil(start);
    for (const s of this.symList) s.dirty = false;
  }

  // ───────────────────────────── control ─────────────────────────────

  /** Starts timer-driven replay (no-op in manual mode, when already running or finished). */
  start(): void {
    if (this.manual || this.timer || this.finished) return;
    this.wallAnchor = Date.now();
    this.marketAnchor = this.nowMs;
    this.timer = setInterval(() => this.wake(), WAKE_MS);
  }

  /**
   * Puts timer mode under a {@link LockstepGate} (undefined removes it): while `gate.running()` is
   * false market time stands still (no debt accumulates); with `gate.lockstep`, after emitting the
   * events of market instant T the replay emits nothing later than `gate.ackedMs()` + `gate.windowMs`
   * until `gate.ackedMs()` ≥ T.
   */
  setGate(gate: LockstepGate | undefined): void {
    this.lockstep = gate;
  }

  /**
   * Runs one timer wake now instead of at the next 15 ms tick (no-op unless timer mode is running).
   * A lockstep gate calls it when an acknowledgement arrives, so a strict lockstep replay advances
   * at the clients' pace rather than one market instant per wake.
   */
  wakeNow(): void {
    if (this.timer && !this.processing) this.wake();
  }

  /** Market time (Unix ms) of the last instant emitted by `stepNext()` (gated timer mode steps with it); −∞ before any. */
  get lastEmittedInstantMs(): number {
    return this.lastEmittedMs;
  }

  /**
   * Market time (Unix ms) of the next event across symbols: a path point, candle close, funding
   * settlement or tick event. Infinity when the data is finished (random walks never finish).
   */
  nextEventTimeMs(): number {
    if (this.finished) return Infinity;
    let t = Infinity;
    for (const s of this.symList) if (s.next < t) t = s.next;
    return t;
  }

  /**
   * Processes every event at the next market instant, then delivers the (coalesced) stream output
   * of that instant, so a driver can step a replay one market instant at a time and let its
   * consumers react in between. Returns that instant (Unix ms), or undefined when finished.
   * @throws Error when called from inside an observer.
   */
  stepNext(): number | undefined {
    if (this.processing) throw new Error('stepNext: called re-entrantly from an observer');
    const t = this.nextEventTimeMs();
    if (t === Infinity) return undefined;
    this.step(t);
    this.lastEmittedMs = t;
    return t;
  }

  /** Timer tick: catch market time up with the wall clock, at most 250 wall-ms worth per wake. */
  private wake(): void {
    if (this.lockstep) return this.wakeGated(this.lockstep);
    const wall = Date.now();
    let target = this.marketAnchor + (wall - this.wallAnchor) * this.speed;
    const cap = this.nowMs + MAX_WAKE_WALL_MS * this.speed;
    if (target > cap) {
      // overloaded: fall behind instead of blocking the event loop, and do not accumulate debt
      target = cap;
      this.wallAnchor = wall;
      this.marketAnchor = cap;
    }
    this.step(target);
  }

  /** Gated timer tick: like `wake`, one market instant at a time, stopping where the gate says. */
  private wakeGated(g: LockstepGate): void {
    const wall = Date.now();
    if (!g.running()) {
      this.wallAnchor = wall;
      this.marketAnchor = this.nowMs;
      return;
    }
    let target = this.marketAnchor + (wall - this.wallAnchor) * this.speed;
    const cap = this.nowMs + MAX_WAKE_WALL_MS * this.speed;
    if (target > cap) {
      target = cap;
      this.wallAnchor = wall;
      this.marketAnchor = cap;
    }
    if (!g.lockstep || g.ackedMs() === Infinity) {
      // nobody to wait for: coalesced stepping as in ungated timer mode (one price/kline per wake,
      // not one per market instant, which would flood subscribers at high SIM_SPEED)
      this.step(target);
      return;
    }
    for (let n = 0; n < 10_000 && !this.finished; n++) {
      const next = this.nextEventTimeMs();
      if (next > target) {
        this.step(target);
        return;
      }
      const acked = g.lockstep ? g.ackedMs() : Infinity;
      if (this.lastEmittedMs > acked && next > acked + (g.windowMs ?? 0)) {
        // waiting for the clients: market time stands still, and does not catch up afterwards
        this.wallAnchor = wall;
        this.marketAnchor = this.nowMs;
        return;
      }
      this.stepNext();
    }
  }

  /**
   * Advances market time by `marketMs` synchronously, processing every path point and funding
   * time up to it, in chunks of `tickIntervalMs` with coalesced price/kline events after each.
   * Stops early when the data is finished.
   * @throws Error for a negative/NaN `marketMs` or when called from inside an observer.
   */
  advance(marketMs: number): void {
    if (!(marketMs >= 0)) throw new Error(`advance: marketMs must be ≥ 0, got ${marketMs}`);
    if (this.processing) throw new Error('advance: called re-entrantly from an observer');
    const target = this.nowMs + marketMs;
    const iv = this.tickIntervalMs;
    do {
      this.step(Math.min(target, (Math.floor(this.nowMs / iv) + 1) * iv));
    } while (!this.finished && this.nowMs < target);
  }

  /** Replays all remaining CSV data synchronously. @throws Error when no symbol has finite data. */
  runToEnd(): void {
    if (!this.hasFinite) throw new Error('runToEnd: no CSV-backed symbol (random walks never end)');
    this.advance(Infinity);
  }

  private duplicateClientOrderIds = 0;

  status(): SimStatus {
    let replayed = 0;
    for (const s of this.symList) replayed = Math.max(replayed, s.replayed);
    return { marketTimeMs: this.nowMs, finished: this.finished, candlesReplayed: replayed, duplicateClientOrderIds: this.duplicateClientOrderIds };
  }

  /** Calls `cb` once when the replay finishes (at once if it already has). */
  onFinished(cb: () => void): Unsubscribe {
    if (this.finishedFired) {
      cb();
      return () => undefined;
    }
    this.finishedCbs.add(cb);
    return () => void this.finishedCbs.delete(cb);
  }

  /** Stops the timer. Queries keep working; `advance()` still works for tests. */
  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  /** The executions of the retained orders (open ones and the last `retainTerminalOrders` ended ones), oldest first. */
  allTrades(): Fill[] {
    const out: Fill[] = [];
    for (const o of this.byId.values()) out.push(...o.trades);
    return out.sort((a, b) => Number(a.tradeId) - Number(b.tradeId));
  }

  /** The retained accepted orders (every open one and the last `retainTerminalOrders` ended ones, any status), in placement order. */
  allOrders(): Order[] {
    return [...this.byId.values()].map(snap);
  }

  // ───────────────────────────── persistence (see snapshot.ts) ─────────────────────────────

  /**
   * Calls `cb` synchronously after every account/order change (order event, fill, funding payment),
   * for persisting {@link snapshotState}. Debounce in the callback: it may fire thousands of times a second.
   */
  onStateChange(cb: () => void): Unsubscribe {
    this.stateCbs.add(cb);
    return () => void this.stateCbs.delete(cb);
  }

  /** The account/order state and replay position, JSON-safe (see {@link SimState}). */
  /** Exact funding booked to the wallet since the start, quote (USDT); + received, − paid. Unrounded (reports round to 8 dp). */
  fundingPnl(): Dec {
    return this.account.fundingPnl;
  }

  snapshotState(): SimState {
    return {
      version: 1,
      venue: this.name,
      marketTimeMs: this.nowMs,
      nextOrderId: this.nextOrderId,
      nextTradeId: this.nextTradeId,
      nextClientSeq: this.nextClientSeq,
      account: {
        wallet: this.account.wallet.toString(),
        realizedPnl: this.account.realizedPnl.toString(),
        fundingPnl: this.account.fundingPnl.toString(),
        positions: this.symList.map((s) => {
          const p = this.account.position(s.symbol);
          const f = this.account.fundingBySymbol.get(s.symbol);
          return { symbol: s.symbol, size: p.size.toString(), entry: p.entry.toString(), ...(f ? { fundingPnl: f.toString() } : {}) };
        }),
      },
      orders: [...this.byId.values()].map(orderToState),
    };
  }

  /**
   * Restores a {@link snapshotState} into a freshly constructed venue (same symbols and data, before
   * `start()` and before any order). CSV replays are first fast-forwarded to the saved market time
   * with an empty book (no events); random walks restart at their seed. Resting orders go back into
   * the book and match from the next path point on, so a price that crossed them while the venue was
   * down fills them right away.
   * @throws Error when the state is malformed, names an unknown symbol, or the venue already traded/started.
   */
  restoreState(raw: unknown): void {
    const state = parseSimState(raw);
    if (this.byId.size || this.timer || this.processing) throw new Error('restoreState: venue has already started or traded');
    this.orderChanges++;
    for (const p of state.account.positions) this.sym(p.symbol);
    for (const o of state.orders) this.sym(o.symbol);
    if (this.hasFinite && state.marketTimeMs > this.nowMs) this.advance(state.marketTimeMs - this.nowMs);
    this.nextOrderId = Math.max(this.nextOrderId, state.nextOrderId);
    this.nextTradeId = Math.max(this.nextTradeId, state.nextTradeId);
    this.nextClientSeq = Math.max(this.nextClientSeq, state.nextClientSeq);
    this.account.wallet = new Dec(state.account.wallet);
    this.account.realizedPnl = new Dec(state.account.realizedPnl);
    if (state.account.fundingPnl !== undefined) this.account.fundingPnl = new Dec(state.account.fundingPnl);
    for (const p of state.account.positions) {
      const pos = this.account.position(p.symbol);
      pos.size = new Dec(p.size);
      pos.entry = new Dec(p.entry);
      if (p.fundingPnl !== undefined) this.account.fundingBySymbol.set(p.symbol, new Dec(p.fundingPnl));
    }
    for (const s of this.symList) this.refreshFast(s);
    for (const so of state.orders) {
      const o = orderFromState(so);
      this.byId.set(o.orderId, o);
      this.byClientId.set(o.clientOrderId, o);
      if (isTerminal(o.status)) this.retire(o);
      if (o.type === 'LIMIT' && (o.status === 'NEW' || o.status === 'PARTIALLY_FILLED')) {
        const s = this.sym(o.symbol);
        const remaining = o.quantity.minus(o.executedQty);
        s.book.add({ order: o, ticks: o.price.div(s.rules.tickSize).toNumber(), notional: o.reduceOnly ? ZERO : o.price.mul(remaining) });
      }
    }
  }

  /**
   * TEST HOOK (load tests only): delivers `n` price ticks of `symbol` to its price subscribers
   * synchronously, all at the current price with timestamps `firstTimestampMs + i` (i = 0…n−1),
   * without moving market time or matching orders.
   * @throws NOT_FOUND UNKNOWN_SYMBOL
   */
  emitPriceBurst(symbol: string, n: number): { firstTimestampMs: number; n: number } {
    const s = this.sym(symbol);
    const first = Math.floor(this.nowMs);
    const price = this.price(s);
    for (let i = 0; i < n; i++) this.emit(s.priceSubs, { symbol: s.symbol, price, timestampMs: first + i });
    return { firstTimestampMs: first, n };
  }

  // ───────────────────────────── replay core ─────────────────────────────

  private step(target: number): void {
    this.processing = true;
    try {
      this.runUntil(target);
      if (!this.finished && target > this.nowMs) this.nowMs = target;
    } finally {
      this.processing = false;
    }
    this.flush();
    if (this.finished && !this.finishedFired) {
      this.finishedFired = true;
      void this.close();
      for (const cb of this.finishedCbs) this.safe(cb);
      this.finishedCbs.clear();
    }
  }

  /**
   * Processes every event with time ≤ target in time order. At equal times a symbol's candle close
   * and path point come before its funding, so funding uses the price at the funding time.
   */
  private runUntil(target: number): void {
    const list = this.symList;
    while (!this.finished) {
      let s = list[0];
      let t = s.next;
      for (let i = 1; i < list.length; i++) {
        if (list[i].next < t) {
          s = list[i];
          t = s.next;
        }
      }
      if (t > target) return;
      if (t > this.nowMs) this.nowMs = t;
      if (s.fundNext < s.feedNext) this.settleFunding(s);
      else if (s.src) this.event(s);
      else if (s.feedIsClose) this.closeCandle(s);
      else this.point(s);
    }
  }

  private point(s: Sym): void {
    const t = s.ticks[s.pi];
    s.lastTime = s.times[s.pi];
    if (++s.pi < s.n) s.feedNext = s.times[s.pi];
    else {
      s.feedNext = s.candles[s.cur].openTimeMs + MINUTE_MS;
      s.feedIsClose = true;
    }
    s.next = s.feedNext < s.fundNext ? s.feedNext : s.fundNext;
    s.last = t;
    if (t > s.hi) s.hi = t;
    if (t < s.lo) s.lo = t;
    s.dirty = true;
    const b = s.book;
    if (this.conservative) {
      // through by ≥ 1 tick, capped by the candle's volume share
      if (t < b.bestBuy || t > b.bestSell) s.cap -= this.matchResting(s, t, t, s.cap, s.cap);
    } else if (t <= b.bestBuy || t >= b.bestSell) {
      while (t <= b.bestBuy) this.fillResting(s, b.popBestBuy().order);
      while (t >= b.bestSell) this.fillResting(s, b.popBestSell().order);
    }
    if (this.openPositions > 0 && s.posNum !== 0) this.checkLiquidation();
  }

  /**
   * Fills resting buys with limit > `bt` ticks (best first, at their limit, maker) up to `buyCap`
   * steps, and resting sells with limit < `st` up to `sellCap` steps; an order larger than what is
   * left fills partially and keeps resting. Returns the steps filled.
   */
  private matchResting(s: Sym, bt: number, st: number, buyCap: number, sellCap: number): number {
    const b = s.book;
    let used = 0;
    let left = buyCap;
    while (left > 0 && b.bestBuy > bt) {
      const n = this.fillBest(s, b.peekBestBuy(), left);
      left -= n;
      used += n;
    }
    left = Math.min(sellCap, buyCap === sellCap ? buyCap - used : sellCap);
    while (left > 0 && b.bestSell < st) {
      const n = this.fillBest(s, b.peekBestSell(), left);
      left -= n;
      used += n;
    }
    return used;
  }

  /** Fills the best resting order `r` by up to `capSteps` steps; returns the steps filled. */
  private fillBest(s: Sym, r: Resting, capSteps: number): number {
    const o = r.order;
    const rem = o.quantity.minus(o.executedQty);
    const remSteps = Math.round(rem.toNumber() / s.stepNum);
    if (remSteps <= capSteps) {
      s.book.remove(o.orderId);
      this.execute(s, o, o.price, rem, true);
      return remSteps;
    }
    const q = s.rules.stepSize.mul(capSteps);
    s.book.release(r, o.price.mul(q));
    this.execute(s, o, o.price, q, true);
    if (isTerminal(o.status)) s.book.remove(o.orderId);
    return capSteps;
  }

  /** Event mode: applies the next event of `s`'s source (see the class doc). */
  private event(s: Sym): void {
    const src = s.src!;
    const e = src.next()!;
    const nx = src.peek();
    if (nx && nx.timeMs < e.timeMs) throw new Error(`SimExchange: ${s.symbol} events out of time order (${nx.timeMs} after ${e.timeMs})`);
    s.feedNext = nx ? nx.timeMs : Infinity;
    s.next = s.feedNext < s.fundNext ? s.feedNext : s.fundNext;
    this.applyEvent(s, e);
    if (!nx) {
      if (s.form) this.closeFormed(s);
      s.ended = true;
      if (--this.finiteLeft === 0) this.finished = true;
    }
  }

  private applyEvent(s: Sym, e: MarketEvent): void {
    this.applyEventInner(s, e);
    if (this.openPositions > 0 && s.posNum !== 0) this.checkLiquidation();
  }

  private applyEventInner(s: Sym, e: MarketEvent): void {
    const tn = s.tickNum;
    switch (e.kind) {
      case 'trade': {
        const p = toTicks(e.price, tn);
        this.movePrice(s, e.timeMs, p, e.qty);
        const cap = Math.floor(e.qty.toNumber() / s.stepNum + 1e-9);
        // a buy prints through a resting buy's limit when it trades below it, a sell above
        if (p < s.book.bestBuy || p > s.book.bestSell) this.matchResting(s, p, p, cap, cap);
        return;
      }
      case 'book': {
        s.bid = toTicks(e.bidPrice, tn);
        s.ask = toTicks(e.askPrice, tn);
        s.bidDec = e.bidPrice;
        s.askDec = e.askPrice;
        this.movePrice(s, e.timeMs, Math.floor((s.bid + s.ask) / 2), undefined);
        // the ask moving below a resting buy (the bid above a resting sell) means it was sold (bought) through
        if (s.ask < s.book.bestBuy) this.matchResting(s, s.ask, Infinity, Math.floor(e.askQty.toNumber() / s.stepNum + 1e-9), 0);
        if (s.bid > s.book.bestSell) this.matchResting(s, -Infinity, s.bid, 0, Math.floor(e.bidQty.toNumber() / s.stepNum + 1e-9));
        return;
      }
      case 'price': {
        const p = toTicks(e.price, tn);
        this.movePrice(s, e.timeMs, p, undefined);
        if (this.conservative) {
          if (p < s.book.bestBuy || p > s.book.bestSell) this.matchResting(s, p, p, Infinity, Infinity);
        } else if (p <= s.book.bestBuy || p >= s.book.bestSell) this.matchResting(s, p - 1, p + 1, Infinity, Infinity);
        return;
      }
      case 'kline': {
        const c = e.candle.symbol === s.symbol ? e.candle : { ...e.candle, symbol: s.symbol };
        if (c.closed) {
          s.formKline = undefined;
          s.candles.push(c);
          s.cur = s.candles.length;
          s.replayed++;
        } else s.formKline = c;
        if (s.klineSubs.size) this.emit(s.klineSubs, c);
        return;
      }
      case 'funding': {
        s.rate = e.rate;
        if (e.nextFundingTimeMs > this.nowMs) {
          s.fundNext = e.nextFundingTimeMs;
          s.next = s.feedNext < s.fundNext ? s.feedNext : s.fundNext;
        }
        if (s.fundingSubs.size)
          this.emit(s.fundingSubs, { symbol: s.symbol, rate: e.rate, predictedRate: e.rate, nextFundingTimeMs: e.nextFundingTimeMs, timestampMs: e.timeMs });
        return;
      }
    }
  }

  /** Event mode: a new price `p` (ticks) at `t`; rolls the aggregated 1-minute candle; `qty` adds volume. */
  private movePrice(s: Sym, t: number, p: number, qty: Dec | undefined): void {
    s.last = p;
    s.lastTime = t;
    s.dirty = true;
    if (!s.aggregate) return;
    const m = Math.floor(t / MINUTE_MS) * MINUTE_MS;
    if (s.form && m > s.form.openTimeMs) this.closeFormed(s);
    if (!s.form) s.form = { openTimeMs: m, o: p, h: p, l: p, c: p, volume: ZERO };
    const f = s.form;
    if (p > f.h) f.h = p;
    if (p < f.l) f.l = p;
    f.c = p;
    if (qty) f.volume = f.volume.plus(qty);
    s.pi = 1;
  }

  private closeFormed(s: Sym): void {
    const c = { ...this.formedCandle(s)!, closed: true };
    s.form = undefined;
    s.candles.push(c);
    s.cur = s.candles.length;
    s.replayed++;
    if (s.klineSubs.size) this.emit(s.klineSubs, c);
  }

  private formedCandle(s: Sym): Candle | undefined {
    if (!s.aggregate) return s.formKline;
    const f = s.form;
    if (!f) return undefined;
    const t = s.rules.tickSize;
    return { symbol: s.symbol, openTimeMs: f.openTimeMs, open: t.mul(f.o), high: t.mul(f.h), low: t.mul(f.l), close: t.mul(f.c), volume: f.volume, closed: false };
  }

  private closeCandle(s: Sym): void {
    const c = s.candles[s.cur++];
    s.replayed++;
    if (s.klineSubs.size) this.emit(s.klineSubs, { ...c, closed: true });
    if (s.walk && s.cur > WALK_KEEP) {
      s.candles.splice(0, WALK_KEEP / 2);
      s.cur -= WALK_KEEP / 2;
    }
    this.loadCandle(s);
  }

  /** Prepares the path of candle `cur` (generating it for a random walk), or ends the feed. */
  private loadCandle(s: Sym): void {
    if (s.walk && s.cur >= s.candles.length) {
      s.candles.push(s.walk.next(s.candles[s.candles.length - 1].openTimeMs + MINUTE_MS));
    }
    if (s.cur >= s.candles.length) {
      s.ended = true;
      s.feedNext = Infinity;
      s.next = s.fundNext;
      if (--this.finiteLeft === 0) this.finished = true;
      return;
    }
    const c = s.candles[s.cur];
    const tn = s.tickNum;
    s.n = pathTicks(
      c.openTimeMs,
      toTicks(c.open, tn),
      toTicks(c.high, tn),
      toTicks(c.low, tn),
      toTicks(c.close, tn),
      this.tickIntervalMs,
      s.times,
      s.ticks,
    );
    s.pi = 0;
    s.hi = -Infinity;
    s.lo = Infinity;
    if (this.conservative) s.cap = Math.floor((c.volume.toNumber() * this.volumeShare) / s.stepNum + 1e-9);
    s.feedNext = s.times[0];
    s.feedIsClose = false;
    s.next = s.feedNext < s.fundNext ? s.feedNext : s.fundNext;
  }

  private settleFunding(s: Sym): void {
    if (s.src) {
      // event mode: the latest announced rate settles at its funding time
      s.fundNext = Infinity;
      s.next = s.feedNext;
      if (!this.account.position(s.symbol).size.isZero()) {
        this.account.applyFunding(s.symbol, this.markAt(s, this.nowMs), s.rate);
        this.afterFunding(s);
      }
      return;
    }
    const f = s.funding[s.fi++];
    s.fundNext = s.funding[s.fi]?.fundingTimeMs ?? Infinity;
    s.next = s.feedNext < s.fundNext ? s.feedNext : s.fundNext;
    s.rate = f.rate;
    if (!this.account.position(s.symbol).size.isZero()) {
      this.account.applyFunding(s.symbol, this.markAt(s, f.fundingTimeMs), f.rate);
      this.afterFunding(s);
    }
    if (s.fundingSubs.size) {
      this.emit(s.fundingSubs, {
        symbol: s.symbol,
        rate: f.rate,
        predictedRate: f.rate,
        nextFundingTimeMs: this.nextFundingTime(s),
        timestampMs: f.fundingTimeMs,
      });
    }
  }

  /** Coalesced stream output: the latest price and forming candle of each symbol that moved. */
  private flush(): void {
    for (const s of this.symList) {
      if (!s.dirty) continue;
      s.dirty = false;
      if (s.priceSubs.size) this.emit(s.priceSubs, { symbol: s.symbol, price: this.price(s), timestampMs: s.lastTime });
      if (s.src) {
        if (s.aggregate && s.klineSubs.size && s.form) this.emit(s.klineSubs, this.formedCandle(s)!);
      } else if (s.klineSubs.size && !s.ended && s.pi > 0) this.emit(s.klineSubs, this.forming(s));
    }
  }

  private price(s: Sym): Dec {
    if (s.lastDecTicks !== s.last) {
      // prices revisit the same ticks constantly: reuse their (immutable) Decimals
      let d = s.priceCache.get(s.last);
      if (d === undefined) {
        if (s.priceCache.size >= 8192) s.priceCache.clear();
        d = s.rules.tickSize.mul(s.last);
        s.priceCache.set(s.last, d);
      }
      s.lastDec = d;
      s.lastDecTicks = s.last;
    }
    return s.lastDec;
  }

  /** The current candle as replayed so far; volume pro-rated by path points done (base units). */
  private forming(s: Sym): Candle {
    if (s.src) return this.formedCandle(s)!;
    const c = s.candles[s.cur];
    const t = s.rules.tickSize;
    // Emitted at every flush of a replay (millions of times), read by few: high, low and volume are
    // computed on first read from the state captured now (same values as computing them eagerly).
    const hi = s.hi;
    const lo = s.lo;
    const pi = s.pi;
    const n = s.n;
    const dp = s.stepDp;
    let high: Dec | undefined;
    let low: Dec | undefined;
    let volume: Dec | undefined;
    return {
      symbol: s.symbol,
      openTimeMs: c.openTimeMs,
      open: c.open,
      get high() {
        return (high ??= t.mul(hi));
      },
      get low() {
        return (low ??= t.mul(lo));
      },
      close: this.price(s),
      get volume() {
        return (volume ??= pi >= n ? c.volume : c.volume.mul(pi).div(n).toDecimalPlaces(dp, Dec.ROUND_DOWN));
      },
      closed: false,
    };
  }

  private hasForming(s: Sym): boolean {
    return s.src ? this.formedCandle(s) !== undefined : !s.ended && s.pi > 0;
  }

  private nextFundingTime(s: Sym): number {
    if (s.fundNext !== Infinity) return s.fundNext;
    return (Math.floor(this.nowMs / FUNDING_PERIOD_MS) + 1) * FUNDING_PERIOD_MS;
  }

  // ───────────────────────────── margin, mark, liquidation ─────────────────────────────

  /** Refreshes the float mirrors of `s`'s position and of the wallet (after a fill, funding or restore). */
  private refreshFast(s: Sym): void {
    const p = this.account.position(s.symbol);
    const was = s.posNum !== 0;
    s.posNum = p.size.toNumber();
    s.entryNum = p.entry.toNumber();
    const is = s.posNum !== 0;
    if (was !== is) this.openPositions += is ? 1 : -1;
    this.walletNum = this.account.wallet.toNumber();
  }

  private afterFunding(s: Sym): void {
    this.refreshFast(s);
    for (const cb of this.stateCbs) this.safe(cb);
    this.emitPosition(s);
    this.emitAccount();
    if (this.openPositions > 0) this.checkLiquidation();
  }

  /**
   * Mark price at `timeMs`: the mark-price sample nearest to it within ±{@link MARK_MATCH_MS}
   * (Binance funding times carry a few ms of jitter, e.g. …00001), else the last price.
   */
  private markAt(s: Sym, timeMs: number): Dec {
    const ts = s.markTimes;
    if (!ts.length) return this.price(s);
    let lo = 0;
    let hi = ts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ts[mid] < timeMs) lo = mid + 1;
      else hi = mid;
    }
    let best = lo;
    if (lo > 0 && Math.abs(ts[lo - 1] - timeMs) <= Math.abs(ts[lo] - timeMs)) best = lo - 1;
    return Math.abs(ts[best] - timeMs) <= MARK_MATCH_MS ? s.markVals[best] : this.price(s);
  }

  /**
   * Liquidation trigger: margin ratio (Σ maintenance margin ÷ margin balance) ≥ 100 %. A float
   * pre-check keeps the hot path cheap; only a margin ratio above 90 % by floats is checked in decimals.
   */
  private checkLiquidation(): void {
    if (!this.liquidationOn) return;
    let mb = this.walletNum;
    let mm = 0;
    for (const s of this.symList) {
      if (s.posNum === 0) continue;
      const mark = s.last * s.tickNum;
      mb += (mark - s.entryNum) * s.posNum;
      const notional = Math.abs(s.posNum) * mark;
      let t = s.tiersNum[s.tiersNum.length - 1];
      for (const x of s.tiersNum)
        if (notional <= x[0]) {
          t = x;
          break;
        }
      mm += notional * t[1] - t[2];
    }
    if (mb > 0 && mm < 0.9 * mb) return;
    const st = this.marginState();
    if (st.maintenanceMargin.isZero() || st.marginBalance.gt(st.maintenanceMargin)) return;
    this.liquidate(st.marginBalance, st.maintenanceMargin);
  }

  /**
   * Liquidates the account (see the class doc): cancels every open order, closes every position at
   * its mark with an `autoclose-` MARKET order, charges the clearance fee (capped at what is left of
   * the wallet) and lets the insurance fund take a negative remainder.
   */
  private liquidate(marginBalance: Dec, maintenance: Dec): void {
    for (const s of this.symList) for (const o of s.book.orders()) this.cancel(s, o.orderId);
    const closed: SimLiquidation[] = [];
    for (const s of this.symList) {
      const size = this.account.position(s.symbol).size;
      if (size.isZero()) continue;
      const mark = this.price(s);
      const qty = size.abs();
      const entry = this.account.position(s.symbol).entry;
      const realized = mark.minus(entry).mul(size);
      const left = this.account.wallet.plus(realized);
      let fee = mark.mul(qty).mul(this.liquidationFee);
      if (fee.gt(left)) fee = left.gt(0) ? left : ZERO;
      const now = this.nowMs;
      const side = size.isPositive() ? 'SELL' : 'BUY';
      let cid = `autoclose-${now}-${s.symbol}`;
      while (this.byClientId.has(cid)) cid += 'x';
      const o: Order = {
        orderId: String(this.nextOrderId++),
        clientOrderId: cid,
        symbol: s.symbol,
        side,
        type: 'MARKET',
        timeInForce: 'IOC',
        price: ZERO,
        quantity: qty,
        executedQty: ZERO,
        avgPrice: ZERO,
        status: 'NEW',
        reduceOnly: true,
        postOnly: false,
        createdAtMs: now,
        updateTimeMs: now,
        trades: [],
      };
      this.byId.set(o.orderId, o);
      this.byClientId.set(cid, o);
      this.emitOrder(o);
      this.execute(s, o, mark, qty, false, fee);
      closed.push({
        timeMs: now,
        symbol: s.symbol,
        orderId: o.orderId,
        clientOrderId: cid,
        side,
        quantity: qty,
        price: mark,
        fee,
        realizedPnl: realized,
        marginBalance,
        maintenanceMargin: maintenance,
        insuranceFundCover: ZERO,
      });
    }
    if (this.account.wallet.isNegative() && closed.length) {
      closed[closed.length - 1].insuranceFundCover = this.account.wallet.neg();
      this.account.wallet = ZERO;
      this.walletNum = 0;
      for (const cb of this.stateCbs) this.safe(cb);
      this.emitAccount();
    }
    this.liqLog.push(...closed);
  }

  // ───────────────────────────── orders ─────────────────────────────

  /**
   * Places an order (synchronously; the returned promise is already settled). An existing
   * `clientOrderId` returns that order unchanged. Events: NEW, then FILLED (with `lastTrade`) for
   * an immediate fill, or EXPIRED for an IOC/FOK that cannot fill.
   * @throws INVALID_ARGUMENT field `symbol` (UNKNOWN_SYMBOL); `side`/`type`/`timeInForce`;
   *   `quantity` (≤ 0, off step, < minQty, notional < minNotional; FILTER_VIOLATION);
   *   `price` (missing/≤ 0/off tick; FILTER_VIOLATION); `reduce_only` (REDUCE_ONLY_REJECTED);
   *   `post_only` (POST_ONLY_WOULD_TAKE)
   * @throws FAILED_PRECONDITION INSUFFICIENT_MARGIN
   */
  placeOrder(req: OrderRequest): Promise<Order> {
    try {
      return Promise.resolve(this.place(req));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private place(req: OrderRequest): Order {
    const cid = req.clientOrderId;
    if (cid) {
      const existing = this.byClientId.get(cid);
      if (existing) {
        this.duplicateClientOrderIds++;
        return snap(existing);
      }
    }
    const s = this.syms.get(req.symbol);
    if (!s) throw invalidArgument('symbol', `unknown symbol "${req.symbol}"`, 'UNKNOWN_SYMBOL');
    const { side, type } = req;
    if (side !== 'BUY' && side !== 'SELL') throw invalidArgument('side', `must be BUY or SELL, got "${side}"`);
    if (type !== 'LIMIT' && type !== 'MARKET') throw invalidArgument('type', `must be LIMIT or MARKET, got "${type}"`);
    const postOnly = req.postOnly === true || req.timeInForce === 'GTX';
    const tif: TimeInForce = req.timeInForce ?? (postOnly ? 'GTX' : 'GTC');
    if (!TIFS.has(tif)) throw invalidArgument('timeInForce', `must be GTC, IOC, FOK or GTX, got "${tif}"`);
    if (postOnly && type === 'MARKET') throw invalidArgument('post_only', 'post-only requires a LIMIT order');
    const reduceOnly = req.reduceOnly === true;

    const r = s.rules;
    const q = req.quantity;
    if (!Dec.isDecimal(q) || !q.isFinite() || !q.gt(0))
      throw invalidArgument('quantity', `must be > 0, got ${String(q)}`, 'FILTER_VIOLATION');
    if (!isMultipleOf(q, r.stepSize))
      throw invalidArgument('quantity', `${q} is not a multiple of the step size ${r.stepSize}`, 'FILTER_VIOLATION');
    if (q.lt(r.minQty)) throw invalidArgument('quantity', `${q} is below the minimum quantity ${r.minQty}`, 'FILTER_VIOLATION');
    let limit = ZERO;
    let ticks = 0;
    if (type === 'LIMIT') {
      const p = req.price;
      if (p === undefined || !Dec.isDecimal(p) || !p.isFinite() || !p.gt(0))
        throw invalidArgument('price', `a LIMIT order needs a price > 0, got ${String(p)}`, 'FILTER_VIOLATION');
      if (!isMultipleOf(p, r.tickSize))
        throw invalidArgument('price', `${p} is not a multiple of the tick size ${r.tickSize}`, 'FILTER_VIOLATION');
      limit = p;
      ticks = p.div(r.tickSize).toNumber();
    }
    const mark = this.price(s);
    const notional = (type === 'LIMIT' ? limit : mark).mul(q);
    if (!reduceOnly && notional.lt(r.minNotional))
      throw invalidArgument(
        'quantity',
        `notional ${notional} (price × quantity) is below the minimum notional ${r.minNotional} ${r.quoteAsset}`,
        'FILTER_VIOLATION',
      );
    const pos = this.account.position(s.symbol).size;
    const dir = side === 'BUY' ? 1 : -1;
    if (reduceOnly && (sign(pos) !== -dir || q.gt(pos.abs())))
      throw invalidArgument('reduce_only', `${side} ${q} would not reduce the position ${pos}`, 'REDUCE_ONLY_REJECTED');
    // with a top-of-book feed a limit crosses the opposite best price; otherwise the last price
    const crosses =
      type === 'MARKET' ||
      (dir === 1 ? ticks >= (Number.isNaN(s.ask) ? s.last : s.ask) : ticks <= (Number.isNaN(s.bid) ? s.last : s.bid));
    if (crosses && postOnly) throw invalidArgument('post_only', 'order would immediately match and take', 'POST_ONLY_WOULD_TAKE');
    if (!reduceOnly) {
      const lev = this.account.leverageOf(s.symbol);
      let need: Dec;
      if (crosses) {
        const growth = pos.plus(dir === 1 ? q : q.neg()).abs().minus(pos.abs());
        need = growth.gt(0) ? growth.mul(mark).div(lev) : ZERO;
      } else need = notional.div(lev);
      if (need.gt(0)) {
        const avail = this.account
          .available(
            this.symList.map((x) => x.symbol),
            (sym) => this.price(this.syms.get(sym)!),
            (sym) => this.syms.get(sym)!.book.openNotional,
          )
          .toDecimalPlaces(USDT_DP);
        if (need.gt(avail))
          throw failedPrecondition(
            `insufficient margin: order needs ${need} USDT initial margin, available ${avail} USDT`,
            'INSUFFICIENT_MARGIN',
          );
      }
    }

    const now = this.nowMs;
    const o: Order = {
      orderId: String(this.nextOrderId++),
      clientOrderId: cid || this.generateClientId(),
      symbol: s.symbol,
      side,
      type,
      timeInForce: tif,
      price: limit,
      quantity: q,
      executedQty: ZERO,
      avgPrice: ZERO,
      status: 'NEW',
      reduceOnly,
      postOnly,
      createdAtMs: now,
      updateTimeMs: now,
      trades: [],
    };
    this.byId.set(o.orderId, o);
    this.byClientId.set(o.clientOrderId, o);
    this.emitOrder(o);
    if (o.status !== 'NEW') return snap(o); // an observer cancelled it on the NEW event
    if (crosses) this.execute(s, o, (dir === 1 ? s.askDec : s.bidDec) ?? mark, q, false);
    else if (tif === 'IOC' || tif === 'FOK') this.finish(o, 'EXPIRED');
    else s.book.add({ order: o, ticks, notional: reduceOnly ? ZERO : notional });
    return snap(o);
  }

  private generateClientId(): string {
    let id: string;
    do id = `sim-${this.nextClientSeq++}`;
    while (this.byClientId.has(id));
    return id;
  }

  private fillResting(s: Sym, o: Order): void {
    this.execute(s, o, o.price, o.quantity.minus(o.executedQty), true);
  }

  /** Executes `qty` of `o` at `price`; clips/expires reduce-only orders against the position. */
  private execute(s: Sym, o: Order, price: Dec, qty: Dec, maker: boolean, feeOverride?: Dec): void {
    let clipped = false;
    if (o.reduceOnly) {
      const pos = this.account.position(s.symbol).size;
      if (sign(pos) !== (o.side === 'BUY' ? -1 : 1)) return this.finish(o, 'EXPIRED');
      if (qty.gt(pos.abs())) {
        qty = pos.abs();
        clipped = true;
      }
    }
    const now = this.nowMs;
    const fee = feeOverride ?? price.mul(qty).mul(maker ? this.makerFee : this.takerFee);
    const realizedPnl = this.account.applyFill(s.symbol, o.side, qty, price, fee);
    this.refreshFast(s);
    const trade: Fill = {
      tradeId: String(this.nextTradeId++),
      orderId: o.orderId,
      clientOrderId: o.clientOrderId,
      symbol: s.symbol,
      side: o.side,
      price,
      quantity: qty,
      fee,
      feeAsset: 'USDT',
      timestampMs: now,
      realizedPnl,
      maker,
    };
    const before = o.executedQty;
    o.executedQty = before.plus(qty);
    o.avgPrice = before.isZero() ? price : o.avgPrice.mul(before).plus(price.mul(qty)).div(o.executedQty);
    o.status = o.executedQty.gte(o.quantity) ? 'FILLED' : 'PARTIALLY_FILLED';
    o.updateTimeMs = now;
    o.trades.push(trade);
    this.emitOrder(o, trade);
    this.emitPosition(s);
    this.emitAccount();
    if (clipped) this.finish(o, 'EXPIRED');
  }

  private finish(o: Order, status: OrderStatus): void {
    o.status = status;
    o.updateTimeMs = this.nowMs;
    this.emitOrder(o);
  }

  /**
   * Cancels an open order.
   * @throws NOT_FOUND (ORDER_NOT_FOUND) when the symbol has no such order;
   *   FAILED_PRECONDITION (ORDER_NOT_OPEN) `order <id> is <status>` when already terminal.
   */
  cancelOrder(symbol: string, orderId: string): Promise<Order> {
    try {
      return Promise.resolve(this.cancel(this.sym(symbol), orderId));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Cancels an open order by client order id. @throws NOT_FOUND, FAILED_PRECONDITION (ORDER_NOT_OPEN) */
  cancelOrderByClientOrderId(symbol: string, clientOrderId: string): Promise<Order> {
    try {
      const s = this.sym(symbol);
      const o = this.byClientId.get(clientOrderId);
      if (!o || o.symbol !== s.symbol) throw notFound(`order with clientOrderId ${clientOrderId} not found on ${s.symbol}`);
      return Promise.resolve(this.cancel(s, o.orderId));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private cancel(s: Sym, orderId: string): Order {
    const o = this.byId.get(orderId);
    if (!o || o.symbol !== s.symbol) throw notFound(`order ${orderId} not found on ${s.symbol}`);
    if (isTerminal(o.status)) throw failedPrecondition(`order ${orderId} is ${o.status}`, 'ORDER_NOT_OPEN');
    s.book.remove(orderId);
    this.finish(o, 'CANCELED');
    return snap(o);
  }

  /** Cancels every open order of `symbol`; returns them as cancelled. @throws NOT_FOUND UNKNOWN_SYMBOL */
  cancelAllOrders(symbol: string): Promise<Order[]> {
    try {
      const s = this.sym(symbol);
      return Promise.resolve(s.book.orders().map((o) => this.cancel(s, o.orderId)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** An order by venue id or client order id, with its trades. @throws NOT_FOUND */
  getOrder(symbol: string, ref: OrderRef): Promise<Order> {
    return this.query(() => {
      const s = this.sym(symbol);
      const o = ref.orderId !== undefined ? this.byId.get(ref.orderId) : this.byClientId.get(ref.clientOrderId);
      if (!o || o.symbol !== s.symbol)
        throw notFound(`order ${ref.orderId ?? `with clientOrderId ${ref.clientOrderId}`} not found on ${symbol}`);
      return snap(o);
    });
  }

  /**
   * Bumped on every order event (placement, fill, cancellation, expiry, liquidation) and state
   * restore, every symbol: positions change only by fills, so equal readings mean the same open
   * orders and positions (see `ExchangeVenue.orderStateVersion`).
   */
  orderStateVersion(): number {
    return this.orderChanges;
  }

  /** Open orders (NEW/PARTIALLY_FILLED) of one symbol or all, in placement order. */
  getOpenOrders(symbol?: string): Promise<Order[]> {
    return this.query(() => {
      const books = symbol ? [this.sym(symbol)] : this.symList;
      const out = books.flatMap((s) => s.book.orders());
      out.sort((a, b) => Number(a.orderId) - Number(b.orderId));
      return out.map(snap);
    });
  }

  // ───────────────────────────── account & market data ─────────────────────────────

  private snapshot(): AccountSnapshot {
    return this.account.snapshot(
      this.symList.map((s) => s.symbol),
      (sym) => this.price(this.syms.get(sym)!),
      (sym) => this.syms.get(sym)!.book.openNotional,
    );
  }

  private marginState() {
    return this.account.marginState(
      this.symList.map((s) => s.symbol),
      (sym) => this.price(this.syms.get(sym)!),
    );
  }

  /** Every forced close so far, oldest first (see the class doc, "Liquidation"). */
  liquidations(): SimLiquidation[] {
    return this.liqLog.slice();
  }

  /** USDT account: wallet, margin balance, available balance, positions of every symbol (flat ones too). */
  getAccount(): Promise<AccountSnapshot> {
    return this.query(() => this.snapshot());
  }

  /**
   * Positions (one per symbol, size 0 when flat) at mark, with initial/maintenance margin and the
   * cross-margin liquidation price (0 = none; see `Account`).
   */
  getPositions(symbol?: string): Promise<Position[]> {
    return this.query(() => {
      const list = symbol ? [this.sym(symbol)] : this.symList;
      const st = this.marginState();
      return list.map((s) => this.account.toPosition(s.symbol, st));
    });
  }

  /** Wallet balance: the USDT wallet (8 dp, see `USDT_DP`), 0 for any other asset. */
  getBalance(asset: string): Promise<Dec> {
    return Promise.resolve(asset === 'USDT' ? this.account.wallet.toDecimalPlaces(USDT_DP) : ZERO);
  }

  getSymbols(): Promise<string[]> {
    return Promise.resolve(this.symList.map((s) => s.symbol));
  }

  /** @throws NOT_FOUND UNKNOWN_SYMBOL */
  getSymbolRules(symbol: string): Promise<SymbolRules> {
    return this.query(() => ({ ...this.sym(symbol).rules }));
  }

  /** Last path price (quote units). @throws NOT_FOUND UNKNOWN_SYMBOL */
  getLatestPrice(symbol: string): Promise<Dec> {
    return this.query(() => this.price(this.sym(symbol)));
  }

  /**
   * 24 h statistics from the candles with open time within 24 h before market time (history
   * included; the forming candle counts with its pro-rated volume). quoteVolume ≈ Σ volume × close.
   * openInterest is synthetic: the 24 h base volume (see `getOpenInterest`).
   */
  getTickers(): Promise<Ticker[]> {
    return this.query(() => this.symList.map((s) => this.ticker(s)));
  }

  /** Synthetic, deterministic open interest: the symbol's 24 h base volume (base units). */
  getOpenInterest(symbol: string): Promise<Dec> {
    return this.query(() => this.ticker(this.sym(symbol)).openInterest);
  }

  private ticker(s: Sym): Ticker {
    const from = this.nowMs - DAY_MS;
    const window: Candle[] = [];
    for (let i = s.cur - 1; i >= 0 && s.candles[i].openTimeMs >= from; i--) window.push(s.candles[i]);
    window.reverse();
    if (this.hasForming(s)) window.push(this.forming(s));
    let volume = ZERO;
    let quoteVolume = ZERO;
    for (const c of window) {
      volume = volume.plus(c.volume);
      quoteVolume = quoteVolume.plus(c.volume.mul(c.close));
    }
    const last = this.price(s);
    const open = window.length ? window[0].open : last;
    const change = last.minus(open);
    return {
      symbol: s.symbol,
      lastPrice: last,
      priceChange: change,
      priceChangePercent: open.isZero() ? ZERO : change.div(open).mul(100).toDecimalPlaces(3),
      volume,
      quoteVolume,
      openInterest: volume,
      timestampMs: this.nowMs,
    };
  }

  /**
   * Up to `limit` (max 1500) 1-minute candles, oldest first: closed ones up to market time, then
   * the forming one (closed = false) unless the data is finished.
   * @throws INVALID_ARGUMENT `interval` (only '1m') or `limit` (< 1); NOT_FOUND UNKNOWN_SYMBOL
   */
  getHistoricalKlines(symbol: string, interval: string, limit: number): Promise<Candle[]> {
    return this.query(() => {
      const s = this.sym(symbol);
      checkInterval(interval);
      if (!Number.isInteger(limit) || limit < 1) throw invalidArgument('limit', `must be an integer ≥ 1, got ${limit}`);
      const lim = Math.min(limit, 1500);
      const forming = this.hasForming(s) ? this.forming(s) : undefined;
      const out: Candle[] = [];
      for (let i = Math.max(0, s.cur - (lim - (forming ? 1 : 0))); i < s.cur; i++) out.push({ ...s.candles[i], closed: true });
      if (forming) out.push(forming);
      return out;
    });
  }

  /**
   * The latest settled funding rate (0 before any / without data; `predictedRate` = the same, no
   * look-ahead) and the next funding time: the next data point, else the next 00/08/16 UTC.
   */
  getFundingRate(symbol: string): Promise<FundingRate> {
    return this.query(() => this.fundingRate(this.sym(symbol)));
  }

  getFundingRates(): Promise<FundingRate[]> {
    return this.query(() => this.symList.map((s) => this.fundingRate(s)));
  }

  private fundingRate(s: Sym): FundingRate {
    return {
      symbol: s.symbol,
      rate: s.rate,
      predictedRate: s.rate,
      nextFundingTimeMs: this.nextFundingTime(s),
      timestampMs: this.nowMs,
    };
  }

  /** Up to `limit` (max 1000) settled rates with funding time ≤ market time, oldest first. */
  getHistoricalFundingRates(symbol: string, limit: number): Promise<FundingRate[]> {
    return this.query(() => {
      const s = this.sym(symbol);
      if (!Number.isInteger(limit) || limit < 1) throw invalidArgument('limit', `must be an integer ≥ 1, got ${limit}`);
      const out: FundingRate[] = [];
      for (let i = Math.max(0, s.fi - Math.min(limit, 1000)); i < s.fi; i++) {
        const f = s.funding[i];
        out.push({
          symbol: s.symbol,
          rate: f.rate,
          predictedRate: f.rate,
          nextFundingTimeMs: s.funding[i + 1]?.fundingTimeMs ?? f.fundingTimeMs + FUNDING_PERIOD_MS,
          timestampMs: f.fundingTimeMs,
        });
      }
      return out;
    });
  }

  // ───────────────────────────── streams ─────────────────────────────

  /** Latest price per symbol, coalesced (see class doc). @throws NOT_FOUND UNKNOWN_SYMBOL */
  watchPrice(symbol: string, observer: StreamObserver<PriceTick>): Unsubscribe {
    return subscribe(this.sym(symbol).priceSubs, observer);
  }

  /** Every order state change of the account. */
  watchOrders(observer: StreamObserver<OrderEvent>): Unsubscribe {
    return subscribe(this.orderSubs, observer);
  }

  /** Forming candle (coalesced, closed = false) and every closed candle. @throws INVALID_ARGUMENT interval */
  watchKlines(symbol: string, interval: string, observer: StreamObserver<Candle>): Unsubscribe {
    const s = this.sym(symbol);
    checkInterval(interval);
    return subscribe(s.klineSubs, observer);
  }

  /** Account snapshot after every fill and funding payment. */
  watchAccount(observer: StreamObserver<AccountSnapshot>): Unsubscribe {
    return subscribe(this.accountSubs, observer);
  }

  /** Position after every fill and funding payment of `symbol` ('' = all symbols). */
  watchPositions(symbol: string, observer: StreamObserver<Position>): Unsubscribe {
    return subscribe(symbol === '' ? this.allPositionSubs : this.sym(symbol).positionSubs, observer);
  }

  /** Each funding settlement of `symbol` (timestampMs = funding time). */
  watchFundingRate(symbol: string, observer: StreamObserver<FundingRate>): Unsubscribe {
    return subscribe(this.sym(symbol).fundingSubs, observer);
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private sym(symbol: string): Sym {
    const s = this.syms.get(symbol);
    if (!s) throw notFound(`unknown symbol "${symbol}"`, 'UNKNOWN_SYMBOL');
    return s;
  }

  private query<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private emitOrder(o: Order, lastTrade?: Fill): void {
    this.orderChanges++;
    if (isTerminal(o.status)) this.retire(o);
    for (const cb of this.stateCbs) this.safe(cb);
    if (this.orderSubs.size) this.emit(this.orderSubs, lastTrade ? { order: snap(o), lastTrade } : { order: snap(o) });
  }

  /**
   * An order has ended (filled, cancelled, expired, rejected): it stays queryable (by id and client
   * order id, in snapshots) until `retainTerminalOrders` orders have ended after it, then it is
   * forgotten, so a long-running venue keeps bounded memory and snapshots. A client order id of a
   * forgotten order may be used again (Binance requires them unique among open orders only).
   */
  private retire(o: Order): void {
    if (this.retired.has(o)) return;
    this.retired.add(o);
    this.terminal.push(o);
    while (this.terminal.length - this.terminalHead > this.retainTerminalOrders) {
      const old = this.terminal[this.terminalHead++]!;
      this.byId.delete(old.orderId);
      if (this.byClientId.get(old.clientOrderId) === old) this.byClientId.delete(old.clientOrderId);
    }
    if (this.terminalHead > 4096 && this.terminalHead * 2 > this.terminal.length) {
      this.terminal = this.terminal.slice(this.terminalHead);
      this.terminalHead = 0;
    }
  }

  private emitPosition(s: Sym): void {
    if (!s.positionSubs.size && !this.allPositionSubs.size) return;
    const p = this.account.toPosition(s.symbol, this.marginState());
    this.emit(s.positionSubs, p);
    this.emit(this.allPositionSubs, p);
  }

  private emitAccount(): void {
    if (this.accountSubs.size) this.emit(this.accountSubs, this.snapshot());
  }

  private emit<T>(subs: Set<Sub<T>>, value: T): void {
    for (const sub of subs) {
      try {
        sub.observer.next(value);
      } catch (e) {
        this.onObserverError?.(e);
      }
    }
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.onObserverError?.(e);
    }
  }
}

/** Adds an observer; it is told `subscribed(false)` on the next microtask (the port's contract: the stream is live from then on). */
function subscribe<T>(subs: Set<Sub<T>>, observer: StreamObserver<T>): Unsubscribe {
  const sub: Sub<T> = { observer };
  subs.add(sub);
  if (observer.subscribed) {
    queueMicrotask(() => {
      if (!subs.has(sub)) return;
      try {
        observer.subscribed?.(false);
      } catch {
        // an observer's own failure must not break the venue
      }
    });
  }
  return () => void subs.delete(sub);
}

function checkInterval(interval: string): void {
  if (interval !== '1m') throw invalidArgument('interval', `only '1m' is supported, got "${interval}"`);
}
