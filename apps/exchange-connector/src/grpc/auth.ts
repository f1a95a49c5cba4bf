import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { type Metadata, status } from '@grpc/grpc-js';
import { ConfigError, DEV_TOKENS, assertExposureAllowed } from '@mm/platform';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import { GrpcStatusException } from './grpc-errors';
import { type RpcCall, callOf, rpcState } from './rpc-logging';

/** `trader`: every RPC. `monitor`: queries and streams only (no order placement or cancellation). */
export type Role = 'trader' | 'monitor';

/** One accepted bearer token. Only its SHA-256 digest is kept. */
export interface TokenEntry {
  role: Role;
  /** Client name for logs (`<role>/<name>`); defaults to `<role>-<n>`. */
  name: string;
  digest: Buffer;
}

const ROLES: ReadonlySet<string> = new Set<Role>(['trader', 'monitor']);
const TOKEN_RE = /^[A-Za-z0-9._~+/=\-]{16,512}$/;
const NAME_RE = /^[A-Za-z0-9._\-]{1,64}$/;

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Parses a token list: entries separated by commas or newlines, each `role:token` or
 * `role:name:token` (role `trader` or `monitor`; token 16–512 chars of `[A-Za-z0-9._~+/=-]`;
 * name ≤ 64 chars of `[A-Za-z0-9._-]`). Blank entries and lines starting with `#` are ignored.
 * Error messages name the entry by position and never contain a token.
 * @param key config key reported in errors (`auth.tokens`, `auth.tokensFile`).
 * @throws ConfigError for a malformed entry or a token listed twice.
 */
export function parseTokenSpec(spec: string, key: string): TokenEntry[] {
  const out: TokenEntry[] = [];
  const seen = new Set<string>();
  const count: Record<string, number> = {};
  const entries = spec
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'));
  entries.forEach((entry, i) => {
    const parts = entry.split(':');
    if (parts.length !== 2 && parts.length !== 3) throw new ConfigError(key, `entry ${i + 1}: expected role:token or role:name:token`);
    const role = parts[0].trim();
    const token = parts[parts.length - 1].trim();
    if (!ROLES.has(role)) throw new ConfigError(key, `entry ${i + 1}: role must be trader or monitor`);
    if (!TOKEN_RE.test(token)) throw new ConfigError(key, `entry ${i + 1}: token must be 16–512 characters of [A-Za-z0-9._~+/=-]`);
    count[role] = (count[role] ?? 0) + 1;
    const name = parts.length === 3 ? parts[1].trim() : `${role}-${count[role]}`;
    if (!NAME_RE.test(name)) throw new ConfigError(key, `entry ${i + 1}: name must be 1–64 characters of [A-Za-z0-9._-]`);
    const digest = digestOf(token);
    const hex = digest.toString('hex');
    if (seen.has(hex)) throw new ConfigError(key, `entry ${i + 1}: token listed twice`);
    seen.add(hex);
    out.push({ role: role as Role, name, digest });
  });
  return out;
}

/**
 * The accepted tokens from `auth.tokens` (env `CONNECTOR_TOKENS`) and the file `auth.tokensFile`
 * (env `CONNECTOR_TOKENS_FILE`, same format, one entry per line allowed). Both may be given.
 * @throws ConfigError naming the key (unreadable file, malformed entry, duplicate token).
 */
