import * as grpc from '@grpc/grpc-js';
import { exchangeClientConstructor } from '@mm/contracts';

/** A raw grpc-js ExchangeService client for tests, with promise-returning unary calls. */
export class TestExchangeClient {
  readonly raw: grpc.Client & Record<string, any>;
  constructor(address: string, private readonly token?: string) {
    const Ctor = exchangeClientConstructor();
    this.raw = new Ctor(address, grpc.credentials.createInsecure()) as any;
  }
  metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }
  call<T = any>(method: string, req: object = {}, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) =>
      this.raw[method](req, this.metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, v: T) => (err ? reject(err) : resolve(v))),
    );
  }
  stream<T = any>(method: string, req: object, onData: (v: T) => void): grpc.ClientReadableStream<T> {
    const s = this.raw[method](req, this.metadata(), { waitForReady: true }) as grpc.ClientReadableStream<T>;
    s.on('data', onData);
    s.on('error', () => undefined);
    return s;
  }
  close(): void {
    this.raw.close();
  }
}
