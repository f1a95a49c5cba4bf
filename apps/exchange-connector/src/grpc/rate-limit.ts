import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import { AuthService } from './auth';
import { GrpcStatusException } from './grpc-errors';
import { callOf, rpcState } from './rpc-logging';

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

/**
 * Per-client request budget in front of the venue (on top of ccxt's own limiter): one token bucket
 * per client (the token identity, or the peer address `ip:port` when the connector runs open), `rateLimit.rate`
 * requests per second with bursts of `rateLimit.burst`. Every RPC (unary call or stream
 * subscription) costs one. Over budget → RESOURCE_EXHAUSTED with `retry-after-ms` in the trailers
 * and in the message. `rateLimit.rate` 0 disables it.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly buckets?: TokenBuckets;

  constructor(
    private readonly auth: AuthService,
    @Inject(CONNECTOR_CONFIG) config: ConnectorConfig,
  ) {
    const { rate, burst } = config.rateLimit;
    if (rate > 0) this.buckets = new TokenBuckets(rate, burst);
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.buckets || ctx.getType() !== 'rpc') return true;
    const call = callOf(ctx);
    if (!call) return true;
    const id = this.auth.identify(call);
    const wait = this.buckets.take(id.bucket);
    if (wait > 0) {
      const method = rpcState(call).method;
      throw new GrpcStatusException(
        status.RESOURCE_EXHAUSTED,
        `rate limit: ${method} rejected, client over ${this.buckets.rate} requests/s (burst ${this.buckets.burst}); retry after ${wait} ms`,
        { [RETRY_AFTER_KEY]: String(wait) },
      );
    }
    return true;
  }
}
