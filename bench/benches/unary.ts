import type { Bench } from '../lib/context';
import { type RawClient, exchangeClient, unary, waitReady } from '../lib/grpc-client';
import { row, side } from '../lib/results';
import { startConnector, startRawGrpc } from '../lib/servers';
import { Samples, nowNs, summarize } from '../lib/stats';

export function placeReq(price: string, clientOrderId = ''): object {
  return {
    symbol: 'BTCUSDT',
    side: 'ORDER_SIDE_BUY',
    type: 'ORDER_TYPE_LIMIT',
    timeInForce: 'TIME_IN_FORCE_GTC',
    quantity: { value: '0.003' },
    price: { value: price },
    clientOrderId,
  };
}

type Op = 'GetLatestPrice' | 'GetAccount' | 'PlaceOrder' | 'CancelOrder';
const OPS: Op[] = ['GetLatestPrice', 'GetAccount', 'PlaceOrder', 'CancelOrder'];

/**
 * Sequential unary calls, one in flight, against the connector and the raw grpc-js baseline.
 * Both servers run at once and the client alternates blocks of calls between them, so machine
 * noise hits both sides alike. PlaceOrder + CancelOrder run as pairs (a resting BUY far below the
 * market, then its cancel), each call timed on its own.
 */
export const unaryBench: Bench = {
  name: 'unary',
  title: 'Unary latency: connector (Nest gRPC, sim venue) vs raw grpc-js',
  async run(ctx) {
    const { warmup, calls } = ctx.scale.unary;
    const conn = await startConnector(ctx.workDir);
    const raw = await startRawGrpc(ctx.workDir);
    const clients: Record<'product' | 'baseline', RawClient> = { product: exchangeClient(conn.address, true), baseline: exchangeClient(raw.address, true) };
    const samples: Record<'product' | 'baseline', Record<Op, Samples>> = {
      product: Object.fromEntries(OPS.map((o) => [o, new Samples(calls)])) as Record<Op, Samples>,
      baseline: Object.fromEntries(OPS.map((o) => [o, new Samples(calls)])) as Record<Op, Samples>,
    };
    const wall: Record<'product' | 'baseline', Record<string, number>> = { product: {}, baseline: {} };
    try {
      for (const c of Object.values(clients)) await waitReady(c);
      const getPrice = async (c: RawClient, s?: Samples) => {
        const t0 = nowNs();
        await unary(c, 'GetLatestPrice', { symbol: 'BTCUSDT' });
        s?.add(nowNs() - t0);
      };
      const getAccount = async (c: RawClient, s?: Samples) => {
        const t0 = nowNs();
        await unary(c, 'GetAccount', {});
        s?.add(nowNs() - t0);
      };
      const placeCancel = async (c: RawClient, sp?: Samples, sc?: Samples) => {
        let t0 = nowNs();
        const o = await unary(c, 'PlaceOrder', placeReq('50000'));
        sp?.add(nowNs() - t0);
        t0 = nowNs();
        await unary(c, 'CancelOrder', { symbol: 'BTCUSDT', orderId: o.orderId });
        sc?.add(nowNs() - t0);
      };
      // warm-up: JIT, connections, first-call paths
      for (const c of Object.values(clients)) {
        for (let i = 0; i < warmup; i++) {
          await getPrice(c);
          await getAccount(c);
          await placeCancel(c);
        }
      }
      const block = Math.max(50, Math.min(1000, Math.floor(calls / 10)));
      const cases: { name: string; ops: Op[]; once: (c: RawClient, who: 'product' | 'baseline') => Promise<void> }[] = [
        { name: 'GetLatestPrice', ops: ['GetLatestPrice'], once: (c, w) => getPrice(c, samples[w].GetLatestPrice) },
        { name: 'GetAccount', ops: ['GetAccount'], once: (c, w) => getAccount(c, samples[w].GetAccount) },
        { name: 'PlaceOrder+CancelOrder', ops: ['PlaceOrder', 'CancelOrder'], once: (c, w) => placeCancel(c, samples[w].PlaceOrder, samples[w].CancelOrder) },
      ];
      for (const k of cases) {
        ctx.log(`unary ${k.name}: ${calls} calls per side`);
        for (let done = 0; done < calls; done += block) {
          const n = Math.min(block, calls - done);
          for (const who of ['product', 'baseline'] as const) {
            const t0 = nowNs();
            for (let i = 0; i < n; i++) await k.once(clients[who], who);
            wall[who][k.name] = (wall[who][k.name] ?? 0) + (nowNs() - t0);
          }
        }
      }
      const rows = OPS.map((op) => {
        const kase = op === 'PlaceOrder' || op === 'CancelOrder' ? 'PlaceOrder+CancelOrder' : op;
        const per = (who: 'product' | 'baseline') => {
          const s = summarize(samples[who][op].values(), 1e-6);
          // calls per second of this op (for the pair: pairs per second, i.e. sequential round trips)
          const thr = samples[who][op].n / (wall[who][kase] / 1e9);
          return side(s, thr);
        };
        return row(op, per('product'), per('baseline'), 'calls/s');
      });
      const targets = rows.flatMap((r) => [
        { what: `${r.case} p50 vs raw grpc-js`, target: '≤ 1.3×', value: `${r.ratio!.p50}× (${r.product.p50} vs ${r.baseline!.p50} ms)`, pass: r.ratio!.p50 <= 1.3 },
        { what: `${r.case} p99 vs raw grpc-js`, target: '≤ 1.3×', value: `${r.ratio!.p99}× (${r.product.p99} vs ${r.baseline!.p99} ms)`, pass: r.ratio!.p99 <= 1.3 },
      ]);
      return {
        method: `Sequential calls (one in flight) from one raw grpc-js client per server, each over its own HTTP/2 connection on 127.0.0.1; ${warmup} warm-up rounds, then ${calls} timed calls per method per side, alternating blocks of ${block} between product and baseline. Product: the connector (dist main.js, Nest Transport.GRPC, sim venue). Baseline: a raw @grpc/grpc-js server answering the same message types from memory. PlaceOrder+CancelOrder: a resting BUY 0.003 @ 50000 then its cancel; each call timed separately; throughput for those two rows counts that call only over the time of the pair loop.`,
        rows,
        targets,
        notes: [],
      };
    } finally {
      for (const c of Object.values(clients)) c.close();
      await conn.stop();
      await raw.stop();
    }
  },
};
