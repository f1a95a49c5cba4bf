import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
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
  ) {}

  onFill(symbol: string, side: string, qty: Dec): void {
    this.ordersFilled.inc({ symbol, side });
    this.volume.inc({ symbol, side }, qty.toNumber());
  }
}
