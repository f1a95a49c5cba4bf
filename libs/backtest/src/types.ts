import type { Dec } from '@mm/domain';

/**
 * Input of the report functions: the time series a backtest produces. All times are market time,
 * Unix ms; prices and money in quote units (USDT), quantities in base units, all money as decimals.
 */
export interface BacktestFill {
  timeMs: number;
  symbol: string;
  side: 'BUY' | 'SELL';
  price: Dec;
  qty: Dec;
  /** Fee paid (quote units, ≥ 0; a rebate is negative). */
  fee: Dec;
  liquidity: 'maker' | 'taker';
  clientOrderId?: string;
}

/** A closed round trip (entry and exit of a grid slot or position lot). */
export interface RoundTrip {
  symbol: string;
  /** LONG: bought then sold; SHORT: sold then bought. */
  direction: 'LONG' | 'SHORT';
  openTimeMs: number;
  closeTimeMs: number;
  qty: Dec;
  entryPrice: Dec;
  exitPrice: Dec;
  /** Gross PnL of the trip before fees: (exit − entry) × qty, sign-adjusted for SHORT. */
  pnl: Dec;
  /** Fees of both legs. */
  fees: Dec;
}

/** An account sample; the money fields are cumulative since the start. */
export interface EquitySample {
  timeMs: number;
  /** starting balance + realized + unrealized − fees + funding. */
  equity: Dec;
  realized: Dec;
  unrealized: Dec;
  fees: Dec;
  /** Funding received (> 0) or paid (< 0). */
  funding: Dec;
  /** Signed position (base units). */
  inventoryQty: Dec;
  /** Signed position × mark (quote units). */
  inventoryNotional: Dec;
}

/** A time the circuit breaker (or another risk gate) stopped opening orders. `toMs` absent = still open at the end. */
export interface BreakerInterval {
  fromMs: number;
  toMs?: number;
  reason: string;
}

/** A price bar for the chart (open time, Unix ms). */
export interface PriceBar {
  timeMs: number;
  open: Dec;
  high: Dec;
  low: Dec;
  close: Dec;
}

/** Everything a backtest run produced. */
export interface BacktestResult {
  symbol: string;
  /** Market time range replayed. */
  startMs: number;
  endMs: number;
  startingBalance: Dec;
  fills: readonly BacktestFill[];
  roundTrips: readonly RoundTrip[];
  /** Ascending by time; the last one is the final state. */
  equity: readonly EquitySample[];
  breakers: readonly BreakerInterval[];
  candles: readonly PriceBar[];
  /** Echo of the effective configuration (JSON-safe values), written into the report with sorted keys. */
  config: Record<string, unknown>;
  /** Where the data came from (file names, fill model …), echoed as is. */
  source?: Record<string, string>;
}
