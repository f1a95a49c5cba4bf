import type { Bench } from '../lib/context';
import { exchangeClient, unary, waitReady } from '../lib/grpc-client';
import { row, side } from '../lib/results';
import { startConnector } from '../lib/servers';
import { Samples, nowNs, round, sleep, summarize } from '../lib/stats';
import { placeReq } from './unary';

/**
 * Sustained order flow (NFR-STAB-003): an open-loop PlaceOrder schedule of `rate` orders/s for
 * `seconds` s into the connector (sim venue, RATE_LIMIT_RPS=0), each order sent at its scheduled
 * instant whether or not earlier ones were answered; per second of schedule: orders answered,
 * p50/p99 latency, errors.
 */
export const sustainedBench: Bench = {
  name: 'sustained',
  title: 'Sustained orders: 1000 PlaceOrder/s for 60 s into the sim through the connector',
  async run(ctx) {
    const sc = {
      rate: Number(process.env.BENCH_SUSTAINED_RATE ?? ctx.scale.sustained.rate),
      seconds: Number(process.env.BENCH_SUSTAINED_SECONDS ?? ctx.scale.sustained.seconds),
    };
    const conn = await startConnector(ctx.workDir);
    const client = exchangeClient(conn.address, true);
    try {
      await waitReady(client);
      let priceTicks = 0;
      // 60000.0, 60000.1, …: resting BUYs far below the market (never fill), distinct prices, inside the connector's ±60 % price band
      const nextPrice = () => ((600000 + priceTicks++) / 10).toFixed(1);
      for (let i = 0; i < 500; i++) await unary(client, 'PlaceOrder', placeReq(nextPrice()));
      const perSec = Array.from({ length: sc.seconds }, () => ({ s: new Samples(sc.rate * 2), errors: 0 }));
      const all = new Samples(sc.rate * sc.seconds);
      let firstError = '';
      const total = sc.rate * sc.seconds;
      const inFlight: Promise<void>[] = [];
      const t0 = nowNs();
      const periodNs = 1e9 / sc.rate;
      let sent = 0;
      while (sent < total) {
        const due = Math.min(total, Math.floor((nowNs() - t0) / periodNs) + 1);
        while (sent < due) {
          const bucket = perSec[Math.floor((sent * periodNs) / 1e9)];
          const a = nowNs();
          inFlight.push(
            unary(client, 'PlaceOrder', placeReq(nextPrice())).then(
              () => {
                const d = nowNs() - a;
                bucket.s.add(d);
                all.add(d);
              },
              (e: Error) => {
                bucket.errors++;
                firstError ||= e.message;
              },
            ),
          );
          sent++;
        }
        await sleep(1);
      }
      await Promise.all(inFlight);
      const secs = (nowNs() - t0) / 1e9;
      const stats = perSec.map((b) => ({ ...summarize(b.s.values(), 1e-6), errors: b.errors }));
      const overall = summarize(all.values(), 1e-6);
      const errors = stats.reduce((n, s) => n + s.errors, 0);
      const minOrders = Math.min(...stats.map((s) => s.n));
      // a second with no answered order counts as worst (p99 = Infinity)
      const p99s = stats.map((s) => (s.n ? s.p99 : Infinity));
      const worstP99 = Math.max(...p99s);
      const worstSec = Math.max(0, p99s.indexOf(worstP99));
      ctx.log(`sustained: ${overall.n} orders in ${round(secs, 1)} s, min/s ${minOrders}, worst-second p99 ${round(worstP99)} ms, errors ${errors}${firstError ? ` (first: ${firstError})` : ''}`);
      const rows = [
        row(`${sc.rate} orders/s for ${sc.seconds} s (all orders)`, side(overall, overall.n / secs), undefined, 'orders/s', {
          errors,
          minOrdersPerSecond: minOrders,
          worstSecondP99: round(worstP99),
          worstSecond: worstSec + 1,
        }),
        row(`worst second (${worstSec + 1})`, side(summarize(perSec[worstSec].s.values(), 1e-6), stats[worstSec].n), undefined, 'orders/s'),
      ];
      return {
        method: `The connector (dist main.js, sim venue, RATE_LIMIT_RPS=0) and one raw grpc-js client on its own HTTP/2 connection in the bench process. Open loop: order k is sent at t0 + k/${sc.rate} s (checked every ~1 ms, late orders sent at once), without waiting for earlier answers; ${sc.seconds} s, ${total} orders, after 500 sequential warm-up orders. Orders: resting LIMIT BUY 0.003 BTCUSDT at distinct ascending prices from 60000 (never fill; inside the ±60 % price band). Per second of the schedule: orders answered OK, p50/p99 of call latency (send → answer), errors.`,
        rows,
        targets: [
          { what: `every second ≥ ${Math.floor(sc.rate * 0.99)} orders answered`, target: `≥ ${Math.floor(sc.rate * 0.99)}`, value: `min ${minOrders}`, pass: minOrders >= Math.floor(sc.rate * 0.99) },
          { what: 'p99 of every second', target: '< 10 ms', value: `worst ${round(worstP99)} ms (second ${worstSec + 1}); overall p50 ${round(overall.p50)} p99 ${round(overall.p99)}`, pass: worstP99 < 10 },
          { what: 'errors', target: '0', value: `${errors}${firstError ? ` (${firstError})` : ''}`, pass: errors === 0 },
        ],
        notes: [
          `per second (orders, p50/p99 ms): ${stats.map((s, i) => `${i + 1}: ${s.n} ${round(s.p50, 2)}/${round(s.p99, 2)}${s.errors ? ` err ${s.errors}` : ''}`).join('; ')}`,
        ],
      };
    } finally {
      client.close();
      await conn.stop();
    }
  },
};
