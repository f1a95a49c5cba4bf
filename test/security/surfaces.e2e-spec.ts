/**
 * The market maker and the live server against a connector that requires mutual TLS (acceptance 7),
 * their own surfaces attacked (acceptance 8: read token, operator guesses, Origin, Host, viewer token,
 * connection caps), storage loss seen by /health (part of 5) and /status following the connector link
 * as it is now.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { type Connector, type Proc, freePort, getJson, makeCerts, spawnApp, startConnector, stop, waitFor } from './support';

jest.setTimeout(120_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-sec-surf-'));
const MM = `mm-${randomBytes(16).toString('hex')}`;
const LIVE = `lv-${randomBytes(16).toString('hex')}`;
const READ = `rd-${randomBytes(16).toString('hex')}`;
const OPER = `op-${randomBytes(16).toString('hex')}`;
const VIEW = `vw-${randomBytes(16).toString('hex')}`;
const log = (msg: string) => process.stdout.write(`[security] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a WebSocket; resolves with the first message, or the HTTP status the handshake was refused with. */
function wsTry(url: string, opts: WebSocket.ClientOptions = {}): Promise<{ ws?: WebSocket; status?: number; first?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts);
    ws.once('message', (d) => resolve({ ws, first: String(d) }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      ws.terminate();
    });
    ws.once('error', () => resolve({ status: -1 }));
  });
}

