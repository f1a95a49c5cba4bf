/**
 * Pure formatting of alert events for Slack (incoming webhook, one attachment) and Telegram
 * (`sendMessage`, MarkdownV2). Layout follows the upstream `internal/alert/*` (pretext
 * `[LEVEL] Title`, footer "OpenSQT Market Maker", Telegram `icon *[LEVEL] Title*\n\nmsg\n- *k*: v`)
 * with the instance added to the footer and Telegram switched to MarkdownV2 with full escaping.
 */

/** Severity of an alert. */
export type AlertLevel = 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** Every level, lowest first. */
export const ALERT_LEVELS: readonly AlertLevel[] = ['INFO', 'WARNING', 'ERROR', 'CRITICAL'];

/** Slack attachment colour per level. */
export const SLACK_COLORS: Record<AlertLevel, string> = {
  INFO: '#2eb886',
  WARNING: '#daa038',
  ERROR: '#e01e5a',
  CRITICAL: '#8b0000',
};

/** Telegram leading icon per level. */
export const TELEGRAM_ICONS: Record<AlertLevel, string> = {
  INFO: 'ℹ️',
  WARNING: '⚠️',
  ERROR: '❌',
  CRITICAL: '🚨',
};

/** Footer text shared by both channels. */
export const ALERT_FOOTER = 'OpenSQT Market Maker';

/** What the formatters need from an event. */
export interface FormattableAlert {
  level: AlertLevel;
  title: string;
  message: string;
  fields?: Record<string, string>;
}

const MAX_TITLE = 200;
const MAX_MESSAGE = 3000;
const MAX_FIELDS = 25;
const MAX_FIELD_KEY = 100;
const MAX_FIELD_VALUE = 300;
/** Telegram rejects texts over 4096 characters (after entity parsing); stay below with margin. */
const TELEGRAM_MAX_TEXT = 4000;

/** Cuts `s` to at most `max` code points, marking the cut with an ellipsis. */
export function truncate(s: string, max: number): string {
  const cps = Array.from(s);
  return cps.length <= max ? s : `${cps.slice(0, Math.max(0, max - 1)).join('')}…`;
}

function limitedFields(fields?: Record<string, string>): Array<[string, string]> {
  return Object.entries(fields ?? {})
    .slice(0, MAX_FIELDS)
    .map(([k, v]) => [truncate(String(k), MAX_FIELD_KEY), truncate(String(v), MAX_FIELD_VALUE)]);
}

/**
 * Escapes text for Telegram MarkdownV2: every one of `_*[]()~\`>#+-=|{}.!` and the backslash
 * itself gets a preceding backslash (valid both in plain text and inside bold/italic entities).
 */
export function escapeMarkdownV2(s: string): string {
  return s.replace(/[_*[\]()~`>#+\-=|{}.!\\]/g, '\\$&');
}

/** Escapes the three characters Slack treats as control sequences in message text. */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The Slack incoming-webhook body: one attachment coloured by level. `atMs` is the raise time. */
export function slackPayload(e: FormattableAlert, instance: string, atMs: number): Record<string, unknown> {
  const pretext = escapeSlack(`[${e.level}] ${truncate(e.title, MAX_TITLE)}`);
  const text = escapeSlack(truncate(e.message, MAX_MESSAGE));
  return {
    attachments: [
      {
        fallback: `${pretext}: ${text}`,
        color: SLACK_COLORS[e.level],
        pretext,
        text,
        fields: limitedFields(e.fields).map(([title, value]) => ({ title: escapeSlack(title), value: escapeSlack(value), short: true })),
        footer: escapeSlack(`${ALERT_FOOTER} · ${instance}`),
        ts: Math.floor(atMs / 1000),
      },
    ],
  };
}

/**
 * The Telegram MarkdownV2 text:
 * ```
 * 🚨 *\[CRITICAL\] Title*
 *
 * message
 * \- *key*: value
 *
 * _OpenSQT Market Maker · instance_
 * ```
 * Every dynamic part is escaped; an over-long message is shortened so the whole text fits.
 */
export function telegramText(e: FormattableAlert, instance: string): string {
  const head = `${TELEGRAM_ICONS[e.level]} *${escapeMarkdownV2(`[${e.level}] ${truncate(e.title, MAX_TITLE)}`)}*`;
  const fieldLines = limitedFields(e.fields).map(([k, v]) => `\\- *${escapeMarkdownV2(k)}*: ${escapeMarkdownV2(v)}`);
  const foot = `_${escapeMarkdownV2(`${ALERT_FOOTER} · ${instance}`)}_`;
  const build = (msg: string) => [head, '', escapeMarkdownV2(msg), ...fieldLines, '', foot].join('\n');
  // Fields first: drop trailing ones until at least ~500 characters remain for the message.
  if (build('').length > TELEGRAM_MAX_TEXT - 500) {
    while (fieldLines.length > 0 && build('').length > TELEGRAM_MAX_TEXT - 500) fieldLines.pop();
    fieldLines.push('\\- …');
  }
  let message = truncate(e.message, MAX_MESSAGE);
  let text = build(message);
  if (text.length > TELEGRAM_MAX_TEXT) {
    // Shorten the raw message (escaping may double it) until the whole text fits.
    const budget = TELEGRAM_MAX_TEXT - build('').length;
    const cps = Array.from(message);
    let used = 1; // the ellipsis
    let n = 0;
    while (n < cps.length && used + escapeMarkdownV2(cps[n]).length <= budget) used += escapeMarkdownV2(cps[n++]).length;
    message = `${cps.slice(0, n).join('')}…`;
    text = build(message);
  }
  return text;
}
