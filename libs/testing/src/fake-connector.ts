import * as grpc from '@grpc/grpc-js';
import {
  accountToWire,
  candleToWire,
  exchangeServiceDefinition,
  orderEventToWire,
  orderToWire,
  pb,
  positionToWire,
} from '@mm/contracts';
import type { AccountSnapshot, Candle, Order, OrderEvent, Position } from '@mm/domain';

type StreamName = 'SubscribeKlines' | 'SubscribeOrders' | 'SubscribeAccount' | 'SubscribePositions';
type AnyCall = grpc.ServerWritableStream<unknown, unknown>;

/** RPCs that change state on the venue: a read-only client must never call them. */
export const ORDER_RPCS = ['PlaceOrder', 'BatchPlaceOrders', 'CancelOrder', 'BatchCancelOrders', 'CancelAllOrders'] as const;

/**
 * A scripted ExchangeService on 127.0.0.1 for tests (real @grpc/grpc-js server, real proto).
 *
 * Serves `GetHistoricalKlines`, `GetOpenOrders`, `GetAccount` from the public fields and keeps
 * `SubscribeKlines/Orders/Account/Positions` streams open; `push*` writes an event to every open
 * stream of that kind (domain objects in, codec `*ToWire` on the wire). Every other RPC answers
 * UNIMPLEMENTED; order-placing RPCs are also counted in {@link orderRpcCalls}.
 * `stop()` + `start()` restarts on the same port (connector restart).
 */
export class FakeConnector {
  candles: Candle[] = [];
  openOrders: Order[] = [];
  account: AccountSnapshot | undefined;
  /** Every call per RPC name (unary and stream). */
  readonly calls: Record<string, number> = {};
  /** Calls of PlaceOrder/BatchPlaceOrders/Cancel*. */
  orderRpcCalls = 0;
  /** `authorization` metadata of the last call, if any. */
  lastAuthorization: string | undefined;
  /**
   * Send stream headers as soon as a subscription starts. Off by default, like grpc-js servers that
   * send them only with the first message: clients must not wait for headers to consider a stream open.
   */
  sendHeadersEarly = false;
  /** Requests of the stream subscriptions, newest last. */
  readonly subscribeRequests: Array<{ rpc: StreamName; request: unknown }> = [];
  private server?: grpc.Server;
  private readonly streams = new Map<StreamName, Set<AnyCall>>();
  private boundPort = 0;

  /** The bound port (0 before the first start). */
  get port(): number {
    return this.boundPort;
  }
  get address(): string {
    return `127.0.0.1:${this.boundPort}`;
  }

  /** Starts (or restarts) the server; on the previous port when there was one. */
  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(exchangeServiceDefinition(), this.handlers());
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.boundPort}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.server = server;
  }

  /** Kills the server and all its streams at once (like a crashed connector). */
  async stop(): Promise<void> {
    this.server?.forceShutdown();
    this.server = undefined;
    this.streams.clear();
  }

  /** Open streams of an RPC. */
  openStreams(rpc: StreamName): number {
    return this.streams.get(rpc)?.size ?? 0;
  }

  pushCandle(c: Candle): void {
    this.write('SubscribeKlines', candleToWire(c));
  }
  pushOrderUpdate(e: OrderEvent, exchange = 'fake'): void {
    this.write('SubscribeOrders', orderEventToWire(e, exchange));
  }
  pushAccount(a: AccountSnapshot): void {
    this.account = a;
    this.write('SubscribeAccount', accountToWire(a));
  }
  pushPosition(p: Position): void {
    this.write('SubscribePositions', positionToWire(p));
  }

  private write(rpc: StreamName, msg: unknown): void {
    for (const call of this.streams.get(rpc) ?? []) call.write(msg);
  }

  private count(name: string, md: grpc.Metadata): void {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    const auth = md.get('authorization')[0];
    if (auth !== undefined) this.lastAuthorization = auth.toString();
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const unimplemented = (name: string) => (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      this.count(name, call.metadata);
      cb({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented by the fake connector` });
    };
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, def] of Object.entries(exchangeServiceDefinition())) {
      if (!def.responseStream) impl[name] = unimplemented(name);
      else {
        impl[name] = (call: AnyCall) => {
          this.count(name, call.metadata);
          call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented` });
        };
      }
    }
    for (const name of ORDER_RPCS) {
      impl[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.orderRpcCalls++;
        unimplemented(name)(call, cb);
      };
    }
    impl.GetHistoricalKlines = (
      call: grpc.ServerUnaryCall<pb.GetHistoricalKlinesRequest, pb.GetHistoricalKlinesResponse>,
      cb: grpc.sendUnaryData<pb.GetHistoricalKlinesResponse>,
    ) => {
      this.count('GetHistoricalKlines', call.metadata);
      const { symbol, limit } = call.request;
      const rows = this.candles.filter((c) => c.symbol === symbol).slice(-(limit || 500));
      cb(null, { candles: rows.map(candleToWire) });
    };
    impl.GetOpenOrders = (
      call: grpc.ServerUnaryCall<pb.GetOpenOrdersRequest, pb.GetOpenOrdersResponse>,
      cb: grpc.sendUnaryData<pb.GetOpenOrdersResponse>,
    ) => {
      this.count('GetOpenOrders', call.metadata);
      const { symbol } = call.request;
      cb(null, { orders: this.openOrders.filter((o) => !symbol || o.symbol === symbol).map(orderToWire) });
    };
    impl.GetAccount = (call: grpc.ServerUnaryCall<pb.GetAccountRequest, pb.Account>, cb: grpc.sendUnaryData<pb.Account>) => {
      this.count('GetAccount', call.metadata);
      if (!this.account) cb({ code: grpc.status.UNAVAILABLE, details: 'no account yet' });
      else cb(null, accountToWire(this.account));
    };
    for (const rpc of ['SubscribeKlines', 'SubscribeOrders', 'SubscribeAccount', 'SubscribePositions'] as const) {
      impl[rpc] = (call: AnyCall) => {
        this.count(rpc, call.metadata);
        this.subscribeRequests.push({ rpc, request: call.request });
        let set = this.streams.get(rpc);
        if (!set) this.streams.set(rpc, (set = new Set()));
        set.add(call);
        if (this.sendHeadersEarly) call.sendMetadata(new grpc.Metadata());
        const drop = () => set.delete(call);
        call.on('cancelled', drop);
        call.on('close', drop);
      };
    }
    return impl;
  }
}
