import type { Dec, Scheduler } from '@mm/domain';
import type { StateChange, LoadedState, IntentRow } from './state';

export type { Scheduler, TimerHandle, Clock } from '@mm/domain';

/** A value now, or later: a synchronous journal and an async database can both implement a port. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Durable engine state for ONE symbol (the TypeORM GridStore in the app, `InMemoryStateStore` in
 * backtests). The engine treats a rejected/throwing `apply` as fatal (crash-only: a restart recovers
 * from the store and the venue), so `apply` must be atomic: all of a change or none of it.
 */
export interface EngineStateStore {
  /** Strategy row, every slot row and every intent still open (PENDING_NEW, NEW, PARTIALLY_FILLED), oldest first. */
  load(): MaybePromise<LoadedState>;
  /** Trade ids already booked for these client order ids. */
  tradeIdsOf(clientOrderIds: string[]): MaybePromise<{ clientOrderId: string; tradeId: string }[]>;
  /** Was a fill with this venue trade id booked (any order)? */
  fillExists(tradeId: string): MaybePromise<boolean>;
  /** One intent by client order id, whatever its status. */
  intent(clientOrderId: string): MaybePromise<IntentRow | null>;
  /** Writes one change atomically. */
  apply(change: StateChange): MaybePromise<void>;
  /** Housekeeping after a reconciliation (SQLite WAL checkpoint); may do nothing. */
  checkpoint(): MaybePromise<void>;
  /**
   * The instance's client-order-id secret (see `makeClientOrderId`), stored durably: returns the
   * stored one, or stores `create()` and returns it when there is none yet. Restarts on the same
   * store keep recognising their ids; a fresh store gets a fresh secret (earlier ids become foreign).
   * Optional: without it, the engine needs `EngineOptions.clientIdSecret`.
   */
  clientIdSecret?(create: () => string): MaybePromise<string>;
  /**
   * Storage health check, run on the engine's storage timer: throws when the store is not the one
   * it opened (SQLite: the path's device/inode changed or the file is gone) or a probe write fails.
   * Optional (an in-memory store cannot be lost).
   */
  verify?(): MaybePromise<void>;
}

/** Alert kinds the engine raises (and `feed_undecodable`, raised by the app's venue link). */
export type AlertKind =
  | 'breaker_tripped'
  | 'breaker_reset'
  | 'limit_hit'
  | 'strategy_crashed'
  | 'venue_disconnected'
  | 'venue_reconnected'
  | 'risk_triggered'
  | 'reconciliation_divergence'
  | 'feed_undecodable'
  | 'foreign_order'
  | 'rejection_loop'
  | 'storage_fault'
  /** Funding arbitrage: a two-leg workflow unwound or trimmed its first leg (second leg rejected / partly filled). */
  | 'arb_compensation'
  /** Funding arbitrage: both legs of a pair are being closed because the perp leg's liquidation distance or the account margin ratio crossed its emergency limit. */
  | 'arb_emergency_exit';

/** Where alerts go (the app's AlertService; a list or a no-op in tests and backtests). Must never block or throw. */
export interface AlertSink {
  notify(e: {
    kind: AlertKind;
    level: 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
    title: string;
    message: string;
    fields?: Record<string, string>;
    dedupeKey?: string;
  }): unknown;
}

/**
 * What the engine reports to monitoring (the app maps it onto Prometheus metrics). Quantities in base
 * units, money in quote, durations in seconds. Calls must be cheap and never throw.
 */
