import { type Candle, Dec, type OrderRequest, type PriceTick, type StreamObserver, type SymbolRules, type Unsubscribe, VirtualScheduler, ZERO } from '@mm/domain';
import { parseClientOrderId } from '@mm/grid';
import { type FundingPoint, type KlineFillModel, type MarketEventSource, SimExchange, type SimLiquidation, defaultSymbolRules } from '@mm/sim-exchange';
import { type AlertSink, type EngineMetrics, type GridEngineSettings, InMemoryStateStore, buildGridEngine, noopMetrics } from '@mm/trading';
import { LotBook } from './lots';
import type { BacktestFill, BacktestResult, BreakerInterval, EquitySample, PriceBar } from './types';

const MINUTE_MS = 60_000;

/** Progress of a running backtest (market time, Unix ms). */
export interface BacktestProgress {
  marketTimeMs: number;
  startMs: number;
  /** Last market time of the data (Infinity when unknown: a recording or tick file). */
  endMs: number;
  /** Market instants processed so far (one kline path point, trade or book update each). */
  events: number;
  fills: number;
}

/** What {@link runBacktest} needs. Money as decimals in quote units (USDT); times Unix ms. */
export interface BacktestOptions {
  /** Engine settings (the market maker maps its config with `engineSettingsFromConfig`). */
  settings: GridEngineSettings;
  /** 1-minute candles (validated; see `loadSimData`), or a market-event source (tick data, recording). */
  candles?: readonly Candle[];
  events?: MarketEventSource;
  fundingRates?: readonly FundingPoint[];
  /** Symbol filters, default `defaultSymbolRules(symbol)` (Binance BTCUSDT values for BTCUSDT). */
  rules?: SymbolRules;
  /** Kline fill model of the sim (default `touch`) and the conservative model's volume share. */
  fillModel?: KlineFillModel;
  volumeShare?: number;
  /** Starting wallet balance, default 10 000. */
  startingBalance?: Dec;
  /** Account leverage of the sim, default 10. */
  leverage?: number;
  /** Replay only market time in [fromMs, toMs); earlier candles (up to `historyCandles`) are history. */
  fromMs?: number;
  toMs?: number;
  /** Candles before the replay start that are history (crash guard, ATR), default 100. */
  historyCandles?: number;
  /** Market ms between path points of a candle, default {@link DEFAULT_BACKTEST_TICK_MS} (15 000: open, extremes, close). */
  tickIntervalMs?: number;
  /**
   * How the engine's price feed is fed (default `coalesced`). `every`: every market instant's price
   * (one engine tick per path point, as a connector streaming every second would; slow). `coalesced`:
   * the price reaches the engine when it moves into another grid cell (between two levels of the
   * anchor lattice, or onto a level), at every instant with a fill, and at least every
   * `feedHeartbeatMs` of market time; the engine's own risk watchdog runs at that period too. The
   * planner decides on grid levels, so with a fixed interval and no inventory skew the orders it
   * sends are those of `every`; drawdown and staleness are judged at the heartbeat. With
   * `grid.dynamic_interval` or an inventory skew the feed is `every`.
   */
  engineFeed?: 'every' | 'coalesced';
  /** Most market ms between two prices the engine sees (coalesced feed), default 10 000 (a third of the default 30 s staleness limit). */
  feedHeartbeatMs?: number;
  /**
   * Market ms between the engine's periodic reconciliations in the backtest, default
   * {@link DEFAULT_BACKTEST_RECONCILE_MS} (60 000), replacing the live `engine.reconcile_interval_ms`
   * (5 000). The venue is the in-process sim, which cannot diverge from the engine's books, so the
   * order sweep and position check find nothing; what the longer period changes is when the order
   * cleaner (count cap, age limit) runs: up to one interval later than live. Set it to the live
   * value to reproduce the live cadence exactly (about 3× slower). A periodic pass while neither the
   * sim's order state (`orderStateVersion`) nor the engine's slots changed since a pass that found
   * nothing is answered without venue queries (see `Reconciler`), with the same outcome.
   */
  reconcileIntervalMs?: number;
  /**
   * Market ms between the engine's account polls for the margin breakers (`risk.margin.check_interval_ms`,
   * live 5 000), default {@link DEFAULT_BACKTEST_MARGIN_CHECK_MS} (60 000): a poll takes the engine off its
   * quiet-band fast path, and path points are 15 s apart, so the live cadence would poll at every point.
   * A longer period reacts later to a margin squeeze (at most one period); set 5000 for the live cadence.
   */
  marginCheckIntervalMs?: number;
  /** Echoed into the report. */
  config?: Record<string, unknown>;
  source?: Record<string, string>;
  /**
   * Called with every order request the engine sends to the venue (placement or cancellation), in
   * order, with the market time; for parity checks (`GridEngineSettings.quietBand` on vs off).
   */
  onOrderRequest?: (r: BacktestOrderRequest) => void;
  /** Called about every `progressEvery` market instants (default 20 000) and at the end. */
  onProgress?: (p: BacktestProgress) => void;
  progressEvery?: number;
}

