import { type Dec, dec } from '@mm/domain';
import { type ExposureLimits, type ExposureState, checkExposure, exposureVerdictRange, inNotionalRange } from './exposure';

const limits = (over: Partial<ExposureLimits> = {}): ExposureLimits => ({
  maxPositionNotional: dec('0'),
  maxTotalNotional: dec('0'),
  maxOpenOrderNotional: dec('0'),
  ...over,
});

const state = (
  positions: Record<string, [string, string]> = {},
  pending: Record<string, string> = {},
): ExposureState => ({
  positions: new Map(Object.entries(positions).map(([s, [q, m]]) => [s, { qty: dec(q), markPrice: dec(m) }])),
  openOpeningOrders: new Map<string, Dec>(Object.entries(pending).map(([s, v]) => [s, dec(v)])),
});

const buy = (quantity: string, price = '100000', symbol = 'BTCUSDT') => ({ symbol, side: 'BUY' as const, price: dec(price), quantity: dec(quantity), reduceOnly: false });
const sell = (quantity: string, price = '100000', symbol = 'BTCUSDT') => ({ symbol, side: 'SELL' as const, price: dec(price), quantity: dec(quantity), reduceOnly: false });

describe('checkExposure — per-symbol position', () => {
  const L = limits({ maxPositionNotional: dec('1000') });

  it('flat book: an order exactly at the limit passes, one qty step over fails', () => {
    expect(checkExposure(L, state(), buy('0.01'))).toEqual({ ok: true }); // 0.01 × 100000 = 1000
    expect(checkExposure(L, state(), buy('0.011'))).toEqual({
      ok: false,
      reason: 'position_notional',
      detail: 'BTCUSDT: worst-case position notional 1100 (position 0, order 1100, pending 0) exceeds 1000',
    });
  });

  it('counts the position at mark and every pending opening order as filled on the same side', () => {
    // long 0.005 @ mark 100000 = 500, pending 300, order 0.002 × 100000 = 200 → 1000
    const s = state({ BTCUSDT: ['0.005', '100000'] }, { BTCUSDT: '300' });
    expect(checkExposure(L, s, buy('0.002')).ok).toBe(true);
    const v = checkExposure(L, s, buy('0.00201')); // 201 → 1001
    expect(v).toMatchObject({ ok: false, reason: 'position_notional' });
    expect(v.ok === false && v.detail).toContain('worst-case position notional 1001');
  });

  it('pending orders count even when the order itself is small', () => {
    const s = state({}, { BTCUSDT: '999.9' });
    expect(checkExposure(L, s, buy('0.000001')).ok).toBe(true); // 0.1 → 1000
    expect(checkExposure(L, s, buy('0.000002')).ok).toBe(false); // 0.2 → 1000.1
  });

  it('shorts (neutral mode) count by |qty|', () => {
    // short −0.005 × 100000 = −500; opening sell 200 → |−700| + pending 300 = 1000
    const s = state({ BTCUSDT: ['-0.005', '100000'] }, { BTCUSDT: '300' });
    expect(checkExposure(L, s, sell('0.002')).ok).toBe(true);
    expect(checkExposure(L, s, sell('0.00201')).ok).toBe(false);
  });

  it('an order against the position is credited with its reduction; pending still count adversely', () => {
    // long 500, opening SELL 200 → |300| + pending 300 = 600
    const s = state({ BTCUSDT: ['0.005', '100000'] }, { BTCUSDT: '300' });
    expect(checkExposure(limits({ maxPositionNotional: dec('600') }), s, sell('0.002')).ok).toBe(true);
    expect(checkExposure(limits({ maxPositionNotional: dec('599.99') }), s, sell('0.002')).ok).toBe(false);
  });

  it('uses the mark price for the position and the limit price for the order', () => {
    // 0.01 long marked at 90000 = 900; buy 0.001 @ 100000 = 100 → 1000
    const s = state({ BTCUSDT: ['0.01', '90000'] });
    expect(checkExposure(L, s, buy('0.001')).ok).toBe(true);
    expect(checkExposure(L, s, buy('0.001', '100000.1')).ok).toBe(false);
  });
});

