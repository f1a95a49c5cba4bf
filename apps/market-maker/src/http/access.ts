import { HttpException, HttpStatus, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { GuessLimiter, TokenDigest, assertExposureAllowed, assertNotDevToken, readSecret } from '@mm/platform';
import type { MmConfig } from '../mm.config';

/** Paths of the read surfaces guarded by the read token (`/metrics` unless `http.metrics_open`). */
export const READ_PATHS: readonly string[] = ['/status', '/slots', '/intents', '/metrics'];

/**
 * Resolved access settings of the market maker's HTTP surfaces (README "Hardening"):
 * operator and read tokens as SHA-256 digests (constant-time, length-independent comparison),
 * one guess limiter per client IP shared by both, and the connector token.
 */
export class MmAccess {
  readonly operator?: TokenDigest;
  readonly read?: TokenDigest;
  readonly metricsOpen: boolean;
  readonly connectorToken: string;
  /** Failed-guess limiters per client IP, one per token (a read-token guesser does not lock out operators). */
  readonly guesses: { operator: GuessLimiter; read: GuessLimiter };

  /**
   * @throws ConfigError naming the key: token shorter than 16 characters, unreadable `*_file`,
   *   documented development token with NODE_ENV=production, non-loopback `http.host` without `http.read_token`.
   */
  constructor(config: MmConfig, env: NodeJS.ProcessEnv = process.env) {
    const op = readSecret(config.operator.token, config.operator.token_file, 'operator.token_file');
    const rd = readSecret(config.http.read_token, config.http.read_token_file, 'http.read_token_file');
    this.connectorToken = readSecret(config.exchange.token, config.exchange.token_file, 'exchange.token_file');
    assertNotDevToken(op, 'operator.token', env);
    assertNotDevToken(rd, 'http.read_token', env);
    assertNotDevToken(this.connectorToken, 'exchange.token', env);
    if (op) this.operator = new TokenDigest(op, 'operator.token');
    if (rd) this.read = new TokenDigest(rd, 'http.read_token');
    assertExposureAllowed(config.http.host, !!this.read, 'http.host', 'http.read_token (MM_READ_TOKEN or MM_READ_TOKEN_FILE)');
    this.metricsOpen = config.http.metrics_open;
    this.guesses = { operator: new GuessLimiter(config.operator.max_failures_per_min, 60_000), read: new GuessLimiter(config.operator.max_failures_per_min, 60_000) };
  }

  /**
   * Checks `Authorization: Bearer <token>` against `digest`, counting wrong tokens per client IP
   * (a missing token is not a guess). Once blocked, no token is checked until the window ends.
   * @throws HttpException 429 after too many failures (with Retry-After seconds), 401 without a token, 403 for a wrong one.
   */
  verify(req: Request, digest: TokenDigest, what: 'operator' | 'read'): void {
    const ip = req.socket.remoteAddress ?? 'unknown';
    const limiter = this.guesses[what];
    const wait = limiter.blockedFor(ip);
    if (wait > 0) {
      req.res?.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      throw new HttpException(`too many failed ${what} token attempts; retry in ${Math.ceil(wait / 1000)} s`, HttpStatus.TOO_MANY_REQUESTS);
    }
    const m = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
    if (!m) throw new HttpException(`missing bearer token (${what})`, HttpStatus.UNAUTHORIZED);
    if (!digest.matches(m[1])) {
      limiter.fail(ip);
      throw new HttpException(`invalid ${what} token`, HttpStatus.FORBIDDEN);
    }
  }
}

/** Express middleware guarding the read surfaces with the read token (when one is configured). */
export class ReadAccessMiddleware implements NestMiddleware {
  constructor(private readonly access: MmAccess) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const digest = this.access.read;
    // originalUrl: mounted middleware sees req.path relative to its mount point.
    const path = (req.originalUrl ?? req.url).split('?')[0].replace(/\/+$/, '') || '/';
    if (!digest || !READ_PATHS.includes(path) || (path === '/metrics' && this.access.metricsOpen)) return next();
    try {
      this.access.verify(req, digest, 'read');
      next();
    } catch (e) {
      const h = e as HttpException;
      res.status(h.getStatus()).json({ statusCode: h.getStatus(), message: h.message });
    }
  }
}
