import { Dec } from '@mm/domain';
import type { BacktestResult, BreakerInterval, EquitySample } from './types';

export const DAY_MS = 86_400_000;
/** Annualisation factor of daily Sharpe/Sortino: crypto trades every day of the year. */
export const PERIODS_PER_YEAR = 365;

/** Worst peak-to-trough fall of the equity curve. */
export interface Drawdown {
  /** Largest absolute fall from a running peak (quote units, ≥ 0). */
  maxAbs: Dec;
  /** Largest fall relative to its running peak (fraction, ≥ 0); may be a different episode than `maxAbs`. */
  maxPct: Dec;
  /** Peak and trough times of the `maxAbs` episode (Unix ms); undefined when there is no drawdown. */
  peakMs?: number;
  troughMs?: number;
  /**
   * Longest time below a previous peak: from the peak to the first sample back at or above it, or
   * to the last sample when equity never recovered (ms).
   */
  maxDurationMs: number;
}

/** Drawdown statistics of an equity curve (samples ascending by time). */
export function drawdown(equity: readonly Pick<EquitySample, 'timeMs' | 'equity'>[]): Drawdown {
  let peak: Dec | undefined;
  let peakMs = 0;
  let maxAbs = new Dec(0);
  let maxPct = new Dec(0);
  let best: { peakMs: number; troughMs: number } | undefined;
  let maxDurationMs = 0;
  let underSince: number | undefined;
  for (const s of equity) {
    if (peak === undefined || s.equity.gte(peak)) {
      if (underSince !== undefined) maxDurationMs = Math.max(maxDurationMs, s.timeMs - underSince);
      underSince = undefined;
      peak = s.equity;
      peakMs = s.timeMs;
      continue;
    }
    if (underSince === undefined) underSince = peakMs;
    const dd = peak.minus(s.equity);
    if (dd.gt(maxAbs)) {
      maxAbs = dd;
      best = { peakMs, troughMs: s.timeMs };
    }
    if (peak.gt(0)) {
      const pct = dd.div(peak);
      if (pct.gt(maxPct)) maxPct = pct;
    }
  }
  if (underSince !== undefined && equity.length) maxDurationMs = Math.max(maxDurationMs, equity[equity.length - 1].timeMs - underSince);
  return { maxAbs, maxPct, peakMs: best?.peakMs, troughMs: best?.troughMs, maxDurationMs };
}

/**
 * Closing equity of each UTC day the samples cover (the last sample of the day), preceded by
 * `startingBalance` as the close of the day before the first. Returns `{ dayMs, equity }` with
 * `dayMs` the day's 00:00 UTC; a day without samples carries the previous close forward.
 */
export function dailyCloses(equity: readonly Pick<EquitySample, 'timeMs' | 'equity'>[], startingBalance: Dec): { dayMs: number; equity: Dec }[] {
  if (!equity.length) return [];
  const first = Math.floor(equity[0].timeMs / DAY_MS) * DAY_MS;
  const last = Math.floor(equity[equity.length - 1].timeMs / DAY_MS) * DAY_MS;
  const out: { dayMs: number; equity: Dec }[] = [{ dayMs: first - DAY_MS, equity: startingBalance }];
  let i = 0;
  let cur = startingBalance;
  for (let day = first; day <= last; day += DAY_MS) {
    while (i < equity.length && equity[i].timeMs < day + DAY_MS) cur = equity[i++].equity;
    out.push({ dayMs: day, equity: cur });
  }
  return out;
}

/** Simple daily returns r_i = E_i / E_{i−1} − 1 of consecutive daily closes (as numbers: statistics, not money). */
export function dailyReturns(closes: readonly { equity: Dec }[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < closes.length; i++) {
    const prev = closes[i - 1].equity;
    out.push(prev.isZero() ? 0 : closes[i].equity.div(prev).minus(1).toNumber());
  }
  return out;
}

/**
 * Annualised Sharpe ratio of daily returns, risk-free rate 0:
 * mean(r) / stdev(r) × √365, with the sample standard deviation (n − 1). Sharpe, W. F. (1994),
 * "The Sharpe Ratio", J. Portfolio Management 21(1). undefined with fewer than 2 returns or zero deviation.
 */
export function sharpe(returns: readonly number[]): number | undefined {
  const n = returns.length;
  if (n < 2) return undefined;
  const mean = returns.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1));
  if (!(sd > 0)) return undefined;
  return (mean / sd) * Math.sqrt(PERIODS_PER_YEAR);
}

/**
 * Annualised Sortino ratio of daily returns, target 0: mean(r) / DD × √365 with the downside
 * deviation DD = √(Σ min(r_i, 0)² / n) over all n returns (Sortino & Price (1994), "Performance
 * Measurement in a Downside Risk Framework", J. Investing 3(3)). undefined with fewer than 2 returns
 * or no losing day.
 */
export function sortino(returns: readonly number[]): number | undefined {
  const n = returns.length;
  if (n < 2) return undefined;
  const mean = returns.reduce((a, b) => a + b, 0) / n;
  const dd = Math.sqrt(returns.reduce((a, r) => a + Math.min(r, 0) ** 2, 0) / n);
  if (!(dd > 0)) return undefined;
  return (mean / dd) * Math.sqrt(PERIODS_PER_YEAR);
}

/** Total ms each breaker reason was open within [startMs, endMs] (an interval without `toMs` runs to `endMs`). */
export function breakerTime(breakers: readonly BreakerInterval[], startMs: number, endMs: number): { totalMs: number; byReason: Record<string, number> } {
  const byReason: Record<string, number> = {};
  // union of intervals for the total (overlapping reasons count once)
  const spans = breakers
    .map((b) => [Math.max(startMs, b.fromMs), Math.min(endMs, b.toMs ?? endMs), b.reason] as const)
    .filter(([a, z]) => z > a)
    .sort((x, y) => x[0] - y[0]);
  let totalMs = 0;
  let curA = -Infinity;
  let curZ = -Infinity;
  for (const [a, z, reason] of spans) {
    byReason[reason] = (byReason[reason] ?? 0) + (z - a);
    if (a > curZ) {
      if (curZ > curA) totalMs += curZ - curA;
      curA = a;
      curZ = z;
    } else curZ = Math.max(curZ, z);
  }
  if (curZ > curA) totalMs += curZ - curA;
  return { totalMs, byReason };
}

/** Net PnL of a round trip: gross PnL − fees. */
export function tripNet(t: { pnl: Dec; fees: Dec }): Dec {
  return t.pnl.minus(t.fees);
}

/** The last equity sample, or a flat one at the starting balance. */
export function finalSample(r: BacktestResult): EquitySample {
  const z = new Dec(0);
  return r.equity[r.equity.length - 1] ?? { timeMs: r.endMs, equity: r.startingBalance, realized: z, unrealized: z, fees: z, funding: z, inventoryQty: z, inventoryNotional: z };
}
