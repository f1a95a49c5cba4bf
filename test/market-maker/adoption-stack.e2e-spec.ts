/**
 * Issue 9, acceptance 6 end to end: the connector on the sim (a crafted CSV: flat, then a rally),
 * a BTC position bought through the connector's gRPC API before the market maker exists, then the
 * market maker started on an empty SQLite file. It adopts the position as sell slots (logged, in
 * `/status` `components.strategy.adoption` and `/slots`), closes it with take-profits on the rally,
 * and no breaker trips.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';

jest.setTimeout(180_000);

const MIN = 60_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % MIN);

/** 150 flat candles at 100 000 (100 history + ~50 s of replay at SIM_SPEED 60), a rally of +100 per minute to 101 000, then flat. */
function writeCsv(dir: string): string {
  const rows = ['open_time_ms,open,high,low,close,volume_base'];
  let i = 0;
  const push = (o: number, c: number) => rows.push(`${T0 + i++ * MIN},${o},${Math.max(o, c)},${Math.min(o, c)},${c},10`);
  for (let k = 0; k < 150; k++) push(100000, 100000);
  for (let k = 0; k < 10; k++) push(100000 + 100 * k, 100000 + 100 * (k + 1));
  for (let k = 0; k < 600; k++) push(101000, 101000);
  const file = path.join(dir, 'btc-flat-rally.csv');
  fs.writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

interface Slot { level: string; positionQty: string }

describe('acceptance 6 (stack): a venue position opened before the market maker starts is adopted and closed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-adopt-'));
  const procs: AppProcess[] = [];
  let client: TestExchangeClient;
  afterAll(async () => {
    client?.close();
    await Promise.all(procs.map((p) => stopApp(p)));
  });

  it('adopts, shows it in /status and /slots, closes it by take-profits, breaker stays closed', async () => {
    const grpcPort = await freePort();
    const connector = startApp('exchange-connector', { PORT: String(grpcPort), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), SIM_DATA: writeCsv(dir), SIM_SPEED: '60' }, dir);
    procs.push(connector);
    const address = `127.0.0.1:${grpcPort}`;
    client = new TestExchangeClient(address);
    await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 30000, 200);
    const buy = await client.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.006' }, clientOrderId: 'by-hand-open' });
    expect(buy.status).toBe('ORDER_STATUS_FILLED');

    const port = await freePort();
    const sqlite = path.join(dir, 'mm.sqlite');
    expect(fs.existsSync(sqlite)).toBe(false);
    const mm = startApp('market-maker', { MM_PORT: String(port), MM_HOST: '127.0.0.1', INSTANCE_ID: 'mma', EXCHANGE_GRPC_ADDRESS: address, SQLITE_PATH: sqlite }, dir, 'mma');
    procs.push(mm);
    const base = `http://127.0.0.1:${port}`;
    await waitFor('mm ready', () => httpJson(`${base}/ready`).then((r) => r.status === 200).catch(() => false), 30000, 200);

    const status = await httpJson<{ components: { strategy: { adoption: { quantity: string; slots: { level: string; quantity: string }[] } | null; inventory: string }; risk: { breaker: { state: string } } } }>(`${base}/status`);
    const adoption = status.body.components.strategy.adoption;
    expect(adoption).not.toBeNull();
    expect(adoption!.quantity).toBe('0.006');
    expect(adoption!.slots.length).toBe(2);
    const levels = adoption!.slots.map((s) => s.level);
    const slots = (await httpJson<Slot[]>(`${base}/slots`)).body;
    for (const l of levels) expect(Number(slots.find((s) => s.level === l)?.positionQty)).toBeGreaterThan(0);
    expect(mm.output()).toMatch(/adopted venue position 0\.006 BTCUSDT/);

    // The rally fills their take-profits: the adopted slots empty out.
    await waitFor('adopted slots closed', async () => {
      const now = (await httpJson<Slot[]>(`${base}/slots`)).body;
      return levels.every((l) => now.find((s) => s.level === l)?.positionQty === '0');
    }, 120000, 500);
    const after = await httpJson<{ components: { strategy: { inventory: string }; risk: { breaker: { state: string } } } }>(`${base}/status`);
    expect(after.body.components.risk.breaker.state).toBe('CLOSED');
    const pos = await client.call('GetPositions', { symbol: 'BTCUSDT' });
    const venue = (pos.positions as { symbol: string; size?: { value: string } }[]).find((p) => p.symbol === 'BTCUSDT')?.size?.value ?? '0';
    expect(Number(venue)).toBeCloseTo(Number(after.body.components.strategy.inventory), 12);
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    expect(metrics).not.toMatch(/market_maker_circuit_breaker_trips_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/market_maker_margin_ratio\{symbol="BTCUSDT"\}/);
  });
});
