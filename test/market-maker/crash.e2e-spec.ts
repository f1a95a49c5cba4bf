/**
 * Process-level proof for the market maker (issue 5): 50 SIGKILLs during a fast replay of real
 * BTCUSDT data — some injected between intent commit and venue answer, some between venue answer and
 * state update, the rest at random instants — then exact reconciliation; the dead-man's switch; the
 * operator API.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Decimal from 'decimal.js';
import { BTC_CSV, type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';
import { MM_CID as CID, type SeenTrade, roundTripPnl, tradeOf } from '../support/round-trips';

jest.setTimeout(600_000);
const D = Decimal.clone({ precision: 60 });
const TOKEN = 'op-secret-token-0123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startConnector(logDir: string, env: Record<string, string>) {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const proc = startApp('exchange-connector', { PORT: String(grpcPort), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(httpPort), ...env }, logDir);
  const client = new TestExchangeClient(`127.0.0.1:${grpcPort}`);
  await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 30000, 200);
  return { proc, client, address: `127.0.0.1:${grpcPort}`, httpPort };
}

describe('market maker survives kill -9 at 50 instants and reconciles exactly', () => {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-crash-'));
  const procs: AppProcess[] = [];
  let client: TestExchangeClient | undefined;
  afterAll(async () => {
    client?.close();
    await Promise.all(procs.map((p) => stopApp(p)));
  });

  it('never places a client order id twice, knows every venue order, and its books match the venue to the last decimal', async () => {
    // on_subscribe: market time passes only while a market maker is connected, so each life sees
    // market activity however slowly the machine starts processes.
    const c = await startConnector(logDir, { SIM_DATA: BTC_CSV, SIM_MAX_CANDLES: '1700', SIM_SPEED: '900', SIM_START: 'on_subscribe' });
    procs.push(c.proc);
    client = c.client;
    const trades: SeenTrade[] = [];
    client.stream('SubscribeOrders', {}, (u: any) => {
      const t = tradeOf(u);
      if (t) trades.push(t);
    });
    const mmPort = await freePort();
    const base = `http://127.0.0.1:${mmPort}`;
    const mmEnv = {
      MM_PORT: String(mmPort),
      MM_HOST: '127.0.0.1',
      EXCHANGE_GRPC_ADDRESS: c.address,
      SQLITE_PATH: path.join(logDir, 'mm.sqlite'),
      OPERATOR_TOKEN: TOKEN,
      RECONCILE_INTERVAL_MS: '1000',
    };
    const running = () => httpJson<any>(`${base}/status`).then((r) => r.body.components?.strategy?.state === 'running').catch(() => false);

    const kills = { after_intent_commit: 0, after_venue_answer: 0, external: 0 };
    let rng = 20261121;
    const rand = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    // 50 starts in a fixed pattern (fault point, fault point, external kill); if a fault point has
    // not fired 5 times by then (a life can end without an order of its own), more starts with
    // that point follow, up to 80 starts in all.
    let starts = 0;
    const short = () => (kills.after_intent_commit < 5 ? 'after_intent_commit' : kills.after_venue_answer < 5 ? 'after_venue_answer' : undefined);
    while (starts < 50 || (short() && starts < 80)) {
      const i = starts++;
      const point = i >= 50 ? short()! : i % 3 === 0 ? 'after_intent_commit' : i % 3 === 1 ? 'after_venue_answer' : '';
      const mm = startApp('market-maker', point ? { ...mmEnv, MM_CRASH_POINT: point, MM_CRASH_PROBABILITY: '0.6' } : mmEnv, logDir, `mm-${i}`);
      procs.push(mm);
      const died = await Promise.race([mm.exited.then(() => true), sleep(point ? 15000 : 800 + rand() * 1500).then(() => false)]);
      if (died && point && mm.output().includes(`fault injection: SIGKILL at ${point}`)) kills[point as 'after_intent_commit' | 'after_venue_answer']++;
      else {
        mm.child.kill('SIGKILL');
        kills.external++;
      }
      await mm.exited;
    }
    expect(kills.after_intent_commit).toBeGreaterThanOrEqual(5);
    expect(kills.after_venue_answer).toBeGreaterThanOrEqual(5);
    expect(kills.after_intent_commit + kills.after_venue_answer + kills.external).toBe(starts);
    expect(starts).toBeGreaterThanOrEqual(50);

    // Last start, no faults: run to the end of the replay and settle.
    const mm = startApp('market-maker', mmEnv, logDir, 'mm-final');
    procs.push(mm);
    await waitFor('final market maker running', running, 30000, 200);
    // After its first reconciliation, every order of ours on the venue belongs to a slot.
    const owned = async () => {
      const slots = (await httpJson<any[]>(`${base}/slots`)).body;
      return new Set(slots.map((s) => s.order?.clientOrderId).filter(Boolean));
    };
    const venueOurs = async () => (await client!.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.map((o: any) => o.clientOrderId).filter((id: string) => CID.test(id));
    {
      const mine = await owned();
      for (const id of await venueOurs()) expect(mine.has(id) ? id : `unknown ${id}`).toBe(id);
    }
    await waitFor('replay finished', () => httpJson<any>(`http://127.0.0.1:${c.httpPort}/status`).then((r) => r.body.sim?.finished), 200000, 500);
    let s: any;
    await waitFor(
      'settled',
      async () => {
        const next = (await httpJson<any>(`${base}/status`)).body.components.strategy;
        const pos = await client!.call('GetPositions', { symbol: 'BTCUSDT' });
        const ok = next.slots.pending === 0 && new D(pos.positions[0]?.size?.value ?? '0').eq(next.inventory) && next.realizedPnl === s?.realizedPnl;
        s = next;
        return ok;
      },
      30000,
      700,
    );

    const sim = (await httpJson<any>(`http://127.0.0.1:${c.httpPort}/status`)).body.sim;
    expect(sim.duplicateClientOrderIds).toBe(0); // no client order id ever sent twice
    const mine = await owned();
    for (const id of await venueOurs()) expect(mine.has(id) ? id : `unknown ${id}`).toBe(id);

    // inventory = Σ fills = venue position; realized = Σ closed round trips, exactly.
    const { realized, inventory, closed } = roundTripPnl(trades, (sold, held) => expect(sold).toBe(held));
    const venue = new D((await client.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0]?.size?.value ?? '0');
    expect(trades.length).toBeGreaterThan(50);
    expect(closed).toBeGreaterThan(10);
    expect(s.inventory).toBe(inventory.toString());
    expect(venue.toString()).toBe(inventory.toString());
    expect(s.realizedPnl).toBe(realized.toString());
  });
});

describe('dead-man switch and operator API', () => {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-deadman-'));
  const procs: AppProcess[] = [];
  let client: TestExchangeClient | undefined;
  afterAll(async () => {
    client?.close();
    await Promise.all(procs.map((p) => stopApp(p)));
  });

  it('operator API needs the token; pause, trip, reset and cancel-all act on the venue; a killed market maker loses its orders within the timeout', async () => {
    const c = await startConnector(logDir, { SIM_SPEED: '10', SIM_SEED: '3' });
    procs.push(c.proc);
    client = c.client;
    const mmPort = await freePort();
    const base = `http://127.0.0.1:${mmPort}`;
    const env = {
      MM_PORT: String(mmPort),
      MM_HOST: '127.0.0.1',
      EXCHANGE_GRPC_ADDRESS: c.address,
      SQLITE_PATH: path.join(logDir, 'mm.sqlite'),
      OPERATOR_TOKEN: TOKEN,
      DEAD_MAN_TIMEOUT_MS: '2000',
      DEAD_MAN_INTERVAL_MS: '400',
    };
    const openCount = async () => (await client!.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.length;
    const op = (method: string, route: string, token: string | null = TOKEN) =>
      fetch(`${base}/operator/${route}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

    let mm = startApp('market-maker', env, logDir, 'mm-op');
    procs.push(mm);
    await waitFor('orders on the venue', async () => (await openCount()) >= 5, 30000, 200);
    expect((await op('POST', 'pause', null)).status).toBe(401);
    expect((await op('POST', 'pause', 'wrong')).status).toBe(403);
    expect((await op('GET', 'slots')).status).toBe(200);
    expect(((await (await op('GET', 'intents')).json()) as unknown[]).length).toBeGreaterThanOrEqual(5);

    const tripped = await (await op('POST', 'breaker/trip')).json();
    expect(tripped).toMatchObject({ state: 'OPEN', reason: 'manual' });
    expect((await client.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.filter((o: any) => o.side === 'ORDER_SIDE_BUY' && /^mm1B/.test(o.clientOrderId)).length).toBe(0);
    expect(((await (await op('POST', 'breaker/reset')).json()) as { state: string }).state).toBe('CLOSED');
    await waitFor('quoting again', async () => (await openCount()) >= 5, 15000, 200);
    const rec = await (await op('POST', 'reconcile')).json();
    expect(rec).toMatchObject({ action: expect.stringMatching(/none|awaiting_confirmation/) });
    expect((await op('POST', 'cancel-all')).status).toBe(200);
    expect(await openCount()).toBe(0);
    await sleep(1500);
    expect(await openCount()).toBe(0); // paused: nothing replaced
    await op('POST', 'resume');
    await waitFor('quoting after resume', async () => (await openCount()) >= 5, 15000, 200);

    // A graceful stop keeps the switch armed with the shutdown grace (60 s default): the orders stay for the next start.
    await stopApp(mm);
    const afterStop = await openCount();
    expect(afterStop).toBeGreaterThanOrEqual(5);
    await sleep(2800);
    expect(await openCount()).toBe(afterStop);

    // A killed market maker does not come back: the connector cancels its orders within the timeout.
    mm = startApp('market-maker', env, logDir, 'mm-deadman');
    procs.push(mm);
    await waitFor('running again', () => httpJson<any>(`${base}/status`).then((r) => r.body.components?.strategy?.state === 'running').catch(() => false), 30000, 200);
    await waitFor('orders on the venue again', async () => (await openCount()) >= 5, 30000, 200);
    mm.child.kill('SIGKILL');
    await mm.exited;
    const killedAt = Date.now();
    await waitFor('orders cancelled by the dead-man switch', async () => (await openCount()) === 0, 6000, 100);
    const took = Date.now() - killedAt;
    expect(took).toBeLessThanOrEqual(2000 + 800);
    expect(c.proc.output()).toMatch(/dead-man's switch of mm1 fired/);
  });
});
