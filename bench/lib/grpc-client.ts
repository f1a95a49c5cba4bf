import * as grpc from '@grpc/grpc-js';
import { exchangeClientConstructor } from '@mm/contracts';

export type RawClient = grpc.Client & Record<string, any>;

/**
 * A raw grpc-js ExchangeService client (the library the product's clients use). `ownConnection`
 * gives it its own HTTP/2 connection (grpc-js otherwise shares one subchannel per target).
 */
export function exchangeClient(address: string, ownConnection = false): RawClient {
  const Ctor = exchangeClientConstructor();
  const opts: grpc.ChannelOptions = ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {};
  return new Ctor(address, grpc.credentials.createInsecure(), opts) as unknown as RawClient;
}

const md = new grpc.Metadata();

export function unary<T = any>(c: RawClient, method: string, req: object, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) =>
    c[method](req, md, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, v: T) => (err ? reject(err) : resolve(v))),
  );
}

export async function waitReady(c: RawClient, timeoutMs = 30_000): Promise<void> {
  await new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + timeoutMs, (e?: Error) => (e ? reject(e) : resolve())));
}
