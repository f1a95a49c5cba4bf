/**
 * Token-bucket rate limiter (upstream §3.1: the order executor allowed 25 orders/s with a burst of 30).
 *
 * Pure and deterministic: time is passed in as `nowMs` (Unix ms or any monotonic ms clock). The bucket
 * starts full; it refills continuously at `ratePerSec` tokens per second up to `burst` tokens.
 * Token counts are request counts, not money, so plain numbers are used; a tolerance of 1e-9 tokens
 * absorbs binary floating-point error (e.g. 25 × 0.04 s).
 *
 * A `nowMs` earlier than the latest one seen is treated as the latest (time never runs backwards).
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number | null = null;

  /**
   * @param ratePerSec refill rate, tokens per second (> 0, finite).
   * @param burst bucket capacity, tokens (≥ 1, finite); also the initial fill.
   * @throws RangeError when either argument is out of range.
   */
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {
    if (!Number.isFinite(ratePerSec) || ratePerSec <= 0) throw new RangeError(`ratePerSec must be a finite number > 0, got ${ratePerSec}`);
    if (!Number.isFinite(burst) || burst < 1) throw new RangeError(`burst must be a finite number ≥ 1, got ${burst}`);
    this.tokens = burst;
  }

  /**
   * Takes `n` tokens at `nowMs` if they are all available (all or nothing).
   * @param nowMs current time, ms.
   * @param n tokens to take (≥ 0, finite); 0 always succeeds.
   * @returns true when the tokens were taken; false (and nothing taken) otherwise, including when n > burst.
   */
  take(nowMs: number, n = 1): boolean {
    checkN(n);
    this.refill(nowMs);
    if (this.tokens + EPS < n) return false;
    this.tokens = Math.max(0, this.tokens - n);
    return true;
  }

  /**
   * Milliseconds from `nowMs` until `n` tokens will be available (0 when available now), rounded up to
   * a whole ms. Does not take anything. `Infinity` when n > burst (never available).
   */
  msUntilAvailable(nowMs: number, n = 1): number {
    checkN(n);
    if (n > this.burst + EPS) return Infinity;
    this.refill(nowMs);
    const missing = n - this.tokens;
    if (missing <= EPS) return 0;
    return Math.ceil((missing * 1000) / this.ratePerSec - EPS);
  }

  private refill(nowMs: number): void {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be finite, got ${nowMs}`);
    if (this.lastMs === null) {
      this.lastMs = nowMs;
      return;
    }
    if (nowMs <= this.lastMs) return;
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) * this.ratePerSec) / 1000);
    this.lastMs = nowMs;
  }
}

const EPS = 1e-9;

function checkN(n: number): void {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`n must be a finite number ≥ 0, got ${n}`);
}
