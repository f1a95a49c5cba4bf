/**
 * Connector crash while the market maker and the live server are connected (all separate processes,
 * access control on). The sim persists its account/order state (`SIM_STATE_FILE`); after SIGKILL it
 * is restarted on the same ports with the saved state, and the replay position moved to just before
 * a gap down that crosses the market maker's resting buys — so those buys fill on the venue within
 * milliseconds of the restart, before the market maker (reconnect backoff ≥ 500 ms) is back. The
 * market maker must book those fills (reconciliation after the order-stream reconnect) and agree
 * with the venue's position; the live server must resume its WebSocket feed.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import Decimal from 'decimal.js';
import { type AppProcess, ROOT, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { ConformanceClient } from '../conformance/client';

jest.setTimeout(180_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-restart-'));
const MIN = 60_000;
const T0 = 1_750_000_020_000 - (1_750_000_020_000 % MIN);
const HISTORY = 100;
const FLAT = 600; // market minutes at 100000 after the history
const DROP_INDEX = HISTORY + FLAT;
const T_DROP = T0 + DROP_INDEX * MIN;
const LOW = '99650';
const CID = /^mm1[BS]\d+g\d+[0-9a-z]{6}$/;
const TRADER = `mm-${randomBytes(16).toString('hex')}`;
const MONITOR = `live-${randomBytes(16).toString('hex')}`;

/** Flat at 100000, then a gap down to 99650 at T_DROP, then flat again. */
function writeCsv(file: string): void {
  const rows: string[] = [];
  for (let i = 0; i < DROP_INDEX + 300; i++) {
    const p = i < DROP_INDEX ? '100000' : LOW;
    rows.push(`${T0 + i * MIN},${p},${p},${p},${p},12.5`);
  }
  fs.writeFileSync(file, rows.join('\n') + '\n');
}

