import { type Dec, dec } from '@mm/domain';
import { type ExposureLimits, type ExposureState, checkExposure } from './exposure';

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
