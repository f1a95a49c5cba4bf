import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { loggingModule } from '@mm/platform';
import { MM_CONFIG, type MmConfig, loadMmConfig } from './mm.config';
import { dataSourceOptions } from './persistence/data-source';
import { EngineService } from './engine/engine.service';
import { MmMetrics } from './http/mm.metrics';
import { MmTelemetryService } from './telemetry/telemetry.service';
import { OperatorController, OperatorGuard } from './http/operator.controller';
import { StatusController } from './http/status.controller';

const config: MmConfig = loadMmConfig();

@Module({
  imports: [
    loggingModule('market-maker'),
    TypeOrmModule.forRoot(dataSourceOptions({ databaseUrl: config.database.url, sqlitePath: config.database.sqlite_path })),
    TerminusModule,
    PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
  ],
  controllers: [StatusController, OperatorController],
  providers: [{ provide: MM_CONFIG, useValue: config }, OperatorGuard, EngineService, { provide: MmMetrics, useFactory: () => new MmMetrics() }, MmTelemetryService],
})
export class AppModule {}