describe('connector SIGKILL and restart with persisted sim state', () => {
  const procs: AppProcess[] = [];
  let ws: WebSocket | undefined;
  let venue: ConformanceClient | undefined;
  afterAll(async () => {
    ws?.close();
    venue?.close();
    await Promise.all(procs.map((p) => stopApp(p)));
  });

  it('market maker and live server reconnect; a fill during the gap reaches the market maker', async () => {
    const csv = path.join(dir, 'gap.csv');
    writeCsv(csv);
    const stateFile = path.join(dir, 'sim-state.json');
    const [grpcPort, httpPort, mmPort, livePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const address = `127.0.0.1:${grpcPort}`;
    const connEnv = {
      PORT: String(grpcPort),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(httpPort),
      SIM_DATA: csv,
      SIM_SPEED: '60',
      SIM_STATE_FILE: stateFile,
      CONNECTOR_TOKENS: `trader:market-maker:${TRADER},monitor:live-server:${MONITOR}`,
    };
    const connectorUp = () => waitFor('connector health', async () => (await fetch(`http://127.0.0.1:${httpPort}/health`)).status === 200, 30_000, 100);
    let conn = startApp('exchange-connector', connEnv, dir, 'connector');
    procs.push(conn);
    await connectorUp();
    venue = new ConformanceClient(address, TRADER);

    const live = startApp('live-server', { LIVE_PORT: String(livePort), LIVE_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: address, LIVE_SYMBOL: 'BTCUSDT', CONNECTOR_TOKEN: MONITOR }, dir, 'live');
    procs.push(live);
    await waitFor('live server', () => httpJson(`http://127.0.0.1:${livePort}/health`).then((r) => r.status === 200), 30_000, 200);
    const wsMessages: { at: number; type: string; data: any }[] = [];
    ws = new WebSocket(`ws://127.0.0.1:${livePort}/ws`);
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      wsMessages.push({ at: Date.now(), type: m.type, data: m.data });
    });

    const mm = startApp('market-maker', {
      MM_PORT: String(mmPort),
      MM_HOST: '127.0.0.1',
      EXCHANGE_GRPC_ADDRESS: address,
      CONNECTOR_TOKEN: TRADER,
      SQLITE_PATH: path.join(dir, 'mm.sqlite'),
      CONFIG_FILE: path.join(ROOT, 'config', 'market-maker.yaml'),
    }, dir, 'market-maker');
    procs.push(mm);
    const mmStatus = async () => (await httpJson<any>(`http://127.0.0.1:${mmPort}/status`)).body.components;
    await waitFor('market maker running', async () => (await mmStatus()).strategy.state === 'running', 30_000, 200);

    // Resting grid buys above the coming low.
    const crossed = await waitFor('resting buys above the low', async () => {
      const open = (await venue!.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.filter((o: any) => CID.test(o.clientOrderId) && o.side === 'ORDER_SIDE_BUY');
      const above = open.filter((o: any) => new Decimal(o.price.value).gte(LOW));
      return above.length >= 2 ? above : undefined;
    }, 30_000, 200);
    await waitFor('state file has the orders', () => {
      const s = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
      return crossed.every((o: any) => s.orders.some((x: any) => x.orderId === o.orderId && x.status === 'NEW'));
    }, 5_000, 50);
    const before = (await mmStatus()).strategy;
    expect(new Decimal(before.inventory).isZero()).toBe(true);
    const reconnectsBefore = before.orderStream.reconnects;
    const posBefore = (await venue.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0]?.size?.value ?? '0';
    expect(new Decimal(posBefore).isZero()).toBe(true);

    // kill -9; while it is down the market "moves on" to just before the gap down.
    conn.child.kill('SIGKILL');
    await conn.exited;
    const killedAt = Date.now();
    await waitFor('market maker notices', async () => (await mmStatus()).connector.status === 'down' || (await mmStatus()).orderStream.status === 'down', 15_000, 100);
    const saved = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    expect(saved.marketTimeMs).toBeLessThan(T_DROP);
    for (const o of crossed) expect(saved.orders.find((x: any) => x.orderId === o.orderId)?.status).toBe('NEW');
    saved.marketTimeMs = T_DROP - 200;
    fs.writeFileSync(stateFile, JSON.stringify(saved));
    await new Promise((r) => setTimeout(r, 1000));

    conn = startApp('exchange-connector', connEnv, dir, 'connector-restarted');
    procs.push(conn);
    await connectorUp();
    const restartedAt = Date.now();
    expect(restartedAt - killedAt).toBeGreaterThan(1000);

    // The crossed buys filled on the venue right after the restart.
    const filledAt = await waitFor('gap fills on the venue', async () => {
      const orders = await Promise.all(crossed.map((o: any) => venue!.call('GetOrder', { symbol: 'BTCUSDT', orderId: o.orderId })));
      return orders.every((o) => o.status === 'ORDER_STATUS_FILLED') ? Date.now() : undefined;
    }, 10_000, 20);
    const venuePos = new Decimal((await venue.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0].size.value);
    const expectedPos = crossed.reduce((a: Decimal, o: any) => a.plus(o.quantity.value), new Decimal(0));
    expect(venuePos.toString()).toBe(expectedPos.toString());
    expect(conn.output()).toMatch(/restored sim state from .*sim-state\.json: \d+ orders/);

    // The market maker reconnects (with backoff), reconciles and books exactly those fills.
    const after = await waitFor('market maker booked the gap fills', async () => {
      const s = await mmStatus();
      const st = s.strategy;
      return s.connector.status === 'up' && s.orderStream.status === 'up' && new Decimal(st.inventory).eq(venuePos) && st.fills >= before.fills + crossed.length ? s : undefined;
    }, 60_000, 200);
    expect(after.strategy.orderStream.reconnects).toBeGreaterThan(reconnectsBefore);
    // eslint-disable-next-line no-console
    console.log(`killed→restarted ${restartedAt - killedAt} ms; venue fills ${filledAt - restartedAt} ms after restart; MM reconnects ${reconnectsBefore}→${after.strategy.orderStream.reconnects}, inventory ${after.strategy.inventory}`);
    // It keeps the venue and its books consistent afterwards (it re-quotes around the new price).
    await new Promise((r) => setTimeout(r, 2000));
    const settled = (await mmStatus()).strategy;
    const pos = (await venue.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0].size.value;
    expect(new Decimal(settled.inventory).toString()).toBe(new Decimal(pos).toString());

    // The live server re-subscribed: klines again, and a trade event for a fill after the restart
    // (a marketable round trip by the test, net flat, so the market maker's books stay untouched).
    await waitFor('kline after restart', () => wsMessages.some((m) => m.at > restartedAt && m.type === 'kline'), 30_000, 100);
    const buy = await venue.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.002' }, clientOrderId: 'restart-rt-b' });
    await venue.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_SELL', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.002' }, reduceOnly: true, clientOrderId: 'restart-rt-s' });
    expect(buy.status).toBe('ORDER_STATUS_FILLED');
    await waitFor('trade_event after restart', () => wsMessages.some((m) => m.at > restartedAt && m.type === 'trade_event'), 30_000, 100);
    expect(mm.child.exitCode).toBeNull();
    expect(live.child.exitCode).toBeNull();
  });
});
