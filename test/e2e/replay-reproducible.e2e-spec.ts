/**
 * Issue 8 acceptance 6 — a live replay through the built apps is reproducible: the first market day
 * of the shared BTC file through the connector (sim, lockstep) and the market maker at SIM_SPEED=600,
 * at SIM_SPEED=20000, and once more at 20000 — each on a fresh SQLite file and fresh sim state — gives
 * the same fills (client order ids, sides, prices, quantities, market times) and the same order
 * requests, read from the market maker's SQLite database after it stopped.
 *
 * The data: the first 1540 rows of the file = the sim's 100 candles of history + 1440 replayed
 * minutes (one full market day). SIM_TICK_MS=15000 samples each candle at 4 path points (open,
 * low/high, high/low, close — the same extremes as the 1 s default, 15× fewer instants), so the 600×
 * run takes 1440 min / 600 = 144 s of wall time and a 20000× run is bound by acknowledgements only.
 * The live server is not started: it only reads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { BTC_CSV, type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';

jest.setTimeout(600_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-repro-'));
const DAY_CSV = path.join(dir, 'btc-first-day.csv');
const ROWS = 1540;

interface RunResult {
  speed: number;
  wallMs: number;
  fills: string[];
  intents: string[];
  connectorLog: string;
  mmLog: string;
}

const procs: AppProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => stopApp(p)));
});

async function replay(speed: number, tag: string): Promise<RunResult> {
  const runDir = path.join(dir, tag);
  fs.mkdirSync(runDir);
  const [grpcPort, metricsPort, mmPort] = [await freePort(), await freePort(), await freePort()];
  const started = Date.now();
  const conn = startApp(
    'exchange-connector',
    {
      PORT: String(grpcPort),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      EXCHANGE: 'sim',
      SIM_DATA: DAY_CSV,
      SIM_SPEED: String(speed),
      SIM_TICK_MS: '15000',
      SIM_START: 'on_subscribe',
      SIM_LOCKSTEP: 'true',
      // a stall would let the replay run without the market maker: keep waiting and let the test see it
      SIM_LOCKSTEP_ON_STALL: 'pause',
      SIM_LOCKSTEP_STALL_MS: '20000',
      // one Heartbeat per market instant (as `npm start` sets for SIM_DATA replays)
      RATE_LIMIT_RPS: '5000',
      RATE_LIMIT_BURST: '10000',
    },
    runDir,
    `connector-${tag}`,
  );
  procs.push(conn);
  await waitFor('connector health', async () => (await fetch(`http://127.0.0.1:${metricsPort}/health`).catch(() => undefined))?.status === 200, 30_000, 100);
  const sqlite = path.join(runDir, 'mm.sqlite');
  const mm = startApp(
    'market-maker',
    {
      MM_PORT: String(mmPort),
      MM_HOST: '127.0.0.1',
      EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${grpcPort}`,
      SQLITE_PATH: sqlite,
      CONFIG_FILE: path.join(__dirname, '..', '..', 'config', 'market-maker.yaml'),
      MM_LOCKSTEP: 'on', // as `npm start` sets for SIM_DATA replays
      // one client-order-id secret for every run: ids are compared across runs (a fresh database would generate its own)
      MM_CLIENT_ID_SECRET: 'reproducible-replay-secret',
    },
    runDir,
    `mm-${tag}`,
  );
  procs.push(mm);
  await waitFor('replay finished', async () => /sim replay finished/.test(conn.output()), 560_000, 250);
  // the market maker settles the last instant; then stop it (orders stay: cancel_on_exit is off)
  let last = '';
  await waitFor(
    'market maker settled',
    async () => {
      const st = await httpJson<any>(`http://127.0.0.1:${mmPort}/status`);
      const sig = JSON.stringify([st.body.components?.strategy?.fills, st.body.components?.strategy?.openIntents]);
      const same = sig === last;
      last = sig;
      return same;
    },
    30_000,
    1000,
  );
  await stopApp(mm);
  const wallMs = Date.now() - started;
  await stopApp(conn);
  const db = new Database(sqlite, { readonly: true });
  const fills = (db.prepare('SELECT client_order_id, side, price, quantity, trade_time_ms FROM fill ORDER BY trade_time_ms, trade_id').all() as any[]).map(
    (f) => `${f.trade_time_ms} ${f.client_order_id} ${f.side} ${f.quantity}@${f.price}`,
  );
  const intents = (db.prepare('SELECT client_order_id, side, price, quantity, reduce_only, post_only FROM order_intent ORDER BY rowid').all() as any[]).map(
    (i) => `${i.client_order_id} ${i.side} ${i.quantity}@${i.price} ro=${i.reduce_only} po=${i.post_only}`,
  );
  db.close();
  return { speed, wallMs, fills, intents, connectorLog: conn.output(), mmLog: mm.output() };
}

describe('reproducible live replay through the built apps (issue 8 acceptance 6)', () => {
  beforeAll(() => {
    const lines = fs.readFileSync(BTC_CSV, 'utf8').split('\n');
    fs.writeFileSync(DAY_CSV, lines.slice(0, ROWS + 1).join('\n') + '\n');
  });

  // The 600× run is paced by the wall clock (about 150 s, little CPU); the two 20000× runs (about
  // 35 s each, CPU-bound) go one after the other beside it. Lockstep makes every run's fills
  // independent of machine load, which is what this spec proves, so running them side by side is fair.
  const runs = new Map<string, RunResult>();
  beforeAll(async () => {
    const [slow, fast] = await Promise.all([replay(600, 'x600'), (async () => [await replay(20000, 'x20000-a'), await replay(20000, 'x20000-b')])()]);
    runs.set('x600', slow).set('x20000-a', fast[0]).set('x20000-b', fast[1]);
  }, 900_000);

  it.each([
    [600, 'x600'],
    [20000, 'x20000-a'],
    [20000, 'x20000-b'],
  ])('replays the first market day at SIM_SPEED=%d in lockstep', async (speed, tag) => {
    const r = runs.get(tag)!;
    expect(r.speed).toBe(speed);
    // the whole day was replayed, in lockstep with the market maker, without a stall
    expect(r.connectorLog).toMatch(/sim replay started at market time .*: trading client connected/);
    expect(r.connectorLog).toMatch(/sim replay finished: .* \(1440 candles replayed\)/);
    expect(r.connectorLog).toMatch(/lockstep client \S+ joined/);
    expect(r.connectorLog).not.toMatch(/LOCKSTEP STALL/);
    expect(r.mmLog).toMatch(/lockstep with the sim replay: engine on market time/);
    // a grid on a real BTC day trades: dozens of fills, both sides
    expect(r.fills.length).toBeGreaterThan(10);
    expect(r.fills.some((f) => / BUY /.test(f)) && r.fills.some((f) => / SELL /.test(f))).toBe(true);
    // fills are market-timed within the replayed day (not wall time)
    const t = r.fills.map((f) => Number(f.split(' ')[0]));
    expect(Math.min(...t)).toBeGreaterThanOrEqual(1746372780000 + 100 * 60_000);
    expect(Math.max(...t)).toBeLessThanOrEqual(1746372780000 + ROWS * 60_000);
    process.stdout.write(`SIM_SPEED=${speed}: ${r.fills.length} fills, ${r.intents.length} order requests, ${(r.wallMs / 1000).toFixed(1)} s wall\n`);
  });

  it('gives the same fills and order requests at 600×, at 20000× and again at 20000×', () => {
    expect(runs.size).toBe(3);
    const [a, b, c] = ['x600', 'x20000-a', 'x20000-b'].map((t) => runs.get(t)!);
    expect(b.fills).toEqual(a.fills);
    expect(c.fills).toEqual(b.fills);
    expect(b.intents).toEqual(a.intents);
    expect(c.intents).toEqual(b.intents);
  });
});
