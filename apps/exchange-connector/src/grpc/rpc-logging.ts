import { randomUUID } from 'node:crypto';
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Metadata, status } from '@grpc/grpc-js';
import { PinoLogger } from 'nestjs-pino';
import { type Observable, catchError, finalize, tap, throwError } from 'rxjs';
import { ConnectorMetrics } from '../http/connector.metrics';

/** Request metadata key of the correlation id; echoed back in the response headers (or trailers on errors). */
export const REQUEST_ID_KEY = 'x-request-id';
const REQUEST_ID_RE = /^[A-Za-z0-9._:\-]{1,128}$/;

/** The parts of a grpc-js server call (unary or server stream) this module touches. */
export interface RpcCall {
  metadata?: Metadata;
  getPath?: () => string;
  getPeer?: () => string;
  sendMetadata?: (md: Metadata) => void;
  cancelled?: boolean;
}

/** Per-call bookkeeping shared by the guards, the logging interceptor and the exception filter. */
export interface RpcState {
  /** `process.hrtime.bigint()` when the call was first seen (the first guard). */
  start: bigint;
  /** Proto method name, e.g. `PlaceOrder`. */
  method: string;
  /** True for server-streaming RPCs. */
  stream: boolean;
  requestId: string;
  /** Authenticated client, `<role>/<name>`, or `anonymous` when the connector runs open. Never the token. */
  client?: string;
  /** Peer address (`ip:port`), captured at the start (grpc-js forgets it once a call is cancelled). */
  peer: string;
  /** Set once the call's log line has been written. */
  finished: boolean;
  /** Who the gate (or AuthGuard) identified; set once per call. */
  identity?: { id: string; role: string; bucket: string };
}

/**
 * Where a call's RpcState lives: a symbol-keyed property of the grpc-js call object and of its
 * request Metadata. The gate (a grpc-js interceptor) sees only the metadata; the handler's call
 * carries the same Metadata object, so the state the gate made (start time, peer, request id,
 * identity) is the handler's too — one state per call, no per-call WeakMap entry (ephemerons make
 * every GC pass slower under load). Symbols cannot arrive from the wire.
 */
const STATE = Symbol('rpcState');
type WithState = { [STATE]?: RpcState };

/** Proto method name of a grpc-js call (`/pkg.Service/Method` → `Method`). */
export function rpcMethodOf(call: RpcCall | undefined): string {
  const path = call?.getPath?.() ?? '';
  return path.slice(path.lastIndexOf('/') + 1) || 'unknown';
}

/**
 * The {@link RpcState} of a call, created on first access (or taken from its request metadata when
 * the gate made it): the correlation id is taken from the `x-request-id` metadata when well-formed
 * (≤ 128 chars of `[A-Za-z0-9._:-]`), else generated.
 */
export function rpcState(call: RpcCall): RpcState {
  const c = call as RpcCall & WithState;
  let s = c[STATE];
  if (s) return s;
  const md = call.metadata as (Metadata & WithState) | undefined;
  s = md?.[STATE];
  if (!s) {
    const given = md?.get(REQUEST_ID_KEY)[0]?.toString();
    const method = rpcMethodOf(call);
    s = {
      start: process.hrtime.bigint(),
      method,
      stream: method.startsWith('Subscribe'),
      requestId: given && REQUEST_ID_RE.test(given) ? given : randomUUID(),
      peer: call.getPeer?.() ?? 'unknown',
      finished: false,
    };
    if (md) md[STATE] = s;
  }
  c[STATE] = s;
  return s;
}

/** The grpc-js call behind a Nest RPC execution context (third handler argument). */
export function callOf(ctx: { getArgByIndex(i: number): unknown }): RpcCall | undefined {
  const c = ctx.getArgByIndex(2);
  return c && typeof c === 'object' ? (c as RpcCall) : undefined;
}

/**
 * Writes the one JSON log line per RPC (pino) and the Prometheus figures
 * `grpc_server_handled_total{grpc_method,grpc_code}` / `grpc_server_handling_seconds{grpc_method}` (unary calls only:
 * a stream's lifetime is not a latency). Labels are the proto method name and the status code name.
 */
@Injectable()
export class RpcObserver {
  constructor(
    private readonly logger: PinoLogger,
    private readonly metrics: ConnectorMetrics,
  ) {
    this.logger.setContext('rpc');
  }

