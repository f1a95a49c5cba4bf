import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { loggingModule } from '@mm/platform';
import { MM_CONFIG, type MmConfig, loadMmConfig } from './mm.config';
import { dataSourceOptions } from './persistence/data-source';
import { EngineService } from './engine/engine.service';
import { MM_METRIC_PROVIDERS, MmMetrics } from './http/mm.metrics';
import { OperatorController, OperatorGuard } from './http/operator.controller';
import { StatusController } from './http/status.controller';
import { MmAccess, READ_PATHS, ReadAccessMiddleware } from './http/access';
import { StorageProbe } from './persistence/storage-probe';

const config: MmConfig = loadMmConfig();
// Token files, minimum lengths, dev tokens in production, non-loopback without a read token: fail before Nest starts.
const access = new MmAccess(config);

@Module({
  imports: [
    loggingModule('market-maker'),
    TypeOrmModule.forRoot(dataSourceOptions({ databaseUrl: config.database.url, sqlitePath: config.database.sqlite_path, statementTimeoutMs: config.database.statement_timeout_ms })),
    TerminusModule,
    PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
  ],
  controllers: [StatusController, OperatorController],
  providers: [{ provide: MM_CONFIG, useValue: config }, { provide: MmAccess, useValue: access }, OperatorGuard, EngineService, StorageProbe, MmMetrics, ...MM_METRIC_PROVIDERS],
})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply((req: never, res: never, next: () => void) => new ReadAccessMiddleware(access).use(req, res, next)).forRoutes(...READ_PATHS.map((p) => p.slice(1)));
  }
}
