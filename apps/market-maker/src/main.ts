import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigError } from '@mm/platform';
import { MM_CONFIG, type MmConfig, loadMmConfig } from './mm.config';
import { EngineService } from './engine/engine.service';
import { MmAccess } from './http/access';

/** Market maker: HTTP /health /status /metrics on MM_PORT (8080); trades through the connector. */
async function bootstrap(): Promise<void> {
  // Validated first (ConfigModule validates again) and the module imported lazily, so a config error
  // is one clear line before Nest starts.
  // Token files, minimum lengths, dev tokens in production, non-loopback without a read token: same.
  new MmAccess(loadMmConfig());
  const { AppModule } = await import('./app.module');
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  const config = app.get<MmConfig>(MM_CONFIG);
  await app.listen(config.http.port, config.http.host);
  app.get(Logger).log(`market-maker: HTTP ${config.http.host}:${config.http.port}, ${config.grid.symbol} via ${config.exchange.address}`);
  await app.get(EngineService).run();
}

bootstrap().catch((err: unknown) => {
  const msg = err instanceof ConfigError ? err.message : `market-maker failed: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(`${msg}\n`);
  process.exit(1);
});