describe('checkExposure — open-order notional', () => {
  const L = limits({ maxOpenOrderNotional: dec('600') });
  it('pending + new order: at the limit passes, above fails', () => {
    const s = state({ BTCUSDT: ['1', '100000'] }, { BTCUSDT: '400' }); // position is irrelevant here
    expect(checkExposure(L, s, buy('0.002')).ok).toBe(true); // 400 + 200
    expect(checkExposure(L, s, buy('0.002', '100000.1'))).toEqual({
      ok: false,
      reason: 'open_order_notional',
      detail: 'BTCUSDT: open opening-order notional 600.0002 (pending 400 + order 200.0002) exceeds 600',
    });
  });
  it('is per symbol', () => {
    const s = state({}, { ETHUSDT: '10000' });
    expect(checkExposure(L, s, buy('0.006')).ok).toBe(true);
  });
});

describe('checkExposure — total across symbols', () => {
  const L = limits({ maxTotalNotional: dec('2500'), maxPositionNotional: dec('1000') });
  // ETH short −1 @ 2000 → |2000|, ETH pending 100 → 2100; SOL pending only 0 → ignored
  const s = state({ ETHUSDT: ['-1', '2000'] }, { ETHUSDT: '100', SOLUSDT: '0' });

  it('sums worst-case notionals of every symbol: at the limit passes, above fails', () => {
    expect(checkExposure(L, s, buy('0.004')).ok).toBe(true); // 400 + 2100 = 2500
    expect(checkExposure(L, s, buy('0.004001'))).toEqual({
      ok: false,
      reason: 'total_notional',
      detail: 'worst-case total notional 2500.1 (BTCUSDT 400.1 + others 2100) exceeds 2500',
    });
  });

  it("the order's own symbol is counted once, at its worst case", () => {
    // BTC long 500 + pending 100, order 200 → W = 800; ETH 1000 → total 1800
    const t = state({ BTCUSDT: ['0.005', '100000'], ETHUSDT: ['0.5', '2000'] }, { BTCUSDT: '100' });
    expect(checkExposure(limits({ maxTotalNotional: dec('1800') }), t, buy('0.002')).ok).toBe(true);
    expect(checkExposure(limits({ maxTotalNotional: dec('1799.99') }), t, buy('0.002')).ok).toBe(false);
  });

  it('symbols that only have pending orders count toward the total', () => {
    const t = state({}, { SOLUSDT: '2400' });
    expect(checkExposure(L, t, buy('0.001')).ok).toBe(true); // 100 + 2400
    expect(checkExposure(L, t, buy('0.0011')).ok).toBe(false);
  });

  it('the per-symbol limit is reported before the total', () => {
    const v = checkExposure(L, s, buy('0.02')); // 2000 > 1000 and 4100 > 2500
    expect(v.ok === false && v.reason).toBe('position_notional');
  });
});

describe('checkExposure — pass-through cases', () => {
  it('reduce-only orders always pass', () => {
    const L = limits({ maxPositionNotional: dec('1'), maxTotalNotional: dec('1'), maxOpenOrderNotional: dec('1') });
    const s = state({ BTCUSDT: ['5', '100000'] }, { BTCUSDT: '1000000' });
    expect(checkExposure(L, s, { ...sell('5'), reduceOnly: true })).toEqual({ ok: true });
  });

  it('limits of 0 are off', () => {
    const s = state({ BTCUSDT: ['5', '100000'] }, { BTCUSDT: '1000000' });
    expect(checkExposure(limits(), s, buy('100'))).toEqual({ ok: true });
  });

  it('rejects bad input', () => {
    expect(() => checkExposure(limits({ maxTotalNotional: dec('-1') }), state(), buy('1'))).toThrow(/maxTotalNotional/);
    expect(() => checkExposure(limits(), state(), buy('0'))).toThrow(/must be > 0/);
    expect(() => checkExposure(limits(), state(), buy('1', '0'))).toThrow(/must be > 0/);
  });
});