/** An order request the engine sent (see `BacktestOptions.onOrderRequest`); decimals as strings. */
export type BacktestOrderRequest =
  | { kind: 'place'; timeMs: number; clientOrderId: string; side: string; price: string; quantity: string; reduceOnly: boolean; postOnly: boolean }
  | { kind: 'cancel'; timeMs: number; orderId: string };

/** A backtest result plus what the runner checked on the way. */
export interface BacktestRun extends BacktestResult {
  /** Market instants processed. */
  events: number;
  /** Candles replayed. */
  candlesReplayed: number;
  /** The engine's own strategy realized PnL (net of fees, per slot) at the end, for cross-checks. */
  engineRealizedPnl: Dec;
  /** Forced closes by the sim's liquidation engine (empty when the account never ran out of margin). */
  liquidations: SimLiquidation[];
  /** Planning passes the engine skipped with its quiet band (`GridEngineSettings.quietBand`). */
  quietSkips: number;
  /** Planning passes that reused the band's plan (held back by the exposure screen or a backoff). */
  planReuses: number;
}

/** The backtest could not run (bad settings for this data, the engine failed to start or died). */
export class BacktestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BacktestError';
  }
}

/** A `VirtualScheduler` that tells the driver when a task starts waiting on a one-shot timer (rate limit, backoff). */
class DriverScheduler extends VirtualScheduler {
  /** One-shot timers set and not fired yet. */
  sleeping = 0;
  onSleep?: () => void;
  override setTimeout(fn: () => void, ms: number) {
    this.sleeping++;
    const cb = this.onSleep;
    this.onSleep = undefined;
    cb?.();
    return super.setTimeout(() => {
      this.sleeping--;
      fn();
    }, ms);
  }
}

/**
 * Runs the unchanged grid engine (`buildGridEngine` from `@mm/trading`) against the in-process
 * `SimExchange` on market time, in one process, and returns the time series for the report.
 *
 * **Clock.** A `VirtualScheduler` follows the sim: the driver takes the earlier of the sim's next
 * market instant and the engine's next timer, moves the scheduler there (timers fire with `now()` =
 * their due time), processes the sim instant (`stepNext()`: matching, then the coalesced price and
 * candle of that instant, delivered synchronously to the engine's observers) and lets the engine's
 * queue run until it is idle or waits on a timer (the order-rate limit, a retry backoff), before
 * market time moves on. So every time-based gate (breaker windows and cooldowns, staleness, margin
 * lock, reconciliation period, rate limit) runs on market time, and the outcome is deterministic.
 *
 * **Accounting** (see `LotBook`): fills come from the venue's order stream; round trips per grid slot,
 * FIFO within a slot; funding from the sim's exact funding ledger. Equity is sampled
 * at every minute boundary and at the end: equity = starting balance + realized + unrealized − fees +
 * funding. At the end it must equal the venue's margin balance (wallet + uPnL, to 1e-6: the venue reports 8 dp), else a
 * BacktestError is thrown (an accounting bug, never silently reported).
 * @throws BacktestError when the engine fails to start (startup safety check, bad grid) or stops.
 */
/**
 * Default market ms between path points of a 1-minute candle in a backtest: 15 000 gives the four
 * points open → low/high → high/low → close, which is all the kline fill model reads (a resting order
 * fills when the path touches or crosses it; the extremes are hit exactly). Finer paths only add
 * intermediate prices the engine reacts to (`--tick-ms 1000` for one per second, 15× slower).
 */
export const DEFAULT_BACKTEST_TICK_MS = 15_000;
/** Default market ms between the engine's margin-breaker account polls in a backtest (see `BacktestOptions.marginCheckIntervalMs`). */
export const DEFAULT_BACKTEST_MARGIN_CHECK_MS = 60_000;

