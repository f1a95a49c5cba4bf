import type { Candle, ExchangeVenue, FundingRate, OrderEvent, PriceTick, Scheduler, StreamObserver, TimerHandle, Unsubscribe } from '@mm/domain';
import { isVenueError, systemScheduler } from '@mm/domain';

/**
 * The engine's clock during a lockstep sim replay (README "Live replay start and lockstep").
 *
 * Inactive it is the wall clock. Active, `now()` is **market time**: it jumps to the timestamp of each
 * market event received (never backwards), runs on with wall time while the engine works on those
 * events (so the order rate limit refills and venue latency is measured as usual), and stands still
 * once everything received is processed and acknowledged (`hold()`) — while the sim, not the engine,
 * holds market time. So a lockstep pause, a slow `SIM_SPEED` or a loaded machine never ages the price
 * for the staleness gates, and time windows (drawdown, cooldown) cover market time whatever the speed.
 * Timers run on wall time (the reconcile period and the risk-check watchdog, which read `now()`).
 *
 * Wall-clock code: this is the app, not trading code.
 */
export class ReplayClock implements Scheduler {
  private active = false;
  private baseMs = 0;
  private wallAtMs = 0;
  private held = false;

  constructor(private readonly wall: Scheduler = systemScheduler) {}

  /** True once {@link activate} was called: `now()` is market time. */
  get isActive(): boolean {
    return this.active;
  }

  /** Switches to market time, starting at `marketMs` (Unix ms; the replay's current market time). */
  activate(marketMs: number): void {
    this.active = true;
    this.baseMs = marketMs;
    this.wallAtMs = this.wall.now();
    this.held = true;
  }

  /** A market event with this timestamp arrived: time moves to it (if later) and runs until the next `hold()`. */
  onMarketTime(marketMs: number): void {
    if (!this.active) return;
    const now = this.now();
    this.baseMs = marketMs > now ? marketMs : now;
    this.wallAtMs = this.wall.now();
    this.held = false;
  }

  /** Everything received is processed and acknowledged: time stands still until the next market event. */
  hold(): void {
    if (!this.active || this.held) return;
    this.baseMs = this.now();
    this.held = true;
  }

  now(): number {
    if (!this.active) return this.wall.now();
    return this.held ? this.baseMs : this.baseMs + (this.wall.now() - this.wallAtMs);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.wall.setTimeout(fn, ms);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.wall.setInterval(fn, ms);
  }

  clear(handle: TimerHandle | undefined): void {
    this.wall.clear(handle);
  }
}

/** Market time (Unix ms) of an order event: its trade's time, else the order's update time; 0 if none. */
export function orderEventTimeMs(e: OrderEvent): number {
  return e.lastTrade?.timestampMs || e.order.updateTimeMs || 0;
}

/** Options of {@link tapMarketEvents}. */
export interface TapOptions {
  /** Called with an event's market time (Unix ms) just before the engine's observer gets it (the replay clock moves first). */
  beforeEvent?: (marketMs: number) => void;
  /**
   * Lockstep: awaited before a price tick is handed to the engine. Messages of one market instant
   * travel on separate gRPC streams (orders, price, klines) and grpc-js does not keep their order
   * across streams: a fill written before the price may be read after it. A unary round trip (any
   * cheap call) is answered after everything the connector wrote before it, so order events and
   * candles of the instant reach the engine before its price tick, as in process.
   */
  barrier?: () => Promise<void>;
}

/**
 * The venue as the engine sees it, with a tap on the market-data streams: after the engine's own
 * observer has taken a price tick or order event (and queued its work), `onEvent(marketMs)` is called
 * with the event's market timestamp. With `opts.barrier`, price ticks are delivered in arrival order
 * after the barrier. `pending()` tells whether a tick is held at the barrier. Every other call goes
 * straight to `venue`.
 */
