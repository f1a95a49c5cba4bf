import { TokenBuckets } from './rate-limit';

describe('TokenBuckets', () => {
  it('allows a burst, then refills at the rate, per key', () => {
    let now = 0;
    const b = new TokenBuckets(10, 3, () => now);
    expect([b.take('a'), b.take('a'), b.take('a')]).toEqual([0, 0, 0]);
    expect(b.take('a')).toBe(100); // one token per 100 ms
    expect(b.take('b')).toBe(0); // other clients are unaffected
    now = 50;
    expect(b.take('a')).toBe(50);
    now = 100;
    expect(b.take('a')).toBe(0);
    now = 10_000;
    expect([b.take('a'), b.take('a'), b.take('a'), b.take('a')]).toEqual([0, 0, 0, 100]); // never above burst
  });

  it('drops idle full buckets when over maxKeys', () => {
    let now = 0;
    const b = new TokenBuckets(1, 1, () => now, 2);
    b.take('a');
    b.take('b');
    now = 5000;
    b.take('c');
    expect(b.size).toBe(1);
  });

  it('rejects nonsense settings', () => {
    expect(() => new TokenBuckets(0, 1)).toThrow();
    expect(() => new TokenBuckets(1, 0)).toThrow();
  });
});
