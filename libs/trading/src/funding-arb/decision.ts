import { Dec, ZERO } from '@mm/domain';
import type { LegFunding, PairFunding } from './funding-monitor';
import { type ArbThresholds, type LegId, type LegSpec, type PairSpec, YEAR_MS } from './types';

/** Which leg is short (the other is long). */
export type ShortLeg = LegId;

export const otherLeg = (id: LegId): LegId => (id === 'a' ? 'b' : 'a');

/** APR breakdown of one direction (fractions per year). */
export interface AprBreakdown {
  short: ShortLeg;
  /** rate_short × year/interval_short − rate_long × year/interval_long. */
  grossApr: Dec;
  /** Round-trip fees of both legs (entry + exit), annualised over `expectedHoldMs`. */
  feeApr: Dec;
  /** Expected borrow interest of the short leg: borrowRateHourly × 8760. */
  borrowApr: Dec;
  haircutApr: Dec;
  /** gross − fees − borrow − haircut. */
  netApr: Dec;
}

/** Fee rate a leg pays per order: taker for MARKET execution, maker for LIMIT. */
export function legFeeRate(leg: LegSpec): Dec {
  return leg.execution.type === 'MARKET' ? leg.takerFee : leg.makerFee;
}

/**
 * Annualised funding of one leg's rate: rate × YEAR_MS ÷ intervalMs (0 without funding).
 * For an 8 h interval this is rate × 1095, the upstream's formula; a 4 h or 1 h venue interval
 * scales accordingly (REQ-ARB-001 "over the actual interval").
 */
export function annualise(f: LegFunding): Dec {
  if (f.nextFundingTimeMs === 0) return ZERO;
  return f.rate.mul(YEAR_MS).div(f.intervalMs);
}

/**
 * APR of holding `short` short and the other leg long (REQ-ARB-001): the funding spread over each
 * leg's actual interval, net of both legs' entry and exit fees (annualised over the expected hold),
 * the short leg's expected borrow interest (0 for perps) and the basis-risk haircut.
 */
export function aprFor(pair: PairSpec, t: ArbThresholds, legs: Record<LegId, LegFunding>, short: ShortLeg): AprBreakdown {
  const long = otherLeg(short);
  const grossApr = annualise(legs[short]).minus(annualise(legs[long]));
  const roundTrip = legFeeRate(pair.legs.a).plus(legFeeRate(pair.legs.b)).mul(2);
  const feeApr = roundTrip.mul(YEAR_MS).div(t.expectedHoldMs);
  const borrowApr = pair.legs[short].borrowRateHourly.mul(24 * 365);
  const netApr = grossApr.minus(feeApr).minus(borrowApr).minus(t.basisHaircutApr);
  return { short, grossApr, feeApr, borrowApr, haircutApr: t.basisHaircutApr, netApr };
}

/** Everything one decision looks at. Times Unix ms (scheduler time). */
export interface DecisionInput {
  pair: PairSpec;
  thresholds: ArbThresholds;
  funding: PairFunding;
  /** Last prices of the legs (quote units); undefined when unknown. */
  prices: Record<LegId, Dec | undefined>;
  /** The open position's short leg, or null when flat. */
  openShort: ShortLeg | null;
  /** An entry or exit workflow of this symbol is unfinished. */
  inFlight: boolean;
  /** Since when the best direction's net APR has been ≥ entryApr (undefined = not above now). */
  aboveSinceMs: number | undefined;
  nowMs: number;
}

export type Decision =
  | { action: 'enter'; short: ShortLeg; apr: AprBreakdown; reasons: string[] }
  | { action: 'exit'; short: ShortLeg; apr: AprBreakdown; reasons: string[] }
  | { action: 'none'; apr?: AprBreakdown; reasons: string[] };

/**
 * The per-symbol decision (REQ-ARB-001/002), a pure function of its input. Portfolio caps are
 * checked by the caller after an `enter` (they are a port and may be asynchronous).
 *
 * - In flight → none (at most one entry/exit per symbol, REQ-ARB-005).
 * - Open position: stale data → hold (no decision on stale data); gross APR in the held direction
 *   below `exitApr` → exit ("flipped" when negative, else "decayed").
 * - Flat: blocked when a leg's funding is missing or stale, when the legs' price spread exceeds
 *   `maxLegPriceSpread` or a price is unknown, when no direction reaches `entryApr` net, when it has not
 *   held for `minAboveThresholdMs`, or when less than `minLeadBeforeFundingMs` is left before the
 *   short leg's next funding.
 */
export function decide(inp: DecisionInput): Decision {
  const { pair, thresholds: t, funding } = inp;
  if (inp.inFlight) return { action: 'none', reasons: ['workflow in flight'] };
  if (funding.stale.length) return { action: 'none', reasons: inp.openShort ? ['hold: funding stale', ...funding.stale] : ['entry blocked: funding stale', ...funding.stale] };
  const legs = funding.legs as Record<LegId, LegFunding>;
  if (inp.openShort) {
    const apr = aprFor(pair, t, legs, inp.openShort);
    if (apr.grossApr.isNegative()) return { action: 'exit', short: inp.openShort, apr, reasons: [`spread flipped: gross APR ${apr.grossApr.toFixed(6)}`] };
    if (apr.grossApr.lt(t.exitApr)) return { action: 'exit', short: inp.openShort, apr, reasons: [`spread decayed: gross APR ${apr.grossApr.toFixed(6)} < ${t.exitApr}`] };
    return { action: 'none', apr, reasons: ['hold'] };
  }
  const candidates = (['a', 'b'] as const).filter((s) => pair.legs[s].canShort).map((s) => aprFor(pair, t, legs, s));
  const best = candidates.reduce((x, y) => (y.netApr.gt(x.netApr) ? y : x));
  if (best.netApr.lt(t.entryApr)) return { action: 'none', apr: best, reasons: [`net APR ${best.netApr.toFixed(6)} < entry ${t.entryApr}`] };
  const pa = inp.prices.a;
  const pb = inp.prices.b;
  if (!pa || !pb || !pa.gt(0) || !pb.gt(0)) return { action: 'none', apr: best, reasons: ['entry blocked: leg price unknown'] };
  const spread = pa.minus(pb).abs().div(pa.plus(pb).div(2));
  if (spread.gt(t.maxLegPriceSpread))
    return { action: 'none', apr: best, reasons: [`entry blocked: leg price spread ${spread.toFixed(6)} > ${t.maxLegPriceSpread}`] };
  if (t.minAboveThresholdMs > 0 && (inp.aboveSinceMs === undefined || inp.nowMs - inp.aboveSinceMs < t.minAboveThresholdMs))
    return { action: 'none', apr: best, reasons: [`entry waits: APR above threshold for ${inp.aboveSinceMs === undefined ? 0 : inp.nowMs - inp.aboveSinceMs} ms < ${t.minAboveThresholdMs} ms`] };
  const next = legs[best.short].nextFundingTimeMs || legs[otherLeg(best.short)].nextFundingTimeMs;
  if (next > 0 && next - inp.nowMs < t.minLeadBeforeFundingMs)
    return { action: 'none', apr: best, reasons: [`entry blocked: ${next - inp.nowMs} ms before funding < ${t.minLeadBeforeFundingMs} ms`] };
  return { action: 'enter', short: best.short, apr: best, reasons: [`net APR ${best.netApr.toFixed(6)} ≥ ${t.entryApr}`] };
}
