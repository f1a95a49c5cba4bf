/**
 * Baseline: a raw @grpc/grpc-js ExchangeService on 127.0.0.1:$PORT answering from memory.
 * Unary GetName, GetLatestPrice, GetAccount, PlaceOrder, BatchPlaceOrders, CancelOrder return
 * the same message types as the connector (built once from a manual SimExchange with the same
 * codec); SubscribePrice is a server stream fed by IPC `{type:'burst', n, rate}` with the same
 * drain back-pressure and per-subscriber queue cap as the connector's StreamHub. Run with the
 * `preload-ipc` preload for memory readings.
 */
import * as grpc from '@grpc/grpc-js';
import { exchangeServiceDefinition, accountToWire, orderToWire, priceToWire, toDec } from '@mm/contracts';
import { Dec, type PriceTick } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { runBurst } from '../lib/burst';

type Call = grpc.ServerWritableStream<unknown, object>;
interface Sub {
  call: Call;
  queue: object[];
  writable: boolean;
  dead: boolean;
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT);
  const maxBuffer = Number(process.env.STREAM_MAX_BUFFER ?? 10000);
  const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT') }], manual: true, seed: 7, initialBalance: new Dec(1e9) });
  const price = await sim.getLatestPrice('BTCUSDT');
  const account = accountToWire(await sim.getAccount());
  const order = orderToWire(
    await sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: new Dec('0.003'), price: new Dec(50000) }),
  );
  const priceRes = { price: toDec(price) };
  const subs = new Set<Sub>();

  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(exchangeServiceDefinition())) {
    impl[name] = def.responseStream
      ? (call: Call) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: name })
      : (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: name });
  }
  impl.GetName = (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { name: 'raw' });
  impl.GetLatestPrice = (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, priceRes);
  impl.GetAccount = (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, account);
  impl.PlaceOrder = (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, order);
  impl.CancelOrder = (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {});
  impl.BatchPlaceOrders = (c: grpc.ServerUnaryCall<{ orders: unknown[] }, unknown>, cb: grpc.sendUnaryData<unknown>) =>
    cb(null, { orders: c.request.orders.map(() => order), allSuccess: true, errors: [] });
  impl.SubscribePrice = (call: Call) => {
    const sub: Sub = { call, queue: [], writable: true, dead: false };
    const drop = () => {
      sub.dead = true;
      subs.delete(sub);
    };
    call.on('drain', () => {
      sub.writable = true;
      let i = 0;
      while (i < sub.queue.length && sub.writable) sub.writable = call.write(sub.queue[i++]);
      sub.queue = i === sub.queue.length ? [] : sub.queue.slice(i);
    });
    call.once('cancelled', drop);
    call.once('close', drop);
    subs.add(sub);
    call.sendMetadata(new grpc.Metadata());
  };

  const server = new grpc.Server();
  server.addService(exchangeServiceDefinition(), impl);
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );

  const prices = Array.from({ length: 1024 }, (_, i) => new Dec(100000).plus(new Dec(i).div(10)));
  process.on('message', (m: { type?: string; id?: number; n?: number; rate?: number }) => {
    if (m?.type === 'subscribers') process.send?.({ id: m.id, subscribers: subs.size });
    if (m?.type !== 'burst') return;
    void runBurst(m.n ?? 0, m.rate ?? 1000, (seq) => {
      const tick: PriceTick = { symbol: 'BTCUSDT', price: prices[seq & 1023], timestampMs: performance.timeOrigin + performance.now() };
      const msg = priceToWire(tick, 'sim');
      for (const s of subs) {
        if (s.writable && s.queue.length === 0) s.writable = s.call.write(msg);
        else if (s.queue.length >= maxBuffer) {
          s.call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'subscriber too slow' });
          subs.delete(s);
        } else s.queue.push(msg);
      }
    }).then((r) => process.send?.({ id: m.id, ...r, subscribers: subs.size }));
  });
  process.on('SIGTERM', () => {
    server.forceShutdown();
    process.exit(0);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
