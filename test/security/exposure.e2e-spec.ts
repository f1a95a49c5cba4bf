/**
 * Exposure rules (acceptance 8, 6 in open mode): `npm start` (scripts/run-stack.js) listens on
 * 127.0.0.1 only, checked with the OS socket list (`ss`); an app bound to a non-loopback address
 * without authentication, or with a documented development token in production, refuses to start;
 * in open mode an anonymous client's dead-man's switch does not cancel the market maker's orders and
 * opening more connections does not multiply the rate limit.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConformanceClient } from '../conformance/client';
import { ROOT } from '@mm/testing';
import { type Connector, type Proc, freePort, getJson, spawnApp, startConnector, stop, waitFor } from './support';

jest.setTimeout(120_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-sec-exp-'));
const log = (msg: string) => process.stdout.write(`[security] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Listening TCP sockets on `ports` from `ss -ltn`: local address:port strings. */
function listening(ports: number[]): string[] {
  const out = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[3])
    .filter((a): a is string => !!a && ports.includes(Number(a.slice(a.lastIndexOf(':') + 1))));
}

describe('exposure', () => {
  it('8. npm start listens on 127.0.0.1 only (ss -ltn)', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const [grpcPort, metricsPort, mmPort, livePort] = ports;
    const env: Record<string, string | undefined> = { ...process.env, PORT: String(grpcPort), METRICS_PORT: String(metricsPort), MM_PORT: String(mmPort), LIVE_PORT: String(livePort), SQLITE_PATH: path.join(dir, 'stack.sqlite'), SIM_STATE_FILE: path.join(dir, 'sim-state.json'), NO_COLOR: '1', NODE_ENV: 'test' };
    for (const k of ['GRPC_HOST', 'MM_HOST', 'LIVE_HOST', 'EXCHANGE_GRPC_ADDRESS']) delete env[k];
    const stack = spawn(process.execPath, [path.join(ROOT, 'scripts/run-stack.js')], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    stack.stdout.on('data', (d) => (out += d));
    stack.stderr.on('data', (d) => (out += d));
    const exited = new Promise<void>((r) => stack.on('exit', () => r()));
    try {
      const socks = await waitFor('all four ports listening', () => {
        const s = listening(ports);
        return s.length >= 4 ? s : undefined;
      }, 60_000, 250);
      log(`npm start sockets: ${socks.join(' ')}`);
      expect(socks.length).toBeGreaterThanOrEqual(4);
      for (const s of socks) expect(s).toMatch(/^127\.0\.0\.1:\d+$/);
    } finally {
      stack.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (stack.exitCode === null) stack.kill('SIGKILL');
    }
  });

  it('8. non-loopback without authentication, development tokens in production, and a failing venue stop the start with one line', async () => {
    const cases: [string, 'exchange-connector' | 'market-maker' | 'live-server', Record<string, string>, RegExp][] = [
      ['connector on 0.0.0.0 without tokens', 'exchange-connector', { GRPC_HOST: '0.0.0.0', PORT: String(await freePort()), METRICS_PORT: String(await freePort()) }, /config error: host: listening on 0\.0\.0\.0 \(not loopback\) requires authentication/],
      ['market maker on 0.0.0.0 without read token', 'market-maker', { MM_HOST: '0.0.0.0', MM_PORT: String(await freePort()), SQLITE_PATH: path.join(dir, 'x.sqlite') }, /config error: http\.host: .*requires authentication/],
      ['live server on 0.0.0.0 without viewer token', 'live-server', { LIVE_HOST: '0.0.0.0', LIVE_PORT: String(await freePort()) }, /config error: host: .*requires authentication/],
      ['connector with the compose dev token in production', 'exchange-connector', { NODE_ENV: 'production', CONNECTOR_TOKENS: 'trader:mm:dev-market-maker-token', PORT: String(await freePort()), METRICS_PORT: String(await freePort()) }, /development token/],
      ['market maker with a dev connector token in production', 'market-maker', { NODE_ENV: 'production', CONNECTOR_TOKEN: 'dev-market-maker-token', MM_PORT: String(await freePort()), SQLITE_PATH: path.join(dir, 'y.sqlite') }, /config error: exchange\.token: is a documented development token/],
      ['ccxt venue that cannot start (one line, no stack)', 'exchange-connector', { EXCHANGE: 'binance', CCXT_URL_OVERRIDE: 'http://127.0.0.1:1', API_KEY: 'k', API_SECRET: 's', CCXT_TIMEOUT_MS: '1000', PORT: String(await freePort()), METRICS_PORT: String(await freePort()) }, /exchange-connector failed to start: binance \(swap\) failed to start: loading markets: .*ECONNREFUSED/],
      ['market maker with a 10-character operator token', 'market-maker', { OPERATOR_TOKEN: 'short-tok1', MM_PORT: String(await freePort()), SQLITE_PATH: path.join(dir, 'z.sqlite') }, /config error: operator\.token: must be at least 16 characters/],
    ];
    for (const [what, app, env, re] of cases) {
      const p = spawnApp(app, env, dir, `refuse-${app}-${Math.random().toString(36).slice(2, 6)}`);
      const code = await Promise.race([p.exited, sleep(20_000).then(() => 'timeout')]);
      if (code === 'timeout') p.child.kill('SIGKILL');
      const last = p.output().trim().split('\n').pop() ?? '';
      log(`${what}: exit ${code}: ${last.slice(0, 180)}`);
      expect(code).toBe(1);
      expect(p.output()).toMatch(re);
      expect(p.output()).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  describe('open mode (no tokens, loopback)', () => {
    let conn: Connector;
    let mm: Proc;
    beforeAll(async () => {
      conn = await startConnector({ SIM_SPEED: '5' }, dir, 'connector-open');
      const mmPort = await freePort();
      mm = spawnApp('market-maker', { MM_PORT: String(mmPort), EXCHANGE_GRPC_ADDRESS: conn.address, SQLITE_PATH: path.join(dir, 'open.sqlite'), GRID_PRICE_INTERVAL: '50' }, dir, 'mm-open');
      await waitFor('market maker quoting', async () => {
        const s = await getJson(`http://127.0.0.1:${mmPort}/slots`).catch(() => undefined);
        return Array.isArray(s?.body) && s!.body.length > 0;
      }, 40_000, 250);
    });
    afterAll(async () => {
      await stop(mm);
      await stop(conn);
    });

    it("6. an anonymous client's dead-man's switch never cancels the market maker's orders", async () => {
      const anon = new ConformanceClient(conn.address);
      const last = Number((await anon.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
      const mine = await anon.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.002' }, price: { value: (Math.floor(last * 0.9 * 10) / 10).toFixed(1) }, clientOrderId: 'anonB1' });
      const before = (await anon.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.filter((o: any) => o.clientOrderId.startsWith('mm1')).length;
      await anon.call('Heartbeat', { clientId: 'anon', symbol: 'BTCUSDT', timeoutMs: '1000' });
      await waitFor('switch fired', () => /dead-man's switch cancelled \d+ BTCUSDT orders of anon/.test(conn.output()), 10_000, 100);
      await sleep(2500);
      const after = (await anon.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.filter((o: any) => o.clientOrderId.startsWith('mm1')).length;
      const n = /dead-man's switch cancelled (\d+) BTCUSDT orders of anon/.exec(conn.output())![1];
      log(`open mode: anonymous switch 'anon' cancelled ${n} order(s); market maker open orders ${before} → ${after}`);
      expect(n).toBe('1');
      expect((await anon.call('GetOrder', { symbol: 'BTCUSDT', orderId: mine.orderId })).status).toBe('ORDER_STATUS_CANCELED');
      expect(before).toBeGreaterThan(0);
      expect(after).toBeGreaterThan(0);
      anon.close();
    });

    it('3. in open mode the rate limit is per peer IP: 5 connections do not get 5 budgets', async () => {
      const limited5 = await startConnector({ RATE_LIMIT_RPS: '5', RATE_LIMIT_BURST: '10' }, dir, 'connector-open-ratelimit');
      const clients = Array.from({ length: 5 }, () => new ConformanceClient(limited5.address));
      const results = await Promise.allSettled(clients.flatMap((c) => Array.from({ length: 10 }, () => c.call('GetName'))));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      const limited = results.filter((r) => r.status === 'rejected' && grpc.status[(r.reason as grpc.ServiceError).code] === 'RESOURCE_EXHAUSTED').length;
      log(`open mode: 5 connections × 10 GetName with RATE_LIMIT 5/s burst 10 → ${ok} ok, ${limited} RESOURCE_EXHAUSTED`);
      clients.forEach((c) => c.close());
      await stop(limited5);
      expect(ok).toBeLessThanOrEqual(12);
      expect(ok).toBeGreaterThanOrEqual(10);
      expect(ok + limited).toBe(50);
    });
  });
});
