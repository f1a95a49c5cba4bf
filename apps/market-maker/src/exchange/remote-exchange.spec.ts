import * as grpc from '@grpc/grpc-js';
import { exchangeServiceDefinition } from '@mm/contracts';
import type { PriceTick } from '@mm/domain';
import { RemoteExchange } from './remote-exchange';

/** Real gRPC over loopback: a scripted SubscribePrice that sends good and undecodable prices. */
describe('RemoteExchange undecodable prices', () => {
  let server: grpc.Server;
  let port = 0;
  const script = ['100', 'NaN', '-5', '0', 'abc', 'Infinity', '101.5'];

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(exchangeServiceDefinition(), {
      SubscribePrice: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.sendMetadata(new grpc.Metadata());
        for (const [i, v] of script.entries()) {
          call.write({ exchange: 'x', symbol: 'BTCUSDT', price: { value: v }, timestamp: { seconds: String(1_700_000_000 + i), nanos: 0 } });
        }
      },
    } as never);
    port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  });
  afterAll(() => server.forceShutdown());

  it('counts each undecodable price, never delivers it, reports the feed unhealthy until a good price arrives', async () => {
    const states: string[] = [];
    const undecodable: string[] = [];
    const ex = new RemoteExchange({
      address: `127.0.0.1:${port}`,
      connectAttempts: 1,
      requestTimeoutMs: 2000,
      onStreamState: (stream, state, detail) => states.push(`${stream}:${state}${detail ? `:${detail.slice(0, 40)}` : ''}`),
      onUndecodable: (stream, detail) => undecodable.push(`${stream}: ${detail}`),
    });
    const got: PriceTick[] = [];
    const stop = ex.watchPrice('BTCUSDT', { next: (p) => got.push(p) });
    const t0 = Date.now();
    while (got.length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    stop();
    await ex.close();
    expect(got.map((p) => p.price.toString())).toEqual(['100', '101.5']);
    expect(ex.undecodablePrices).toBe(5);
    expect(ex.undecodableMessages).toEqual({ price: 5 });
    expect(undecodable).toHaveLength(5);
    expect(undecodable[0]).toMatch(/^price: undecodable message: .*NaN/);
    expect(undecodable[1]).toMatch(/price must be a positive decimal, got -5/);
    // unhealthy from the first bad message, healthy again with the good one
    const i = states.findIndex((s) => s.startsWith('price:reconnecting:undecodable'));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(states[states.length - 1]).toBe('price:subscribed:messages decode again');
  });
});
