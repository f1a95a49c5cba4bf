import * as grpc from '@grpc/grpc-js';
import { accountToWire, candleToWire, exchangeServiceDefinition, orderEventToWire } from '@mm/contracts';
import type { AccountSnapshot, Candle, OrderEvent } from '@mm/domain';

type StreamName = 'SubscribeKlines' | 'SubscribeOrders' | 'SubscribeAccount' | 'SubscribePositions';
type AnyCall = grpc.ServerWritableStream<unknown, unknown>;

/**
 * Minimal scripted ExchangeService on 127.0.0.1 feeding the live server (a copy of the essentials
 * of test/support/fake-connector.ts, which dist does not include): history, open orders and
 * account for the snapshots; `pushCandle` / `pushOrderUpdate` write to every open stream.
 */
export class FakeConnector {
  candles: Candle[] = [];
  account: AccountSnapshot | undefined;
  private server?: grpc.Server;
  private readonly streams = new Map<StreamName, Set<AnyCall>>();
  port = 0;

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(exchangeServiceDefinition(), this.handlers());
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.streams.clear();
  }

  openStreams(rpc: StreamName): number {
    return this.streams.get(rpc)?.size ?? 0;
  }

  pushCandle(c: Candle): void {
    this.write('SubscribeKlines', candleToWire(c));
  }
  pushOrderUpdate(e: OrderEvent): void {
    this.write('SubscribeOrders', orderEventToWire(e, 'fake'));
  }

  private write(rpc: StreamName, msg: unknown): void {
    for (const call of this.streams.get(rpc) ?? []) call.write(msg);
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, def] of Object.entries(exchangeServiceDefinition())) {
      impl[name] = def.responseStream
        ? (call: AnyCall) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: name })
        : (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: name });
    }
    impl.GetHistoricalKlines = (call: grpc.ServerUnaryCall<{ limit: number }, unknown>, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { candles: this.candles.slice(-(call.request.limit || 500)).map(candleToWire) });
    impl.GetOpenOrders = (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { orders: [] });
    impl.GetAccount = (_c: unknown, cb: grpc.sendUnaryData<unknown>) =>
      this.account ? cb(null, accountToWire(this.account)) : cb({ code: grpc.status.UNAVAILABLE, details: 'no account' });
    for (const rpc of ['SubscribeKlines', 'SubscribeOrders', 'SubscribeAccount', 'SubscribePositions'] as const) {
      impl[rpc] = (call: AnyCall) => {
        let set = this.streams.get(rpc);
        if (!set) this.streams.set(rpc, (set = new Set()));
        set.add(call);
        const drop = () => set.delete(call);
        call.on('cancelled', drop);
        call.on('close', drop);
      };
    }
    return impl;
  }
}
