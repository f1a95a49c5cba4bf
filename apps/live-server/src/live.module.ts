import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, type ConfigType, registerAs } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { loggingModule } from '@mm/platform';
import { Logger as PinoLogger } from 'nestjs-pino';
import { ConnectorFeedService } from './connector-feed.service';
import { LIVE_CONFIG, LIVE_CONFIG_NAMESPACE, type LiveConfig } from './live.config';
import { LiveController } from './live.controller';
import { LiveMetricsController } from './live.metrics';
import { LiveGateway } from './live.gateway';
import { LiveAccess } from './access';

/** The live monitor: connector feed + `/ws` gateway + `/health` and the page. */
@Module({})
export class LiveModule {
  /** @param opts.logging use pino JSON logging (`loggingModule('live-server')`); off in tests. */
  static forRoot(config: LiveConfig, opts: { logging?: boolean; access?: LiveAccess } = {}): DynamicModule {
    // The validated config (zod, loadLiveConfig) as the typed @nestjs/config namespace `live`.
    const liveConfig = registerAs(LIVE_CONFIG_NAMESPACE, (): LiveConfig => config);
    const configModule = ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [liveConfig] });
    return {
      module: LiveModule,
      imports: [configModule, ...(opts.logging ? [loggingModule('live-server')] : [])],
      controllers: [LiveController, LiveMetricsController],
      providers: [
        { provide: LIVE_CONFIG, useFactory: (c: ConfigType<typeof liveConfig>) => c, inject: [liveConfig.KEY] },
        { provide: LiveAccess, useValue: opts.access ?? new LiveAccess(config) },
        ConnectorFeedService,
        LiveGateway,
      ],
    };
  }
}

/**
 * Creates (does not start) the live-server app: Express + WsAdapter on the same HTTP server,
 * client frames never parsed, shutdown hooks on. Call `app.listen(config.port, config.host)`.
 * @param opts.logging pino logging (default true); `false` silences Nest's own logger as well.
 */
export async function createLiveApp(config: LiveConfig, opts: { logging?: boolean } = {}): Promise<NestExpressApplication> {
  const logging = opts.logging ?? true;
  // Throws ConfigError (token, exposure) before Nest starts.
  const access = new LiveAccess(config);
  const app = await NestFactory.create<NestExpressApplication>(LiveModule.forRoot(config, { logging, access }), {
    bufferLogs: logging,
    logger: logging ? undefined : false,
  });
  if (logging) app.useLogger(app.get(PinoLogger));
  app.useWebSocketAdapter(new WsAdapter(app, { messageParser: () => undefined }));
  app.disable('x-powered-by');
  // Host allowlist and viewer token for the page, before any route.
  app.use(access.middleware());
  app.enableShutdownHooks();
  return app;
}