/** Default market ms between the engine's periodic reconciliations in a backtest (see `BacktestOptions.reconcileIntervalMs`). */
export const DEFAULT_BACKTEST_RECONCILE_MS = 60_000;
/** Client-order-id secret of backtests that set none (ids stay deterministic across runs). */
export const BACKTEST_CLIENT_ID_SECRET = 'opensqt-backtest-client-id';

export async function runBacktest(opts: BacktestOptions): Promise<BacktestRun> {
  const s = opts.settings;
  const symbol = s.params.symbol;
  const rules = opts.rules ?? defaultSymbolRules(symbol);
  const start = opts.startingBalance ?? new Dec(10000);
  const history = opts.historyCandles ?? 100;
  let candles = opts.candles;
  let funding = opts.fundingRates;
  let events = opts.events;
  if (!candles && !events) throw new BacktestError('no market data (candles or events)');
  const fromMs = opts.fromMs ?? -Infinity;
  const toMs = opts.toMs ?? Infinity;
  let hist = 0;
  if (candles) {
    let i0 = 0;
    while (i0 < candles.length && candles[i0].openTimeMs < fromMs) i0++;
    let i1 = candles.length;
    while (i1 > i0 && candles[i1 - 1].openTimeMs + MINUTE_MS > toMs) i1--;
    if (i1 <= i0) throw new BacktestError('no candles in the requested period');
    // without --from the first `history` candles are history; with it, up to `history` candles before it
    hist = Number.isFinite(fromMs) ? i0 - Math.max(0, i0 - history) : Math.min(history, i1 - 1);
    candles = candles.slice(i0 - (Number.isFinite(fromMs) ? hist : 0), i1);
    if (funding) funding = funding.filter((f) => f.fundingTimeMs < toMs);
  } else if (events && Number.isFinite(fromMs)) {
    while (events.peek() && events.peek()!.timeMs < fromMs) events.next();
    if (!events.peek()) throw new BacktestError('no market events in the requested period');
  }
  const sim = new SimExchange({
    symbols: [{ rules, candles: candles as Candle[] | undefined, fundingRates: funding ? [...funding] : undefined, events }],
    manual: true,
    makerFee: s.makerFee,
    takerFee: s.takerFee,
    initialBalance: start,
    leverage: opts.leverage ?? 10,
    historyCandles: hist,
    tickIntervalMs: opts.tickIntervalMs ?? DEFAULT_BACKTEST_TICK_MS,
    fillModel: opts.fillModel ?? 'touch',
    volumeShare: opts.volumeShare,
    name: 'sim',
  });
  const startMs = sim.clock.now();
  const coalesced = (opts.engineFeed ?? 'coalesced') === 'coalesced' && s.dynamicInterval === null && s.params.inventorySkewFactor.isZero();
  const heartbeat = opts.feedHeartbeatMs ?? 10_000;
  // a fixed client-order-id secret unless one is given: the same input gives the same ids (and report)
  const clientIdSecret = s.clientIdSecret ?? BACKTEST_CLIENT_ID_SECRET;
  const reconcileIntervalMs = opts.reconcileIntervalMs ?? DEFAULT_BACKTEST_RECONCILE_MS;
  if (!(Number.isInteger(reconcileIntervalMs) && reconcileIntervalMs >= 100)) throw new BacktestError(`reconcileIntervalMs must be an integer ≥ 100 (market ms), got ${reconcileIntervalMs}`);
  const marginCheckIntervalMs = opts.marginCheckIntervalMs ?? DEFAULT_BACKTEST_MARGIN_CHECK_MS;
  if (!(Number.isInteger(marginCheckIntervalMs) && marginCheckIntervalMs >= 100)) throw new BacktestError(`marginCheckIntervalMs must be an integer ≥ 100 (market ms), got ${marginCheckIntervalMs}`);
  const risk = s.risk.margin ? { ...s.risk, margin: { ...s.risk.margin, checkIntervalMs: marginCheckIntervalMs } } : s.risk;
  const settings: GridEngineSettings = { ...s, risk, clientIdSecret, reconcileIntervalMs, ...(coalesced ? { riskCheckIntervalMs: heartbeat } : {}) };
  const endMs = candles ? candles[candles.length - 1].openTimeMs + MINUTE_MS : Infinity;

  const scheduler = new DriverScheduler(startMs);
  const store = new InMemoryStateStore(symbol, () => scheduler.now());

  // ---- what the runner records
  const book = new LotBook(symbol);
  const fills: BacktestFill[] = [];
  const equity: EquitySample[] = [];
  const breakers: BreakerInterval[] = [];
  const bars: PriceBar[] = [];
  let fundingSum = ZERO;
  let lastPrice: Dec = await sim.getLatestPrice(symbol);

  sim.watchOrders({
    next: (e) => {
      const t = e.lastTrade;
      if (!t) return;
      fills.push({ timeMs: t.timestampMs, symbol: t.symbol, side: t.side, price: t.price, qty: t.quantity, fee: t.fee, liquidity: t.maker ? 'maker' : 'taker', clientOrderId: t.clientOrderId });
      const parsed = parseClientOrderId(t.clientOrderId, s.instanceId, clientIdSecret);
      book.fill(parsed ? parsed.levelTicks : `order:${t.clientOrderId}`, t.side, t.price, t.quantity, t.fee, t.timestampMs);
    },
  });
  sim.watchAccount({
    next: () => {
      // funding from the sim's exact ledger (the account stream's wallet is rounded to 8 dp)
      fundingSum = sim.fundingPnl();
    },
  });
  sim.watchPrice(symbol, { next: (p) => (lastPrice = p.price) });
  sim.watchKlines(symbol, '1m', {
    next: (c) => {
      if (c.closed) bars.push({ timeMs: c.openTimeMs, open: c.open, high: c.high, low: c.low, close: c.close });
    },
  });

  // Breaker and crash-guard intervals, on market time.
  const open = new Map<string, BreakerInterval>();
  const metrics: EngineMetrics = {
    ...noopMetrics,
    breakerState: (_sym, state, reason) => {
      const b = open.get('breaker');
      if (state === 'OPEN' && !b) {
        const iv = { fromMs: scheduler.now(), reason: `breaker:${reason ?? 'unknown'}` };
        open.set('breaker', iv);
        breakers.push(iv);
      } else if (state !== 'OPEN' && b) {
        b.toMs = scheduler.now();
        open.delete('breaker');
      }
    },
    crashGuard: (_sym, triggered) => {
      const g = open.get('crash');
      if (triggered && !g) {
        const iv = { fromMs: scheduler.now(), reason: 'crash_guard' };
        open.set('crash', iv);
        breakers.push(iv);
      } else if (!triggered && g) {
        g.toMs = scheduler.now();
        open.delete('crash');
      }
    },
  };
  const alerts: AlertSink = { notify: () => undefined };
  let fatal: Error | undefined;
  // The engine's price stream: every instant straight from the sim, or coalesced by the driver.
  let feed: StreamObserver<PriceTick> | undefined;
  const onRequest = opts.onOrderRequest;
  const venue =
    coalesced || onRequest
    ? (new Proxy(sim, {
        get(target, prop) {
          if (onRequest && prop === 'placeOrder')
            return (req: OrderRequest) => {
              onRequest({ kind: 'place', timeMs: scheduler.now(), clientOrderId: req.clientOrderId ?? '', side: req.side, price: req.price?.toString() ?? '', quantity: req.quantity.toString(), reduceOnly: !!req.reduceOnly, postOnly: !!req.postOnly });
              return target.placeOrder(req);
            };
          if (onRequest && prop === 'cancelOrder')
            return (sym: string, orderId: string) => {
              onRequest({ kind: 'cancel', timeMs: scheduler.now(), orderId });
              return target.cancelOrder(sym, orderId);
            };
          if (coalesced && prop === 'watchPrice')
            return (sym: string, observer: StreamObserver<PriceTick>): Unsubscribe => {
              if (sym !== symbol) return target.watchPrice(sym, observer);
              feed = observer;
              queueMicrotask(() => observer.subscribed?.(false));
              return () => (feed = undefined);
            };
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }) as SimExchange)
    : sim;
  const engine = buildGridEngine({ venue, store, scheduler, metrics, alerts, onFatal: (e) => (fatal = e) }, settings);

  // ---- settle: let the engine's queue run until idle, or until it waits on a scheduler timer
  let quiet: Promise<void> | undefined;
  const settle = async (): Promise<void> => {
    for (;;) {
      const chain = engine.idle();
      if (chain === quiet) return;
      const waits: Promise<number>[] = [
        chain.then(
          () => 1,
          () => 1,
        ),
        new Promise<number>((r) => (scheduler.onSleep = () => r(2))),
      ];
      // a task may already be waiting on a timer set earlier: then only quiescence tells
      if (scheduler.sleeping > 0) waits.push(new Promise<number>((r) => setImmediate(() => r(3))));
      const why = await Promise.race(waits);
      scheduler.onSleep = undefined;
      for (let i = 0; i < 10; i++) await Promise.resolve();
      if (why !== 1) return; // waits on a scheduler timer: the driver advances time
      if (engine.idle() === chain) {
        quiet = chain;
        return;
      }
    }
  };

  try {
    await engine.start();
  } catch (e) {
    throw new BacktestError(`engine did not start: ${(e as Error).message}`);
  }
  await settle();

  const sample = (timeMs: number): void => {
    const unrealized = book.unrealized(lastPrice);
    equity.push({
      timeMs,
      equity: start.plus(book.realized).plus(unrealized).minus(book.fees).plus(fundingSum),
      realized: book.realized,
      unrealized,
      fees: book.fees,
      funding: fundingSum,
      inventoryQty: book.position,
      inventoryNotional: book.position.mul(lastPrice),
    });
  };
  sample(startMs);

  // coalesced feed: grid cell of a price on the anchor lattice (2k+1 strictly inside (L_k, L_k+1), 2k on L_k)
  const anchor = engine.planningState().anchorPrice?.toNumber() ?? 0;
  const interval = s.params.priceInterval.toNumber();
  const cellOf = (p: number): number => {
    const x = (p - anchor) / interval;
    const k = Math.floor(x + 1e-9);
    return Math.abs(x - k) < 1e-9 ? 2 * k : 2 * k + 1;
  };
  let fedPrice = NaN;
  let fedCell = NaN;
  let fedAtMs = -Infinity;
  let n = 0;
  let nextSample = Math.floor(startMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const every = opts.progressEvery ?? 20_000;
  let nextProgress = every;
  const progress = () => opts.onProgress?.({ marketTimeMs: scheduler.now(), startMs, endMs, events: n, fills: fills.length });
  for (;;) {
    if (fatal) throw new BacktestError(`engine stopped: ${fatal.message}`);
    let te = sim.nextEventTimeMs();
    if (te >= toMs) te = Infinity;
    if (te === Infinity) break;
    const td = scheduler.nextDueMs() ?? Infinity;
    if (td <= te) {
      scheduler.advanceTo(td);
      if (engine.idle() !== quiet) await settle();
      continue;
    }
    if (te > scheduler.now()) scheduler.advanceTo(te);
    if (te >= nextSample) {
      sample(nextSample);
      nextSample = Math.floor(te / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    }
    const fillsBefore = fills.length;
    sim.stepNext();
    n++;
    if (feed) {
      const p = lastPrice.toNumber();
      if (p !== fedPrice || fills.length !== fillsBefore || te - fedAtMs >= heartbeat) {
        const c = cellOf(p);
        if (c !== fedCell || fills.length !== fillsBefore || te - fedAtMs >= heartbeat) {
          fedCell = c;
          fedAtMs = te;
          feed.next({ symbol, price: lastPrice, timestampMs: te });
        }
        fedPrice = p;
      }
    }
    if (engine.idle() !== quiet) await settle();
    if (n >= nextProgress) {
      nextProgress += every;
      progress();
      await new Promise<void>((r) => setImmediate(r)); // let the terminal (progress bar) draw
    }
  }
  if (fatal) throw new BacktestError(`engine stopped: ${(fatal as Error).message}`);
  const finalMs = Math.max(scheduler.now(), sim.clock.now());
  sample(finalMs);
  progress();
  for (const b of open.values()) b.toMs = undefined;

  // The venue's books must agree with ours.
  const acct = await sim.getAccount();
  const last = equity[equity.length - 1];
  // The venue reports each USDT figure rounded to 8 dp (wallet and unrealized PnL separately), so the
  // two can differ by a few units of the 8th decimal; more than 1e-6 USDT is a real disagreement.
  if (acct.totalMarginBalance.minus(last.equity).abs().gt('1e-6'))
    throw new BacktestError(`accounting mismatch: venue margin balance ${acct.totalMarginBalance} ≠ report equity ${last.equity}`);
  const engineRealizedPnl = new Dec(engine.snapshot().realizedPnl);
  await engine.stop(false);

  return {
    symbol,
    startMs,
    endMs: finalMs,
    startingBalance: start,
    fills,
    roundTrips: book.trips,
    equity,
    breakers,
    candles: bars,
    config: opts.config ?? {},
    source: opts.source,
    events: n,
    candlesReplayed: sim.status().candlesReplayed,
    engineRealizedPnl,
    liquidations: sim.liquidations(),
    quietSkips: engine.quietSkips,
    planReuses: engine.planReuses,
  };
}
