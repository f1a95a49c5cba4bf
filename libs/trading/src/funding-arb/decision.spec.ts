import { Dec, type ExchangeVenue, dec } from '@mm/domain';
import { aprFor, decide, type DecisionInput } from './decision';
import type { LegFunding, PairFunding } from './funding-monitor';
import { type ArbThresholds, type LegSpec, type PairSpec, validateArbConfig } from './types';

const H = 3_600_000;
const venue = {} as ExchangeVenue; // the decision never touches the venue
const leg = (over: Partial<LegSpec> = {}): LegSpec => ({
  venue,
  symbol: 'BTCUSDT',
  kind: 'perp',
  makerFee: dec('0.0002'),
  takerFee: dec('0.0005'),
  borrowRateHourly: dec('0'),
  canShort: true,
  execution: { type: 'MARKET' },
  defaultFundingIntervalMs: 8 * H,
  ...over,
});
const pair = (a: Partial<LegSpec> = {}, b: Partial<LegSpec> = {}): PairSpec => ({ symbol: 'BTCUSDT', legs: { a: leg(a), b: leg(b) }, orderQty: dec('0.01') });
const T: ArbThresholds = {
  entryApr: dec('0.10'),
  exitApr: dec('0.02'),
  minAboveThresholdMs: 0,
  minLeadBeforeFundingMs: 10 * 60_000,
  expectedHoldMs: 7 * 24 * H,
  basisHaircutApr: dec('0.05'),
  maxLegPriceSpread: dec('0.002'),
  maxFundingAgeMs: 5 * 60_000,
};
const NOW = 1_750_000_000_000;
const lf = (rate: string, intervalMs = 8 * H, next = NOW + 2 * H): LegFunding => ({ rate: dec(rate), nextFundingTimeMs: next, intervalMs, intervalSource: 'history', receivedAtMs: NOW });
const funding = (a: LegFunding | undefined, b: LegFunding | undefined, stale: string[] = []): PairFunding => ({ symbol: 'BTCUSDT', legs: { a, b }, stale });
const input = (over: Partial<DecisionInput>): DecisionInput => ({
  pair: pair(),
  thresholds: T,
  funding: funding(lf('0.0001'), lf('0.0004', 4 * H)),
  prices: { a: dec('100000'), b: dec('100050') },
  openShort: null,
  inFlight: false,
  aboveSinceMs: NOW,
  nowMs: NOW,
  ...over,
});

