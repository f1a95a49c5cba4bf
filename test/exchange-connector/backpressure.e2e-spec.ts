/**
 * Stream fan-out under a 50,000-message burst (connector process, sim venue with the test-only
 * burst hook `SIM_TEST_BURST=1`): a healthy subscriber gets every message in order, a subscriber
 * that never reads is cut off with RESOURCE_EXHAUSTED, and the connector's memory stays bounded.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type AppProcess, freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { ConformanceClient } from '../conformance/client';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-burst-'));
const N = 50_000;
const MAX_BUFFER = 55_000;

interface Tick {
  timestamp: { seconds: string; nanos: number };
  price: { value: string };
}
const msOf = (t: Tick) => Number(t.timestamp.seconds) * 1000 + Math.round(t.timestamp.nanos / 1e6);

describe('stream back-pressure (50k burst)', () => {
  let conn: AppProcess;
  let http: number;
  let address: string;
  const clients: ConformanceClient[] = [];
  const streams: grpc.ClientReadableStream<unknown>[] = [];

  const metric = async (re: RegExp): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const rss = () => metric(/^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/m);
  const burst = async (n: number) => {
    const res = await fetch(`http://127.0.0.1:${http}/test/burst?n=${n}`, { method: 'POST' });
    expect(res.status).toBe(200);
    return (await res.json()) as { firstTimestampMs: number; n: number };
  };

  beforeAll(async () => {
    const port = await freePort();
    http = await freePort();
    address = `127.0.0.1:${port}`;
    conn = startApp('exchange-connector', {
      PORT: String(port),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(http),
      SIM_SPEED: '0.001', // market time stands still: the only ticks are the burst's
      SIM_TEST_BURST: '1',
      STREAM_MAX_BUFFER: String(MAX_BUFFER),
    }, logDir, 'burst-connector');
    await waitFor('connector', async () => (await fetch(`http://127.0.0.1:${http}/health`)).status === 200, 30_000, 200);
  });
  afterAll(async () => {
    streams.forEach((s) => s.cancel());
    clients.forEach((c) => c.close());
    await stopApp(conn);
  });

  it('the burst hook exists only with SIM_TEST_BURST=1', async () => {
    const port = await freePort();
    const other = startApp('exchange-connector', { PORT: String(await freePort()), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(port) }, logDir, 'no-hook');
    try {
      await waitFor('no-hook start', async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 30_000, 200);
      expect((await fetch(`http://127.0.0.1:${port}/test/burst?n=10`, { method: 'POST' })).status).toBe(404);
    } finally {
      await stopApp(other);
    }
    expect((await fetch(`http://127.0.0.1:${http}/test/burst?n=0`, { method: 'POST' })).status).toBe(400);
  });

  it('healthy subscriber gets all 50,000 in order; the stalled one is cut off; memory bounded', async () => {
    // Healthy subscriber: its own channel, reads as fast as it can.
    const healthy = new ConformanceClient(address);
    clients.push(healthy);
    const got: number[] = [];
    let healthyError: grpc.ServiceError | undefined;
    streams.push(healthy.stream<Tick>('SubscribePrice', { symbols: ['BTCUSDT'] }, (t) => got.push(msOf(t)), (e) => (healthyError = e)));

    // Stalled subscriber: raw grpc-js stream on its own channel, paused at once (HTTP/2 flow control,
    // 64 KiB default window, then stops the server's writes).
    const stalledClient = new ConformanceClient(address);
    clients.push(stalledClient);
    const stalled = stalledClient.raw.SubscribePrice({ symbols: ['BTCUSDT'] }, new grpc.Metadata(), { waitForReady: true }) as grpc.ClientReadableStream<Tick>;
    streams.push(stalled);
    let stalledRead = 0;
    const stalledError = new Promise<grpc.ServiceError>((resolve) => stalled.on('error', resolve));
    // Paused, but with one read requested: grpc-js only stops the HTTP/2 stream (and so lets flow
    // control reach the server) once reading has started; a stream never read from buffers client-side.
    stalled.pause();
    stalled.read(0);

    await waitFor('both subscribed', async () => (await metric(/^exchange_stream_subscribers\{stream="price"\} (\d+)/m)) === 2, 10_000, 50);
    const before = await rss();

    // Burst 1: 50,000 ticks in one synchronous loop. Both subscribers' queues grow (no I/O during
    // the loop); the healthy one drains afterwards, the stalled one never does.
    const b1 = await burst(N);
    await waitFor('healthy subscriber received the burst', () => got.length >= N, 60_000, 50);
    const mine = got.filter((t) => t >= b1.firstTimestampMs && t < b1.firstTimestampMs + N);
    expect(mine.length).toBe(N);
    let inOrder = true;
    for (let i = 0; i < N; i++) if (mine[i] !== b1.firstTimestampMs + i) inOrder = false;
    expect(inOrder).toBe(true);
    expect(await metric(/^exchange_stream_dropped_total\{stream="price"\} (\d+)/m)).not.toBeGreaterThan(0);
    const afterFirst = await rss();

    // Burst 2 pushes the stalled queue over STREAM_MAX_BUFFER: it is cut off, the healthy one is not.
    const mark = got.length;
    const b2 = await burst(10_000);
    await waitFor('stalled subscriber dropped', async () => (await metric(/^exchange_stream_dropped_total\{stream="price"\} (\d+)/m)) === 1, 20_000, 50);
    await waitFor('one price subscriber left', async () => (await metric(/^exchange_stream_subscribers\{stream="price"\} (\d+)/m)) === 1, 10_000, 50);
    await waitFor('healthy subscriber received burst 2', () => got.length >= mark + 10_000, 30_000, 50);
    expect(got.slice(mark)).toEqual(Array.from({ length: 10_000 }, (_, i) => b2.firstTimestampMs + i));
    expect(healthyError).toBeUndefined();
    expect(conn.output()).toMatch(/cutting off slow subscriber of price:BTCUSDT/);

    // The stalled client, once it finally looks, finds RESOURCE_EXHAUSTED after what it had buffered.
    stalled.on('data', () => stalledRead++);
    stalled.resume();
    const err = await Promise.race([stalledError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
    expect(err && grpc.status[err.code]).toBe('RESOURCE_EXHAUSTED');
    expect(err!.details).toMatch(/subscriber too slow/);
    expect(stalledRead).toBeLessThan(N + 10_000); // it never got everything: it was cut off

    // Memory: bounded while both queues were full, and no growth from further bursts once the
    // stalled subscriber is gone.
    const afterCut = await rss();
    for (let i = 0; i < 3; i++) {
      const m = got.length;
      await burst(N);
      await waitFor(`healthy received extra burst ${i}`, () => got.length >= m + N, 60_000, 50);
    }
    const afterMore = await rss();
    const mb = (x: number) => Math.round(x / 1e6);
    // eslint-disable-next-line no-console
    console.log(`connector RSS: before ${mb(before)} MB, after burst 1 ${mb(afterFirst)} MB, after cut-off ${mb(afterCut)} MB, after 3 more bursts ${mb(afterMore)} MB`);
    expect(afterFirst - before).toBeLessThan(300e6);
    expect(afterMore - afterCut).toBeLessThan(150e6);
    expect(conn.child.exitCode).toBeNull();
  });
});
