/**
 * End to end: the three apps as separate processes over loopback. The sim connector replays real
 * Binance USD-M BTCUSDT 1-minute data at 3600× (30 market hours), the market maker trades it through
 * gRPC, the live server relays it over WebSocket. Midway the market maker is SIGKILLed and restarted
 * on the same database. Runs once on SQLite and once on PostgreSQL.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import WebSocket from 'ws';
import { Client as PgClient } from 'pg';
import Decimal from 'decimal.js';
import { BTC_CSV, type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';
import { MM_CID as CID, type SeenTrade, roundTripPnl, tradeOf } from '../support/round-trips';

jest.setTimeout(240_000);

const D = Decimal.clone({ precision: 60 });
const PG_ADMIN_URL = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `opensqt_e2e_${process.pid}_${Date.now() % 100000}`;
  const admin = new PgClient({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new PgClient({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

describe.each([['sqlite'], ['postgres']])('whole stack on replayed BTCUSDT (%s)', (db) => {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `opensqt-e2e-${db}-`));
  const procs: AppProcess[] = [];
  let client: TestExchangeClient;
  let dropDb: (() => Promise<void>) | undefined;
  let sampler: NodeJS.Timeout | undefined;
  const wsMessages: { type: string; data: any }[] = [];
  let ws: WebSocket | undefined;

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    ws?.close();
    client?.close();
    await Promise.all(procs.map((p) => stopApp(p)));
    await dropDb?.();
  });

  it('trades, survives SIGKILL, and every figure reconciles exactly', async () => {
    const [grpcPort, metricsPort, mmPort, livePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const conn = startApp('exchange-connector', {
      PORT: String(grpcPort),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      SIM_DATA: BTC_CSV,
      SIM_MAX_CANDLES: '1900', // 100 history + 1800 replayed = 30 market hours
      SIM_SPEED: '3600',
    }, logDir);
    procs.push(conn);
    client = new TestExchangeClient(`127.0.0.1:${grpcPort}`);
    await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 30000, 200);

    // Our own view of the venue: every order event, from before the market maker starts.
    const trades: SeenTrade[] = [];
    const orders: any[] = [];
    client.stream('SubscribeOrders', {}, (u: any) => {
      orders.push(u);
      const t = tradeOf(u);
      if (t) trades.push(t);
    });

    const live = startApp('live-server', { LIVE_PORT: String(livePort), EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${grpcPort}`, LIVE_SYMBOL: 'BTCUSDT' }, logDir);
    procs.push(live);
    await waitFor('live server', () => httpJson(`http://127.0.0.1:${livePort}/health`).then((r) => r.status === 200), 30000, 200);
    ws = new WebSocket(`ws://127.0.0.1:${livePort}/ws`);
    ws.on('message', (raw, isBinary) => {
      expect(isBinary).toBe(false);
      wsMessages.push(JSON.parse(raw.toString()));
    });

    const mmEnv: Record<string, string> = {
      MM_PORT: String(mmPort),
      MM_HOST: '127.0.0.1',
      EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${grpcPort}`,
      SQLITE_PATH: path.join(logDir, 'mm.sqlite'),
      CONFIG_FILE: path.join(__dirname, '..', '..', 'config', 'market-maker.yaml'),
    };
    if (db === 'postgres') {
      const pg = await createPgDatabase();
      dropDb = pg.drop;
      mmEnv.DATABASE_URL = pg.url;
    }
    const mmBase = `http://127.0.0.1:${mmPort}`;
    const running = () => httpJson<any>(`${mmBase}/status`).then((r) => r.body.components?.strategy?.state === 'running');
    let mm = startApp('market-maker', mmEnv, logDir);
    procs.push(mm);
    await waitFor('market maker running', running, 30000, 200);

    // Sample the venue all along: never two live orders for one slot (level), across the restart.
    let samples = 0;
    let violation = '';
    sampler = setInterval(() => {
      client
        .call('GetOpenOrders', { symbol: 'BTCUSDT' })
        .then((r: any) => {
          samples++;
          const perLevel = new Map<string, string[]>();
          for (const o of r.orders) {
            const m = CID.exec(o.clientOrderId);
            if (!m) continue;
            perLevel.set(m[2], [...(perLevel.get(m[2]) ?? []), o.clientOrderId]);
          }
          for (const [level, ids] of perLevel) if (ids.length > 1 && !violation) violation = `level ${level}: ${ids.join(', ')}`;
        })
        .catch(() => undefined);
    }, 150);

    // Let it trade, then kill -9 mid-run and start again on the same database.
    await waitFor('first fills', () => trades.length >= 10, 30000, 100);
    await new Promise((r) => setTimeout(r, 4000));
    mm.child.kill('SIGKILL');
    await mm.exited;
    const tradesAtKill = trades.length;
    await new Promise((r) => setTimeout(r, 1500));
    mm = startApp('market-maker', mmEnv, logDir, 'market-maker-restarted');
    procs.push(mm);
    await waitFor('market maker running again', running, 30000, 200);

    // Run the replay to its end, then let the market maker settle.
    await waitFor('replay finished', () => httpJson<any>(`http://127.0.0.1:${metricsPort}/status`).then((r) => r.body.sim?.finished), 120000, 500);
    const replay = (await httpJson<any>(`http://127.0.0.1:${metricsPort}/status`)).body.sim;
    expect(replay.candlesReplayed).toBeGreaterThanOrEqual(1800);
    let mmStatus: any;
    await waitFor(
      'market maker settled',
      async () => {
        const s = (await httpJson<any>(`${mmBase}/status`)).body.components.strategy;
        const pos = await client.call('GetPositions', { symbol: 'BTCUSDT' });
        const venueSize = pos.positions[0]?.size?.value ?? '0';
        const settled = s.slots.pending === 0 && s.openIntents === s.slots.locked && new D(venueSize).eq(s.inventory) && s.realizedPnl === mmStatus?.realizedPnl;
        mmStatus = s;
        return settled;
      },
      20000,
      500,
    );
    clearInterval(sampler);
    sampler = undefined;

    // 1. It traded both ways, also after the restart.
    const buys = trades.filter((t) => t.side === 'ORDER_SIDE_BUY').length;
    const sells = trades.filter((t) => t.side === 'ORDER_SIDE_SELL').length;
    expect(buys).toBeGreaterThan(20);
    expect(sells).toBeGreaterThan(10);
    expect(trades.length).toBeGreaterThan(tradesAtKill);

    // 2. Venue position = the market maker's slot inventory = Σ fills.
    const expected = roundTripPnl(trades, (sold, held) => expect(sold).toBe(held));
    const pos = await client.call('GetPositions', { symbol: 'BTCUSDT' });
    const venueSize = new D(pos.positions[0]?.size?.value ?? '0');
    expect(venueSize.toString()).toBe(new D(mmStatus.inventory).toString());
    expect(expected.inventory.toString()).toBe(venueSize.toString());

    // 3. Realized PnL equals Σ closed round trips (sell − buy)·qty − fees, exactly.
    expect(expected.closed).toBe(sells);
    expect(mmStatus.realizedPnl).toBe(expected.realized.toString());

    // 4. No order broke tick size 0.1, step size 0.001 or min notional 100.
    const news = orders.filter((o) => o.status === 'ORDER_STATUS_NEW' && CID.test(o.clientOrderId));
    expect(news.length).toBeGreaterThan(30);
    for (const o of news) {
      const price = new D(o.price.value);
      const qty = new D(o.quantity.value);
      expect(price.mod('0.1').isZero()).toBe(true);
      expect(qty.mod('0.001').isZero()).toBe(true);
      expect(price.mul(qty).gte(100)).toBe(true);
    }
    const metrics = await (await fetch(`${mmBase}/metrics`)).text();
    expect(metrics).not.toMatch(/market_maker_orders_rejected_total\{[^}]*reason="other"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/market_maker_orders_filled_total\{symbol="BTCUSDT",side="SELL"\} [1-9]/);

    // 5. Never two live orders for one slot, including across the SIGKILL.
    expect(samples).toBeGreaterThan(20);
    expect(violation).toBe('');

    // 6. The live server relayed it in the documented format.
    const types = new Set(wsMessages.map((m) => m.type));
    for (const t of ['history', 'kline', 'orders', 'account', 'trade_event']) expect(types).toContain(t);
    expect(wsMessages[0].type).toBe('history');
    const history = wsMessages[0].data as any[];
    expect(history.length).toBe(100);
    for (let i = 1; i < history.length; i++) expect(history[i].time).toBeGreaterThan(history[i - 1].time);
    expect(history[0].time).toBeLessThan(1e11); // seconds, not ms
    expect(typeof history[0].close).toBe('string');
    const kline = wsMessages.find((m) => m.type === 'kline')!.data;
    expect(Number.isInteger(kline.time) && kline.time < 1e11).toBe(true);
    const orderMsgs = wsMessages.filter((m) => m.type === 'orders').flatMap((m) => (Array.isArray(m.data) ? m.data : [m.data]));
    expect(orderMsgs.length).toBeGreaterThan(0);
    for (const o of orderMsgs) {
      expect(['BUY', 'SELL']).toContain(o.side);
      expect(['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'EXPIRED', 'REJECTED']).toContain(o.status);
      expect(o.price).toMatch(/^\d+(\.\d+)?$/);
    }
    const tradeEvents = wsMessages.filter((m) => m.type === 'trade_event').map((m) => m.data);
    expect(tradeEvents.length).toBeGreaterThan(0);
    for (const t of tradeEvents) {
      expect(['buy', 'sell']).toContain(t.side);
      expect(t.time).toBeLessThan(1e11);
      expect(t.price).toMatch(/^\d+(\.\d+)?$/);
    }
    const account = wsMessages.find((m) => m.type === 'account')!.data;
    expect(account.asset).toBe('USDT');
    expect(account.balance).toMatch(/^\d+(\.\d+)?$/);

    // 7. /health and /status through supertest.
    await request(mmBase).get('/health').expect(200).expect((r) => expect(r.body.status).toBe('ok'));
    const st = await request(mmBase).get('/status');
    expect(st.body.components.database.status).toBe('up');
    expect(st.body.components.connector.status).toBe('up');
    expect(st.body.components.orderStream.status).toBe('up');
    expect(st.body.components.database.type).toBe(db === 'postgres' ? 'postgres' : 'better-sqlite3');
  });
});