export function loadTokens(auth: ConnectorConfig['auth']): TokenEntry[] {
  const entries = parseTokenSpec(auth.tokens ?? '', 'auth.tokens');
  if (auth.tokensFile) {
    let text: string;
    try {
      text = fs.readFileSync(auth.tokensFile, 'utf8');
    } catch (e) {
      throw new ConfigError('auth.tokensFile', `cannot read ${auth.tokensFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    entries.push(...parseTokenSpec(text, 'auth.tokensFile'));
  }
  const seen = new Set<string>();
  for (const e of entries) {
    const hex = e.digest.toString('hex');
    if (seen.has(hex)) throw new ConfigError('auth.tokensFile', 'a token is listed in both auth.tokens and auth.tokensFile');
    seen.add(hex);
  }
  return entries;
}

/** True for RPCs a `monitor` may call: queries (`Get*`, `FetchExchangeInfo`) and streams (`Subscribe*`). Fails closed. */
export function isReadOnlyRpc(method: string): boolean {
  return /^(Get|Subscribe)[A-Z]/.test(method) || method === 'FetchExchangeInfo';
}

/** Who is calling: the token's role and name, or `anonymous` when the connector runs open. */
export interface ClientIdentity {
  /** `<role>/<name>` or `anonymous`. Safe to log; never contains the token. */
  id: string;
  /** `open` when no tokens are configured (every RPC allowed). */
  role: Role | 'open';
  /** Rate-limit and stream-cap key: the client id, or the peer IP address when open. */
  bucket: string;
}

/**
 * Token registry and authentication. With no tokens configured the connector runs open (every
 * caller is `anonymous` with full access) and logs a warning at every start; with
 * `NODE_ENV=production` it refuses to start that way.
 */
@Injectable()
export class AuthService {
  private readonly log = new Logger('Auth');
  private readonly tokens: TokenEntry[];

  /** @throws ConfigError `auth.tokens` when no tokens are configured and `NODE_ENV=production`. */
  constructor(@Inject(CONNECTOR_CONFIG) config: ConnectorConfig) {
    this.tokens = loadTokens(config.auth);
    assertExposureAllowed(config.host, this.tokens.length > 0, 'host', 'auth.tokens (CONNECTOR_TOKENS) or auth.tokensFile (CONNECTOR_TOKENS_FILE)');
    if (process.env.NODE_ENV === 'production' && DEV_TOKENS.some((d) => this.match(d))) {
      throw new ConfigError('auth.tokens', 'contains a documented development token; refused with NODE_ENV=production');
    }
    if (this.tokens.length === 0) {
      if (process.env.NODE_ENV === 'production') {
        throw new ConfigError('auth.tokens', 'no connector tokens configured; refusing to run without access control in production (set CONNECTOR_TOKENS or CONNECTOR_TOKENS_FILE)');
      }
      this.log.warn('no connector tokens configured (CONNECTOR_TOKENS / CONNECTOR_TOKENS_FILE): gRPC access is OPEN, every client may trade');
    } else {
      const roles = this.tokens.map((t) => `${t.role}/${t.name}`).join(', ');
      this.log.log(`access control on: ${this.tokens.length} token(s): ${roles}`);
    }
  }

  /** True when no tokens are configured. */
  get open(): boolean {
    return this.tokens.length === 0;
  }

  /**
   * The token entry matching `token`, compared in constant time: every configured token's
   * SHA-256 digest is compared (no early exit), so timing reveals neither which nor how much matched.
   */
  match(token: string): TokenEntry | undefined {
    const d = digestOf(token);
    let found: TokenEntry | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, d) && !found) found = t;
    return found;
  }

  /**
   * Identifies the caller of a gRPC call from its `authorization: Bearer <token>` metadata; cached
   * per call (in its RpcState, which the gate already filled for calls it admitted). @throws GrpcStatusException UNAUTHENTICATED for a missing, malformed or unknown token.
   */
  identify(call: RpcCall): ClientIdentity {
    const s = rpcState(call);
    if (s.identity) return s.identity as ClientIdentity;
    const id = this.identifyMetadata(call.metadata, s.peer);
    s.identity = id;
    s.client = id.id;
    return id;
  }

  /**
   * Identifies a caller from its request metadata alone (used by the server interceptor before any
   * request message is read). In open mode the rate-limit bucket is the peer's IP address (not
   * ip:port), so opening more connections does not multiply the budget.
   * @throws GrpcStatusException UNAUTHENTICATED for a missing, malformed or unknown token.
   */
  identifyMetadata(metadata: Metadata | undefined, peer: string): ClientIdentity {
    if (this.open) return { id: 'anonymous', role: 'open', bucket: `peer:${peerHost(peer)}` };
    const values = metadata?.get('authorization') ?? [];
    if (values.length !== 1) throw new GrpcStatusException(status.UNAUTHENTICATED, values.length ? 'authorization: send exactly one bearer token' : 'authorization: bearer token required');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(values[0].toString());
    if (!m) throw new GrpcStatusException(status.UNAUTHENTICATED, 'authorization: expected "Bearer <token>"');
    const entry = this.match(m[1]);
    if (!entry) throw new GrpcStatusException(status.UNAUTHENTICATED, 'authorization: unknown token');
    const name = `${entry.role}/${entry.name}`;
    return { id: name, role: entry.role, bucket: `client:${name}` };
  }
}

/** Host part of a grpc-js peer string (`1.2.3.4:5678`, `[::1]:5678`, `ipv6:[::1]:5678`). */
export function peerHost(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[([^\]]+)\]/.exec(p);
  if (v6) return v6[1];
  const i = p.lastIndexOf(':');
  return i > 0 && p.indexOf(':') === i ? p.slice(0, i) : p;
}

/**
 * Access control of `ExchangeService` (a global Nest guard). Requires a known bearer token unless
 * the connector runs open; a `monitor` may call queries and streams only (PERMISSION_DENIED for
 * PlaceOrder, BatchPlaceOrders, CancelOrder, BatchCancelOrders, CancelAllOrders and any other
 * non-query RPC). grpc.health.v1 is served outside Nest and stays open.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() !== 'rpc') return true;
    const call = callOf(ctx);
    if (!call) return true;
    const s = rpcState(call);
    const id = this.auth.identify(call);
    if (id.role === 'monitor' && !isReadOnlyRpc(s.method)) {
      throw new GrpcStatusException(status.PERMISSION_DENIED, `${s.method}: role monitor may not call this RPC (trader only)`);
    }
    return true;
  }
}
