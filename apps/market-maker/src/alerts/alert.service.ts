import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigError } from '@mm/platform';
import { ALERT_LEVELS, type AlertLevel, slackPayload, telegramText } from './alert-format';

export type { AlertLevel } from './alert-format';

/** What happened (the engine's alert kinds). Used for the default dedupe key and for filtering on the receiving side. */
export type { AlertKind } from '@mm/trading';
import type { AlertKind } from '@mm/trading';

/** One alert as raised by the trading code. */
export interface AlertEvent {
  kind: AlertKind;
  level: AlertLevel;
  /** Short headline; shown as `[LEVEL] Title`. */
  title: string;
  /** Body text (plain text; escaped per channel). */
  message: string;
  /** Extra key/value lines (symbol, price, …), in insertion order. */
  fields?: Record<string, string>;
  /** Events with the same key within the dedupe window are sent once. Default `${kind}:${title}`. */
  dedupeKey?: string;
}

/** Alert delivery settings; see {@link alertConfigFromEnv} for the environment variables. */
export interface AlertConfig {
  /** Slack incoming-webhook URL; the channel is off when unset. Secret: never logged. */
  slackWebhookUrl?: string;
  /** Telegram bot token (`123456:ABC…`); Telegram is on when this and the chat id are set. Secret: never logged. */
  telegramBotToken?: string;
  /** Telegram chat id (numeric, negative for groups, or `@channelname`). */
  telegramChatId?: string;
  /** Telegram Bot API base URL; default `https://api.telegram.org` (overridable for tests). */
  telegramApiBase?: string;
  /** Same dedupe key within this many ms of the last sent one → not sent again. Default 300000; 0 disables. */
  dedupeWindowMs: number;
  /** Token bucket across channels: at most this many events per minute (burst = the same). Default 20. */
  maxPerMinute: number;
  /** Per-request timeout (connect + response + body), ms. Default 10000. */
  timeoutMs: number;
  /** Max deliveries waiting per channel (including the one in flight). Default 100. */
  maxQueue: number;
  /** Instance name shown in every message footer. */
  instance: string;
}

/** Outcome of {@link AlertService.notify}. */
export type NotifyResult = 'queued' | 'deduped' | 'rate_limited' | 'disabled' | 'queue_full';

/** Counters of {@link AlertService.stats}. `sent`/`failed`/`dropped`/`queued` count per-channel deliveries. */
export interface AlertStats {
  /** Deliveries acknowledged with 2xx. */
  sent: number;
  /** Deliveries given up on (4xx, or 5xx/network/timeout twice). */
  failed: number;
  /** Events suppressed by dedupe. */
  deduped: number;
  /** Events refused by the rate limit. */
  rateLimited: number;
  /** Deliveries never attempted: channel queue full, or discarded by close(). */
  dropped: number;
  /** Deliveries waiting or in flight now. */
  queued: number;
}

/** Minimal logger; defaults to a Nest `Logger('Alerts')`. */
export interface AlertLog {
  warn(msg: string): void;
  error(msg: string): void;
}

/** Injectable collaborators (tests). */
export interface AlertDeps {
  fetch?: typeof fetch;
  /** Clock for dedupe, rate limiting and message timestamps (ms). */
  now?: () => number;
  log?: AlertLog;
}

/** Default settings. */
export const ALERT_DEFAULTS = {
  telegramApiBase: 'https://api.telegram.org',
  dedupeWindowMs: 300_000,
  maxPerMinute: 20,
  timeoutMs: 10_000,
  maxQueue: 100,
} as const;

/** Delay before the single retry of a 5xx / network / timeout failure, ms. */
export const ALERT_RETRY_DELAY_MS = 1000;

type ChannelName = 'slack' | 'telegram';

interface Delivery {
  event: AlertEvent;
  at: number;
}

interface Channel {
  name: ChannelName;
  queue: Delivery[];
  busy: boolean;
  request(d: Delivery): { url: string; body: string };
  abort?: AbortController;
  retryTimer?: NodeJS.Timeout;
  wakeRetry?: () => void;
}

