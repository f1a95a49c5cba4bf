/**
 * Attacks on the exchange connector (issue 12, acceptance 1, 2, 3, 6, 9, 10), each against the real
 * built connector on loopback with a real market maker trading through it, bounded loops, numbers
 * printed to the test log.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConformanceClient, grpcFailure } from '../conformance/client';
import { type Connector, type Proc, cpuMs, freePort, genericClient, getJson, median, rssBytes, spawnApp, startConnector, stop, waitFor, watch } from './support';

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
    if (mm.child.exitCode !== null || mm.child.signalCode !== null) throw new Error(`market maker exited (${mm.child.exitCode ?? mm.child.signalCode}): ${mm.output().slice(-500)}`);
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
    const samples: { atMs: number; ms: number }[] = [];
    const probe = async (n: number) => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const atMs = Date.now();
        const t = performance.now();
        await trader.call('GetLatestPrice', { symbol: 'BTCUSDT' });
        xs.push(performance.now() - t);
        samples.push({ atMs, ms: xs[xs.length - 1] });
      }
      return xs;
    };
    type Attack = { startMs: number; endMs: number; results: { status: number; message: string; ms: number }[] };
    const runAttack = (p: string, bytes: number, n: number, token?: string, reuse = true) =>
      JSON.parse(
        execFileSync(process.execPath, [path.join(__dirname, 'attacker.js'), conn.address, p, String(bytes), String(n), ...(token ? [token] : [])], {
          encoding: 'utf8',
          env: { ...process.env, ATTACK_REUSE_CONNECTION: reuse ? '1' : '0' },
        }),
      ) as Attack;
    // CPU per refused request, without the latency probe running: 100 × 4 MB vs 100 × 10 bytes (both unauthenticated, fresh connection each).
    const cpuPer = (bytes: number) => {
      const c0 = cpuMs(conn.child.pid!);
      const a = runAttack(`${SVC}/SubscribePrice`, bytes, 100, undefined, false);
      return { ms: (cpuMs(conn.child.pid!) - c0) / 100, a };
    };
    const small = cpuPer(10);
    const large = cpuPer(4 * 1024 * 1024);
    await probe(20); // warm
    const baseline = median(await probe(60));
    const rssBefore = rssBytes(conn.child.pid!);
    const during: number[] = [];
    // The attacker is its own process, so its work does not slow the probe in this one; 20 × 4 MB, a
    // fresh connection each, 25 ms apart (so the window holds enough probe samples for a median).
    const attacker = spawn(process.execPath, [path.join(__dirname, 'attacker.js'), conn.address, `${SVC}/SubscribePrice`, String(4 * 1024 * 1024), '20'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ATTACK_REUSE_CONNECTION: '0', ATTACK_INTERVAL_MS: '25' } });
    let out = '';
    attacker.stdout.on('data', (d) => (out += d));
    const attackDone = new Promise<void>((r) => attacker.on('exit', () => r()));
    let attacking = true;
    void attackDone.then(() => (attacking = false));
    samples.length = 0;
    while (attacking) await probe(1);
    const attack = JSON.parse(out) as Attack;
    const results = attack.results;
    // Probes that started while the 20 requests were being sent and refused.
    during.push(...samples.filter((s) => s.atMs >= attack.startMs && s.atMs <= attack.endMs).map((s) => s.ms));
    // Authenticated but oversized: refused from the length prefix (RESOURCE_EXHAUSTED), not buffered.
    const [big] = runAttack(`${SVC}/PlaceOrder`, 4 * 1024 * 1024, 1, OTHER).results;
    const [mid] = runAttack(`${SVC}/PlaceOrder`, 64 * 1024, 1, OTHER).results;
    const [batchOk] = runAttack(`${SVC}/BatchPlaceOrders`, 64 * 1024, 1, OTHER).results;
    trader.close();
    const rssAfter = rssBytes(conn.child.pid!);
    const p50 = median(during);
    const tally = (a: Attack['results']) => Object.entries(a.reduce<Record<string, number>>((m, r) => ((m[grpc.status[r.status] ?? r.message.replace(/.*code /, '')] = (m[grpc.status[r.status] ?? r.message.replace(/.*code /, '')] ?? 0) + 1), m), {})).map(([k, v]) => `${k}×${v}`).join(' ');
    log(`connector CPU per refused unauthenticated request (100 each, fresh connection per request, /proc 10 ms ticks): 4 MB ${large.ms.toFixed(2)} ms [${tally(large.a.results)}], 10 bytes ${small.ms.toFixed(2)} ms [${tally(small.a.results)}]`);
    log(`4 MB unauthenticated ×20 (25 ms apart): ${tally(results)}, answer median ${median(results.map((r) => r.ms)).toFixed(1)} ms, rss ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MB; trader GetLatestPrice p50 ${baseline.toFixed(2)} ms baseline, ${p50.toFixed(2)} ms during (${during.length} samples); authenticated 4 MB PlaceOrder → ${grpc.status[big.status]} (${big.message}), 64 KB PlaceOrder → ${grpc.status[mid.status]}, 64 KB BatchPlaceOrders → ${grpc.status[batchOk.status]} (${batchOk.message})`);
    // Refused before decoding: UNAUTHENTICATED from the headers. On one connection, Node's HTTP/2
    // server also resets the abusive connection's later streams (ENHANCE_YOUR_CALM: DATA keeps coming
    // for streams it has closed) — a refusal too; never OK and never a decode error.
    expect(large.a.results.every((r) => r.status === grpc.status.UNAUTHENTICATED)).toBe(true);
    expect(results.every((r) => r.status === grpc.status.UNAUTHENTICATED)).toBe(true);
    // The same 20 on one connection: the first refused with UNAUTHENTICATED, then Node's HTTP/2 server
    // resets the abusive connection's streams (ENHANCE_YOUR_CALM) — never OK, never a decode error.
    const one = runAttack(`${SVC}/SubscribePrice`, 4 * 1024 * 1024, 20).results;
    log(`4 MB unauthenticated ×20 on one connection: ${tally(one)}`);
    expect(one[0].status).toBe(grpc.status.UNAUTHENTICATED);
    expect(one.every((r) => r.status === grpc.status.UNAUTHENTICATED || /ENHANCE_YOUR_CALM|REFUSED_STREAM|CANCEL/.test(r.message))).toBe(true);
    // The 4 MB body costs no more than a 10-byte one (+5 ms for noise): the message is never read.
    expect(large.ms).toBeLessThan(small.ms + 5);
    expect(large.ms).toBeLessThan(20);
    expect(big.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(mid.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // 64 KB is within the batch limit: decoded (64 KB of zero bytes is not a valid request → some non-size status).
    expect(batchOk.status).not.toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(rssAfter - rssBefore).toBeLessThan(64 * 2 ** 20);
    expect(p50).toBeLessThanOrEqual(Math.max(2 * baseline, baseline + 2));
    expect(await mmHealthy()).toBe(true);
  });

  it('3. the stream over the per-token cap (100) is refused; another client still streams; RSS stays bounded', async () => {
    const cap = 100;
    const channels = Array.from({ length: 10 }, () => new ConformanceClient(conn.address, MON));
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
    expect(refused[0].details).toMatch(/maxStreamsPerClient 100\)/);
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
    expect((await getJson(`${mmUrl}/status`)).body.components.risk.breaker.state).toBe('CLOSED');
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
    const s = monitor.raw.SubscribePrice({ symbols: ['BTCUSDT'] }, monitor.metadata()) as grpc.ClientReadableStream<unknown>;
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
