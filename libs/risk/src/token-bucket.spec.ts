import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('starts full: the burst is available at once, then nothing (upstream executor: 25/s, burst 30)', () => {
    const b = new TokenBucket(25, 30);
    let ok = 0;
    for (let i = 0; i < 31; i++) if (b.take(1_000)) ok++;
    expect(ok).toBe(30);
    expect(b.take(1_000)).toBe(false);
  });

  it('refills at the rate: one token per 40 ms at 25/s', () => {
    const b = new TokenBucket(25, 30);
    expect(b.take(0, 30)).toBe(true);
    expect(b.msUntilAvailable(0)).toBe(40);
    expect(b.take(39)).toBe(false);
    expect(b.msUntilAvailable(39)).toBe(1);
    expect(b.take(40)).toBe(true);
    expect(b.take(40)).toBe(false);
    // 10 more tokens after another 400 ms, not 11
    expect(b.take(440, 10)).toBe(true);
    expect(b.take(440)).toBe(false);
  });

  it('is all-or-nothing for n > 1', () => {
    const b = new TokenBucket(10, 5);
    expect(b.take(0, 3)).toBe(true); // 2 left
    expect(b.take(0, 3)).toBe(false); // nothing taken
    expect(b.take(0, 2)).toBe(true);
    expect(b.msUntilAvailable(0, 3)).toBe(300);
  });

  it('never exceeds the burst, however long it idles', () => {
    const b = new TokenBucket(100, 3);
    b.take(0, 3);
    expect(b.take(1_000_000, 4)).toBe(false);
    expect(b.take(1_000_000, 3)).toBe(true);
  });

  it('reports Infinity and refuses when n exceeds the burst; n = 0 always passes', () => {
    const b = new TokenBucket(1, 2);
    expect(b.msUntilAvailable(0, 3)).toBe(Infinity);
    expect(b.take(0, 3)).toBe(false);
    expect(b.take(0, 0)).toBe(true);
    expect(b.msUntilAvailable(0, 2)).toBe(0);
  });

  it('supports fractional rates: 0.5 tokens/s = one per 2000 ms', () => {
    const b = new TokenBucket(0.5, 1);
    expect(b.take(0)).toBe(true);
    expect(b.msUntilAvailable(0)).toBe(2000);
    expect(b.msUntilAvailable(1500)).toBe(500);
    expect(b.take(1999)).toBe(false);
    expect(b.take(2000)).toBe(true);
  });

  it('treats time going backwards as no time passing', () => {
    const b = new TokenBucket(1, 1);
    expect(b.take(10_000)).toBe(true);
    expect(b.take(5_000)).toBe(false);
    expect(b.msUntilAvailable(5_000)).toBe(1_000); // counted from the latest time, 10000
    expect(b.take(10_999)).toBe(false);
    expect(b.take(11_000)).toBe(true);
  });

  it('absorbs floating-point shortfall: 200 one-ms refills at 45/s are exactly 9 tokens', () => {
    const b = new TokenBucket(45, 100);
    expect(b.take(0, 100)).toBe(true);
    for (let t = 1; t < 200; t++) b.take(t, 0); // 0.045 per ms; in float64 the sum is 8.99999999999999
    expect(b.msUntilAvailable(200, 9)).toBe(0);
    expect(b.take(200, 9)).toBe(true);
    expect(b.take(200, 0.001)).toBe(false);
  });

  it('does not drift with many small floating-point refills', () => {
    const b = new TokenBucket(25, 1);
    expect(b.take(0)).toBe(true);
    // 1000 takes exactly 40 ms apart must all succeed
    let ok = 0;
    for (let i = 1; i <= 1000; i++) if (b.take(i * 40)) ok++;
    expect(ok).toBe(1000);
  });

  it('rejects invalid construction and n', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(/ratePerSec/);
    expect(() => new TokenBucket(Number.NaN, 1)).toThrow(/ratePerSec/);
    expect(() => new TokenBucket(1, 0.5)).toThrow(/burst/);
    expect(() => new TokenBucket(1, 1).take(0, -1)).toThrow(/n must be/);
  });
});
