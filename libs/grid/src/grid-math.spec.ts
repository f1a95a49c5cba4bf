import { dec } from '@mm/domain';
import { type GridParams, buyLevels, gridCenter, levelKey, quantityForNotional, validateGrid } from './grid-math';
import { btcRules, gridParams } from './__tests__/fixtures';

const rules = btcRules;
const params = gridParams;

describe('gridCenter', () => {
  const I = dec('100');

  it('snaps to the nearest level of the anchor lattice (not the round-number lattice)', () => {
    // (95432.7 − 95000.1) / 100 = 4.326 → 4 → 95000.1 + 400
    expect(gridCenter(dec('95432.7'), dec('95000.1'), I).toString()).toBe('95400.1');
  });

  it('rounds up past the midpoint', () => {
    // (95451 − 95000.1) / 100 = 4.509 → 5
    expect(gridCenter(dec('95451'), dec('95000.1'), I).toString()).toBe('95500.1');
  });

  it('works for prices below the anchor', () => {
    // (94321 − 95000.1) / 100 = −6.791 → −7 → 95000.1 − 700
    expect(gridCenter(dec('94321'), dec('95000.1'), I).toString()).toBe('94300.1');
  });

  it('returns the anchor itself when the price equals the anchor', () => {
    expect(gridCenter(dec('95000.1'), dec('95000.1'), I).toString()).toBe('95000.1');
  });

  it('breaks exact ties half-even (2.5 → 2, 3.5 → 4)', () => {
    // (95250.1 − 95000.1)/100 = 2.5 → 2 (half-up would give 95300.1)
    expect(gridCenter(dec('95250.1'), dec('95000.1'), I).toString()).toBe('95200.1');
    // 3.5 → 4
    expect(gridCenter(dec('95350.1'), dec('95000.1'), I).toString()).toBe('95400.1');
  });

  it('breaks negative ties half-even (−2.5 → −2, −1.5 → −2)', () => {
    // half-away-from-zero would give 94700.1; floor(x+0.5) would give 94800.1 here too, so also check −1.5
    expect(gridCenter(dec('94750.1'), dec('95000.1'), I).toString()).toBe('94800.1');
    // −1.5 → −2 (floor(x + 0.5) would give −1 → 94900.1)
    expect(gridCenter(dec('94850.1'), dec('95000.1'), I).toString()).toBe('94800.1');
  });

  it('is not a tie one tick past the midpoint', () => {
    // 2.501 → 3
    expect(gridCenter(dec('95250.2'), dec('95000.1'), I).toString()).toBe('95300.1');
    // 2.499 → 2
    expect(gridCenter(dec('95250'), dec('95000.1'), I).toString()).toBe('95200.1');
  });

  it('handles fractional intervals exactly (no binary float drift)', () => {
    // (0.35 − 0.1) / 0.1 = 2.5 → 2 → 0.1 + 0.2 = 0.3 (a float would give 0.30000000000000004)
    expect(gridCenter(dec('0.35'), dec('0.1'), dec('0.1')).toString()).toBe('0.3');
  });
});

describe('buyLevels', () => {
  it('returns C − k·I for k = 1..BW, nearest first', () => {
    expect(buyLevels(dec('95400.1'), dec('100'), 3).map(String)).toEqual(['95300.1', '95200.1', '95100.1']);
  });

  it('does not include the centre itself', () => {
    const levels = buyLevels(dec('100000'), dec('100'), 5).map(String);
    expect(levels).not.toContain('100000');
    expect(levels).toEqual(['99900', '99800', '99700', '99600', '99500']);
  });

  it('returns nothing for a zero window', () => {
    expect(buyLevels(dec('100000'), dec('100'), 0)).toEqual([]);
  });

  it('is exact with fractional intervals', () => {
    expect(buyLevels(dec('1'), dec('0.1'), 3).map(String)).toEqual(['0.9', '0.8', '0.7']);
  });
});

describe('levelKey', () => {
  it('trims trailing zeros', () => {
    expect(levelKey(dec('95500.10'))).toBe('95500.1');
    expect(levelKey(dec('95500.000'))).toBe('95500');
    expect(levelKey(dec('0.00010'))).toBe('0.0001');
  });

  it('gives the same key for equal values reached differently', () => {
    expect(levelKey(dec('95600.1').minus(dec('100.0')))).toBe('95500.1');
    expect(levelKey(dec('955001').mul(dec('0.1')))).toBe('95500.1');
    expect(levelKey(dec('95500.10'))).toBe(levelKey(dec('95500.1')));
  });

  it('never uses exponent notation', () => {
    expect(levelKey(dec('1e6'))).toBe('1000000');
    expect(levelKey(dec('0.00000001'))).toBe('0.00000001');
  });
});

