import { Dec, sum } from '@mm/domain';

/** The price fields of a candle that true range needs (quote price units). */
export interface HighLow {
  high: Dec;
  low: Dec;
}

/**
 * True range of one candle, quote price units (Wilder; upstream §3.4):
 * TR = max(H − L, |H − C_prev|, |L − C_prev|), or H − L when there is no previous close.
 * @param prevClose close of the preceding candle; `null`/`undefined` for the first candle of a series.
 */
export function trueRange(prevClose: Dec | null | undefined, c: HighLow): Dec {
  const hl = c.high.minus(c.low);
  if (prevClose === null || prevClose === undefined) return hl;
  return Dec.max(hl, c.high.minus(prevClose).abs(), c.low.minus(prevClose).abs());
}

/**
 * Mean true range of `candles` (oldest first), quote price units: the simple average of their true
 * ranges, as upstream `internal/risk/monitor.go` computes ATR (no Wilder smoothing).
 * `candles[i]` uses `candles[i − 1].close` as its previous close; `candles[0]` uses `prevClose`
 * when given, else H − L.
 * @returns the mean, or `null` for an empty list.
 */
export function averageTrueRange(candles: ReadonlyArray<HighLow & { close: Dec }>, prevClose?: Dec | null): Dec | null {
  if (candles.length === 0) return null;
  const trs = candles.map((c, i) => trueRange(i === 0 ? prevClose : candles[i - 1]!.close, c));
  return sum(trs).div(candles.length);
}
