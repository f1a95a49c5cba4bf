/**
 * Safe shutdown against the real connector on the sim (README "Safe shutdown"):
 * - readiness (`/ready`) stays 200 while the breaker is open (liveness `/live` too), `/status` says degraded;
 * - SIGTERM with the default policy (keep_armed) leaves the orders on the venue, and the connector
 *   cancels them once the grace passes with no new market maker;
 * - SIGTERM with `DEAD_MAN_ON_SHUTDOWN=cancel` cancels them before the process exits.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';

jest.setTimeout(120_000);

const TOKEN = 'op-shutdown-token-123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** SIGTERM and wait: a clean Nest shutdown ends by re-raising the signal (or exit 0), never a crash code. */
async function terminate(p: AppProcess): Promise<void> {
  p.child.kill('SIGTERM');
  const code = await p.exited;
  expect({ code, signal: p.child.signalCode }).toEqual(code === 0 ? { code: 0, signal: null } : { code: null, signal: 'SIGTERM' });
}

describe('safe shutdown and readiness', () => {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-shutdown-'));
  const procs: AppProcess[] = [];
  let client: TestExchangeClient;
  let address = '';
  let connector: AppProcess;

  beforeAll(async () => {
    const grpcPort = await freePort();
    connector = startApp('exchange-connector', { PORT: String(grpcPort), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), SIM_SPEED: '10', SIM_SEED: '5' }, logDir);
    procs.push(connector);
    address = `127.0.0.1:${grpcPort}`;
    client = new TestExchangeClient(address);
    await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 30000, 200);
  });
  afterAll(async () => {
    client?.close();
    await Promise.all(procs.map((p) => stopApp(p)));
  });

  const ours = async (instance: string) =>
    ((await client.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders as { clientOrderId: string }[]).filter((o) => o.clientOrderId.startsWith(instance)).length;

  async function startMm(instance: string, env: Record<string, string>) {
    const port = await freePort();
    const mm = startApp(
      'market-maker',
      {
        MM_PORT: String(port),
        MM_HOST: '127.0.0.1',
        INSTANCE_ID: instance,
        EXCHANGE_GRPC_ADDRESS: address,
        SQLITE_PATH: path.join(logDir, `${instance}.sqlite`),
        OPERATOR_TOKEN: TOKEN,
        DEAD_MAN_TIMEOUT_MS: '3000',
        DEAD_MAN_INTERVAL_MS: '500',
        ...env,
      },
      logDir,
      instance,
    );
    procs.push(mm);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${instance} ready`, () => httpJson(`${base}/ready`).then((r) => r.status === 200).catch(() => false), 30000, 200);
    await waitFor(`${instance} orders on the venue`, async () => (await ours(instance)) >= 5, 30000, 200);
    return { mm, base };
  }

  it('readiness stays 200 with the breaker open; SIGTERM keeps the orders armed and the connector cancels them after the grace', async () => {
    const { mm, base } = await startMm('mmk', { DEAD_MAN_SHUTDOWN_GRACE_MS: '5000', MM_SUMMARY_INTERVAL_MS: '1000' });
    const op = (route: string) => fetch(`${base}/operator/${route}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });

    expect(((await (await op('breaker/trip')).json()) as { state: string }).state).toBe('OPEN');
    const ready = await httpJson<{ status: string; state: string }>(`${base}/ready`);
    expect(ready).toEqual({ status: 200, body: { status: 'ready', state: 'running' } });
    expect((await httpJson(`${base}/live`)).status).toBe(200);
    const status = await httpJson<{ components: { risk: { breaker: { state: string } } } }>(`${base}/status`);
    expect(status.status).toBe(503); // degraded: state, not unreadiness
    expect(status.body.components.risk.breaker.state).toBe('OPEN');
    // The state gauges refresh every second.
    const breakerSeries = /market_maker_circuit_breaker_state\{symbol="BTCUSDT",state="OPEN",reason="manual"\} 1/;
    await waitFor('breaker state metric', async () => breakerSeries.test(await (await fetch(`${base}/metrics`)).text()), 5000, 200);
    expect(((await (await op('breaker/reset')).json()) as { state: string }).state).toBe('CLOSED');
    await waitFor('quoting again', async () => (await ours('mmk')) >= 5, 15000, 200);
    // The one-line summary (every second here): PnL, inventory, open orders, fills, breaker, dead-man.
    expect(mm.output()).toMatch(
      /"context":"Summary","msg":"summary BTCUSDT: PnL realized [+-][\d.]+ unrealized [+-][\d.]+ \(quote\), inventory -?[\d.]+, open orders \d+, fills \d+, breaker (CLOSED|OPEN \(manual[^)]*\)), dead-man armed/,
    );

    await terminate(mm);
    const stoppedAt = Date.now();
    const left = await ours('mmk');
    expect(left).toBeGreaterThanOrEqual(5);
    expect(mm.output()).toMatch(/shutdown: orders kept, dead-man's switch stays armed until .* \(grace 5000 ms\)/);
    // Still there well past the heartbeat timeout (3 s): the grace (5 s) applies.
    await sleep(3500 - (Date.now() - stoppedAt));
    expect(await ours('mmk')).toBe(left);
    // No market maker comes back: the connector cancels them once the grace is over.
    await waitFor('orders cancelled after the grace', async () => (await ours('mmk')) === 0, 5000, 100);
    expect(Date.now() - stoppedAt).toBeLessThan(5000 + 1500);
    expect(connector.output()).toMatch(/dead-man's switch of mmk fired/);
  });

  it('a replacement within the grace takes over the orders (rollout)', async () => {
    // The grace must cover the replacement's start (Nest boot, connect, first heartbeat): 15 s here, 60 s by default.
    const first = await startMm('mmr', { DEAD_MAN_SHUTDOWN_GRACE_MS: '15000' });
    await terminate(first.mm);
    const stoppedAt = Date.now();
    const second = await startMm('mmr', { DEAD_MAN_SHUTDOWN_GRACE_MS: '15000' });
    await sleep(16_000 - (Date.now() - stoppedAt)); // past the first one's grace
    expect(await ours('mmr')).toBeGreaterThanOrEqual(5);
    expect(connector.output()).not.toMatch(/dead-man's switch of mmr fired/);
    await stopApp(second.mm);
  });

  it('with DEAD_MAN_ON_SHUTDOWN=cancel, SIGTERM cancels the orders before exiting', async () => {
    const { mm } = await startMm('mmc', { DEAD_MAN_ON_SHUTDOWN: 'cancel' });
    await terminate(mm);
    expect(await ours('mmc')).toBe(0);
    expect(mm.output()).toMatch(/shutdown: orders cancelled, dead-man's switch disarmed/);
  });
});