describe('market maker and live server over mTLS, their surfaces attacked', () => {
  let conn: Connector;
  let mm: Proc;
  let live: Proc;
  let mmUrl: string;
  let livePort: number;
  let sqlite: string;
  let certs: ReturnType<typeof makeCerts>;

  beforeAll(async () => {
    certs = makeCerts(dir);
    conn = await startConnector(
      { CONNECTOR_TOKENS: `trader:mm:${MM},monitor:live:${LIVE}`, TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey, TLS_CA_FILE: certs.ca, SIM_SPEED: '20' },
      dir,
      'connector-mtls',
    );
    const tlsEnv = { CONNECTOR_TLS_CA_FILE: certs.ca, CONNECTOR_TLS_CERT_FILE: certs.clientCert, CONNECTOR_TLS_KEY_FILE: certs.clientKey };
    const mmPort = await freePort();
    mmUrl = `http://127.0.0.1:${mmPort}`;
    sqlite = path.join(dir, 'mm.sqlite');
    fs.writeFileSync(path.join(dir, 'operator.token'), `${OPER}\n`);
    mm = spawnApp(
      'market-maker',
      { MM_PORT: String(mmPort), EXCHANGE_GRPC_ADDRESS: `localhost:${conn.port}`, CONNECTOR_TOKEN: MM, SQLITE_PATH: sqlite, MM_READ_TOKEN: READ, OPERATOR_TOKEN_FILE: path.join(dir, 'operator.token'), GRID_PRICE_INTERVAL: '50', DEAD_MAN_TIMEOUT_MS: '3000', DEAD_MAN_INTERVAL_MS: '500', ...tlsEnv },
      dir,
      'mm',
    );
    livePort = await freePort();
    live = spawnApp(
      'live-server',
      { LIVE_PORT: String(livePort), EXCHANGE_GRPC_ADDRESS: `localhost:${conn.port}`, CONNECTOR_TOKEN: LIVE, LIVE_VIEWER_TOKEN: VIEW, LIVE_MAX_CONNECTIONS_PER_IP: '5', LIVE_MAX_CONNECTIONS: '8', ...tlsEnv },
      dir,
      'live',
    );
    await waitFor('market maker quoting over mTLS', async () => {
      const s = await getJson(`${mmUrl}/slots`, READ).catch(() => undefined);
      return Array.isArray(s?.body) && s!.body.length > 0;
    }, 40_000, 250);
    await waitFor('live server connected over mTLS', async () => (await getJson(`http://127.0.0.1:${livePort}/health`).catch(() => undefined))?.status === 200, 30_000, 200);
  });

  afterAll(async () => {
    await stop(live);
    await stop(mm);
    await stop(conn);
  });

  it('7. the market maker and the live server run against a connector that requires mTLS; a client without a certificate does not', async () => {
    const st = await getJson(`${mmUrl}/status`, READ);
    expect(st.body.components.connector).toMatchObject({ status: 'up', state: 'connected', channel: 'READY' });
    expect(conn.output()).toMatch(/\(sim, mtls\)/);
    const port = await freePort();
    const noCert = spawnApp('market-maker', { MM_PORT: String(port), EXCHANGE_GRPC_ADDRESS: `localhost:${conn.port}`, CONNECTOR_TOKEN: MM, SQLITE_PATH: path.join(dir, 'nocert.sqlite'), CONNECT_ATTEMPTS: '1', REQUEST_TIMEOUT_MS: '1500', CONNECTOR_TLS_CA_FILE: certs.ca }, dir, 'mm-nocert');
    const code = await Promise.race([noCert.exited, sleep(20_000).then(() => 'timeout')]);
    if (code === 'timeout') noCert.child.kill('SIGKILL');
    log(`mTLS: market maker and live server connected; a market maker without a client certificate exited ${code}: ${noCert.output().trim().split('\n').pop()?.slice(0, 200)}`);
    expect(code).toBe(1);
    expect(noCert.output()).toMatch(/cannot reach exchange connector/);
  });

  it('8a. market-maker read surfaces need the read token; /health stays open for probes', async () => {
    for (const p of ['/status', '/slots', '/intents', '/metrics']) {
      expect((await getJson(`${mmUrl}${p}`)).status).toBe(401);
      expect((await getJson(`${mmUrl}${p}`, `${READ}x`)).status).toBe(403);
      expect((await getJson(`${mmUrl}${p}`, READ)).status).toBeLessThan(500 + 4); // 200, or 503 from /status when degraded
    }
    expect((await getJson(`${mmUrl}/metrics`, READ)).status).toBe(200);
    expect((await getJson(`${mmUrl}/health`)).status).toBe(200);
  });

  it('8b. operator token guesses are rate-limited per client (429 after 10 failures)', async () => {
    // The operator API works with the token from OPERATOR_TOKEN_FILE.
    expect((await fetch(`${mmUrl}/operator/slots`, { headers: { authorization: `Bearer ${OPER}` } })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await fetch(`${mmUrl}/operator/slots`, { headers: { authorization: `Bearer wrong-guess-${i}-xxxxxxxxxxxx` } })).status);
    log(`operator guesses: ${statuses.join(',')}`);
    expect(statuses).toEqual([...Array(10).fill(403), 429, 429]);
    // Blocked means not checked at all, even the right token, until the minute is over.
    expect((await fetch(`${mmUrl}/operator/slots`, { headers: { authorization: `Bearer ${OPER}` } })).status).toBe(429);
    // The read token (its own limiter) still works from the same IP.
    expect((await getJson(`${mmUrl}/slots`, READ)).status).toBe(200);
  });

  it('8c. the live server refuses a foreign Origin, a wrong Host, a client without the viewer token, and connections over its caps', async () => {
    const url = `ws://127.0.0.1:${livePort}/ws`;
    const auth = { headers: { authorization: `Bearer ${VIEW}` } };
    expect((await wsTry(url)).status).toBe(401);
    expect((await wsTry(`${url}?token=${VIEW}x`)).status).toBe(403);
    expect((await wsTry(url, { ...auth, origin: 'https://evil.example' })).status).toBe(403);
    expect((await wsTry(url, { ...auth, headers: { ...auth.headers, host: 'evil.example' } })).status).toBe(421);
    expect((await fetch(`http://127.0.0.1:${livePort}/`)).status).toBe(401);
    const page = await fetch(`http://127.0.0.1:${livePort}/?token=${VIEW}`);
    expect(page.status).toBe(200);
    const cookie = String(page.headers.get('set-cookie')).split(';')[0];
    // The page's own WebSocket: same origin, token in the cookie set by the page load.
    const same = await wsTry(url, { origin: `http://127.0.0.1:${livePort}`, headers: { cookie } });
    expect(same.first).toBeDefined();
    expect(JSON.parse(same.first!).type).toBeDefined();
    same.ws!.close();
    await sleep(200);
    // Caps: 5 per IP, 8 in total. 127.0.0.2 is a second loopback source address.
    const open: WebSocket[] = [];
    const fromA: (number | 'ok')[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await wsTry(url, auth);
      if (r.ws) open.push(r.ws);
      fromA.push(r.ws ? 'ok' : r.status!);
    }
    const fromB: (number | 'ok')[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await wsTry(url, { ...auth, localAddress: '127.0.0.2' });
      if (r.ws) open.push(r.ws);
      fromB.push(r.ws ? 'ok' : r.status!);
    }
    const health = await getJson(`http://127.0.0.1:${livePort}/health`);
    log(`live caps: from 127.0.0.1 ${fromA.join(',')}; from 127.0.0.2 ${fromB.join(',')}; /health ${health.status} clients ${health.body.clients}`);
    open.forEach((w) => w.terminate());
    expect(fromA).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 429]);
    expect(fromB).toEqual(['ok', 'ok', 'ok', 503]);
    expect(health.status).toBe(200);
  });

  it('5 (app side). a deleted SQLite database fails /health and /status', async () => {
    expect((await getJson(`${mmUrl}/health`)).status).toBe(200);
    for (const f of [sqlite, `${sqlite}-wal`, `${sqlite}-shm`]) fs.rmSync(f, { force: true });
    const t0 = Date.now();
    const h = await waitFor('health failing', async () => {
      const r = await getJson(`${mmUrl}/health`);
      return r.status === 503 ? r : undefined;
    }, 10_000, 100);
    const st = await getJson(`${mmUrl}/status`, READ);
    log(`SQLite deleted: /health 503 after ${Date.now() - t0} ms: ${JSON.stringify(h.body.error ?? h.body).slice(0, 200)}`);
    expect(JSON.stringify(h.body)).toMatch(/is gone/);
    expect(st.body.components.database.status).toBe('down');
  });

  it('/status shows the connector link and the dead-man state as they are now', async () => {
    conn.child.kill('SIGKILL');
    await conn.exited;
    const t0 = Date.now();
    const down = await waitFor('connector down in /status', async () => {
      const s = await getJson(`${mmUrl}/status`, READ);
      return s.body.components.connector.status === 'down' ? s.body.components : undefined;
    }, 10_000, 100);
    const linkMs = Date.now() - t0;
    const dm = await waitFor('dead-man no longer armed', async () => {
      const s = await getJson(`${mmUrl}/status`, READ);
      return s.body.components.deadMan.armed === false ? s.body.components.deadMan : undefined;
    }, 10_000, 100);
    log(`connector killed: /status connector ${down.connector.state}/${down.connector.channel} after ${linkMs} ms; deadMan armed=false after ${Date.now() - t0} ms (timeout 3000 ms)`);
    expect(down.connector.state).toBe('disconnected');
    expect(dm.status).toBe('degraded');
  });
});