describe('exposureVerdictRange — the position notionals over which a verdict holds', () => {
  /** Seeded PRNG (mulberry32): the cases are the same on every run. */
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rand = rng(20261129);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  // S as a position of qty 1 at mark S: checkExposure values it qty × mark = S
  const at = (S: Dec, pending: string, other?: [string, string]) => ({
    positions: new Map<string, { qty: Dec; markPrice: Dec }>([['BTCUSDT', { qty: dec('1'), markPrice: S }], ...(other ? [['ETHUSDT', { qty: dec(other[0]), markPrice: dec('1') }] as const] : [])]),
    openOpeningOrders: new Map<string, Dec>([['BTCUSDT', dec(pending)], ...(other ? [['ETHUSDT', dec(other[1])] as const] : [])]),
  });
  const verdict = (v: ReturnType<typeof checkExposure>) => (v.ok ? 'ok' : v.reason);

  it('inside the range the verdict is the same; just outside a bound it changes (single limit)', () => {
    let flips = 0;
    for (let i = 0; i < 400; i++) {
      const L = limits({ maxPositionNotional: dec(String(int(100, 2000))) });
      const S0 = dec(String(int(-2500, 2500)));
      const order = { symbol: 'BTCUSDT', side: rand() < 0.5 ? ('BUY' as const) : ('SELL' as const), price: dec(String(int(1, 100))), quantity: dec(String(int(1, 5))), reduceOnly: false };
      const pending = String(int(0, 300));
      const v0 = verdict(checkExposure(L, at(S0, pending), order));
      const r = exposureVerdictRange(L, at(S0, pending), order);
      expect(inNotionalRange(r, S0)).toBe(true);
      for (let k = 0; k < 20; k++) {
        const S = dec(String(int(-4000, 4000)));
        if (inNotionalRange(r, S)) expect(verdict(checkExposure(L, at(S, pending), order))).toBe(v0);
      }
      // the bounds are tight: one unit beyond a closed bound, or on an open bound, the verdict differs
      for (const [b, inclusive, dir] of [[r.lo, r.loInclusive, -1], [r.hi, r.hiInclusive, 1]] as const) {
        if (!b) continue;
        const beyond = inclusive ? b.plus(dir * 0.000001) : b;
        expect(inNotionalRange(r, beyond)).toBe(false);
        expect(verdict(checkExposure(L, at(beyond, pending), order))).not.toBe(v0);
        flips++;
      }
    }
    expect(flips).toBeGreaterThan(300);
  });

  it('with all three limits and another symbol, the verdict holds over the range', () => {
    let checked = 0;
    for (let i = 0; i < 300; i++) {
      const L = limits({ maxPositionNotional: dec(String(int(100, 2000))), maxTotalNotional: dec(String(int(100, 4000))), maxOpenOrderNotional: dec(String(int(100, 800))) });
      const other: [string, string] = [String(int(-500, 500)), String(int(0, 300))];
      const S0 = dec(String(int(-2500, 2500)));
      const order = { symbol: 'BTCUSDT', side: rand() < 0.5 ? ('BUY' as const) : ('SELL' as const), price: dec(String(int(1, 100))), quantity: dec(String(int(1, 5))), reduceOnly: false };
      const pending = String(int(0, 300));
      const v0 = verdict(checkExposure(L, at(S0, pending, other), order));
      const r = exposureVerdictRange(L, at(S0, pending, other), order);
      expect(inNotionalRange(r, S0)).toBe(true);
      for (let k = 0; k < 20; k++) {
        const S = dec(String(int(-5000, 5000)));
        if (!inNotionalRange(r, S)) continue;
        expect(verdict(checkExposure(L, at(S, pending, other), order))).toBe(v0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('a reduce-only order passes at any position', () => {
    const r = exposureVerdictRange(limits({ maxPositionNotional: dec('10') }), state(), { ...buy('1'), reduceOnly: true });
    expect(r.lo).toBeNull();
    expect(r.hi).toBeNull();
  });
});
