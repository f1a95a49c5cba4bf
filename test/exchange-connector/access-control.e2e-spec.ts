/**
 * Connector access control as a separate process: tokens and roles, TLS and mutual TLS (certificates
 * made by `openssl` at test time), the per-client rate limit, per-RPC log lines with correlation ids,
 * open mode (warning) and its refusal in production.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type AppProcess, freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { ConformanceClient, grpcFailure, healthCheck } from '../conformance/client';

jest.setTimeout(90_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-access-'));
const TRADER = `trd-${randomBytes(16).toString('hex')}`;
const MONITOR = `mon-${randomBytes(16).toString('hex')}`;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** CA, server cert for localhost/127.0.0.1, a client cert from the CA and one from a stranger CA. */
function makeCerts(): void {
  fs.writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=opensqt-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.cnf');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=market-maker');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.pem', '-days', '2', '-subj', '/CN=rogue');
}
const file = (f: string) => path.join(dir, f);

async function startConnector(env: Record<string, string>, tag: string): Promise<{ proc: AppProcess; port: number; http: number }> {
  const port = await freePort();
  const http = await freePort();
  const proc = startApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(http), SIM_SPEED: '60', LOG_LEVEL: 'debug', ...env }, dir, tag);
  await waitFor(`${tag} health`, async () => (await fetch(`http://127.0.0.1:${http}/health`)).status === 200, 30_000, 200);
  return { proc, port, http };
}

