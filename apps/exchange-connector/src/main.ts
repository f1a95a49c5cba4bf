import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { Logger } from 'nestjs-pino';
import { EXCHANGE_PACKAGE, PROTO_LOADER_OPTIONS, exchangeProtoPath, protoDir } from '@mm/contracts';
import { ConfigError } from '@mm/platform';
import { MarketDataError } from '@mm/sim-exchange';
import { CONNECTOR_CONFIG, type ConnectorConfig, loadConnectorConfig } from './connector.config';
import { grpcServerCredentials } from './grpc/auth.tls';
import { ConnectorGate } from './grpc/gate';
import { GrpcShutdown } from './grpc/grpc-shutdown';
import { LeanServerGrpc } from './grpc/lean-grpc-server';
import { ConnectorHealth } from './http/health.controller';
import { VenueLifecycle, preloadSimMarketData } from './venue/venue.provider';

/** Exchange connector: gRPC ExchangeService + grpc.health.v1 on PORT, /health and /metrics on HTTP_PORT. */
async function bootstrap(): Promise<void> {
  // Config first, module imported lazily: a config error is one clear line before Nest starts.
  // Bad SIM_DATA/SIM_FUNDING files fail here too, before Nest (whose exception zone prints stacks): one line, exit 1.
  preloadSimMarketData(loadConnectorConfig());
  const { ConnectorModule } = await import('./connector.module');
  // abortOnError/autoFlushLogs off: a start-up failure reaches the one-line handler below instead of
  // Nest's multi-line stack dump (the buffered logs are flushed only once the app exists).
  const app = await NestFactory.create(ConnectorModule, { bufferLogs: true, autoFlushLogs: false, abortOnError: false });
  app.useLogger(app.get(Logger));
  app.flushLogs();
  // Not SIGHUP: it re-reads credential files (README "Real venues"), Nest's default would shut down.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  const config = app.get<ConnectorConfig>(CONNECTOR_CONFIG);
  const health = app.get(ConnectorHealth);
  const tls = grpcServerCredentials(config.tls);
  const gate = app.get(ConnectorGate);
  const shutdown = app.get(GrpcShutdown);
  app.connectMicroservice<MicroserviceOptions>(
    {
      // Nest's gRPC transport with a leaner unary path (see LeanServerGrpc).
      strategy: new LeanServerGrpc({
        url: `${config.host}:${config.port}`,
        package: EXCHANGE_PACKAGE,
        protoPath: exchangeProtoPath(),
        loader: { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir()] },
        onLoadPackageDefinition: (_pkg, server) => {
          health.grpc.addToServer(server);
          shutdown.server = server as never;
        },
        // Token, role, rate limit, stream caps and per-method size limits before any message is read.
        channelOptions: { interceptors: [gate.interceptor()], 'grpc.max_receive_message_length': gate.serverMaxMessageBytes } as never,
        // GrpcShutdown ends the server within grpc.shutdownGraceMs; Nest's own close then only forces.
        gracefulShutdown: false,
        credentials: tls.credentials,
      }),
    },
    { inheritAppConfig: true },
  );
  await app.startAllMicroservices();
  await app.listen(config.httpPort, config.host);
  app.get(VenueLifecycle).start();
  health.set('SERVING', 'venue ready');
  app.get(Logger).log(`exchange-connector: gRPC ${config.host}:${config.port} (${config.exchange}, ${tls.mode}), HTTP ${config.httpPort}`);
}

bootstrap().catch((err: unknown) => {
  // Config and startup errors: one clear line, non-zero exit.
  // One line, no stack: operators read it in a terminal or a pod log (LOG_STACK=1 adds the stack).
  const e = err as Error;
  const detail = process.env.LOG_STACK === '1' ? (e?.stack ?? String(err)) : (e?.message ?? String(err)).split('\n')[0];
  const msg =
    err instanceof ConfigError
      ? err.message
      : (err as Error)?.name === 'VenueStartError'
        ? `exchange-connector: ${(err as Error).message}`
        : err instanceof MarketDataError
        ? `exchange-connector: bad market data: ${err.message}`
        : `exchange-connector failed to start: ${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${detail}`;
  process.stderr.write(`${msg}\n`);
  process.exit(1);
});
