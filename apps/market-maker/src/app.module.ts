import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { loggingModule } from '@mm/platform';
import { MM_CONFIG, type MmConfig, mmConfig, validateMmEnv } from './mm.config';
import { dataSourceOptions } from './persistence/data-source';
import { EngineService } from './engine/engine.service';
import { MmMetrics } from './http/mm.metrics';
import { MmTelemetryService } from './telemetry/telemetry.service';
import { OperatorController, OperatorGuard } from './http/operator.controller';
import { StatusController } from './http/status.controller';
import { MmAccess, READ_PATHS, ReadAccessMiddleware } from './http/access';
import { StorageProbe } from './persistence/storage-probe';

@Module({
  imports: [
    // Validation (zod over config/market-maker.yaml + env) runs here, before anything else starts.
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, cache: true, validate: validateMmEnv, load: [mmConfig] }),
    loggingModule('market-maker'),
    TypeOrmModule.forRootAsync({
      inject: [mmConfig.KEY],
      useFactory: (c: ConfigType<typeof mmConfig>) =>
        dataSourceOptions({ databaseUrl: c.database.url, sqlitePath: c.database.sqlite_path, statementTimeoutMs: c.database.statement_timeout_ms }),
    }),
    TerminusModule,
    PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
  ],
  controllers: [StatusController, OperatorController],
  providers: [
    { provide: MM_CONFIG, useFactory: (c: ConfigType<typeof mmConfig>) => c, inject: [mmConfig.KEY] },
    // Token files, minimum lengths, dev tokens in production, non-loopback without a read token
    // (main.ts checks the same before Nest starts, so the error is one line).
    { provide: MmAccess, useFactory: (c: MmConfig) => new MmAccess(c), inject: [MM_CONFIG] },
    OperatorGuard,
    EngineService,
    StorageProbe,
    { provide: MmMetrics, useFactory: () => new MmMetrics() },
    MmTelemetryService,
  ],
})
export class AppModule implements NestModule {
  constructor(private readonly access: MmAccess) {}

  configure(consumer: MiddlewareConsumer): void {
    const middleware = new ReadAccessMiddleware(this.access);
    consumer.apply((req: never, res: never, next: () => void) => middleware.use(req, res, next)).forRoutes(...READ_PATHS.map((p) => p.slice(1)));
  }
}
