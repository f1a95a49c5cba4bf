import type * as grpc from '@grpc/grpc-js';
import type { Bench } from '../lib/context';
import { type RawClient, exchangeClient, waitReady } from '../lib/grpc-client';
import { type Proc, rssSampler, waitFor } from '../lib/proc';
import { type Row, row, side } from '../lib/results';
import { type GrpcTarget, startConnector, startRawGrpc } from '../lib/servers';
import { Samples, round, sleep, summarize, wallMs } from '../lib/stats';

interface CaseResult {
  delivered: number;
  expected: number;
  seconds: number;
  latency: Samples;
  cutOff: number;
  emitSeconds: number;
  maxRss: number;
}

/**
 * One fan-out case: `subs` subscribers (each its own grpc-js client and HTTP/2 connection) on
 * SubscribePrice; the server emits n = rate × seconds wall-clock-stamped ticks at `rate`/s; we count
 * what arrives until everything did or `drainMs` passed. Latency = client callback wall time −
 * emit wall time carried in PriceChange.timestamp (sub-ms, same machine clock).
 */
export async function fanoutCase(
  target: GrpcTarget,
  kind: 'product' | 'baseline',
  rate: number,
  subs: number,
  seconds: number,
  drainMs: number,
): Promise<CaseResult> {
  const n = Math.max(1, Math.round(rate * seconds));
  const stride = Math.max(1, Math.ceil((n * subs) / 400_000));
  const latency = new Samples(1 << 16);
  const clients: RawClient[] = [];
  const calls: grpc.ClientReadableStream<any>[] = [];
  const received = new Array<number>(subs).fill(0);
  let cutOff = 0;
  let total = 0;
  let lastAt = 0;
  let headers = 0;
  try {
    for (let i = 0; i < subs; i++) {
      const c = exchangeClient(target.address, true);
      clients.push(c);
      await waitReady(c);
      const call = c.SubscribePrice({ symbols: ['BTCUSDT'] }) as grpc.ClientReadableStream<any>;
      calls.push(call);
      call.on('metadata', () => headers++);
      call.on('data', (m: { timestamp: { seconds: string; nanos: number } }) => {
        const now = wallMs();
        const k = received[i]++;
        total++;
        lastAt = now;
        if (k % stride === 0) latency.add(now - (Number(m.timestamp.seconds) * 1000 + m.timestamp.nanos / 1e6));
      });
      call.on('error', (e: grpc.ServiceError) => {
        if (e.code !== 1) cutOff++; // 1 = CANCELLED (our own cancel)
      });
    }
    await waitFor('stream headers', () => headers === subs, 20_000, 10);
    if (kind === 'product') await waitFor('venue observer', async () => (await target.proc.request({ type: 'observers' })).observers === 1, 10_000, 20);
    else await waitFor('raw subscribers', async () => (await target.proc.request({ type: 'subscribers' })).subscribers === subs, 10_000, 20);
    const rss = rssSampler(target.proc.child.pid!, 50);
    const start = wallMs();
    const burst = await target.proc.request<{ emitted: number; seconds: number }>({ type: 'burst', n, rate }, 60_000 + seconds * 1000);
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && total + 0 < n * subs && received.some((r, i) => r < n && !callDead(calls[i]))) await sleep(5);
    const maxRss = rss.stop();
    const end = lastAt > start ? lastAt : wallMs();
    return { delivered: total, expected: n * subs, seconds: (end - start) / 1000, latency, cutOff, emitSeconds: burst.seconds, maxRss };
  } finally {
    for (const c of calls) c.cancel();
    for (const c of clients) c.close();
    // the connector closes the venue subscription when the last subscriber leaves
    if (kind === 'product') await waitFor('observers gone', async () => (await target.proc.request({ type: 'observers' })).observers === 0, 10_000, 20).catch(() => undefined);
    else await waitFor('raw subscribers gone', async () => (await target.proc.request({ type: 'subscribers' })).subscribers === 0, 10_000, 20).catch(() => undefined);
  }
}

