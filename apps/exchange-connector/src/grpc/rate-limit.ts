
/** Trailer carrying how long to wait before retrying a RESOURCE_EXHAUSTED call, integer ms. */
export const RETRY_AFTER_KEY = 'retry-after-ms';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets per key: each holds up to `burst` tokens and refills at `rate` tokens per second;
 * a request takes one. Idle full buckets are dropped once more than `maxKeys` exist.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 10_000,
  ) {
    if (!(rate > 0) || !(burst >= 1)) throw new Error(`TokenBuckets: rate must be > 0 and burst ≥ 1, got ${rate}/${burst}`);
  }

  /**
   * Takes `cost` tokens from `key`'s bucket.
   * @returns 0 when allowed, else the ms until enough tokens have refilled (≥ 1).
   */
  take(key: string, cost = 1): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evict(t);
      b = { tokens: this.burst, updatedMs: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.updatedMs) * this.rate) / 1000);
      b.updatedMs = t;
    }
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil(((cost - b.tokens) * 1000) / this.rate));
  }

  /** Number of tracked keys. */
  get size(): number {
    return this.buckets.size;
  }

  private evict(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.updatedMs) * this.rate) / 1000 >= this.burst) this.buckets.delete(k);
    }
  }
}