type Attempt = { ok: true } | { ok: false; retry: boolean; why: string };

/**
 * Sends operator alerts to Slack and/or Telegram without ever blocking the caller.
 *
 * `notify()` is synchronous and cheap: it dedupes, rate-limits and enqueues, then returns. A single
 * background sender drains one FIFO per channel with at most one request in flight per channel, each
 * bounded by an AbortController timeout. 5xx, network errors and timeouts are retried once after 1 s;
 * 4xx are not. A hung or failing channel does not hold up the other one. Secrets (webhook URL, bot
 * token) are redacted from every log line.
 *
 * Usable as a plain class; in Nest provide it with a factory (see `alerts/index.ts`).
 */
export class AlertService implements OnApplicationShutdown {
  private readonly channels: Channel[] = [];
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly log: AlertLog;
  private readonly secrets: string[];
  private readonly lastSent = new Map<string, number>();
  private tokens: number;
  private refilledAt: number;
  private pumpScheduled = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private warnedRateLimit = false;
  private warnedQueueFull = false;
  private readonly counters = { sent: 0, failed: 0, deduped: 0, rateLimited: 0, dropped: 0 };

  constructor(
    private readonly cfg: AlertConfig,
    deps: AlertDeps = {},
  ) {
    this.fetchFn = deps.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
    this.now = deps.now ?? Date.now;
    this.log = deps.log ?? new Logger('Alerts');
    this.tokens = cfg.maxPerMinute;
    this.refilledAt = this.now();
    this.secrets = secretVariants(cfg);

    if (cfg.slackWebhookUrl) {
      const url = cfg.slackWebhookUrl;
      this.channels.push({
        name: 'slack',
        queue: [],
        busy: false,
        request: (d) => ({ url, body: JSON.stringify(slackPayload(d.event, cfg.instance, d.at)) }),
      });
    }
    if (cfg.telegramBotToken && cfg.telegramChatId) {
      const base = (cfg.telegramApiBase || ALERT_DEFAULTS.telegramApiBase).replace(/\/+$/, '');
      const url = `${base}/bot${cfg.telegramBotToken}/sendMessage`;
      const chatId = cfg.telegramChatId;
      this.channels.push({
        name: 'telegram',
        queue: [],
        busy: false,
        request: (d) => ({
          url,
          body: JSON.stringify({ chat_id: chatId, text: telegramText(d.event, cfg.instance), parse_mode: 'MarkdownV2', disable_web_page_preview: true }),
        }),
      });
    }
  }

  /** The channels that are configured, in delivery order. */
  enabledChannels(): ChannelName[] {
    return this.channels.map((c) => c.name);
  }

