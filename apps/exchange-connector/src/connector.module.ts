import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { loggingModule } from '@mm/platform';
import { CONNECTOR_CONFIG, type ConnectorConfig, connectorConfig, validateConnectorEnv } from './connector.config';
import { DeadManController, DeadManService } from './grpc/dead-man';
import { ExchangeController } from './grpc/exchange.controller';
import { AuthGuard, AuthService } from './grpc/auth';
import { GrpcExceptionFilter } from './grpc/grpc-errors';
import { RateLimitGuard } from './grpc/rate-limit';
import { RpcLoggingInterceptor, RpcObserver } from './grpc/rpc-logging';
import { StreamHub, streamHubOptions } from './grpc/stream-hub';
import { CONNECTOR_METRIC_PROVIDERS, ConnectorMetrics } from './http/connector.metrics';
import { ConnectorHealth, HealthController } from './http/health.controller';
import { TestHooksController, testHooksEnabled } from './http/test-hooks.controller';
import { SimStatePersistence } from './sim-state.persistence';
import { VENUE, VenueLifecycle, createVenue } from './venue/venue.provider';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, cache: true, validate: validateConnectorEnv, load: [connectorConfig] }),
    loggingModule('exchange-connector'),
    PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
  ],
  controllers: [ExchangeController, DeadManController, HealthController, ...(testHooksEnabled() ? [TestHooksController] : [])],
  providers: [
    { provide: CONNECTOR_CONFIG, useFactory: (c: ConfigType<typeof connectorConfig>) => c, inject: [connectorConfig.KEY] },
    { provide: VENUE, useFactory: (c: ConnectorConfig) => createVenue(c), inject: [CONNECTOR_CONFIG] },
    {
      provide: StreamHub,
      useFactory: (m: ConnectorMetrics, c: ConnectorConfig, h: ConnectorHealth) => {
        const hub = new StreamHub(m, h);
        hub.configure(streamHubOptions(c));
        return hub;
      },
      inject: [ConnectorMetrics, CONNECTOR_CONFIG, ConnectorHealth],
    },
    ConnectorHealth,
    DeadManService,
    ConnectorMetrics,
    VenueLifecycle,
    ...CONNECTOR_METRIC_PROVIDERS,
    SimStatePersistence,
    // Access control, then the per-client rate limit (guards run in this order); see README "Access control".
    AuthService,
    RpcObserver,
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_FILTER, useClass: GrpcExceptionFilter },
    // Streams only (@UseInterceptors on Subscribe*); unary calls are recorded by @ObserveUnaryCalls.
    RpcLoggingInterceptor,
  ],
})
export class ConnectorModule {}
