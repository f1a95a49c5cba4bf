import { type ExchangeVenue, type Order, type OrderRequest, type Scheduler, VenueError, sleepOn } from '@mm/domain';
import { TokenBucket } from '@mm/risk';
import { backoffDelay } from '@mm/platform';
import type { EngineLogger } from './ports';

export interface ExecutorConfig {
  /** Sustained order-request rate, requests/s, and burst. */
  ratePerSec: number;
  burst: number;
  /** Attempts per request, including the first (default 3). */
  maxAttempts: number;
  /** First retry delay, ms (doubles, ±20 % jitter). */
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Sends order requests to the venue under a token-bucket rate limit, retrying transient failures.
 *
 * Retries only UNAVAILABLE and RESOURCE_EXHAUSTED (the request may not have been processed, or the
 * venue asked us to slow down); never INVALID_ARGUMENT, FAILED_PRECONDITION or anything else. A
 * retried PlaceOrder is safe because it carries the same client order id: a venue that already has it
 * returns the existing order. Each attempt's round-trip time is reported to `onLatency` (ms).
 * Time (rate limit, backoff, latency) is the scheduler's: market time in a backtest.
 */
export class OrderExecutor {
  private readonly bucket: TokenBucket;
  retries = 0;

  constructor(
    private readonly venue: ExchangeVenue,
    private readonly cfg: ExecutorConfig,
    private readonly scheduler: Scheduler,
    private readonly log: EngineLogger,
    private readonly onLatency: (ms: number, op: string) => void = () => undefined,
    private readonly random: () => number = () => 0.5,
  ) {
    this.bucket = new TokenBucket(cfg.ratePerSec, cfg.burst);
  }

  private now(): number {
    return this.scheduler.now();
  }

  placeOrder(req: OrderRequest): Promise<Order> {
    return this.run('PlaceOrder', () => this.venue.placeOrder(req));
  }

  cancelOrder(symbol: string, orderId: string): Promise<Order> {
    return this.run('CancelOrder', () => this.venue.cancelOrder(symbol, orderId));
  }

  /** Waits for a rate-limit token (never drops the request). */
  private async acquire(): Promise<void> {
    while (!this.bucket.take(this.now())) await sleepOn(this.scheduler, Math.max(1, this.bucket.msUntilAvailable(this.now())));
  }

  private async run<T>(op: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.acquire();
      const started = this.now();
      try {
        const result = await call();
        this.onLatency(this.now() - started, op);
        return result;
      } catch (e) {
        this.onLatency(this.now() - started, op);
        const transient = e instanceof VenueError && (e.code === 'UNAVAILABLE' || e.code === 'RESOURCE_EXHAUSTED');
        if (!transient || attempt + 1 >= this.cfg.maxAttempts) throw e;
        this.retries++;
        const delay = backoffDelay(attempt, { initialMs: this.cfg.initialBackoffMs, maxMs: this.cfg.maxBackoffMs }, this.random);
        this.log.warn(`${op} ${(e as VenueError).code}: retry ${attempt + 1}/${this.cfg.maxAttempts - 1} in ${delay} ms`);
        await sleepOn(this.scheduler, delay);
      }
    }
  }
}
