import { Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { loggingModule } from '@mm/platform';
import { CONNECTOR_CONFIG, type ConnectorConfig, loadConnectorConfig } from './connector.config';
import { ExchangeController } from './grpc/exchange.controller';
import { GrpcExceptionFilter, GrpcMetricsInterceptor } from './grpc/grpc-errors';
import { StreamHub } from './grpc/stream-hub';
import { CONNECTOR_METRIC_PROVIDERS, ConnectorMetrics } from './http/connector.metrics';
import { ConnectorHealth, HealthController } from './http/health.controller';
import { VENUE, VenueLifecycle, createVenue } from './venue/venue.provider';

@Module({
  imports: [loggingModule('exchange-connector'), PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } })],
  controllers: [ExchangeController, HealthController],
  providers: [
    { provide: CONNECTOR_CONFIG, useFactory: () => loadConnectorConfig() },
    { provide: VENUE, useFactory: (c: ConnectorConfig) => createVenue(c), inject: [CONNECTOR_CONFIG] },
    {
      provide: StreamHub,
      useFactory: (m: ConnectorMetrics, c: ConnectorConfig) => {
        const hub = new StreamHub(m);
        hub.configure({ maxBuffer: c.streams.maxBuffer });
        return hub;
      },
      inject: [ConnectorMetrics, CONNECTOR_CONFIG],
    },
    ConnectorHealth,
    ConnectorMetrics,
    VenueLifecycle,
    ...CONNECTOR_METRIC_PROVIDERS,
    { provide: APP_FILTER, useClass: GrpcExceptionFilter },
    { provide: APP_INTERCEPTOR, useClass: GrpcMetricsInterceptor },
  ],
})
export class ConnectorModule {}
