import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { loggingModule } from '@mm/platform';
import { MM_CONFIG, mmConfig, validateMmEnv } from './mm.config';
import { dataSourceOptions } from './persistence/data-source';
import { EngineService } from './engine/engine.service';
import { MmMetrics } from './http/mm.metrics';
import { MmTelemetryService } from './telemetry/telemetry.service';
import { OperatorController, OperatorGuard } from './http/operator.controller';
import { StatusController } from './http/status.controller';

@Module({
  imports: [
    // Validation (zod over config/market-maker.yaml + env) runs here, before anything else starts.
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, cache: true, validate: validateMmEnv, load: [mmConfig] }),
    loggingModule('market-maker'),
    TypeOrmModule.forRootAsync({
      inject: [mmConfig.KEY],
      useFactory: (c: ConfigType<typeof mmConfig>) => dataSourceOptions({ databaseUrl: c.database.url, sqlitePath: c.database.sqlite_path }),
    }),
    TerminusModule,
    PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
  ],
  controllers: [StatusController, OperatorController],
  providers: [{ provide: MM_CONFIG, useFactory: (c: ConfigType<typeof mmConfig>) => c, inject: [mmConfig.KEY] }, OperatorGuard, EngineService, { provide: MmMetrics, useFactory: () => new MmMetrics() }, MmTelemetryService],
})
export class AppModule {}