describe('quantityForNotional', () => {
  it('floors to the step size (0.0025025 → 0.002, not the nearest 0.003)', () => {
    expect(quantityForNotional(dec('250'), dec('99900'), rules(), dec('0'))?.toString()).toBe('0.002');
  });

  it('keeps an exact multiple', () => {
    expect(quantityForNotional(dec('300'), dec('100000'), rules(), dec('0'))?.toString()).toBe('0.003');
  });

  it('floors at other prices too', () => {
    // 250 / 83000 = 0.0030120… → 0.003 (value 249)
    expect(quantityForNotional(dec('250'), dec('83000'), rules(), dec('0'))?.toString()).toBe('0.003');
    // 1000 / 0.37 = 2702.7… with step 1 → 2702
    const r = rules({ tickSize: dec('0.0001'), stepSize: dec('1'), minQty: dec('1'), minNotional: dec('5') });
    expect(quantityForNotional(dec('1000'), dec('0.37'), r, dec('0'))?.toString()).toBe('2702');
  });

  it('returns undefined when the floored quantity is zero', () => {
    expect(quantityForNotional(dec('50'), dec('100000'), rules(), dec('0'))).toBeUndefined();
    expect(quantityForNotional(dec('0'), dec('100000'), rules(), dec('0'))).toBeUndefined();
  });

  it('returns undefined below minQty (notional alone would pass)', () => {
    const r = rules({ minQty: dec('0.002') });
    // 199 / 100000 → 0.001; value 100 ≥ minNotional 100, but 0.001 < minQty 0.002
    expect(quantityForNotional(dec('199'), dec('100000'), r, dec('0'))).toBeUndefined();
    // at minQty exactly it is accepted
    expect(quantityForNotional(dec('250'), dec('100000'), r, dec('0'))?.toString()).toBe('0.002');
  });

  it('returns undefined below minNotional, accepts exactly minNotional', () => {
    // 199 / 99900 → 0.001; value 99.9 < 100
    expect(quantityForNotional(dec('199'), dec('99900'), rules(), dec('0'))).toBeUndefined();
    // 199 / 100000 → 0.001; value 100 = 100
    expect(quantityForNotional(dec('199'), dec('100000'), rules(), dec('0'))?.toString()).toBe('0.001');
  });

  // BUG: grid-math.ts:51-55 — at price 0, notional/price is Infinity, floor(Infinity) stays Infinity, and
  // Infinity·0 = NaN makes both `value.lt(...)` checks false, so an order quantity of "Infinity" is returned
  // instead of undefined (a zero/garbage price tick must never produce an order size).
  it('returns undefined (or throws) for a zero price', () => {
    let q: unknown;
    try {
      q = quantityForNotional(dec('250'), dec('0'), rules(), dec('0'));
    } catch {
      q = undefined;
    }
    expect(q === undefined ? 'undefined' : String(q)).toBe('undefined');
  });

  it('returns undefined below minOrderValue (uses the floored value, not the requested notional)', () => {
    // 250 / 99900 → 0.002; value 199.8
    expect(quantityForNotional(dec('250'), dec('99900'), rules(), dec('199.8'))?.toString()).toBe('0.002');
    expect(quantityForNotional(dec('250'), dec('99900'), rules(), dec('199.9'))).toBeUndefined();
  });
});

describe('validateGrid', () => {
  it('accepts a sane BTCUSDT grid', () => {
    expect(() => validateGrid(params(), rules(), dec('100000'), dec('0.0002'))).not.toThrow();
  });

  it('rejects an interval that is not a multiple of the tick size, naming grid.price_interval', () => {
    expect(() => validateGrid(params({ priceInterval: dec('100.05') }), rules(), dec('100000'), dec('0.0002'))).toThrow(
      /grid\.price_interval.*tick/,
    );
    expect(() => validateGrid(params({ priceInterval: dec('0.05') }), rules(), dec('100000'), dec('0'))).toThrow(
      /grid\.price_interval/,
    );
  });

  it('rejects a notional that yields no valid order, naming grid.order_notional', () => {
    expect(() => validateGrid(params({ orderNotional: dec('50') }), rules(), dec('100000'), dec('0.0002'))).toThrow(
      /grid\.order_notional/,
    );
    // 250 → 0.002 → 200 < minOrderValue 201
    expect(() => validateGrid(params({ minOrderValue: dec('201') }), rules(), dec('100000'), dec('0.0002'))).toThrow(
      /grid\.order_notional/,
    );
  });

  // BUG: grid-math.ts:63 — validateGrid(params, rules, price = 0, fee) does not throw, because
  // quantityForNotional returns Infinity (truthy) at price 0 and the fee rule I − (0 + I)·fee > 0 holds.
  it('rejects a zero reference price', () => {
    expect(() => validateGrid(params(), rules(), dec('0'), dec('0.0002'))).toThrow();
  });

  describe('fee coverage I − (2P + I)·fee > 0', () => {
    // P = 99980, fee 0.0002: break-even I = 40 exactly, since (2·99980 + 40)·0.0002 = 200000·0.0002 = 40.
    const P = dec('99980');
    const fee = dec('0.0002');

    it('accepts an interval one tick above break-even (40.1 − 200000.1·0.0002 = 0.09998 > 0)', () => {
      expect(() => validateGrid(params({ priceInterval: dec('40.1') }), rules(), P, fee)).not.toThrow();
    });

    it('rejects the exact break-even interval (net = 0 is not > 0)', () => {
      expect(() => validateGrid(params({ priceInterval: dec('40') }), rules(), P, fee)).toThrow(/grid\.price_interval.*fee/);
    });

    it('rejects an interval one tick below break-even', () => {
      expect(() => validateGrid(params({ priceInterval: dec('39.9') }), rules(), P, fee)).toThrow(/grid\.price_interval.*fee/);
    });

    it('uses the sell price P + I (not 2P) in the fee term', () => {
      // With the 2P-only formula I − 2P·fee, I = 40 at P = 99980 would give 40 − 39.992 = 0.008 > 0 (accepted).
      // With I = 100, fee 0.001: break-even P = 49950 since (99900 + 100)·0.001 = 100.
      const I = params({ priceInterval: dec('100') });
      expect(() => validateGrid(I, rules(), dec('49949.9'), dec('0.001'))).not.toThrow();
      expect(() => validateGrid(I, rules(), dec('49950'), dec('0.001'))).toThrow(/grid\.price_interval/);
      expect(() => validateGrid(I, rules(), dec('49950.1'), dec('0.001'))).toThrow(/grid\.price_interval/);
    });

    it('accepts any positive interval at zero fee', () => {
      expect(() => validateGrid(params({ priceInterval: dec('0.1') }), rules(), dec('100000'), dec('0'))).not.toThrow();
    });
  });
});
