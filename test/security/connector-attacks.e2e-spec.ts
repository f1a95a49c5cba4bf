/**
 * Attacks on the exchange connector (issue 12, acceptance 1, 2, 3, 6, 9, 10), each against the real
 * built connector on loopback with a real market maker trading through it, bounded loops, numbers
 * printed to the test log.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConformanceClient, grpcFailure } from '../conformance/client';
import { type Connector, type Proc, cpuMs, freePort, genericClient, getJson, median, rawGrpc, rssBytes, spawnApp, startConnector, stop, waitFor, watch } from './support';

jest.setTimeout(120_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-sec-conn-'));
const MM = `mm-${randomBytes(16).toString('hex')}`;
const OTHER = `ot-${randomBytes(16).toString('hex')}`;
const MON = `mo-${randomBytes(16).toString('hex')}`;
const SVC = '/opensqt.market_maker.v1.ExchangeService';
const log = (msg: string) => process.stdout.write(`[security] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('connector under attack', () => {
  let conn: Connector;
  let mm: Proc;
  let mmUrl: string;
  let other: ConformanceClient;
  let monitor: ConformanceClient;

  beforeAll(async () => {
    conn = await startConnector(
      { CONNECTOR_TOKENS: `trader:mm:${MM},trader:other:${OTHER},monitor:mon:${MON}`, SIM_SPEED: '20', SHUTDOWN_GRACE_MS: '2000', RATE_LIMIT_RPS: '2000', RATE_LIMIT_BURST: '4000' },
      dir,
      'connector',
      ['--max-old-space-size=384'],
    );
    const mmPort = await freePort();
    mmUrl = `http://127.0.0.1:${mmPort}`;
    mm = spawnApp('market-maker', { MM_PORT: String(mmPort), MM_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: conn.address, CONNECTOR_TOKEN: MM, SQLITE_PATH: path.join(dir, 'mm.sqlite'), GRID_PRICE_INTERVAL: '50' }, dir, 'mm');
    await waitFor('market maker quoting', async () => {
      const s = await getJson(`${mmUrl}/slots`).catch(() => undefined);
      return Array.isArray(s?.body) && s!.body.length > 0;
    }, 40_000, 250);
    other = new ConformanceClient(conn.address, OTHER);
    monitor = new ConformanceClient(conn.address, MON);
  });

  afterAll(async () => {
    other?.close();
    monitor?.close();
    await stop(mm);
    await stop(conn);
  });

  const mmHealthy = async () => {
    const st = await getJson(`${mmUrl}/status`);
    return st.body.components.connector.status === 'up' && st.body.components.strategy.state === 'running' && (await getJson(`${mmUrl}/health`)).status === 200;
  };

  it('1. 1,000 Health/Watch calls with distinct 64 KB names leave the heap within 20 MB and the market maker trading', async () => {
    const before = await conn.mem(true);
    const client = genericClient(conn.address);
    const codes: Record<string, number> = {};
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => watch(client, `${i + j}-`.padEnd(64 * 1024, 'x'), 3000)));
      for (const c of batch) codes[grpc.status[c] ?? c] = (codes[grpc.status[c] ?? c] ?? 0) + 1;
    }
    // Short unknown names get through the size limit: NOT_FOUND, nothing stored.
    const unknown = await Promise.all(Array.from({ length: 200 }, (_, i) => watch(client, `no-such-service-${i}`, 3000)));
    // Known name: at most 4 Watch calls per connection, the 5th is refused.
    const kept: grpc.ClientReadableStream<Buffer>[] = [];
    const known = await Promise.all(Array.from({ length: 6 }, () => watch(client, '', 1500, kept)));
    kept.forEach((k) => k.cancel());
    client.close();
    const after = await conn.mem(true);
    const delta = (after.heapUsed - before.heapUsed) / 2 ** 20;
    log(`health attack: 1000 × 64 KB Watch → ${JSON.stringify(codes)}; 200 unknown names → ${[...new Set(unknown.map((c) => grpc.status[c]))]}; known '' ×6 on one connection → ${known.map((c) => (c === -1 ? 'open' : grpc.status[c]))}; heap ${(before.heapUsed / 2 ** 20).toFixed(1)} → ${(after.heapUsed / 2 ** 20).toFixed(1)} MB (Δ ${delta.toFixed(1)} MB), rss ${(after.rss / 2 ** 20).toFixed(0)} MB`);
    expect(codes.RESOURCE_EXHAUSTED).toBe(1000);
    expect(unknown.every((c) => c === grpc.status.NOT_FOUND)).toBe(true);
    expect(known.filter((c) => c === -1)).toHaveLength(4);
    expect(known.filter((c) => c === grpc.status.RESOURCE_EXHAUSTED)).toHaveLength(2);
    expect(Math.abs(delta)).toBeLessThan(20);
    expect(await mmHealthy()).toBe(true);
  });

  it('2. unauthenticated 4 MB requests are refused before decoding; a trader client latency stays within 2x', async () => {
    const trader = new ConformanceClient(conn.address, OTHER);
    const probe = async (n: number) => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await trader.call('GetLatestPrice', { symbol: 'BTCUSDT' });
        xs.push(performance.now() - t);
      }
      return xs;
    };
    await probe(20); // warm
    const baseline = median(await probe(60));
    const session = http2.connect(`http://${conn.address}`);
    const rssBefore = rssBytes(conn.child.pid!);
    const cpu0 = cpuMs(conn.child.pid!);
    const during: number[] = [];
    let attacking = true;
    const prober = (async () => {
      while (attacking) during.push(...(await probe(1)));
    })();
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await rawGrpc(session, `${SVC}/SubscribePrice`, 4 * 1024 * 1024));
    const cpu1 = cpuMs(conn.child.pid!);
    attacking = false;
    await prober;
    // Authenticated but oversized: refused from the length prefix (RESOURCE_EXHAUSTED), not buffered.
    const big = await rawGrpc(session, `${SVC}/PlaceOrder`, 4 * 1024 * 1024, { authorization: `Bearer ${OTHER}` });
    const mid = await rawGrpc(session, `${SVC}/PlaceOrder`, 64 * 1024, { authorization: `Bearer ${OTHER}` });
    session.close();
    trader.close();
    const rssAfter = rssBytes(conn.child.pid!);
    const p50 = median(during);
    log(`4 MB unauthenticated ×20: statuses ${[...new Set(results.map((r) => grpc.status[r.status]))]}, refusal median ${median(results.map((r) => r.ms)).toFixed(1)} ms, connector CPU ${((cpu1 - cpu0) / 20).toFixed(1)} ms/request (10 ms /proc resolution, includes serving the trader probe), rss ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MB; trader GetLatestPrice p50 ${baseline.toFixed(2)} ms baseline, ${p50.toFixed(2)} ms during (${during.length} samples); authenticated 4 MB → ${grpc.status[big.status]}, 64 KB PlaceOrder → ${grpc.status[mid.status]} (${mid.message})`);
    expect(results.every((r) => r.status === grpc.status.UNAUTHENTICATED)).toBe(true);
    expect(big.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(mid.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((cpu1 - cpu0) / 20).toBeLessThan(50);
    expect(rssAfter - rssBefore).toBeLessThan(64 * 2 ** 20);
    expect(p50).toBeLessThanOrEqual(Math.max(2 * baseline, baseline + 2));
    expect(await mmHealthy()).toBe(true);
  });

  it('3. the stream over the per-token cap is refused; another client still streams; RSS stays bounded', async () => {
    const cap = 1000;
    const channels = Array.from({ length: 4 }, () => new ConformanceClient(conn.address, MON));
    const streams: grpc.ClientReadableStream<unknown>[] = [];
    const refused: grpc.ServiceError[] = [];
    for (let i = 0; i <= cap; i++) {
      const c = channels[i % channels.length];
      const s = c.raw.SubscribeOrders({}, c.metadata()) as grpc.ClientReadableStream<unknown>;
      s.on('data', () => undefined);
      s.on('error', (e: grpc.ServiceError) => {
        if (e.code !== grpc.status.CANCELLED) refused.push(e);
      });
      streams.push(s);
    }
    await waitFor('the refusal', () => refused.length >= 1, 20_000, 100);
    await sleep(1500);
    const rss = rssBytes(conn.child.pid!);
    const second = other.raw.SubscribeOrders({}, other.metadata()) as grpc.ClientReadableStream<unknown>;
    let secondError: grpc.ServiceError | undefined;
    second.on('error', (e: grpc.ServiceError) => (secondError = e));
    second.on('data', () => undefined);
    await sleep(1000);
    log(`streams: ${cap + 1} SubscribeOrders from one monitor token → ${refused.length} refused (${refused[0]?.details}); other token's stream ${secondError ? `refused: ${secondError.details}` : 'open'}; connector rss ${(rss / 2 ** 20).toFixed(0)} MB`);
    expect(refused).toHaveLength(1);
    expect(grpc.status[refused[0].code]).toBe('RESOURCE_EXHAUSTED');
    expect(refused[0].details).toMatch(/maxStreamsPerClient 1000/);
    expect(secondError).toBeUndefined();
    expect(rss).toBeLessThan(400 * 2 ** 20);
    // Released on cancel: the token can stream again.
    for (const s of streams) s.cancel();
    second.cancel();
    await sleep(1000);
    const again = monitor.raw.SubscribeOrders({}, monitor.metadata()) as grpc.ClientReadableStream<unknown>;
    let againError: grpc.ServiceError | undefined;
    again.on('error', (e: grpc.ServiceError) => (againError = e));
    await sleep(800);
    expect(againError).toBeUndefined();
    again.cancel();
    channels.forEach((c) => c.close());
    expect(await mmHealthy()).toBe(true);
  });

  it('9. 1e400, a price 50 % away and " 0.01 " are INVALID_ARGUMENT naming the field', async () => {
    const last = Number((await other.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
    const base = { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.002' }, price: { value: (Math.floor(last * 0.95 * 10) / 10).toFixed(1) } };
    const cases: [object, string][] = [
      [{ ...base, price: { value: '1e400' } }, 'price'],
      [{ ...base, price: { value: (Math.floor(last * 1.5 * 10) / 10).toFixed(1) } }, 'price'],
      [{ ...base, price: { value: (Math.floor(last * 0.5 * 10) / 10).toFixed(1) } }, 'price'],
      [{ ...base, quantity: { value: ' 0.01 ' } }, 'quantity'],
      [{ ...base, quantity: { value: '1e-2' } }, 'quantity'],
      [{ ...base, price: { value: `${base.price.value}00001` } }, 'price'],
      [{ ...base, type: 'ORDER_TYPE_MARKET', price: { value: '1e400' } }, 'price'],
    ];
    for (const [req, field] of cases) {
      const e = await grpcFailure(other.call('PlaceOrder', req));
      expect([grpc.status[e.code], e.metadata.get('x-error-field')[0]]).toEqual(['INVALID_ARGUMENT', field]);
      log(`  ${JSON.stringify((req as any).price?.value ?? '')}/${JSON.stringify((req as any).quantity.value)} → ${grpc.status[e.code]} ${e.details}`);
    }
    // The band lets a sane order through.
    const ok = await other.call('PlaceOrder', { ...base, clientOrderId: 'otB1' });
    expect(ok.status).toBe('ORDER_STATUS_NEW');
    await other.call('CancelOrder', { symbol: 'BTCUSDT', orderId: ok.orderId });
  });

  it("6. a second client's dead-man's switch never cancels the market maker's orders", async () => {
    // Taking over the market maker's client id is refused.
    const steal = await grpcFailure(other.call('Heartbeat', { clientId: 'mm1', symbol: 'BTCUSDT', timeoutMs: '1000' }));
    expect(grpc.status[steal.code]).toBe('PERMISSION_DENIED');
    const last = Number((await other.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
    const mine = await other.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.002' }, price: { value: (Math.floor(last * 0.9 * 10) / 10).toFixed(1) }, clientOrderId: 'evilB1' });
    const mmOpenBefore = (await other.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.filter((o: any) => o.clientOrderId.startsWith('mm1')).length;
    await other.call('Heartbeat', { clientId: 'evil', symbol: 'BTCUSDT', timeoutMs: '1000' });
    await waitFor('switch fired', () => /dead-man's switch cancelled \d+ BTCUSDT orders of evil/.test(conn.output()), 10_000, 100);
    const line = /dead-man's switch cancelled (\d+) BTCUSDT orders of evil/.exec(conn.output())!;
    const mmOpenAfter = (await other.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.filter((o: any) => o.clientOrderId.startsWith('mm1')).length;
    log(`dead-man: 'evil' fired, cancelled ${line[1]} order(s); market maker open orders ${mmOpenBefore} → ${mmOpenAfter}`);
    expect(line[1]).toBe('1');
    expect((await other.call('GetOrder', { symbol: 'BTCUSDT', orderId: mine.orderId })).status).toBe('ORDER_STATUS_CANCELED');
    expect(mmOpenBefore).toBeGreaterThan(0);
    expect(mmOpenAfter).toBeGreaterThan(0);
    expect(await mmHealthy()).toBe(true);
  });

  it('10. SIGTERM with a streaming client connected exits within the configured deadline (2 s)', async () => {
    const s = monitor.raw.SubscribePrice({ symbol: 'BTCUSDT' }, monitor.metadata()) as grpc.ClientReadableStream<unknown>;
    let got = 0;
    s.on('data', () => got++);
    s.on('error', () => undefined);
    await waitFor('price stream flowing', () => got > 0, 10_000, 50);
    const t0 = performance.now();
    conn.child.kill('SIGTERM');
    const code = await Promise.race([conn.exited, sleep(15_000).then(() => 'timeout' as const)]);
    const ms = performance.now() - t0;
    log(`SIGTERM with a price stream (and the market maker's streams) open: exit ${code} after ${ms.toFixed(0)} ms (SHUTDOWN_GRACE_MS 2000)`);
    expect(code).not.toBe('timeout');
    expect(ms).toBeLessThan(2000 + 2500);
  });
});
