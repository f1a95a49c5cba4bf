import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { Logger } from 'nestjs-pino';
import { EXCHANGE_PACKAGE, PROTO_LOADER_OPTIONS, exchangeProtoPath, protoDir } from '@mm/contracts';
import { ConfigError } from '@mm/platform';
import { CONNECTOR_CONFIG, type ConnectorConfig, loadConnectorConfig } from './connector.config';
import { grpcServerCredentials } from './grpc/auth.tls';
import { ConnectorHealth } from './http/health.controller';
import { VenueLifecycle } from './venue/venue.provider';

/** Exchange connector: gRPC ExchangeService + grpc.health.v1 on PORT, /health and /metrics on HTTP_PORT. */
async function bootstrap(): Promise<void> {
  // Config first, module imported lazily: a config error is one clear line before Nest starts.
  loadConnectorConfig();
  const { ConnectorModule } = await import('./connector.module');
  const app = await NestFactory.create(ConnectorModule, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  // Not SIGHUP: it re-reads credential files (README "Real venues"), Nest's default would shut down.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  const config = app.get<ConnectorConfig>(CONNECTOR_CONFIG);
  const health = app.get(ConnectorHealth);
  const tls = grpcServerCredentials(config.tls);
  app.connectMicroservice<MicroserviceOptions>(
    {
      transport: Transport.GRPC,
      options: {
        url: `${config.host}:${config.port}`,
        package: EXCHANGE_PACKAGE,
        protoPath: exchangeProtoPath(),
        loader: { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir()] },
        onLoadPackageDefinition: (_pkg, server) => health.grpc.addToServer(server),
        gracefulShutdown: true,
        credentials: tls.credentials,
      },
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
  const msg = err instanceof ConfigError ? err.message : `exchange-connector failed to start: ${(err as Error)?.stack ?? String(err)}`;
  process.stderr.write(`${msg}\n`);
  process.exit(1);
});
