import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { exchangeClientConstructor } from '@mm/contracts';

/** TLS settings of a conformance client: PEM contents or file paths. `ca` alone = TLS; with `cert`+`key` = mutual TLS. */
export interface ConformanceTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Expected server name when it differs from the address host (e.g. the certificate's CN). */
  serverName?: string;
}

/** Observer of every response and error a client receives (for secret scans). */
export type ResponseSink = (method: string, payload: unknown) => void;

const pem = (v: string | Buffer | undefined): Buffer | null =>
  v === undefined ? null : Buffer.isBuffer(v) ? v : v.includes('-----BEGIN') ? Buffer.from(v) : fs.readFileSync(v);

/** Channel credentials for `tls` (insecure when absent). */
export function channelCredentials(tls?: ConformanceTls): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

function channelOptions(tls?: ConformanceTls): grpc.ChannelOptions {
  return tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {};
}

/** A gRPC status error as the tests see it. */
export type GrpcError = grpc.ServiceError;

/**
 * Raw grpc-js ExchangeService client for conformance runs: optional bearer token and TLS, promise
 * unary calls, every response/error passed to `sink`.
 */
export class ConformanceClient {
  readonly raw: grpc.Client & Record<string, any>;
  constructor(
    readonly address: string,
    private readonly token?: string,
    tls?: ConformanceTls,
    private readonly sink?: ResponseSink,
    extraOptions: grpc.ChannelOptions = {},
  ) {
    const Ctor = exchangeClientConstructor();
    this.raw = new Ctor(address, channelCredentials(tls), { ...channelOptions(tls), ...extraOptions }) as any;
  }

  metadata(extra: Record<string, string> = {}): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    for (const [k, v] of Object.entries(extra)) md.set(k, v);
    return md;
  }

  /** Unary call; rejects with the grpc-js ServiceError. */
  call<T = any>(method: string, req: object = {}, timeoutMs = 10_000, extra: Record<string, string> = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = this.raw[method];
      if (typeof fn !== 'function') return reject(new Error(`no such RPC ${method}`));
      fn.call(this.raw, req, this.metadata(extra), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, v: T) => {
        this.sink?.(method, err ? { code: err.code, details: err.details, metadata: err.metadata?.toJSON() } : v);
        if (err) reject(err);
        else resolve(v);
      });
    });
  }

  /** Opens a server stream; `onData` gets every message. Errors are passed to `onError` (and the sink). */
  stream<T = any>(method: string, req: object, onData: (v: T) => void, onError?: (e: grpc.ServiceError) => void): grpc.ClientReadableStream<T> {
    const s = this.raw[method](req, this.metadata(), { waitForReady: true }) as grpc.ClientReadableStream<T>;
    s.on('data', (v: T) => {
      this.sink?.(method, v);
      onData(v);
    });
    s.on('error', (e: grpc.ServiceError) => {
      this.sink?.(method, { code: e.code, details: e.details, metadata: e.metadata?.toJSON() });
      onError?.(e);
    });
    return s;
  }

  close(): void {
    this.raw.close();
  }
}

/** grpc.health.v1.Health/Check without any token. Resolves with the status name (`SERVING`, …). */
export function healthCheck(address: string, service: string, tls?: ConformanceTls): Promise<string> {
  const def = protoLoader.loadSync(healthProtoPath, { enums: String });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const h = new pkg.grpc.health.v1.Health(address, channelCredentials(tls), channelOptions(tls));
  return new Promise<string>((resolve, reject) =>
    h.Check({ service }, { deadline: Date.now() + 5000 }, (e: Error | null, r: { status: string }) => {
      h.close();
      if (e) reject(e);
      else resolve(r.status);
    }),
  );
}

/** Awaits a call expected to fail; returns the error. @throws when it succeeds. */
export async function grpcFailure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('expected a gRPC error, got a response');
}