describe('access control, TLS and rate limit', () => {
  const procs: AppProcess[] = [];
  afterAll(async () => {
    await Promise.all(procs.map((p) => stopApp(p)));
  });

  it('mutual TLS: only clients with a certificate from the configured CA get through; tokens still apply', async () => {
    makeCerts();
    const c = await startConnector({
      CONNECTOR_TOKENS: `trader:mm:${TRADER}`,
      TLS_CERT_FILE: file('server.pem'),
      TLS_KEY_FILE: file('server.key'),
      TLS_CA_FILE: file('ca.pem'),
    }, 'mtls-connector');
    procs.push(c.proc);
    const address = `127.0.0.1:${c.port}`;
    const good = { ca: file('ca.pem'), cert: file('client.pem'), key: file('client.key'), serverName: 'localhost' };
    const ok = new ConformanceClient(address, TRADER, good);
    expect((await ok.call('GetName')).name).toBe('sim');
    expect(await healthCheck(address, '', good)).toBe('SERVING');
    expect(grpc.status[(await grpcFailure(new ConformanceClient(address, undefined, good).call('GetName'))).code]).toBe('UNAUTHENTICATED');
    // No client certificate, a certificate from another CA, or plaintext: the handshake fails.
    for (const tls of [{ ca: file('ca.pem'), serverName: 'localhost' }, { ...good, cert: file('rogue.pem'), key: file('rogue.key') }, undefined]) {
      const e = await grpcFailure(new ConformanceClient(address, TRADER, tls).call('GetName', {}, 3000));
      expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(grpc.status[e.code]);
    }
    // A client that does not trust the server's CA refuses it too.
    const e = await grpcFailure(new ConformanceClient(address, TRADER, { ...good, ca: file('rogue.pem') }).call('GetName', {}, 3000));
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(grpc.status[e.code]);
    ok.close();
    expect(c.proc.output()).toMatch(/gRPC 127\.0\.0\.1:\d+ \(sim, mtls\)/);
  });

  it('plain TLS (no client certificate needed)', async () => {
    const c = await startConnector({ CONNECTOR_TOKENS: `trader:${TRADER}`, TLS_CERT_FILE: file('server.pem'), TLS_KEY_FILE: file('server.key') }, 'tls-connector');
    procs.push(c.proc);
    const client = new ConformanceClient(`127.0.0.1:${c.port}`, TRADER, { ca: file('ca.pem'), serverName: 'localhost' });
    expect((await client.call('GetName')).name).toBe('sim');
    client.close();
    await stopApp(c.proc);
  });

  it('rate limit per client: RESOURCE_EXHAUSTED with retry-after-ms, other clients unaffected; logs carry client, code, latency and request id', async () => {
    const c = await startConnector({ CONNECTOR_TOKENS: `trader:mm:${TRADER},monitor:live:${MONITOR}`, RATE_LIMIT_RPS: '5', RATE_LIMIT_BURST: '10' }, 'ratelimit-connector');
    procs.push(c.proc);
    const address = `127.0.0.1:${c.port}`;
    const trader = new ConformanceClient(address, TRADER);
    const monitor = new ConformanceClient(address, MONITOR);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => trader.call('GetName')));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThan(14);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as grpc.ServiceError);
    for (const e of rejected) {
      expect(grpc.status[e.code]).toBe('RESOURCE_EXHAUSTED');
      const wait = Number(e.metadata.get('retry-after-ms')[0]);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(20 * 200);
      expect(e.details).toMatch(/rate limit: GetName .*retry after \d+ ms/);
    }
    // Another client has its own bucket.
    expect((await monitor.call('GetName')).name).toBe('sim');
    // After the hinted wait the first client gets through again.
    await new Promise((r) => setTimeout(r, Number(rejected[0].metadata.get('retry-after-ms')[0]) + 250));
    expect((await trader.call('GetName', {}, 5000, { 'x-request-id': 'corr-42' })).name).toBe('sim');

    // The request id is echoed (headers on success, trailers on errors) and generated when absent.
    const headers = await new Promise<grpc.Metadata>((resolve, reject) => {
      const call = monitor.raw.GetName({}, monitor.metadata({ 'x-request-id': 'corr-43' }), (err: Error | null) => err && reject(err));
      call.on('metadata', resolve);
    });
    expect(headers.get('x-request-id')).toEqual(['corr-43']);
    const denied = await grpcFailure(monitor.call('CancelAllOrders', { symbol: 'BTCUSDT' }, 5000, { 'x-request-id': 'corr-44' }));
    expect(grpc.status[denied.code]).toBe('PERMISSION_DENIED');
    expect(denied.metadata.get('x-request-id')).toEqual(['corr-44']);
    const unauth = await grpcFailure(new ConformanceClient(address).call('GetName'));
    expect(String(unauth.metadata.get('x-request-id')[0])).toMatch(/^[0-9a-f-]{36}$/);

    // Metrics count guard rejections with their real codes.
    const metrics = await (await fetch(`http://127.0.0.1:${c.http}/metrics`)).text();
    expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="GetName",grpc_type="unary",grpc_code="RESOURCE_EXHAUSTED"\} [1-9]/);
    expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="CancelAllOrders",grpc_type="unary",grpc_code="PERMISSION_DENIED"\} 1/);
    expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="GetName",grpc_type="unary",grpc_code="UNAUTHENTICATED"\} 1/);
    expect(metrics).toMatch(/grpc_server_handling_seconds_count\{[^}]*grpc_method="GetName"[^}]*\} \d+/);

    trader.close();
    monitor.close();
    await stopApp(c.proc);
    const lines = c.proc.output().split('\n').filter((l) => l.includes('"msg":"rpc"')).map((l) => JSON.parse(l));
    const byId = (id: string) => lines.find((l) => l.requestId === id);
    expect(byId('corr-42')).toMatchObject({ method: 'GetName', code: 'OK', client: 'trader/mm' });
    expect(typeof byId('corr-42').latencyMs).toBe('number');
    expect(byId('corr-44')).toMatchObject({ method: 'CancelAllOrders', code: 'PERMISSION_DENIED', client: 'monitor/live' });
    expect(lines.filter((l) => l.code === 'RESOURCE_EXHAUSTED').length).toBe(rejected.length);
    expect(c.proc.output()).not.toContain(TRADER);
    expect(c.proc.output()).not.toContain(MONITOR);
  });

  it('open mode warns at start; production refuses to start without tokens', async () => {
    const c = await startConnector({}, 'open-connector');
    procs.push(c.proc);
    const client = new ConformanceClient(`127.0.0.1:${c.port}`);
    expect((await client.call('GetName')).name).toBe('sim');
    client.close();
    await stopApp(c.proc);
    expect(c.proc.output()).toMatch(/no connector tokens configured .*gRPC access is OPEN/);
    expect(c.proc.output()).toMatch(/"client":"anonymous"/);

    const prod = startApp('exchange-connector', { PORT: String(await freePort()), METRICS_PORT: String(await freePort()), NODE_ENV: 'production' }, dir, 'prod-open');
    expect(await prod.exited).toBe(1);
    expect(prod.output()).toMatch(/config error: auth\.tokens: no connector tokens configured; refusing/);
    const bad = startApp('exchange-connector', { PORT: String(await freePort()), METRICS_PORT: String(await freePort()), CONNECTOR_TOKENS: 'root:0123456789abcdef0123' }, dir, 'bad-tokens');
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/config error: auth\.tokens: entry 1: role must be trader or monitor/);
    expect(bad.output()).not.toContain('0123456789abcdef0123');
  });
});
