import { LoggerModule } from 'nestjs-pino';
import type { DynamicModule } from '@nestjs/common';

/** Keys whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  '*.apiKey',
  '*.apiSecret',
  '*.secret',
  '*.passphrase',
  '*.password',
  '*.token',
];

/**
 * JSON logging (pino) for a Nest app: one line per event, `app` field set, secrets redacted.
 * Level from `LOG_LEVEL` (default info). HTTP request logging is off (metrics cover it).
 */
export function loggingModule(app: string): DynamicModule {
  return LoggerModule.forRoot({
    pinoHttp: {
      level: process.env.LOG_LEVEL ?? 'info',
      base: { app },
      autoLogging: false,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      quietReqLogger: true,
    },
  });
}