  /**
   * Raises an alert. Never throws and never waits for the network: dedupes, rate-limits, enqueues
   * one delivery per enabled channel and returns.
   *
   * @returns `disabled` (no channel configured, closed, or a malformed event), `deduped` (same key
   *   sent within the window), `rate_limited` (over `maxPerMinute`), `queue_full` (no channel had
   *   room), else `queued` (at least one channel accepted it).
   */
  notify(e: AlertEvent): NotifyResult {
    try {
      if (this.closed || this.channels.length === 0) return 'disabled';
      if (!e || !ALERT_LEVELS.includes(e.level)) {
        this.log.error(`alert ignored: invalid level ${JSON.stringify(e?.level)}`);
        return 'disabled';
      }
      const now = this.now();
      const key = e.dedupeKey ?? `${e.kind}:${e.title}`;
      const last = this.lastSent.get(key);
      if (last !== undefined && this.cfg.dedupeWindowMs > 0 && now - last < this.cfg.dedupeWindowMs) {
        this.counters.deduped++;
        return 'deduped';
      }
      this.refill(now);
      if (this.tokens < 1) {
        this.counters.rateLimited++;
        if (!this.warnedRateLimit) {
          this.warnedRateLimit = true;
          this.log.warn(`alerts rate limited (max ${this.cfg.maxPerMinute}/min); dropping "${e.kind}" and further alerts until tokens refill`);
        }
        return 'rate_limited';
      }
      this.warnedRateLimit = false;
      const open = this.channels.filter((c) => c.queue.length < this.cfg.maxQueue);
      this.counters.dropped += this.channels.length - open.length;
      if (open.length < this.channels.length && !this.warnedQueueFull) {
        this.warnedQueueFull = true;
        const full = this.channels.filter((c) => !open.includes(c)).map((c) => c.name);
        this.log.warn(`alert queue full (${this.cfg.maxQueue}) for ${full.join(', ')}; dropping deliveries`);
      }
      if (open.length === 0) return 'queue_full';
      if (open.length === this.channels.length) this.warnedQueueFull = false;
      this.tokens -= 1;
      this.lastSent.set(key, now);
      if (this.lastSent.size > 1000) this.pruneDedupe(now);
      const delivery: Delivery = { event: { ...e, fields: e.fields ? { ...e.fields } : undefined }, at: now };
      for (const c of open) c.queue.push(delivery);
      this.schedulePump();
      return 'queued';
    } catch (err) {
      // notify() must never throw into the trading loop.
      try {
        this.log.error(`alert notify failed: ${this.redact(describe(err))}`);
      } catch {
        /* ignore */
      }
      return 'disabled';
    }
  }