  /** Records the final status of a call once; later calls for the same call are ignored. */
  finish(call: RpcCall, code: status, details?: string): void {
    const s = rpcState(call);
    if (s.finished) return;
    s.finished = true;
    const seconds = Number(process.hrtime.bigint() - s.start) / 1e9;
    const codeName = status[code] ?? String(code);
    if (!s.stream) {
      this.metrics.observeUnary(s.method, codeName, seconds);
    }
    const ok = code === status.OK || code === status.CANCELLED;
    // the line object is built only when its level is on (no per-call object for OK calls unless debug)
    if (ok && !this.logger.logger.isLevelEnabled('debug')) return;
    const line = {
      method: s.method,
      code: codeName,
      latencyMs: Math.round(seconds * 1e6) / 1e3,
      client: s.client ?? 'unauthenticated',
      requestId: s.requestId,
      peer: s.peer,
      stream: s.stream || undefined,
      // The message of a failure: our own text (field problems, venue rejections), never metadata.
      error: code === status.OK ? undefined : details?.slice(0, 300),
    };
    // Successful calls at debug (about 45 a minute while idle); failures stay visible at warn/error.
    if (ok) this.logger.debug(line, 'rpc');
    else if (code === status.INTERNAL || code === status.UNKNOWN) this.logger.error(line, 'rpc');
    else this.logger.warn(line, 'rpc');
  }

  /** Trailers for a failed call: the correlation id. */
  errorTrailers(call: RpcCall | undefined, md: Metadata): Metadata {
    if (call) md.set(REQUEST_ID_KEY, rpcState(call).requestId);
    return md;
  }
}

/** Records a successful unary call: echoes `x-request-id` in the response headers, logs and measures it. */
export function recordUnarySuccess(observer: RpcObserver, call: RpcCall | undefined): void {
  if (!call) return;
  const md = new Metadata();
  md.set(REQUEST_ID_KEY, rpcState(call).requestId);
  call.sendMetadata?.(md);
  observer.finish(call, status.OK);
}

/**
 * Class decorator for gRPC controllers: wraps every unary handler (a decorated method not named
 * `subscribe*`) so its success is recorded by {@link recordUnarySuccess}, without a Nest interceptor.
 * A global interceptor makes Nest wrap every call in rxjs `defer` + `AsyncResource.bind` (measured:
 * unary p50 1.32–1.37× raw grpc-js with it, 1.18–1.26× without). Nest reads handler metadata from the
 * method function, so the wrapper carries all of the original's metadata. The controller must expose
 * its `RpcObserver` as `rpcObserver`. Failures are recorded by the exception filter, as before.
 */
export function ObserveUnaryCalls(): ClassDecorator {
  return (target) => {
    const proto = target.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const orig = proto[name];
      if (name === 'constructor' || name.startsWith('subscribe') || typeof orig !== 'function') continue;
      const keys = Reflect.getMetadataKeys(orig);
      if (keys.length === 0) continue;
      const handler = orig as (...args: unknown[]) => unknown;
      const wrapped = async function (this: { rpcObserver: RpcObserver }, ...args: unknown[]): Promise<unknown> {
        const out = await handler.apply(this, args);
        recordUnarySuccess(this.rpcObserver, args[2] as RpcCall | undefined);
        return out;
      };
      for (const k of keys) Reflect.defineMetadata(k, Reflect.getMetadata(k, orig), wrapped);
      Object.defineProperty(wrapped, 'name', { value: handler.name });
      proto[name] = wrapped;
    }
  };
}

/**
 * Logs and measures successful calls and echoes `x-request-id` in the response headers. Failures
 * (handler errors and guard rejections alike) are recorded by `GrpcExceptionFilter`, which every
 * exception passes through. For server streams the headers are sent by the stream hub when the
 * subscription is attached; the correlation id is added to those headers.
 */
@Injectable()
export class RpcLoggingInterceptor implements NestInterceptor {
  constructor(private readonly observer: RpcObserver) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const call = ctx.getType() === 'rpc' ? callOf(ctx) : undefined;
    if (!call) return next.handle();
    const s = rpcState(call);
    if (s.stream) {
      const send = call.sendMetadata?.bind(call);
      if (send) {
        call.sendMetadata = (md: Metadata) => {
          md.set(REQUEST_ID_KEY, s.requestId);
          send(md);
        };
      }
      let failed = false;
      return next.handle().pipe(
        catchError((err: unknown) => {
          failed = true;
          return throwError(() => err);
        }),
        finalize(() => {
          if (!failed) this.observer.finish(call, call.cancelled ? status.CANCELLED : status.OK);
        }),
      );
    }
    return next.handle().pipe(tap(() => recordUnarySuccess(this.observer, call)));
  }
}
