import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { ConfigError } from './config';

/**
 * Network-exposure rules shared by the three apps (README "Hardening"):
 * - an app bound to a non-loopback address refuses to start without authentication configured;
 * - with `NODE_ENV=production` the documented development tokens are refused;
 * - secrets may come from a file (`*_FILE`), trimmed of surrounding whitespace.
 */

/** Tokens published in docker-compose.yml, the Helm chart and the README. Refused in production. */
export const DEV_TOKENS: readonly string[] = ['dev-market-maker-token', 'dev-live-server-token', 'dev-operator-token', 'dev-viewer-token', 'dev-read-token'];

/** Minimum length of an operator, read or viewer token, characters. */
export const MIN_TOKEN_LENGTH = 16;

/** True for 127.0.0.0/8, ::1, `localhost` and ::ffff:127.x. `0.0.0.0`/`::` (all interfaces) are not loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

/**
 * Refuses a non-loopback bind without authentication.
 * @param key config key of the listen address (reported in the error).
 * @param authKeys config keys that would enable authentication (named in the error).
 * @throws ConfigError when `host` is not loopback and `authenticated` is false.
 */
export function assertExposureAllowed(host: string, authenticated: boolean, key: string, authKeys: string): void {
  if (isLoopbackHost(host) || authenticated) return;
  throw new ConfigError(key, `listening on ${host} (not loopback) requires authentication: set ${authKeys}, or bind to 127.0.0.1`);
}

/**
 * Refuses a documented development token when `NODE_ENV=production`.
 * @throws ConfigError naming `key`.
 */
export function assertNotDevToken(token: string | undefined, key: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!token || env.NODE_ENV !== 'production') return;
  if (DEV_TOKENS.some((d) => token.includes(d))) throw new ConfigError(key, 'is a documented development token; refused with NODE_ENV=production');
}

/**
 * A secret from its value or its file (`file` wins; content trimmed). Empty string when neither is set.
 * @throws ConfigError naming `fileKey` when the file cannot be read.
 */
export function readSecret(value: string | undefined, file: string | undefined, fileKey: string): string {
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(fileKey, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return (value ?? '').trim();
}

/**
 * A token check that reveals nothing through timing: both sides are hashed to SHA-256 first, so the
 * comparison is constant-time and length-independent.
 */
export class TokenDigest {
  private readonly digest: Buffer;

  /** @throws ConfigError naming `key` when the token is shorter than {@link MIN_TOKEN_LENGTH}. */
  constructor(token: string, key: string) {
    if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(key, `must be at least ${MIN_TOKEN_LENGTH} characters`);
    this.digest = createHash('sha256').update(token, 'utf8').digest();
  }

  matches(candidate: string): boolean {
    return timingSafeEqual(this.digest, createHash('sha256').update(candidate, 'utf8').digest());
  }
}

/**
 * Fixed-window counter of failed guesses per key (client IP): at most `max` failures per `windowMs`;
 * at most `maxKeys` keys are tracked (the oldest windows are dropped first).
 */
export class GuessLimiter {
  private readonly failures = new Map<string, { count: number; startMs: number }>();

  constructor(
    readonly max = 10,
    readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** ms until `key` may try again (0 = allowed now). */
  blockedFor(key: string): number {
    const e = this.failures.get(key);
    if (!e) return 0;
    const t = this.now();
    if (t - e.startMs >= this.windowMs) {
      this.failures.delete(key);
      return 0;
    }
    return e.count >= this.max ? this.windowMs - (t - e.startMs) : 0;
  }

  /** Records a failed attempt of `key`. */
  fail(key: string): void {
    const t = this.now();
    const e = this.failures.get(key);
    if (e && t - e.startMs < this.windowMs) {
      e.count++;
      return;
    }
    if (this.failures.size >= this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.delete(key);
    this.failures.set(key, { count: 1, startMs: t });
  }
}
