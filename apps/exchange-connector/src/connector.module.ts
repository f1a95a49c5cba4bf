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
import { ConnectorGate } from './grpc/gate';
import { GrpcShutdown } from './grpc/grpc-shutdown';
import { OrderEntryChecks } from './grpc/order-entry';
import { RpcLoggingInterceptor, RpcObserver } from './grpc/rpc-logging';
import { StreamHub, streamHubOptions } from './grpc/stream-hub';
import { CONNECTOR_METRIC_PROVIDERS, ConnectorMetrics } from './http/connector.metrics';
import { ConnectorHealth, HealthController } from './http/health.controller';
import { TestHooksController, testHooksEnabled } from './http/test-hooks.controller';
import { SimStatePersistence } from './sim-state.persistence';
import { SIM_REPLAY, VENUE, VenueLifecycle, createVenue } from './venue/venue.provider';
import { MarketRecorder } from './recording/market-recorder';
import { SimReplayControl } from './sim-replay';
import type { ExchangeVenue } from '@mm/domain';
import { SimExchange } from '@mm/sim-exchange';

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
        if (c.recordFile) hub.setRecorder(new MarketRecorder(c.recordFile));
        return hub;
      },
      inject: [ConnectorMetrics, CONNECTOR_CONFIG, ConnectorHealth],
    },
    {
      provide: SIM_REPLAY,
      useFactory: (v: ExchangeVenue, c: ConnectorConfig, hub: StreamHub) =>
        v instanceof SimExchange && c.sim.data
          ? new SimReplayControl(
              v,
              { start: c.sim.start, lockstep: c.sim.lockstep, stallMs: c.sim.lockstepStallMs, onStall: c.sim.lockstepOnStall, windowMs: c.sim.lockstepWindowMs },
              () => hub.subscriberCount('orders'),
            )
          : null,
      inject: [VENUE, CONNECTOR_CONFIG, StreamHub],
    },
    {
      provide: ConnectorHealth,
      useFactory: (c: ConnectorConfig) => new ConnectorHealth({ maxWatchesPerConnection: c.grpc.maxHealthWatchesPerConnection, maxWatches: c.grpc.maxHealthWatches }),
      inject: [CONNECTOR_CONFIG],
    },
    DeadManService,
    ConnectorGate,
    GrpcShutdown,
    OrderEntryChecks,
    ConnectorMetrics,
    VenueLifecycle,
    ...CONNECTOR_METRIC_PROVIDERS,
    SimStatePersistence,
    // Token, role, rate limit and stream caps are checked by ConnectorGate (a grpc-js server
    // interceptor, before any message is read); AuthGuard re-checks the role inside Nest.
    AuthService,
    RpcObserver,
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_FILTER, useClass: GrpcExceptionFilter },
    // Streams only (@UseInterceptors on Subscribe*); unary calls are recorded by @ObserveUnaryCalls.
    RpcLoggingInterceptor,
  ],
})
export class ConnectorModule {}
