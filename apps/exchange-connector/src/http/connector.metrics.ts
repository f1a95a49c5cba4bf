import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { EXCHANGE_SERVICE_FQN } from '@mm/contracts';
import { appVersion } from '@mm/platform';

/** Stream kinds whose series exist from the start (zero) so dashboards and alerts see them. */
const STREAM_KIND_LABELS = ['price', 'orders', 'klines', 'account', 'position'];

/**
 * Prometheus metrics of the connector (names as in go-grpc-prometheus / grpc-ecosystem:
 * `grpc_server_handled_total{grpc_method,grpc_code}`, `grpc_server_handling_seconds`). Labels are
 * low-cardinality: method, code, exchange id, stream kind. Document a new metric in README "Metrics".
 */
export const CONNECTOR_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: 'grpc_server_handled_total',
    help: 'Unary gRPC calls completed on the server, by method and status code',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
  }),
  makeHistogramProvider({
    name: 'grpc_server_handling_seconds',
    help: 'Unary gRPC handling time on the server until the response, seconds',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  makeGaugeProvider({
    name: 'exchange_stream_connected',
    help: '1 while an upstream venue subscription of a stream kind is open and fresh (0 when closed or stale)',
    labelNames: ['exchange', 'stream'],
  }),
  makeGaugeProvider({
    name: 'exchange_stream_age_seconds',
    help: 'Age of the oldest last-message among open subscriptions of a stream kind, seconds',
    labelNames: ['stream'],
  }),
  makeCounterProvider({ name: 'exchange_stream_messages_total', help: 'Messages received from the venue per stream kind', labelNames: ['stream'] }),
  makeGaugeProvider({ name: 'exchange_stream_subscribers', help: 'gRPC subscribers per stream kind', labelNames: ['stream'] }),
  makeCounterProvider({ name: 'exchange_stream_dropped_total', help: 'Subscribers cut off for being too slow', labelNames: ['stream'] }),
  makeGaugeProvider({ name: 'exchange_dead_man_armed', help: "Dead-man's switches armed (client id × symbol)", labelNames: [] }),
  makeCounterProvider({ name: 'exchange_dead_man_fired_total', help: "Dead-man's switches that fired and cancelled a symbol's orders", labelNames: [] }),
  makeGaugeProvider({ name: 'exchange_connector_build_info', help: 'Build information; value is always 1', labelNames: ['version', 'node_version'] }),
];

@Injectable()
export class ConnectorMetrics {
  constructor(
    @InjectMetric('grpc_server_handled_total') private readonly handled: Counter<string>,
    @InjectMetric('grpc_server_handling_seconds') private readonly handling: Histogram<string>,
    @InjectMetric('exchange_stream_connected') readonly streamConnected: Gauge<string>,
    @InjectMetric('exchange_stream_age_seconds') readonly streamAge: Gauge<string>,
    @InjectMetric('exchange_stream_messages_total') readonly streamMessages: Counter<string>,
    @InjectMetric('exchange_stream_subscribers') readonly streamSubscribers: Gauge<string>,
    @InjectMetric('exchange_stream_dropped_total') readonly streamDropped: Counter<string>,
    @InjectMetric('exchange_dead_man_armed') readonly deadManArmed: Gauge<string>,
    @InjectMetric('exchange_dead_man_fired_total') readonly deadManFired: Counter<string>,
    @InjectMetric('exchange_connector_build_info') readonly buildInfo: Gauge<string>,
  ) {
    for (const stream of STREAM_KIND_LABELS) {
      this.streamDropped.inc({ stream }, 0);
      this.streamMessages.inc({ stream }, 0);
    }
    this.deadManArmed.set(0);
    this.deadManFired.inc(0);
    this.buildInfo.set({ version: appVersion(), node_version: process.version }, 1);
  }

  /** One finished unary call of `opensqt.exchange.v1.ExchangeService/<method>`; `code` is the status name (OK, …). */
  observeUnary(method: string, code: string, seconds: number): void {
    let m = this.unaryLabels.get(method);
    if (!m) {
      m = { base: { grpc_service: EXCHANGE_SERVICE_FQN, grpc_method: method, grpc_type: 'unary' }, byCode: new Map() };
      // proto method names (a few dozen); never more than this
      if (this.unaryLabels.size < 256) this.unaryLabels.set(method, m);
    }
    let labels = m.byCode.get(code);
    if (!labels) {
      labels = { ...m.base, grpc_code: code };
      m.byCode.set(code, labels);
    }
    this.handled.inc(labels);
    this.handling.observe(m.base, seconds);
  }

  /** Label objects per method (and status code), made once: no per-call label objects. prom-client only reads them. */
  private readonly unaryLabels = new Map<string, { base: Record<string, string>; byCode: Map<string, Record<string, string>> }>();
}
