import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS, exchangeProtoPath, protoDir } from '@mm/contracts';
import { serializeOncePerMessage } from './lean-grpc-server';

/** A fresh ExchangeService definition (not the shared cached one: the patch mutates it). */
function freshService(): Record<string, grpc.MethodDefinition<unknown, unknown> & { responseStream: boolean }> {
  const def = protoLoader.loadSync(exchangeProtoPath(), { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir()] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { opensqt: { market_maker: { v1: { ExchangeService: grpc.ServiceClientConstructor } } } };
  return pkg.opensqt.market_maker.v1.ExchangeService.service as never;
}

describe('serializeOncePerMessage', () => {
  it('streams: one encoding per message object, the same bytes as the original serializer; unary methods untouched', () => {
    const svc = freshService();
    const original = Object.fromEntries(Object.entries(svc).map(([k, m]) => [k, m.responseSerialize]));
    const counts = new Map<string, number>();
    for (const [k, m] of Object.entries(svc)) {
      const enc = m.responseSerialize;
      m.responseSerialize = (v: unknown) => {
        counts.set(k, (counts.get(k) ?? 0) + 1);
        return enc(v);
      };
    }
    serializeOncePerMessage(svc as never);
    serializeOncePerMessage(svc as never); // idempotent: no second layer
    const streaming = Object.keys(svc).filter((k) => svc[k].responseStream);
    const unary = Object.keys(svc).filter((k) => !svc[k].responseStream);
    expect(streaming).toEqual(expect.arrayContaining(['SubscribePrice', 'SubscribeOrders']));
    expect(unary).toEqual(expect.arrayContaining(['PlaceOrder', 'GetLatestPrice']));

    const msg = { symbol: 'BTCUSDT', price: { value: '96543.21' }, timestamp: { seconds: '1746380000', nanos: 0 } };
    const a = svc.SubscribePrice.responseSerialize(msg);
    const b = svc.SubscribePrice.responseSerialize(msg);
    expect(b).toBe(a); // remembered
    expect(counts.get('SubscribePrice')).toBe(1);
    expect(Buffer.compare(a, original.SubscribePrice(msg))).toBe(0);
    expect(svc.SubscribePrice.responseDeserialize(a)).toMatchObject({ symbol: 'BTCUSDT', price: { value: '96543.21' } });
    // another object (even an equal one) is encoded afresh
    svc.SubscribePrice.responseSerialize({ ...msg });
    expect(counts.get('SubscribePrice')).toBe(2);
    // unary answers are encoded every time
    const price = { symbol: 'BTCUSDT', price: { value: '1' } };
    svc.GetLatestPrice.responseSerialize(price);
    svc.GetLatestPrice.responseSerialize(price);
    expect(counts.get('GetLatestPrice')).toBe(2);
  });
});