function callDead(c: grpc.ClientReadableStream<unknown>): boolean {
  return (c as unknown as { destroyed?: boolean }).destroyed === true || !c.readable;
}

export function describe(r: CaseResult) {
  return side(summarize(r.latency.values()), r.delivered / Math.max(r.seconds, 1e-9));
}

export const fanoutBench: Bench = {
  name: 'fanout',
  title: 'Stream fan-out: SubscribePrice to 1–50 subscribers at fixed emit rates',
  async run(ctx) {
    const sc = ctx.scale.fanout;
    const conn = await startConnector(ctx.workDir, {}, true);
    const raw = await startRawGrpc(ctx.workDir);
    const rows: Row[] = [];
    const targets = [];
    let maxRss = 0;
    try {
      // warm-up both paths
      await fanoutCase(conn, 'product', 1000, 2, 0.3, 2000);
      await fanoutCase(raw, 'baseline', 1000, 2, 0.3, 2000);
      for (const rate of sc.rates) {
        for (const subs of sc.subscribers) {
          const p = await fanoutCase(conn, 'product', rate, subs, sc.seconds, sc.drainTimeoutMs);
          const b = await fanoutCase(raw, 'baseline', rate, subs, sc.seconds, sc.drainTimeoutMs);
          maxRss = Math.max(maxRss, p.maxRss);
          const r = row(`${rate} msg/s → ${subs} sub`, describe(p), describe(b), 'msg/s delivered', {
            offered: rate * subs,
            drops: p.expected - p.delivered,
            cutOff: p.cutOff,
            baselineDrops: b.expected - b.delivered,
            emitSec: round(p.emitSeconds, 2),
            rssMB: round(p.maxRss / 1048576, 1),
          });
          rows.push(r);
          ctx.log(`fanout ${r.case}: ${Math.round(r.product.throughput)} vs raw ${Math.round(r.baseline!.throughput)} msg/s, drops ${p.expected - p.delivered}/${b.expected - b.delivered}`);
          if (subs === 10) {
            targets.push({
              what: `fan-out ${rate} msg/s to 10 subscribers: delivered throughput vs raw grpc-js`,
              target: '≥ 0.8×',
              value: `${r.ratio!.throughput}× (${Math.round(r.product.throughput)} vs ${Math.round(r.baseline!.throughput)} msg/s)`,
              pass: r.ratio!.throughput >= 0.8,
            });
            targets.push({
              what: `fan-out ${rate} msg/s to 10 subscribers: drops (healthy subscribers)`,
              target: '0',
              value: `${p.expected - p.delivered} (raw: ${b.expected - b.delivered})`,
              pass: p.expected === p.delivered,
            });
          }
        }
      }
      return {
        method: `Product: the real connector (dist main.js, StreamHub → Nest Transport.GRPC → grpc-js) with bench/hosts/preload-burst replacing the sim's own price feed by a wall-clock-stamped burst source at the venue port (SimExchange#watchPrice), driven over IPC (stand-in for the planned \`POST /test/burst?n=&rate=\` hook). Baseline: raw grpc-js server-stream of the same PriceChange messages with the same drain/queue logic (bench/hosts/raw-grpc). Each case emits rate × ${sc.seconds} s messages; subscribers are raw grpc-js clients in the bench process, each on its own HTTP/2 connection; delivery is counted until all arrived or ${sc.drainTimeoutMs} ms after the burst. Throughput = messages delivered to all subscribers ÷ (last arrival − burst start). Latency = client callback wall time − emit wall time in PriceChange.timestamp. drops = expected − delivered (product); cutOff = subscribers ended by the server (RESOURCE_EXHAUSTED at 10,000 queued). The bench process (all clients) and the server share the 2 cores, so high offered loads saturate the client side as well.`,
        rows,
        targets,
        notes: [`connector max RSS during the fan-out cases: ${round(maxRss / 1048576, 1)} MB`],
      };
    } finally {
      await conn.stop();
      await raw.stop();
    }
  },
};

export type { Proc };
