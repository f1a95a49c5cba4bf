import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';

/** Prometheus metrics of the connector. Labels are low-cardinality: method, code, exchange id, stream kind. */
export const CONNECTOR_METRIC_PROVIDERS = [
  makeCounterProvider({ name: 'grpc_requests_total', help: 'Unary gRPC requests by method and status code', labelNames: ['method', 'code'] }),
  makeHistogramProvider({
    name: 'grpc_request_duration_seconds',
    help: 'Unary gRPC handling time, seconds',
    labelNames: ['method'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
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
];

@Injectable()
export class ConnectorMetrics {
  constructor(
    @InjectMetric('grpc_requests_total') readonly requests: Counter<string>,
    @InjectMetric('grpc_request_duration_seconds') readonly duration: Histogram<string>,
    @InjectMetric('exchange_stream_connected') readonly streamConnected: Gauge<string>,
    @InjectMetric('exchange_stream_age_seconds') readonly streamAge: Gauge<string>,
    @InjectMetric('exchange_stream_messages_total') readonly streamMessages: Counter<string>,
    @InjectMetric('exchange_stream_subscribers') readonly streamSubscribers: Gauge<string>,
    @InjectMetric('exchange_stream_dropped_total') readonly streamDropped: Counter<string>,
  ) {}
}
