import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenDigest, assertExposureAllowed, assertNotDevToken, isLoopbackHost, readSecret } from '@mm/platform';
import type { LiveConfig } from './live.config';

/** Cookie carrying the viewer token after `/?token=…` (HttpOnly, SameSite=Strict). */
export const VIEWER_COOKIE = 'live_token';
/** Paths that need the viewer token when one is set (`/health` and the charts library stay open). */
const VIEWER_PATHS: ReadonlySet<string> = new Set(['/', '/index.html', '/app.js', '/ws']);

/** Why a request is refused: HTTP status and a short text. */
export interface Refusal {
  status: number;
  reason: string;
}

/**
 * Access rules of the live server (README "Hardening"): Host header allowlist (DNS-rebinding guard),
 * Origin allowlist for `/ws` (same origin always allowed; a request without Origin — not a browser — is
 * allowed), optional viewer token for `/`, `/app.js` and `/ws`.
 */
export class LiveAccess {
  readonly viewer?: TokenDigest;
  private readonly hosts: ReadonlySet<string>;
  private readonly anyHost: boolean;
  private readonly origins: ReadonlySet<string>;

  /** @throws ConfigError naming the key (short token, unreadable file, dev token in production, non-loopback without viewer_token). */
  constructor(cfg: LiveConfig, env: NodeJS.ProcessEnv = process.env) {
    const token = readSecret(cfg.viewer_token, cfg.viewer_token_file, 'viewer_token_file');
    assertNotDevToken(token, 'viewer_token', env);
    if (token) this.viewer = new TokenDigest(token, 'viewer_token');
    assertExposureAllowed(cfg.host, !!this.viewer, 'host', 'viewer_token (LIVE_VIEWER_TOKEN or LIVE_VIEWER_TOKEN_FILE)');
    const loopback = isLoopbackHost(cfg.host);
    this.anyHost = cfg.allowed_hosts.includes('*') || (cfg.allowed_hosts.length === 0 && !loopback);
    this.hosts = new Set(cfg.allowed_hosts.length ? cfg.allowed_hosts : ['localhost', '127.0.0.1', '::1', '[::1]']);
    this.origins = new Set(cfg.allowed_origins);
  }

  /** Host name of a Host header (port and IPv6 brackets handled). */
  static hostName(host: string): string {
    const h = host.trim().toLowerCase();
    if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
    return h.replace(/:\d+$/, '');
  }

  /** The refusal for an HTTP request or WebSocket handshake, or undefined when allowed. */
  check(req: IncomingMessage, ws: boolean): Refusal | undefined {
    const host = req.headers.host ?? '';
    if (!this.anyHost && !this.hosts.has(LiveAccess.hostName(host)) && !this.hosts.has(host.toLowerCase())) return { status: 421, reason: 'unknown Host' };
    const url = new URL(req.url ?? '/', 'http://x');
    if (ws) {
      const origin = req.headers.origin;
      if (origin !== undefined) {
        const o = origin.toLowerCase().replace(/\/+$/, '');
        let same = false;
        try {
          same = new URL(o).host === host.toLowerCase();
        } catch {
          same = false;
        }
        if (!same && !this.origins.has(o)) return { status: 403, reason: 'Origin not allowed' };
      }
    }
    if (this.viewer && VIEWER_PATHS.has(url.pathname)) {
      const t = LiveAccess.tokenOf(req, url);
      if (!t) return { status: 401, reason: 'viewer token required (?token=, cookie live_token or Authorization: Bearer)' };
      if (!this.viewer.matches(t)) return { status: 403, reason: 'invalid viewer token' };
    }
    return undefined;
  }

  /** Token from `Authorization: Bearer`, `?token=` or the `live_token` cookie. */
  static tokenOf(req: IncomingMessage, url: URL): string | undefined {
    const m = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
    if (m) return m[1];
    const q = url.searchParams.get('token');
    if (q) return q;
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === VIEWER_COOKIE) return decodeURIComponent(v.join('='));
    }
    return undefined;
  }

  /** Express-style middleware: refuses with the status, and stores `?token=` in the cookie for the page's `/ws`. */
  middleware() {
    return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
      const refusal = this.check(req, false);
      if (refusal) {
        res.statusCode = refusal.status;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(`${refusal.reason}\n`);
        return;
      }
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
      if (this.viewer && q) res.setHeader('Set-Cookie', `${VIEWER_COOKIE}=${encodeURIComponent(q)}; HttpOnly; SameSite=Strict; Path=/`);
      next();
    };
  }
}
