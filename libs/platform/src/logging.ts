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
 * Whether logs are pretty-printed: `LOG_FORMAT=pretty` or `json` decides; unset = pretty when
 * stdout is a terminal (`npm start` sets LOG_FORMAT=pretty for its children when it runs on one).
 */
export function prettyLogs(env: NodeJS.ProcessEnv = process.env, isTTY: boolean = !!process.stdout.isTTY): boolean {
  const f = env.LOG_FORMAT?.trim().toLowerCase();
  if (f === 'pretty') return true;
  if (f === 'json') return false;
  return isTTY;
}

/** pino-pretty options: one colourised line per event, `HH:MM:ss.l context message`, extra fields inline. */
export const PRETTY_OPTIONS = {
  colorize: !process.env.NO_COLOR,
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname,app,context,req,res',
  messageFormat: '{if context}[{context}] {end}{msg}',
};

/**
 * Logging (pino) for a Nest app: JSON lines (`app` field set) when stdout is not a terminal,
 * colourised single lines through pino-pretty when it is (see {@link prettyLogs}); secrets redacted
 * either way. Level from `LOG_LEVEL` (default info). HTTP request logging is off (metrics cover it).
 */
export function loggingModule(app: string): DynamicModule {
  return LoggerModule.forRoot({
    pinoHttp: {
      level: process.env.LOG_LEVEL ?? 'info',
      base: { app },
      autoLogging: false,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      quietReqLogger: true,
      ...(prettyLogs() ? { transport: { target: 'pino-pretty', options: PRETTY_OPTIONS } } : {}),
    },
  });
}
