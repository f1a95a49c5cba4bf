import type * as grpc from '@grpc/grpc-js';
import type { Bench } from '../lib/context';
import { exchangeClient, waitReady } from '../lib/grpc-client';
import { type LiveTarget, closeClient, connectClient, inBatches, startLive, startRawWs } from '../lib/live-setup';
import { type Proc, memOf } from '../lib/proc';
import { type Row, row } from '../lib/results';
import { type GrpcTarget, startConnector, startRawGrpc } from '../lib/servers';
import { round, sleep } from '../lib/stats';
import { fanoutCase } from './fanout';

const MB = 1048576;
const none = (n: number) => ({ n, p50: NaN, p90: NaN, p99: NaN, max: NaN, throughput: NaN });

/** Opens SubscribePrice, waits for its headers (the connector attached it), cancels. */
async function subscribeCycles(t: GrpcTarget, cycles: number): Promise<number> {
  const c = exchangeClient(t.address, true);
  await waitReady(c);
  const t0 = Date.now();
  await inBatches(cycles, 10, async () => {
    const call = c.SubscribePrice({ symbols: ['BTCUSDT'] }) as grpc.ClientReadableStream<unknown>;
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    await new Promise<void>((resolve) => {
      call.once('metadata', () => resolve());
      call.once('error', () => resolve());
    });
    call.cancel();
  });
  const secs = (Date.now() - t0) / 1000;
  c.close();
  return cycles / secs;
}

async function wsCycles(t: LiveTarget, cycles: number): Promise<number> {
  const t0 = Date.now();
  await inBatches(cycles, 10, async () => closeClient(await connectClient(t.url)));
  return cycles / ((Date.now() - t0) / 1000);
}

/** Heap after forced GC before and after `cycles` cycles (after a warm-up of 5 %). */
async function leakCheck(proc: Proc, cycles: number, run: (n: number) => Promise<number>) {
  await run(Math.max(10, Math.round(cycles / 20)));
  await sleep(500);
  const before = await memOf(proc);
  const rate = await run(cycles);
  await sleep(1000);
  const after = await memOf(proc);
  return { before, after, rate, deltaMB: (after.heapUsed - before.heapUsed) / MB };
}

export const memoryBench: Bench = {
  name: 'memory',
  title: 'Memory and leaks: connector RSS under fan-out load; subscribe/unsubscribe and WebSocket connect/disconnect cycles',
  async run(ctx) {
    const sc = ctx.scale.memory;
    const rows: Row[] = [];
    const targets = [];
    // 1. RSS under fan-out load
    const conn = await startConnector(ctx.workDir, {}, true);
    const raw = await startRawGrpc(ctx.workDir);
    try {
      const p = await fanoutCase(conn, 'product', sc.loadRate, sc.loadSubscribers, sc.loadSeconds, 6000);
      const b = await fanoutCase(raw, 'baseline', sc.loadRate, sc.loadSubscribers, sc.loadSeconds, 6000);
      rows.push(
        row(`max RSS, ${sc.loadRate} msg/s → ${sc.loadSubscribers} subscribers for ${sc.loadSeconds} s`, none(1), none(1), '', {
          connectorMB: round(p.maxRss / MB, 1),
          rawGrpcMB: round(b.maxRss / MB, 1),
          ratio: round(p.maxRss / b.maxRss, 2),
          drops: p.expected - p.delivered,
        }),
      );
      targets.push({ what: 'connector RSS under fan-out load', target: '< 150 MB', value: `${round(p.maxRss / MB, 1)} MB (raw grpc-js ${round(b.maxRss / MB, 1)} MB)`, pass: p.maxRss < 150 * MB });
    } finally {
      await conn.stop();
      await raw.stop();
    }
    // 2. subscribe/unsubscribe cycles on the real connector (its own sim price feed, no burst preload)
    const conn2 = await startConnector(ctx.workDir);
    const raw2 = await startRawGrpc(ctx.workDir);
    try {
      const p = await leakCheck(conn2.proc, sc.cycles, (n) => subscribeCycles(conn2, n));
      const b = await leakCheck(raw2.proc, sc.cycles, (n) => subscribeCycles(raw2, n));
      const metrics = await fetch(`http://127.0.0.1:${conn2.httpPort}/metrics`).then((r) => r.text());
      const subsLeft = /exchange_stream_subscribers\{stream="price"\} (\d+)/.exec(metrics)?.[1] ?? '?';
      rows.push(
        row(`${sc.cycles} SubscribePrice subscribe/unsubscribe cycles`, { ...none(sc.cycles), throughput: round(p.rate, 1) }, { ...none(sc.cycles), throughput: round(b.rate, 1) }, 'cycles/s', {
          heapBeforeMB: round(p.before.heapUsed / MB, 2),
          heapAfterMB: round(p.after.heapUsed / MB, 2),
          deltaMB: round(p.deltaMB, 2),
          baselineDeltaMB: round(b.deltaMB, 2),
          subscribersLeft: subsLeft,
        }),
      );
      targets.push({ what: `connector heap after ${sc.cycles} subscribe/unsubscribe cycles (forced GC)`, target: 'within 5 MB of before', value: `${round(p.deltaMB, 2)} MB`, pass: Math.abs(p.deltaMB) <= 5 });
    } finally {
      await conn2.stop();
      await raw2.stop();
    }
    // 3. WebSocket connect/disconnect cycles on the live server
    const live = await startLive(ctx.workDir);
    let p: Awaited<ReturnType<typeof leakCheck>>;
    try {
      p = await leakCheck(live.proc, sc.cycles, (n) => wsCycles(live, n));
    } finally {
      await live.stop();
    }
    const rawWs = await startRawWs(ctx.workDir);
    let b: Awaited<ReturnType<typeof leakCheck>>;
    try {
      b = await leakCheck(rawWs.proc, sc.cycles, (n) => wsCycles(rawWs, n));
    } finally {
      await rawWs.stop();
    }
    rows.push(
      row(`${sc.cycles} WebSocket connect/disconnect cycles`, { ...none(sc.cycles), throughput: round(p.rate, 1) }, { ...none(sc.cycles), throughput: round(b.rate, 1) }, 'cycles/s', {
        heapBeforeMB: round(p.before.heapUsed / MB, 2),
        heapAfterMB: round(p.after.heapUsed / MB, 2),
        deltaMB: round(p.deltaMB, 2),
        baselineDeltaMB: round(b.deltaMB, 2),
      }),
    );
    targets.push({ what: `live server heap after ${sc.cycles} WebSocket connect/disconnect cycles (forced GC)`, target: 'within 5 MB of before', value: `${round(p.deltaMB, 2)} MB`, pass: Math.abs(p.deltaMB) <= 5 });
    return {
      method: `Child processes run with --expose-gc and bench/hosts/preload-ipc, which answers an IPC request with process.memoryUsage() after forced full GCs (stand-in for a product GC/heap hook). RSS under load: /proc/<pid>/status VmRSS sampled every 50 ms during a fan-out burst (connector with the burst preload; baseline raw grpc-js). Cycles: after a 5 % warm-up, heap after GC, then the cycles 10 at a time, 1 s pause, heap after GC. SubscribePrice cycles: open, wait for the stream headers (the hub attached the subscriber), cancel. WebSocket cycles: connect to /ws, wait for the snapshot, close. Baselines: raw grpc-js server / raw ws server, same cycles.`,
      rows,
      targets,
      notes: [],
    };
  },
};