  /**
   * Resolves when every channel queue is empty and nothing is in flight, or after `timeoutMs`
   * (default: enough for one timed-out request plus its retry), whichever is first. Never rejects.
   */
  flush(timeoutMs: number = 2 * this.cfg.timeoutMs + ALERT_RETRY_DELAY_MS + 500): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.idleWaiters = this.idleWaiters.filter((w) => w !== finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      this.idleWaiters.push(finish);
    });
  }

  /** Current counters. */
  stats(): AlertStats {
    const queued = this.channels.reduce((n, c) => n + c.queue.length, 0);
    return { ...this.counters, queued };
  }

  /**
   * Stops accepting alerts (notify → `disabled`), gives queued deliveries up to `timeoutMs`
   * (default `cfg.timeoutMs`; no retries once closing), then aborts whatever is still in flight and
   * drops the rest (counted in `dropped`).
   */
  async close(timeoutMs: number = this.cfg.timeoutMs): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush(timeoutMs);
    for (const c of this.channels) {
      const pending = c.queue.length - (c.busy ? 1 : 0);
      this.counters.dropped += Math.max(0, pending);
      c.queue.splice(c.busy ? 1 : 0);
      c.abort?.abort();
      c.wakeRetry?.();
    }
    await this.flush(1000);
  }

  /** Nest lifecycle hook: {@link close}. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.tokens = Math.min(this.cfg.maxPerMinute, this.tokens + (elapsed * this.cfg.maxPerMinute) / 60_000);
  }

  private pruneDedupe(now: number): void {
    for (const [k, t] of this.lastSent) if (now - t >= this.cfg.dedupeWindowMs) this.lastSent.delete(k);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Off the caller's stack: notify() does no request work at all.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** The sender loop: starts the head delivery of every idle channel. */
  private pump(): void {
    for (const c of this.channels) {
      if (!c.busy && c.queue.length > 0) {
        c.busy = true;
        void this.deliver(c, c.queue[0]);
      }
    }
    if (this.isIdle()) for (const w of [...this.idleWaiters]) w();
  }

  private async deliver(c: Channel, d: Delivery): Promise<void> {
    try {
      const { url, body } = c.request(d);
      let res = await this.attempt(c, url, body);
      if (!res.ok && res.retry && !this.closed) {
        this.log.warn(`alert "${d.event.kind}" to ${c.name} failed (${res.why}); retrying in ${ALERT_RETRY_DELAY_MS} ms`);
        await this.retryPause(c);
        if (!this.closed) res = await this.attempt(c, url, body);
      }
      if (res.ok) {
        this.counters.sent++;
      } else {
        this.counters.failed++;
        this.log.error(`alert "${d.event.kind}" to ${c.name} failed (${res.why}); giving up`);
      }
    } catch (err) {
      this.counters.failed++;
      this.log.error(`alert "${d.event.kind}" to ${c.name} failed: ${this.redact(describe(err))}`);
    } finally {
      if (c.queue[0] === d) c.queue.shift();
      c.busy = false;
      this.pump();
    }
  }

  private retryPause(c: Channel): Promise<void> {
    return new Promise((resolve) => {
      c.wakeRetry = () => {
        clearTimeout(c.retryTimer);
        c.retryTimer = undefined;
        c.wakeRetry = undefined;
        resolve();
      };
      c.retryTimer = setTimeout(() => c.wakeRetry?.(), ALERT_RETRY_DELAY_MS);
    });
  }

  private async attempt(c: Channel, url: string, body: string): Promise<Attempt> {
    const ac = new AbortController();
    c.abort = ac;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.cfg.timeoutMs);
    try {
      const res = await this.fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: ac.signal,
      });
      const text = await res.text().catch(() => '');
      if (res.ok) return { ok: true };
      const detail = text ? `: ${this.redact(truncateLog(text))}` : '';
      return { ok: false, retry: res.status >= 500, why: `HTTP ${res.status}${detail}` };
    } catch (err) {
      if (timedOut) return { ok: false, retry: true, why: `timed out after ${this.cfg.timeoutMs} ms` };
      if (ac.signal.aborted) return { ok: false, retry: false, why: 'aborted by close()' };
      return { ok: false, retry: true, why: this.redact(describe(err)) };
    } finally {
      clearTimeout(timer);
      if (c.abort === ac) c.abort = undefined;
    }
  }

  private isIdle(): boolean {
    return this.channels.every((c) => !c.busy && c.queue.length === 0);
  }

  /** Removes every form of the webhook URL and bot token from `s`. */
  private redact(s: string): string {
    let out = s;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

/** The secret strings (and their URL-encoded forms) that must never reach a log line. */
function secretVariants(cfg: AlertConfig): string[] {
  const raw: string[] = [];
  if (cfg.slackWebhookUrl) {
    raw.push(cfg.slackWebhookUrl);
    try {
      const u = new URL(cfg.slackWebhookUrl);
      if (u.pathname.length > 1) raw.push(u.pathname);
      if (u.search) raw.push(u.search);
    } catch {
      /* not a URL: the whole string is already listed */
    }
  }
  if (cfg.telegramBotToken) {
    raw.push(cfg.telegramBotToken);
    const secretPart = cfg.telegramBotToken.split(':')[1];
    if (secretPart && secretPart.length >= 8) raw.push(secretPart);
  }
  const all = new Set<string>();
  for (const s of raw) {
    if (!s) continue;
    all.add(s);
    all.add(encodeURIComponent(s));
    all.add(encodeURI(s));
  }
  // Longest first so a URL is replaced before the token inside it.
  return [...all].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

function describe(err: unknown): string {
  // Duck-typed: errors from fetch may come from another realm (instanceof Error is false there).
  const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  if (e && typeof e === 'object' && typeof e.message === 'string') {
    const cause = e.cause && typeof e.cause === 'object' ? String(e.cause.code ?? e.cause.message ?? '') : '';
    return cause ? `${e.message}: ${cause}` : e.message;
  }
  return String(err);
}

function truncateLog(s: string): string {
  const oneLine = s.replace(/\s+/g, ' ').trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 299)}…` : oneLine;
}

function envInt(env: NodeJS.ProcessEnv, key: string, def: number, min: number, max: number): number {
  const raw = env[key]?.trim();
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(key, `must be an integer between ${min} and ${max}`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(key, `must be an integer between ${min} and ${max}`);
  return n;
}

function envUrl(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const raw = env[key]?.trim();
  if (!raw) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // The value may be a secret: never echo it.
    throw new ConfigError(key, 'must be an absolute http(s) URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(key, 'must be an absolute http(s) URL');
  return raw;
}

/**
 * Reads alert settings from the environment. Empty variables count as unset.
 *
 * | variable | default | |
 * |---|---|---|
 * | `ALERT_SLACK_WEBHOOK_URL` | — | Slack incoming webhook; Slack off when unset |
 * | `ALERT_TELEGRAM_BOT_TOKEN` | — | `123456:ABC…`; needs `ALERT_TELEGRAM_CHAT_ID` |
 * | `ALERT_TELEGRAM_CHAT_ID` | — | numeric id (negative for groups) or `@channel`; needs the token |
 * | `ALERT_TELEGRAM_API_BASE` | `https://api.telegram.org` | |
 * | `ALERT_DEDUPE_WINDOW_MS` | 300000 | 0 … 86400000 |
 * | `ALERT_MAX_PER_MINUTE` | 20 | 1 … 10000 |
 * | `ALERT_TIMEOUT_MS` | 10000 | 1 … 120000 |
 * | `ALERT_MAX_QUEUE` | 100 | 1 … 100000 |
 * | `INSTANCE_ID` | `mm1` | footer, unless `instance` is given |
 *
 * @throws ConfigError naming the offending variable (its value is never included).
 */
export function alertConfigFromEnv(env: NodeJS.ProcessEnv, instance?: string): AlertConfig {
  const slackWebhookUrl = envUrl(env, 'ALERT_SLACK_WEBHOOK_URL');
  const telegramApiBase = envUrl(env, 'ALERT_TELEGRAM_API_BASE') ?? ALERT_DEFAULTS.telegramApiBase;
  const telegramBotToken = env.ALERT_TELEGRAM_BOT_TOKEN?.trim() || undefined;
  const telegramChatId = env.ALERT_TELEGRAM_CHAT_ID?.trim() || undefined;
  if (telegramBotToken !== undefined && !/^\d+:[A-Za-z0-9_-]{20,}$/.test(telegramBotToken)) {
    throw new ConfigError('ALERT_TELEGRAM_BOT_TOKEN', 'must look like 123456789:AA… (bot id, colon, secret)');
  }
  if (telegramChatId !== undefined && !/^(-?\d+|@[A-Za-z][A-Za-z0-9_]{4,})$/.test(telegramChatId)) {
    throw new ConfigError('ALERT_TELEGRAM_CHAT_ID', 'must be a numeric chat id or @channelname');
  }
  if (telegramBotToken && !telegramChatId) throw new ConfigError('ALERT_TELEGRAM_CHAT_ID', 'required when ALERT_TELEGRAM_BOT_TOKEN is set');
  if (telegramChatId && !telegramBotToken) throw new ConfigError('ALERT_TELEGRAM_BOT_TOKEN', 'required when ALERT_TELEGRAM_CHAT_ID is set');
  return {
    slackWebhookUrl,
    telegramBotToken,
    telegramChatId,
    telegramApiBase: telegramApiBase.replace(/\/+$/, ''),
    dedupeWindowMs: envInt(env, 'ALERT_DEDUPE_WINDOW_MS', ALERT_DEFAULTS.dedupeWindowMs, 0, 86_400_000),
    maxPerMinute: envInt(env, 'ALERT_MAX_PER_MINUTE', ALERT_DEFAULTS.maxPerMinute, 1, 10_000),
    timeoutMs: envInt(env, 'ALERT_TIMEOUT_MS', ALERT_DEFAULTS.timeoutMs, 1, 120_000),
    maxQueue: envInt(env, 'ALERT_MAX_QUEUE', ALERT_DEFAULTS.maxQueue, 1, 100_000),
    instance: instance ?? (env.INSTANCE_ID?.trim() || 'mm1'),
  };
}
