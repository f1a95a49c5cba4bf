import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError } from '@mm/platform';
import { loadLiveConfig } from './live.config';
import { createLiveApp } from './live.module';

/**
 * Live monitor entry point.
 * Usage: `node dist/apps/live-server/src/main.js [--port N] [--config live.yaml]`
 * Env: LIVE_PORT (8081), LIVE_HOST, EXCHANGE_GRPC_ADDRESS (localhost:50051), LIVE_SYMBOL (BTCUSDT),
 * CONNECTOR_TOKEN, LIVE_CONFIG, LOG_LEVEL.
 */
async function main(): Promise<void> {
  const config = loadLiveConfig();
  const app = await createLiveApp(config);
  await app.listen(config.port, config.host);
  new Logger('live-server').log(
    `listening on ${await app.getUrl()} (ws path /ws), symbol ${config.symbol}, connector ${config.connector.address}`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