describe('funding-arb decision (REQ-ARB-001/002)', () => {
  it('APR = funding spread over each leg’s actual interval, net of both legs’ round-trip fees, borrow and haircut', () => {
    // short b (0.0004 per 4 h = ×2190 a year), long a (0.0001 per 8 h = ×1095): 0.876 − 0.1095 = 0.7665 gross.
    // Fees: 4 taker orders × 0.0005 = 0.002 per round trip, 52.142857… round trips a year over a 7-day hold.
    const apr = aprFor(pair(), T, { a: lf('0.0001'), b: lf('0.0004', 4 * H) }, 'b');
    expect(apr.grossApr.toString()).toBe('0.7665');
    expect(apr.feeApr.eq(new Dec('0.002').mul(365).div(7))).toBe(true);
    expect(apr.netApr.eq(new Dec('0.7665').minus(new Dec('0.002').mul(365).div(7)).minus('0.05'))).toBe(true);
    // maker (LIMIT) legs pay the maker fee; a short spot leg's borrow interest is annualised over 8760 h
    const p2 = pair({ execution: { type: 'LIMIT', offset: dec('0.0001'), timeoutMs: 60_000 } }, { kind: 'perp', borrowRateHourly: dec('0.00001') });
    const apr2 = aprFor(p2, T, { a: lf('0.0001'), b: lf('0.0004', 4 * H) }, 'b');
    expect(apr2.feeApr.eq(new Dec('0.0002').plus('0.0005').mul(2).mul(365).div(7))).toBe(true);
    expect(apr2.borrowApr.toString()).toBe('0.0876');
  });

  it('enters in the direction whose short leg earns more, only on legs that may be short', () => {
    const d = decide(input({}));
    expect(d).toMatchObject({ action: 'enter', short: 'b' });
    // reversed rates → short a
    expect(decide(input({ funding: funding(lf('0.0004', 4 * H), lf('0.0001')) }))).toMatchObject({ action: 'enter', short: 'a' });
    // b may not be short (spot without margin): the other direction is negative → no entry
    const d3 = decide(input({ pair: pair({}, { canShort: false }) }));
    expect(d3.action).toBe('none');
    expect(d3.apr?.short).toBe('a');
  });

  it('blocks entries on stale or missing funding and records the reason; an open position holds', () => {
    const d = decide(input({ funding: funding(lf('0.0001'), undefined, ['leg b: no funding data']) }));
    expect(d).toEqual({ action: 'none', reasons: ['entry blocked: funding stale', 'leg b: no funding data'] });
    const h = decide(input({ openShort: 'b', funding: funding(lf('0.0001'), lf('-0.001'), ['leg b: funding data 400000 ms old > 300000 ms']) }));
    expect(h.action).toBe('none');
    expect(h.reasons[0]).toBe('hold: funding stale');
  });

  it('blocks entries when the legs’ prices are too far apart or a price is unknown', () => {
    const d = decide(input({ prices: { a: dec('100000'), b: dec('100300') } }));
    expect(d.action).toBe('none');
    expect(d.reasons[0]).toMatch(/^entry blocked: leg price spread 0\.002996 > 0\.002$/);
    expect(decide(input({ prices: { a: dec('100000'), b: undefined } })).reasons).toEqual(['entry blocked: leg price unknown']);
  });

  it('waits until the APR has held for minAboveThresholdMs and refuses to enter too close to funding', () => {
    const t = { ...T, minAboveThresholdMs: 30 * 60_000 };
    expect(decide(input({ thresholds: t, aboveSinceMs: NOW - 29 * 60_000 })).action).toBe('none');
    expect(decide(input({ thresholds: t, aboveSinceMs: NOW - 30 * 60_000 })).action).toBe('enter');
    expect(decide(input({ thresholds: t, aboveSinceMs: undefined })).reasons).toEqual(['entry waits: APR above threshold for 0 ms < 1800000 ms']);
    expect(decide(input({ aboveSinceMs: undefined })).action).toBe('enter'); // no minimum: the first reading suffices
    const late = decide(input({ funding: funding(lf('0.0001', 8 * H, NOW + 5 * 60_000), lf('0.0004', 4 * H, NOW + 5 * 60_000)) }));
    expect(late.action).toBe('none');
    expect(late.reasons[0]).toBe('entry blocked: 300000 ms before funding < 600000 ms');
  });

  it('below the entry threshold: no entry (net of fees: a spread that only covers fees is not enough)', () => {
    // 0.00012 − 0.0001 per 8 h = 0.0219 gross < fees 0.104… + haircut 0.05
    const d = decide(input({ funding: funding(lf('0.0001'), lf('0.00012')) }));
    expect(d.action).toBe('none');
    expect(d.apr!.netApr.isNegative()).toBe(true);
  });

  it('exits when the spread decays below the exit threshold or flips; holds otherwise', () => {
    expect(decide(input({ openShort: 'b' })).action).toBe('none');
    const decayed = decide(input({ openShort: 'b', funding: funding(lf('0.0001'), lf('0.00011')) }));
    expect(decayed).toMatchObject({ action: 'exit', short: 'b' });
    expect(decayed.reasons[0]).toMatch(/^spread decayed/);
    const flipped = decide(input({ openShort: 'b', funding: funding(lf('0.0003'), lf('0.0001')) }));
    expect(flipped.reasons[0]).toMatch(/^spread flipped/);
    expect(decide(input({ openShort: 'b', inFlight: true }))).toEqual({ action: 'none', reasons: ['workflow in flight'] });
  });

  it('config: a zero staleness age is refused by name (upstream bug 5 treated 0 as always stale)', () => {
    expect(() => validateArbConfig([pair()], { ...T, maxFundingAgeMs: 0 })).toThrow('thresholds.maxFundingAgeMs must be > 0 ms, got 0');
    expect(() => validateArbConfig([pair({ defaultFundingIntervalMs: -1 })], T)).toThrow('pairs[0].legs.a.defaultFundingIntervalMs must be > 0 ms');
    expect(() => validateArbConfig([pair(), pair()], T)).toThrow('pairs[1].symbol: duplicate BTCUSDT');
    expect(() => validateArbConfig([pair()], T)).not.toThrow();
  });
});
