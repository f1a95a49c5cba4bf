import { Inject, Injectable } from '@nestjs/common';
import { Metadata, type ServerInterceptingCallInterface, type Responder, ServerInterceptingCall, type ServerInterceptor, type ServerMethodDefinition, status } from '@grpc/grpc-js';
import { EXCHANGE_SERVICE_FQN } from '@mm/contracts';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import { AuthService, type ClientIdentity, isReadOnlyRpc, peerHost } from './auth';
import { GrpcStatusException } from './grpc-errors';
import { RETRY_AFTER_KEY, TokenBuckets } from './rate-limit';
import { type RpcCall, RpcObserver, rpcState } from './rpc-logging';

/** Service name of grpc.health.v1 (served open, see {@link ConnectorGate}). */
export const HEALTH_SERVICE_FQN = 'grpc.health.v1.Health';
/** Largest grpc.health.v1 request, bytes (a service name; ours are < 100 characters). */
export const MAX_HEALTH_MESSAGE_BYTES = 1024;
/** RPCs allowed the larger `grpc.maxBatchMessageBytes`. */
const BATCH_RPCS: ReadonlySet<string> = new Set(['BatchPlaceOrders', 'BatchCancelOrders']);

/** Counters of refused calls by reason (exported to tests through /status). */
export interface GateStats {
  unauthenticated: number;
  permissionDenied: number;
  rateLimited: number;
  streamCap: number;
  activeStreams: number;
}

/**
 * The connector's gRPC front door, a grpc-js server interceptor that runs when a call's headers
 * arrive, before any request message is read from the wire (grpc-js keeps the HTTP/2 stream paused
 * until the handler asks for the first message, and the handler never sees the call when it is
 * refused here):
 *
 * 1. receive size limit per method: `grpc.maxMessageBytes` (default 16 KiB) for every RPC except the
 *    batch RPCs (`grpc.maxBatchMessageBytes`, 1 MiB) and grpc.health.v1 (1 KiB); a larger message is
 *    refused with RESOURCE_EXHAUSTED from its 5-byte length prefix, without buffering it;
 * 2. authentication of ExchangeService calls from the `authorization` metadata (UNAUTHENTICATED),
 *    role check (PERMISSION_DENIED for a `monitor` calling a trading RPC);
 * 3. the per-client rate limit (one token bucket per token identity, or per peer IP when the
 *    connector runs open, so more connections do not mean more budget): RESOURCE_EXHAUSTED with
 *    `retry-after-ms`;
 * 4. concurrent server streams per client (`grpc.maxStreamsPerClient`) and in total
 *    (`grpc.maxStreamsTotal`): RESOURCE_EXHAUSTED.
 *
 * grpc.health.v1 stays open (probes carry no token) but is rate-limited per peer IP and capped by
 * {@link ConnectorHealth}.
 */
@Injectable()
export class ConnectorGate {
  private readonly buckets?: TokenBuckets;
  private readonly streams = new Map<string, number>();
  private total = 0;
  readonly stats: GateStats = { unauthenticated: 0, permissionDenied: 0, rateLimited: 0, streamCap: 0, activeStreams: 0 };

  constructor(
    private readonly auth: AuthService,
    @Inject(CONNECTOR_CONFIG) private readonly config: ConnectorConfig,
    private readonly observer: RpcObserver,
  ) {
    const { rate, burst } = config.rateLimit;
    if (rate > 0) this.buckets = new TokenBuckets(rate, burst);
  }

  /** Receive limit of a method path (`/pkg.Service/Method`), bytes. */
  maxMessageBytes(service: string, method: string): number {
    if (service === HEALTH_SERVICE_FQN) return MAX_HEALTH_MESSAGE_BYTES;
    return BATCH_RPCS.has(method) ? this.config.grpc.maxBatchMessageBytes : this.config.grpc.maxMessageBytes;
  }

  /** The largest message any method accepts (the server-wide `grpc.max_receive_message_length`). */
  get serverMaxMessageBytes(): number {
    return Math.max(this.config.grpc.maxMessageBytes, this.config.grpc.maxBatchMessageBytes, MAX_HEALTH_MESSAGE_BYTES);
  }

