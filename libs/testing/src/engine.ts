import { type Candle, dec } from '@mm/domain';

/** The part of a GridEngine the helpers drive. */
export interface IdleEngine {
  idle(): Promise<void>;
}

/**
 * Runs queued engine work until the queue stays empty across a macrotask turn (venue events that
 * arrive as microtasks or immediates, and the tasks they enqueue, included). `check` runs after
 * every turn (e.g. throw when the engine failed). Gives up after `maxTurns` turns.
 */
export async function settleEngine(engine: IdleEngine, check: () => void = () => undefined, maxTurns = Number.POSITIVE_INFINITY): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    const chain = engine.idle();
    await chain;
    await new Promise<void>((r) => setImmediate(r));
    check();
    if (engine.idle() === chain) return;
  }
}

/**
 * Market-maker config (raw YAML shape) for in-process harnesses that drive market time themselves:
 * reconciliation and pending lookups far apart, and the breaker inputs that come from wall-clock
 * feeds (price age, order-stream age, latency) off, as are losses, drawdown, crash guard and exposure
 * limits unless a test turns them on.
 */
export const HARNESS_CONFIG = {
  engine: { reconcile_interval_ms: 3_600_000, pending_timeout_ms: 600_000, stale_price_ms: 600_000 },
  risk: {
    breaker: { max_price_age_ms: 0, max_order_stream_down_ms: 0, max_latency_p99_ms: 0, max_consecutive_losses: 0, max_drawdown_abs: '0', max_drawdown_pct: '0' },
    monitor: { enabled: false },
    exposure: { max_position_notional: '0', max_total_notional: '0', max_open_order_notional: '0' },
  },
} as const;

/** [open, high, low, close] as decimal strings. */
export type OhlcRow = [string, string, string, string];

/** 1-minute closed candles from OHLC rows, one minute apart from `t0` (Unix ms); volume 10. */
export function candlesFromRows(symbol: string, t0: number, rows: OhlcRow[]): Candle[] {
  return rows.map(([o, h, l, c], i) => ({ symbol, openTimeMs: t0 + i * 60_000, open: dec(o), high: dec(h), low: dec(l), close: dec(c), volume: dec('10'), closed: true }));
}

/** `n` flat rows at price `p`. */
export function flatRows(p: string, n: number): OhlcRow[] {
  return Array.from({ length: n }, () => [p, p, p, p] as OhlcRow);
}
