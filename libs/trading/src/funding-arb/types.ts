import { type Dec, type ExchangeVenue } from '@mm/domain';

/** Milliseconds in a 365-day year: the annualisation base of every APR here. */
export const YEAR_MS = 365 * 24 * 3_600_000;

/** Which leg of a pair: `a` or `b` (a pair is symmetric; the decision picks which one is short). */
export type LegId = 'a' | 'b';

/**
 * One leg of a pair: an instrument on one venue (one connector per market). Perpetual legs pay or
 * receive funding; spot legs (a later piece of issue 10) have none and may only be short with margin.
 */
export interface LegSpec {
  /** The venue port of this leg's market (a perp connector, later a spot connector). */
  venue: ExchangeVenue;
  /** Instrument name on that venue, e.g. `BTCUSDT`. */
  symbol: string;
  /** `perp` legs have funding; `spot` legs answer rate 0 / next funding time 0 and are never stale for lack of funding. */
  kind: 'perp' | 'spot';
  /** Fee rates, fraction of notional (0.0005 = 5 bp). The fee applied is taker for MARKET legs, maker for LIMIT legs. */
  makerFee: Dec;
  takerFee: Dec;
  /** Expected borrow interest while this leg is short, per hour (fraction of notional); 0 for perps. */
  borrowRateHourly: Dec;
  /** Whether the strategy may hold this leg short (perp: true; spot: only with margin borrowing). */
  canShort: boolean;
  /**
   * How this leg's orders are sent: MARKET (taker), or a GTC LIMIT `offset` (fraction) on the passive
   * side of the last price, whose unfilled rest is cancelled `timeoutMs` after it was sent (maker).
   */
  execution: { type: 'MARKET' } | { type: 'LIMIT'; offset: Dec; timeoutMs: number };
  /** Funding interval used until the venue's data reveals the actual one (ms), e.g. 8 h. */
  defaultFundingIntervalMs: number;
  /**
   * Where the borrow interest this leg's short has accrued is read (spot margin legs). Absent: the
   * strategy's accounting estimates it from the journal with the documented hourly model (see
   * `estimateBorrowInterest`).
   */
  borrowInterest?: BorrowInterestSource;
}

/**
 * Reports the margin interest accrued on a borrowed asset (a venue adapter: Binance
 * `GET /sapi/v1/margin/interestHistory`, the sim's `SimSpotExchange.balances()[].interestAccrued`).
 */
export interface BorrowInterestSource {
  /** Cumulative interest accrued on `asset` since start, in units of that asset (e.g. BTC). */
  interestAccrued(asset: string): Promise<Dec> | Dec;
}

/** A configured pair: one logical symbol traded on two legs. */
export interface PairSpec {
  /** Logical symbol: the key of the position, the workflows and the client order ids (e.g. `BTCUSDT`). */
  symbol: string;
  legs: Record<LegId, LegSpec>;
  /** Base quantity of one entry, per leg (base units). */
  orderQty: Dec;
  /** Net-delta tolerance of this pair (base units, ≥ 0); overrides `ArbRiskSettings.deltaTolerance`. */
  deltaTolerance?: Dec;
}

/**
 * Position management of open pairs (issue 10 "Position management"). Fractions (0.1 = 10 %), times
 * ms of scheduler time. Config keys `arb.risk.*`.
 *
 * - Delta drift: net delta = position(a) + position(b) (signed, base units, from the journal's
 *   executed quantities). |net delta| > `deltaTolerance` → a rebalance workflow trims the larger leg
 *   by |net delta| (rounded down to its step size).
 * - Toxic basis: basis PnL (both legs' price PnL at the last prices, see `FundingArbStrategy.accounting`)
 *   ≤ −`maxAdverseBasis` × the long leg's notional → exit.
 * - Emergency: the perp leg's liquidation distance |mark − liquidation price| ÷ mark ≤
 *   `emergencyLiquidationDistance`, or its account's margin ratio ≥ `emergencyMarginRatio` →
 *   both legs closed (perp reduce-only, the other leg by its held/borrowed quantity). Read by the
 *   grid's `MarginGuard` (same formulas) from the perp venue's `getAccount`, every `pollMs`.
 *   Entries stay blocked while a leg is past its stop-opening limit and until `recoveryMs` after.
 */
export interface ArbRiskSettings {
  /** Largest |net delta| (base units, ≥ 0) tolerated before a rebalance (`arb.risk.delta_tolerance`). */
  deltaTolerance: Dec;
  /** Rebalance workflows allowed per symbol and funding time (≥ 1), so a venue that keeps rejecting does not churn. */
  maxRebalanceAttemptsPerFunding: number;
  /** Basis loss, fraction of the long leg's notional, at which the position exits (`arb.risk.max_adverse_basis`, > 0). */
  maxAdverseBasis: Dec;
  /** Emergency exit at a perp liquidation distance ≤ this (fraction, > 0). */
  emergencyLiquidationDistance: Dec;
  /** Emergency exit at an account margin ratio ≥ this (fraction, > 0; the venue liquidates at 1). */
  emergencyMarginRatio: Dec;
  /** Entries blocked at a liquidation distance ≤ this (≥ the emergency limit). */
  stopOpeningLiquidationDistance: Dec;
  /** Entries blocked at a margin ratio ≥ this (≤ the emergency limit). */
  stopOpeningMarginRatio: Dec;
  /** Account poll period of the perp legs' venues (ms, > 0). */
  pollMs: number;
  /** Entries stay blocked this long (ms, ≥ 0) after every measure went healthy again. */
  recoveryMs: number;
}

/**
 * Validates {@link ArbRiskSettings}. @throws Error naming the key (`risk.pollMs`, …) for a value out of range.
 */
