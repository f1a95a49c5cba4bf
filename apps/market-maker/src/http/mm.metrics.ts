import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Dec } from '@mm/domain';

/**
 * Market maker metrics (names from the upstream telemetry, now actually written). Labels: symbol,
 * side, reason, operation only. Gauges of money are floats for Prometheus; the exact values are in
 * `/status` and the database.
 */
export const MM_METRIC_PROVIDERS = [
  makeCounterProvider({ name: 'market_maker_orders_placed_total', help: 'Orders accepted by the venue', labelNames: ['symbol', 'side'] }),
  makeCounterProvider({ name: 'market_maker_orders_filled_total', help: 'Fills booked', labelNames: ['symbol', 'side'] }),
  makeCounterProvider({ name: 'market_maker_volume_total', help: 'Filled base quantity', labelNames: ['symbol', 'side'] }),
  makeCounterProvider({ name: 'market_maker_orders_rejected_total', help: 'Orders the venue rejected', labelNames: ['symbol', 'reason'] }),
  makeGaugeProvider({ name: 'market_maker_pnl_realized_total', help: 'Realized PnL of closed round trips net of fees, quote', labelNames: ['symbol'] }),
  makeGaugeProvider({ name: 'market_maker_position_size', help: 'Inventory held by the grid, base units', labelNames: ['symbol'] }),
  makeGaugeProvider({ name: 'market_maker_orders_active', help: 'Slots with a pending or live order', labelNames: ['symbol'] }),
  makeGaugeProvider({ name: 'market_maker_feed_age_seconds', help: 'Age of the last price tick, seconds', labelNames: ['symbol'] }),
  makeGaugeProvider({ name: 'market_maker_pnl_unrealized', help: 'Unrealized PnL of the grid inventory at the last price, quote', labelNames: ['symbol'] }),
  makeGaugeProvider({ name: 'market_maker_circuit_breaker_open', help: '1 open, 0.5 half-open, 0 closed', labelNames: ['symbol'] }),
  makeCounterProvider({ name: 'market_maker_circuit_breaker_trips_total', help: 'Breaker trips by reason', labelNames: ['symbol', 'reason'] }),
  makeGaugeProvider({ name: 'market_maker_risk_triggered', help: '1 while the crash guard is triggered', labelNames: ['symbol'] }),
  makeCounterProvider({ name: 'market_maker_orders_blocked_total', help: 'Orders not sent because of an exposure limit', labelNames: ['symbol', 'reason'] }),
  makeGaugeProvider({ name: 'market_maker_reconciliation_divergence', help: 'Venue position − local inventory at the last reconciliation, base units', labelNames: ['symbol'] }),
  makeCounterProvider({ name: 'market_maker_foreign_orders_total', help: 'Venue answers under our client order ids that did not match the intent (not adopted)', labelNames: ['symbol', 'where'] }),
  makeGaugeProvider({ name: 'market_maker_storage_healthy', help: '1 while the storage check passes, 0 after it failed', labelNames: ['symbol'] }),
  makeHistogramProvider({
    name: 'market_maker_latency_exchange_ms',
    help: 'Exchange round-trip time per order, ms',
    labelNames: ['operation'],
    buckets: [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000],
  }),
];

@Injectable()
export class MmMetrics {
  constructor(
    @InjectMetric('market_maker_orders_placed_total') readonly ordersPlaced: Counter<string>,
    @InjectMetric('market_maker_orders_filled_total') readonly ordersFilled: Counter<string>,
    @InjectMetric('market_maker_volume_total') readonly volume: Counter<string>,
    @InjectMetric('market_maker_orders_rejected_total') readonly rejected: Counter<string>,
    @InjectMetric('market_maker_pnl_realized_total') readonly pnlRealized: Gauge<string>,
    @InjectMetric('market_maker_position_size') readonly positionSize: Gauge<string>,
    @InjectMetric('market_maker_orders_active') readonly ordersActive: Gauge<string>,
    @InjectMetric('market_maker_feed_age_seconds') readonly feedAge: Gauge<string>,
    @InjectMetric('market_maker_latency_exchange_ms') readonly exchangeLatency: Histogram<string>,
    @InjectMetric('market_maker_pnl_unrealized') readonly pnlUnrealized: Gauge<string>,
    @InjectMetric('market_maker_circuit_breaker_open') readonly breakerOpen: Gauge<string>,
    @InjectMetric('market_maker_circuit_breaker_trips_total') readonly breakerTrips: Counter<string>,
    @InjectMetric('market_maker_risk_triggered') readonly riskTriggered: Gauge<string>,
    @InjectMetric('market_maker_orders_blocked_total') readonly ordersBlocked: Counter<string>,
    @InjectMetric('market_maker_reconciliation_divergence') readonly divergence: Gauge<string>,
    @InjectMetric('market_maker_foreign_orders_total') readonly foreignOrders: Counter<string>,
    @InjectMetric('market_maker_storage_healthy') readonly storageHealthy: Gauge<string>,
  ) {}

  /** Metrics outside Nest (benchmarks, tests): the same set, registered in `registry` or in none. */
  static standalone(registry?: Registry): MmMetrics {
    const registers = registry ? [registry] : [];
    const c = (name: string, labelNames: string[]) => new Counter({ name, help: name, labelNames, registers });
    const g = (name: string, labelNames: string[]) => new Gauge({ name, help: name, labelNames, registers });
    return new MmMetrics(
      c('market_maker_orders_placed_total', ['symbol', 'side']),
      c('market_maker_orders_filled_total', ['symbol', 'side']),
      c('market_maker_volume_total', ['symbol', 'side']),
      c('market_maker_orders_rejected_total', ['symbol', 'reason']),
      g('market_maker_pnl_realized_total', ['symbol']),
      g('market_maker_position_size', ['symbol']),
      g('market_maker_orders_active', ['symbol']),
      g('market_maker_feed_age_seconds', ['symbol']),
      new Histogram({ name: 'market_maker_latency_exchange_ms', help: 'ms', labelNames: ['operation'], registers }),
      g('market_maker_pnl_unrealized', ['symbol']),
      g('market_maker_circuit_breaker_open', ['symbol']),
      c('market_maker_circuit_breaker_trips_total', ['symbol', 'reason']),
      g('market_maker_risk_triggered', ['symbol']),
      c('market_maker_orders_blocked_total', ['symbol', 'reason']),
      g('market_maker_reconciliation_divergence', ['symbol']),
      c('market_maker_foreign_orders_total', ['symbol', 'where']),
      g('market_maker_storage_healthy', ['symbol']),
    );
  }

  onFill(symbol: string, side: string, qty: Dec): void {
    this.ordersFilled.inc({ symbol, side });
    this.volume.inc({ symbol, side }, qty.toNumber());
  }
}
