import { type Dec, ZERO } from '@mm/domain';
import type { EngineMetrics } from './ports';

/** EngineMetrics kept in memory (backtests, tests): counters by key and the last value of each gauge. */
export class CountingMetrics implements EngineMetrics {
  /** Counters, e.g. `placed:BUY`, `rejected:margin`, `blocked:position_notional`, `trips:drawdown`, `fills:SELL`. */
  readonly counts: Record<string, number> = {};
  volume: Dec = ZERO;
  inventory: Dec = ZERO;
  activeOrders = 0;
  realizedPnl: Dec | null = null;
  unrealizedPnl: Dec = ZERO;
  feedAgeSeconds = Number.POSITIVE_INFINITY;
  lastDivergence: Dec = ZERO;
  breaker: 'OPEN' | 'HALF_OPEN' | 'CLOSED' = 'CLOSED';
  crashGuardTriggered = false;
  marginRatio: Dec | null = null;
  liquidationDistance: Dec | null = null;
  funding: Dec = ZERO;

  private bump(key: string): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  fillBooked(_symbol: string, side: string, quantity: Dec): void {
    this.bump(`fills:${side}`);
    this.volume = this.volume.plus(quantity);
  }
  orderPlaced(_symbol: string, side: string): void {
    this.bump(`placed:${side}`);
  }
  orderRejected(_symbol: string, reason: string): void {
    this.bump(`rejected:${reason}`);
  }
  orderBlocked(_symbol: string, reason: string): void {
    this.bump(`blocked:${reason}`);
  }
  exchangeLatency(): void {}
  gridState(_symbol: string, inventory: Dec, activeOrders: number, realizedPnl: Dec | null): void {
    this.inventory = inventory;
    this.activeOrders = activeOrders;
    this.realizedPnl = realizedPnl;
  }
  markState(_symbol: string, unrealizedPnl: Dec, feedAgeSeconds: number): void {
    this.unrealizedPnl = unrealizedPnl;
    this.feedAgeSeconds = feedAgeSeconds;
  }
  divergence(_symbol: string, diff: Dec): void {
    this.lastDivergence = diff;
  }
  breakerState(_symbol: string, state: 'OPEN' | 'HALF_OPEN' | 'CLOSED', tripReason?: string): void {
    this.breaker = state;
    if (state === 'OPEN') this.bump(`trips:${tripReason ?? 'unknown'}`);
  }
  crashGuard(_symbol: string, triggered: boolean): void {
    this.crashGuardTriggered = triggered;
  }
  marginState(_symbol: string, marginRatio: Dec | null, liquidationDistance: Dec | null): void {
    this.marginRatio = marginRatio;
    this.liquidationDistance = liquidationDistance;
  }
  fundingPnl(_symbol: string, funding: Dec): void {
    this.funding = funding;
  }
}
