import { Module } from '@nestjs/common';
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

const config: MmConfig = loadMmConfig();

@Module({
  imports: [
    loggingModule('market-maker'),
    TypeOrmModule.forRoot(dataSourceOptions({ databaseUrl: config.database.url, sqlitePath: config.database.sqlite_path, statementTimeoutMs: config.database.statement_timeout_ms })),
    TerminusModule,
    PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
  ],
  controllers: [StatusController, OperatorController],
  providers: [{ provide: MM_CONFIG, useValue: config }, OperatorGuard, EngineService, MmMetrics, ...MM_METRIC_PROVIDERS],
})
export class AppModule {}