export interface EngineMetrics {
  /** One fill booked. */
  fillBooked(symbol: string, side: string, quantity: Dec): void;
  /** The venue accepted an order. */
  orderPlaced(symbol: string, side: string): void;
  /** The venue rejected an order: post-only would have taken, insufficient margin, or anything else. */
  orderRejected(symbol: string, reason: 'post_only' | 'margin' | 'other'): void;
  /** An opening order was not sent because of an exposure limit (`reason` = the limit). */
  orderBlocked(symbol: string, reason: string): void;
  /** Mean venue round-trip time of one order of a placement batch, seconds. */
  exchangeLatency(operation: string, seconds: number): void;
  /** Grid state after a change: Σ slot inventory (base), slots with a live or pending order, realized PnL (quote; null before the strategy exists). */
  gridState(symbol: string, inventory: Dec, activeOrders: number, realizedPnl: Dec | null): void;
  /** Unrealized PnL at the last price (quote) and age of the last price tick (seconds; Infinity before the first). */
  markState(symbol: string, unrealizedPnl: Dec, feedAgeSeconds: number): void;
  /** Venue position − local inventory at the last reconciliation, base units. */
  divergence(symbol: string, diff: Dec): void;
  /** Breaker transition; `reason` set when it opens. */
  breakerState(symbol: string, state: 'OPEN' | 'HALF_OPEN' | 'CLOSED', tripReason?: string): void;
  /** Crash guard raised or cleared. */
  crashGuard(symbol: string, triggered: boolean): void;
  /**
   * A venue answer carried one of our client order ids but did not match the intent (or the stored
   * intent) behind it; `where` = 'place' | 'lookup' | 'stream' | 'adopt'. Optional.
   */
  foreignOrder?(symbol: string, where: string): void;
  /**
   * Margin reading of the account poll (`risk.margin.check_interval_ms`): account margin ratio
   * (Σ maintenance ÷ margin balance, fraction) and this symbol's liquidation distance
   * (|mark − liquidation price| ÷ mark, fraction); null when the venue reports none. Optional.
   */
  marginState?(symbol: string, marginRatio: Dec | null, liquidationDistance: Dec | null): void;
  /** Cumulative funding received (+) / paid (−) since the engine started, quote. Optional. */
  fundingPnl?(symbol: string, funding: Dec): void;
  /** Storage check result: false while the store is lost or failing. Optional. */
  storageHealthy?(symbol: string, healthy: boolean): void;
}

/** Engine log lines (the app passes Nest loggers; backtests a quiet or collecting one). */
export interface EngineLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Makes a logger for a named engine component ('GridEngine', 'OrderExecutor', 'Risk', ...). */
export type LoggerFactory = (context: string) => EngineLogger;

/** Named points where test-only fault injection may kill the process (see `EngineDeps.crashHook`). */
export type CrashPoint = 'after_intent_commit' | 'after_venue_answer';

/** Everything the engine reaches outside itself. */
export interface EngineDeps {
  venue: import('@mm/domain').ExchangeVenue;
  store: EngineStateStore;
  scheduler: Scheduler;
  metrics?: EngineMetrics;
  alerts?: AlertSink;
  logger?: LoggerFactory;
  /** Called when the engine stops for good (database write failed, stream failed). */
  onFatal?: (err: Error) => void;
  /** Test-only fault injection (the app's MM_CRASH_POINT): called at each named point; may kill the process. */
  crashHook?: (point: CrashPoint) => void;
  /** Portfolio caps shared by the account's symbol engines (`SharedPortfolioLimiter`); consulted before each opening order. */
  portfolio?: import('./portfolio').PortfolioLimiter;
  /**
   * The account view shared by the account's symbol engines (`AccountView`, polled once per period
   * for all): the engine's margin guard reads its readings instead of polling the venue itself, and
   * its account breakers stop opening. Unset = the engine polls the account itself (single engine).
   */
  accountView?: import('./account-view').AccountView;
  /** Uniform [0, 1) source for retry jitter (the app passes Math.random; default 0.5, deterministic). */
  random?: () => number;
}

export const noopMetrics: EngineMetrics = {
  fillBooked: () => undefined,
  orderPlaced: () => undefined,
  orderRejected: () => undefined,
  orderBlocked: () => undefined,
  exchangeLatency: () => undefined,
  gridState: () => undefined,
  markState: () => undefined,
  divergence: () => undefined,
  breakerState: () => undefined,
  crashGuard: () => undefined,
};

const quiet: EngineLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };
export const quietLogger: LoggerFactory = () => quiet;
export const noopAlerts: AlertSink = { notify: () => undefined };
