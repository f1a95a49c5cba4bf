import { VenueError } from '@mm/domain';
import { fromDecStrict } from './codec';

const err = (v: string): VenueError => {
  try {
    fromDecStrict({ value: v }, 'price');
  } catch (e) {
    return e as VenueError;
  }
  throw new Error(`accepted ${JSON.stringify(v)}`);
};

describe('fromDecStrict (order entry)', () => {
  it('accepts plain decimals', () => {
    const cases: [string, string][] = [['0.01', '0.01'], ['95000.1', '95000.1'], ['1', '1'], ['-2.5', '-2.5'], ['000.5', '0.5'], [`${'9'.repeat(30)}.${'1'.repeat(18)}`, `${'9'.repeat(30)}.${'1'.repeat(18)}`]];
    for (const [v, want] of cases) expect(fromDecStrict({ value: v }, 'price')!.toFixed()).toBe(want);
  });

  it.each([' 0.01 ', '0.01 ', '\t1', '1e400', '1E2', '1e-2', '+1', '.5', '5.', '1,5', '0x10', 'NaN', 'Infinity', '1..2', '--1', `${'9'.repeat(31)}`, `0.${'1'.repeat(19)}`])('refuses %p naming the field', (v) => {
    const e = err(v);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.options.field).toBe('price');
    expect(e.message).toMatch(/^price: /);
  });

  it('required vs optional', () => {
    expect(() => fromDecStrict({ value: '' }, 'quantity')).toThrow(/quantity: is required/);
    expect(fromDecStrict(undefined, 'price', false)).toBeUndefined();
  });
});