export function validateArbRisk(r: ArbRiskSettings): void {
  if (!(Number.isFinite(r.pollMs) && r.pollMs > 0)) throw new Error(`risk.pollMs must be > 0 ms, got ${r.pollMs}`);
  if (!(r.recoveryMs >= 0)) throw new Error(`risk.recoveryMs must be ≥ 0 ms, got ${r.recoveryMs}`);
  if (!(Number.isInteger(r.maxRebalanceAttemptsPerFunding) && r.maxRebalanceAttemptsPerFunding >= 1))
    throw new Error(`risk.maxRebalanceAttemptsPerFunding must be an integer ≥ 1, got ${r.maxRebalanceAttemptsPerFunding}`);
  if (r.deltaTolerance.isNegative()) throw new Error('risk.deltaTolerance must be ≥ 0');
  for (const k of ['maxAdverseBasis', 'emergencyLiquidationDistance', 'emergencyMarginRatio'] as const)
    if (!r[k].gt(0)) throw new Error(`risk.${k} must be > 0, got ${r[k].toString()}`);
  if (r.stopOpeningLiquidationDistance.lt(r.emergencyLiquidationDistance)) throw new Error('risk.stopOpeningLiquidationDistance must be ≥ risk.emergencyLiquidationDistance');
  if (r.stopOpeningMarginRatio.gt(r.emergencyMarginRatio)) throw new Error('risk.stopOpeningMarginRatio must be ≤ risk.emergencyMarginRatio');
}

/** Decision thresholds (REQ-ARB-001/002). APRs are fractions per year (0.1 = 10 %). */
export interface ArbThresholds {
  /** Net APR at or above which an entry is wanted. */
  entryApr: Dec;
  /** Gross spread APR (in the held direction) below which an open position exits; a flip (negative) always exits. */
  exitApr: Dec;
  /** The net APR must have stayed ≥ entryApr for this long (ms) before an entry. */
  minAboveThresholdMs: number;
  /** Enter only if at least this long (ms) remains before the next funding time of the short leg. */
  minLeadBeforeFundingMs: number;
  /** Expected holding time (ms) over which the round-trip fees are annualised. */
  expectedHoldMs: number;
  /** Basis-risk haircut subtracted from the APR (fraction per year). */
  basisHaircutApr: Dec;
  /** Largest allowed |price_short − price_long| ÷ mid between the legs' last prices (fraction). */
  maxLegPriceSpread: Dec;
  /** A leg's funding data older than this (ms, > 0) is stale: entries are blocked. */
  maxFundingAgeMs: number;
}

/**
 * Portfolio caps (a port: the multi-symbol risk layer answers). `null` = allowed; a string = the
 * refusal reason, recorded with the decision.
 */
export interface PortfolioCapCheck {
  checkEntry(req: { symbol: string; quantity: Dec; notional: Dec }): Promise<string | null> | string | null;
}

/** Always allows (tests, single-strategy setups). */
export const noPortfolioCaps: PortfolioCapCheck = { checkEntry: () => null };

/**
 * Validates a pair and thresholds. @throws Error naming the key (e.g. `thresholds.maxFundingAgeMs`)
 * for a missing, zero or negative value where a positive one is required. A zero staleness age is
 * refused (the upstream treated 0 as "always stale" and skipped every decision, bug 5).
 */
export function validateArbConfig(pairs: readonly PairSpec[], t: ArbThresholds): void {
  const pos = (v: number, key: string) => {
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`${key} must be > 0 ms, got ${v}`);
  };
  pos(t.maxFundingAgeMs, 'thresholds.maxFundingAgeMs');
  pos(t.expectedHoldMs, 'thresholds.expectedHoldMs');
  if (!(t.minAboveThresholdMs >= 0)) throw new Error(`thresholds.minAboveThresholdMs must be ≥ 0 ms, got ${t.minAboveThresholdMs}`);
  if (!(t.minLeadBeforeFundingMs >= 0)) throw new Error(`thresholds.minLeadBeforeFundingMs must be ≥ 0 ms, got ${t.minLeadBeforeFundingMs}`);
  if (t.maxLegPriceSpread.isNegative()) throw new Error('thresholds.maxLegPriceSpread must be ≥ 0');
  if (t.exitApr.gt(t.entryApr)) throw new Error('thresholds.exitApr must be ≤ thresholds.entryApr');
  const seen = new Set<string>();
  pairs.forEach((p, i) => {
    if (seen.has(p.symbol)) throw new Error(`pairs[${i}].symbol: duplicate ${p.symbol}`);
    seen.add(p.symbol);
    if (!/^[A-Z0-9]{2,16}$/.test(p.symbol)) throw new Error(`pairs[${i}].symbol must be 2–16 of A-Z0-9, got "${p.symbol}"`);
    if (!p.orderQty.gt(0)) throw new Error(`pairs[${i}].orderQty must be > 0`);
    if (p.deltaTolerance?.isNegative()) throw new Error(`pairs[${i}].deltaTolerance must be ≥ 0`);
    for (const id of ['a', 'b'] as const) {
      const l = p.legs[id];
      const key = `pairs[${i}].legs.${id}`;
      pos(l.defaultFundingIntervalMs, `${key}.defaultFundingIntervalMs`);
      if (l.makerFee.isNegative() && l.takerFee.isNegative()) throw new Error(`${key}: fees must not both be negative`);
      if (l.borrowRateHourly.isNegative()) throw new Error(`${key}.borrowRateHourly must be ≥ 0`);
      if (l.execution.type === 'LIMIT') pos(l.execution.timeoutMs, `${key}.execution.timeoutMs`);
    }
    if (!p.legs.a.canShort && !p.legs.b.canShort) throw new Error(`pairs[${i}]: no leg may be short`);
  });
}
