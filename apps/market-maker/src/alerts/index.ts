import { Logger, type Provider } from '@nestjs/common';
import { AlertService, alertConfigFromEnv } from './alert.service';

export * from './alert.service';
export { escapeMarkdownV2, escapeSlack, slackPayload, telegramText, SLACK_COLORS, TELEGRAM_ICONS } from './alert-format';

/**
 * Nest provider for {@link AlertService}, configured from `ALERT_*` env vars (see
 * {@link alertConfigFromEnv}); `instance` is shown in every message footer. Nest calls
 * `onApplicationShutdown` → `close()` when shutdown hooks are enabled.
 *
 * @throws ConfigError (at module init) for an invalid `ALERT_*` variable.
 */
export function alertServiceProvider(instance: string, env: NodeJS.ProcessEnv = process.env): Provider {
  return {
    provide: AlertService,
    useFactory: () => new AlertService(alertConfigFromEnv(env, instance), { log: new Logger('Alerts') }),
  };
}