  /**
   * Admits a call from its metadata: authentication, role, rate limit and stream caps.
   * @returns a release function for admitted streams (no-op for unary calls).
   * @throws GrpcStatusException UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED.
   */
  admit(service: string, method: string, responseStream: boolean, metadata: Metadata, peer: string, onIdentified?: (id: ClientIdentity) => void): () => void {
    let key: string;
    if (service === EXCHANGE_SERVICE_FQN) {
      let id;
      try {
        id = this.auth.identifyMetadata(metadata, peer);
      } catch (e) {
        this.stats.unauthenticated++;
        throw e;
      }
      onIdentified?.(id);
      if (id.role === 'monitor' && !isReadOnlyRpc(method)) {
        this.stats.permissionDenied++;
        throw new GrpcStatusException(status.PERMISSION_DENIED, `${method}: role monitor may not call this RPC (trader only)`);
      }
      key = id.bucket;
    } else {
      key = `health:${peerHost(peer)}`;
    }
    const wait = this.buckets?.take(key) ?? 0;
    if (wait > 0) {
      this.stats.rateLimited++;
      throw new GrpcStatusException(
        status.RESOURCE_EXHAUSTED,
        `rate limit: ${method} rejected, client over ${this.buckets!.rate} requests/s (burst ${this.buckets!.burst}); retry after ${wait} ms`,
        { [RETRY_AFTER_KEY]: String(wait) },
      );
    }
    if (!responseStream || service !== EXCHANGE_SERVICE_FQN) return () => undefined;
    const n = this.streams.get(key) ?? 0;
    const { maxStreamsPerClient, maxStreamsTotal } = this.config.grpc;
    if (n >= maxStreamsPerClient || this.total >= maxStreamsTotal) {
      this.stats.streamCap++;
      const which = n >= maxStreamsPerClient ? `client has ${n} open streams (grpc.maxStreamsPerClient ${maxStreamsPerClient})` : `connector has ${this.total} open streams (grpc.maxStreamsTotal ${maxStreamsTotal})`;
      throw new GrpcStatusException(status.RESOURCE_EXHAUSTED, `${method}: stream refused: ${which}`);
    }
    this.streams.set(key, n + 1);
    this.total++;
    this.stats.activeStreams = this.total;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.streams.get(key) ?? 1) - 1;
      if (left <= 0) this.streams.delete(key);
      else this.streams.set(key, left);
      this.total--;
      this.stats.activeStreams = this.total;
    };
  }

  /** The grpc-js server interceptor (ServerOptions.interceptors). */
  interceptor(): ServerInterceptor {
    // service and method of each path, split once (the method definitions live as long as the server)
    const names = new Map<string, [string, string]>();
    return (def: ServerMethodDefinition<unknown, unknown>, call: ServerInterceptingCallInterface) => {
      let sm = names.get(def.path);
      if (!sm) {
        const [service = '', method = ''] = def.path.replace(/^\//, '').split('/');
        sm = [service, method];
        if (names.size < 1024) names.set(def.path, sm);
      }
      const [service, method] = sm;
      // Per-method receive limit: the base call's length-prefix decoder is created with the
      // server-wide maximum; narrow it for this method before the first byte is read.
      const decoder = (call as unknown as { decoder?: { maxReadMessageLength?: number } }).decoder;
      if (decoder && typeof decoder.maxReadMessageLength === 'number') decoder.maxReadMessageLength = this.maxMessageBytes(service, method);
      let release: (() => void) | undefined;
      const done = () => {
        release?.();
        release = undefined;
      };
      // Only server streams hold a slot to release (admit's release is a no-op for unary calls):
      // unary calls skip the status and cancel hooks (two closures and a hop per call fewer).
      const stream = def.responseStream;
      return new ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMetadata: (metadata, mdNext) => {
              const peer = call.getPeer();
              // A stand-in for the handler's call, so refusals are logged, counted and carry x-request-id like any RPC.
              // Its RpcState is kept on `metadata`, which the handler's call carries: one state per call.
              const rpc: RpcCall = { metadata, getPath: () => def.path, getPeer: () => peer };
              try {
                release = this.admit(service, method, def.responseStream, metadata, peer, (id) => {
                  const st = rpcState(rpc);
                  st.identity = id;
                  st.client = id.id;
                });
              } catch (e) {
                const err = e instanceof GrpcStatusException ? e : new GrpcStatusException(status.INTERNAL, 'internal error');
                const md = new Metadata();
                for (const [k, v] of Object.entries(err.trailers ?? {})) md.set(k, v);
                if (service === EXCHANGE_SERVICE_FQN) {
                  this.observer.errorTrailers(rpc, md);
                  this.observer.finish(rpc, err.code, err.details);
                }
                call.sendStatus({ code: err.code, details: err.details, metadata: md });
                return;
              }
              mdNext(metadata);
            },
            ...(stream ? { onCancel: done } : {}),
          }),
        ...(stream
          ? ({
              sendStatus: (st, next) => {
                done();
                next(st);
              },
            } satisfies Partial<Responder>)
          : {}),
      });
    };
  }
}
