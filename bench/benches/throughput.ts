import type { Bench } from '../lib/context';
import { type RawClient, exchangeClient, unary, waitReady } from '../lib/grpc-client';
import { row, side } from '../lib/results';
import { startConnector, startRawGrpc } from '../lib/servers';
import { Samples, nowNs, summarize } from '../lib/stats';
import { placeReq } from './unary';

/** Runs `total` operations with `inFlight` concurrent workers; each op timed. */
async function pool(total: number, inFlight: number, op: (i: number) => Promise<void>, s: Samples): Promise<number> {
  let next = 0;
  const t0 = nowNs();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        const a = nowNs();
        await op(i);
        s.add(nowNs() - a);
      }
    }),
  );
  return (nowNs() - t0) / 1e9;
}

/**
 * Order throughput into the sim: concurrent PlaceOrder and BatchPlaceOrders (resting BUYs at
 * distinct ascending prices far below the market, so the sim's book appends at its best end and
 * nothing fills). Baseline: the raw grpc-js server answering the same calls from memory.
 */
export const throughputBench: Bench = {
  name: 'throughput',
  title: 'Order throughput: concurrent PlaceOrder / BatchPlaceOrders into the sim',
  async run(ctx) {
    const sc = ctx.scale.throughput;
    const conn = await startConnector(ctx.workDir);
    const raw = await startRawGrpc(ctx.workDir);
    const clients = { product: exchangeClient(conn.address, true), baseline: exchangeClient(raw.address, true) };
    let priceTicks = 0;
    // 50000.0, 50000.1, … (0.1 = BTCUSDT tick): ascending, never reaching the ~100k market
    const nextPrice = () => (500000 + priceTicks++) / 10;
    const place = (c: RawClient) => unary(c, 'PlaceOrder', placeReq(nextPrice().toFixed(1)));
    const batch = async (c: RawClient, size: number) => {
      const orders = Array.from({ length: size }, () => placeReq(nextPrice().toFixed(1)));
      const res = await unary(c, 'BatchPlaceOrders', { orders });
      if (!res.allSuccess) throw new Error(`batch failed: ${JSON.stringify(res.errors?.[0])}`);
    };
    try {
      for (const c of Object.values(clients)) await waitReady(c);
      for (const c of Object.values(clients)) await pool(sc.warmup, 8, () => place(c).then(() => undefined), new Samples());
      const rows = [];
      const targets = [];
      for (const n of sc.concurrency) {
        const res: Record<string, ReturnType<typeof side>> = {};
        for (const who of ['product', 'baseline'] as const) {
          const s = new Samples();
          const secs = await pool(sc.ordersPerCase, n, () => place(clients[who]).then(() => undefined), s);
          res[who] = side(summarize(s.values(), 1e-6), sc.ordersPerCase / secs);
        }
        ctx.log(`PlaceOrder ×${n} in flight: ${Math.round(res.product.throughput)} orders/s`);
        rows.push(row(`PlaceOrder, ${n} in flight`, res.product, res.baseline, 'orders/s'));
      }
      for (const size of sc.batchSizes) {
        const calls = Math.max(1, Math.round(sc.ordersPerCase / size));
        const res: Record<string, ReturnType<typeof side>> = {};
        for (const who of ['product', 'baseline'] as const) {
          const s = new Samples();
          const secs = await pool(calls, sc.batchInFlight, () => batch(clients[who], size), s);
          res[who] = side(summarize(s.values(), 1e-6), (calls * size) / secs);
        }
        ctx.log(`BatchPlaceOrders ×${size} (${sc.batchInFlight} in flight): ${Math.round(res.product.throughput)} orders/s`);
        rows.push(row(`BatchPlaceOrders of ${size}, ${sc.batchInFlight} in flight`, res.product, res.baseline, 'orders/s', { callLatency: 'per batch call' }));
        targets.push({
          what: `BatchPlaceOrders (${size}/batch) into the sim`,
          target: '≥ 5000 orders/s',
          value: `${Math.round(res.product.throughput)} orders/s`,
          pass: res.product.throughput >= 5000,
        });
      }
      return {
        method: `${sc.ordersPerCase} orders per case per side from one raw grpc-js client (own HTTP/2 connection). PlaceOrder with N calls in flight; BatchPlaceOrders with ${sc.batchInFlight} batch calls in flight; latency is per call (a batch call carries the whole batch). Orders are resting LIMIT BUYs 0.003 BTC at distinct ascending prices from 50000 (never fill). Baseline: raw grpc-js server answering from memory (no venue work), so the ratio shows the cost of Nest + codec + sim.`,
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