export function tapMarketEvents<V extends ExchangeVenue>(
  venue: V,
  onEvent: (marketMs: number) => void,
  opts: TapOptions = {},
): ExchangeVenue & { pendingTicks(): number } {
  let held = 0;
  let chain: Promise<void> = Promise.resolve();
  const before = (ms: number) => opts.beforeEvent?.(ms);
  const tap = <T>(observer: StreamObserver<T>, timeOf: (v: T) => number): StreamObserver<T> => ({
    ...observer,
    next: (v: T) => {
      const ms = timeOf(v);
      before(ms);
      observer.next(v);
      onEvent(ms);
    },
  });
  const tapPrice = (observer: StreamObserver<PriceTick>): StreamObserver<PriceTick> => {
    const barrier = opts.barrier;
    if (!barrier) return tap(observer, (t) => t.timestampMs);
    return {
      ...observer,
      next: (t: PriceTick) => {
        held++;
        chain = chain
          .then(() => barrier().catch(() => undefined))
          .then(() => new Promise<void>((r) => setImmediate(r)))
          .then(() => {
            held--;
            before(t.timestampMs);
            observer.next(t);
            onEvent(t.timestampMs);
          });
      },
    };
  };
  return new Proxy(venue, {
    get(target, prop, receiver) {
      if (prop === 'pendingTicks') return () => held;
      if (prop === 'watchPrice') return (symbol: string, o: StreamObserver<PriceTick>): Unsubscribe => target.watchPrice(symbol, tapPrice(o));
      if (prop === 'watchOrders') return (o: StreamObserver<OrderEvent>): Unsubscribe => target.watchOrders(tap(o, orderEventTimeMs));
      if (prop === 'watchFundingRate')
        return (symbol: string, o: StreamObserver<FundingRate>): Unsubscribe => target.watchFundingRate(symbol, tap(o, (f) => f.timestampMs));
      if (prop === 'watchKlines')
        return (symbol: string, interval: string, o: StreamObserver<Candle>): Unsubscribe => target.watchKlines(symbol, interval, tap(o, () => 0));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as ExchangeVenue & { pendingTicks(): number };
}

/** What {@link LockstepAcker} needs. */
export interface LockstepAckerDeps {
  /** Resolves when the engine has processed everything queued so far (`GridEngine.whenIdle`). */
  whenIdle(): Promise<void>;
  /** Sends `HeartbeatRequest.processed_market_time_ms = marketMs` (with the usual `timeout_ms`). */
  send(marketMs: number): Promise<void>;
  clock: ReplayClock;
  /** True while work for a received event is not yet handed to the engine (a price tick at the barrier): no acknowledgement then. */
  blocked?: () => boolean;
  /** Wall ms between retries of a failed acknowledgement (default 500). */
  retryMs?: number;
  onError?: (err: Error) => void;
}

/**
 * The market maker's side of lockstep: acknowledges the market time it has fully processed.
 *
 * Each market event (price tick, order event) moves `seenMs` to its timestamp. After the engine is idle
 * — it has planned on the latest tick and booked every order answer — and no event arrived meanwhile,
 * `processed_market_time_ms = seenMs` goes out. Coalesced: at most one acknowledgement in flight; events
 * during it lead to one more afterwards. Never blocks the engine (it only waits for it). A failed send
 * is retried after `retryMs` (20 ms after RESOURCE_EXHAUSTED from the connector's rate limit), since a
 * waiting sim sends nothing that would trigger one.
 */
export class LockstepAcker {
  /** Largest market time received (Unix ms); 0 before any. */
  seenMs = 0;
  /** Largest market time acknowledged (Unix ms); 0 before any. */
  ackedMs = 0;
  /** Acknowledgements sent. */
  sent = 0;
  private running = false;
  private stopped = false;
  private retry?: ReturnType<typeof setTimeout>;

  constructor(private readonly deps: LockstepAckerDeps) {}

  /**
   * Joins the replay: the first acknowledgement makes this client a lockstep client (and, with its
   * streams attached, a trading client: the replay starts or resumes). `marketMs` is the venue's market
   * time when the engine read its starting state (everything before it counts as processed: a replay
   * that already ran is not held for instants emitted before our streams were attached); 1 if unknown.
   * @throws whatever the send throws.
   */
  async join(marketMs = 1): Promise<void> {
    const ms = Math.max(1, marketMs, this.seenMs);
    await this.deps.send(ms);
    this.sent++;
    if (ms > this.ackedMs) this.ackedMs = ms;
    if (ms > this.seenMs) this.seenMs = ms;
    this.deps.clock.onMarketTime(ms);
    this.deps.clock.hold();
  }

  /**
   * An event with this market time is about to reach the engine: a new market time moves the clock
   * (before the engine reads it, so a tick is stamped with its own time). An event of an instant already
   * seen (a late order answer) leaves the clock alone.
   */
  beforeEvent(marketMs: number): void {
    if (marketMs > this.seenMs) {
      this.seenMs = marketMs;
      this.deps.clock.onMarketTime(marketMs);
    }
  }

  /** A market event with this timestamp reached the engine (0: an event without a time; still settles). */
  onEvent(marketMs: number): void {
    this.beforeEvent(marketMs);
    this.kick();
  }

  /** Starts an acknowledgement round unless one is running (it will see the new events). */
  kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.seenMs > this.ackedMs) {
      const target = this.seenMs;
      await this.deps.whenIdle();
      // one macrotask: a stream message already read off the socket (an order event for an answer
      // the engine just got) is delivered before we decide the engine is done
      await new Promise<void>((r) => setImmediate(r));
      await this.deps.whenIdle();
      if (this.seenMs !== target) continue;
      // a tick still at the barrier: its delivery calls onEvent again
      if (this.deps.blocked?.()) return;
      try {
        await this.deps.send(target);
        this.sent++;
        if (target > this.ackedMs) this.ackedMs = target;
        if (this.seenMs === target) this.deps.clock.hold();
      } catch (e) {
        this.deps.onError?.(e as Error);
        if (!this.stopped && !this.retry)
          this.retry = setTimeout(() => {
            this.retry = undefined;
            this.kick();
          }, isVenueError(e, 'RESOURCE_EXHAUSTED') ? 20 : (this.deps.retryMs ?? 500));
        return;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
  }
}
