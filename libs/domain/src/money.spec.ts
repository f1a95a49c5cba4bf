import { Dec, dec, isAboveZero, quotient } from './money';

describe('quotient: x ÷ d by the reciprocal when it terminates', () => {
  const xs = ['0', '1', '-1', '96543.21', '0.00000001', '123456789.123456789', '-5000.5', '3', '1e-30', '98765432109876543210.0123456789'].map(dec);

  it('equals the division for terminating and non-terminating divisors, numbers and decimals', () => {
    const divisors: (number | Dec)[] = [1, 2, 3, 5, 7, 10, 20, 25, 50, 75, 100, 125, 3.5, dec('0.1'), dec('0.25'), dec('0.3'), dec('0.01'), dec('1e-8'), dec('7'), dec('12.5'), dec('0.0003')];
    let compared = 0;
    for (const d of divisors)
      for (const x of xs) {
        const q = quotient(x, d);
        expect(q.toString()).toBe(x.div(d).toString());
        expect(quotient(x, d).eq(q)).toBe(true); // remembered reciprocal: same answer again
        compared++;
      }
    expect(compared).toBe(divisors.length * xs.length);
  });

  it('throws nothing for zero or non-finite divisors: the division answers (Infinity, NaN)', () => {
    expect(quotient(dec('1'), 0).toString()).toBe(new Dec(1).div(0).toString());
    expect(quotient(dec('0'), new Dec(0)).isNaN()).toBe(true);
  });
});

describe('isAboveZero', () => {
  it('is x > 0', () => {
    for (const [x, want] of [['1', true], ['0.00000001', true], ['0', false], ['-0', false], ['-1', false]] as const) expect(isAboveZero(new Dec(x))).toBe(want);
    expect(isAboveZero(new Dec(NaN))).toBe(false);
  });
});
