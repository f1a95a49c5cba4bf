/**
 * Bench host: SubscribePrice subscribers in their own process (so a fan-out ceiling measures the
 * server, not one client process). IPC: `{type:'open', address, subs}` opens `subs` raw grpc-js
 * subscribers, each on its own HTTP/2 connection, and replies once all have stream headers;
 * `{type:'counts'}` → `{received: number[], ended: number}` (ended = streams the server closed);
 * `{type:'close'}` cancels and closes all. Leaves when the parent goes away.
 */
import type * as grpc from '@grpc/grpc-js';
import { type RawClient, exchangeClient, waitReady } from '../lib/grpc-client';

let clients: RawClient[] = [];
let calls: grpc.ClientReadableStream<unknown>[] = [];
let received: number[] = [];
let ended = 0;

async function open(address: string, subs: number): Promise<void> {
  received = new Array<number>(subs).fill(0);
  ended = 0;
  let headers = 0;
  for (let i = 0; i < subs; i++) {
    const c = exchangeClient(address, true);
    clients.push(c);
    await waitReady(c);
    const call = c.SubscribePrice({ symbols: ['BTCUSDT'] }) as grpc.ClientReadableStream<unknown>;
    calls.push(call);
    call.on('metadata', () => headers++);
    call.on('data', () => received[i]++);
    call.on('error', (e: grpc.ServiceError) => {
      if (e.code !== 1) ended++; // 1 = CANCELLED (our own cancel)
    });
  }
  const deadline = Date.now() + 20_000;
  while (headers < subs) {
    if (Date.now() > deadline) throw new Error(`stream headers: ${headers}/${subs}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function close(): void {
  for (const c of calls) c.cancel();
  for (const c of clients) c.close();
  calls = [];
  clients = [];
}

process.on('message', (m: { type?: string; id?: number; address?: string; subs?: number }) => {
  const reply = (v: object) => process.send?.({ id: m.id, ...v });
  switch (m?.type) {
    case 'open':
      open(m.address!, m.subs!).then(
        () => reply({ ok: true }),
        (e: Error) => reply({ error: e.message }),
      );
      break;
    case 'counts':
      reply({ received, ended });
      break;
    case 'close':
      close();
      reply({ ok: true });
      break;
  }
});
process.on('disconnect', () => process.exit(0));
