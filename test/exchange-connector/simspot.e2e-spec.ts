/**
 * The sim's spot market over real gRPC (issue 10 "Venues"): the built connector with
 * `SIM_MARKET=spot` replays the real Binance spot BTCUSDT 1m file, serves spot rules and spot
 * orders, borrows the base for a short SELL (`SIM_SPOT_AUTO_BORROW`), and answers GetFundingRate as
 * a spot market: rate 0, next funding time 0, the receipt (market) time, predicted rate unset
 * (REQ-FUND-003/004). A second connector derives the spot path from the perp file (basis model).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Decimal from 'decimal.js';
import { type AppProcess, ROOT, freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-simspot-'));
const MARKET = path.resolve(ROOT, '../shared/data/market');
const SPOT = path.join(MARKET, 'binance-spot-BTCUSDT-1m-20250520-20250624.csv');
const PERP = path.join(MARKET, 'binance-usdm-BTCUSDT-1m-20250504-20250624.csv');

async function start(env: Record<string, string>): Promise<{ conn: AppProcess; client: TestExchangeClient }> {
  const port = await freePort();
  const conn = startApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), SIM_LOCKSTEP: 'false', ...env }, logDir);
  const client = new TestExchangeClient(`127.0.0.1:${port}`);
  await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 60_000, 200);
  return { conn, client };
}

describe('sim spot market over gRPC (SIM_MARKET=spot)', () => {
  let conn: AppProcess;
  let client: TestExchangeClient;
  beforeAll(async () => {
    ({ conn, client } = await start({
      SIM_MARKET: 'spot',
      SIM_SPOT_DATA: `BTCUSDT=${SPOT}`,
      SIM_SPOT_INTEREST: 'BTC=0.000004166667',
      SIM_SPOT_AUTO_BORROW: 'true',
      SIM_BALANCE: '100000',
      SIM_SPEED: '600',
    }));
  });
  afterAll(async () => {
    client?.close();
    await stopApp(conn);
  });

  it('is a spot venue with Binance spot rules; GetFundingRate answers rate 0, next funding 0, the receipt time, no predicted rate', async () => {
    expect((await client.call('GetType')).type).toBe('EXCHANGE_TYPE_SPOT');
    const info = await client.call('GetSymbolInfo', { symbol: 'BTCUSDT' });
    expect([info.tickSize.value, info.stepSize.value, info.minNotional.value]).toEqual(['0.01', '0.00001', '5']);
    const first = Number(fs.readFileSync(SPOT, 'utf8').slice(0, 200).split('\n')[1].split(',')[0]);
    const f1 = await client.call('GetFundingRate', { symbol: 'BTCUSDT' });
    expect(f1.rate.value).toBe('0');
    expect(String(f1.nextFundingTime)).toBe('0');
    expect(f1.predictedRate ?? undefined).toBeUndefined();
    expect(Number(f1.timestamp)).toBeGreaterThanOrEqual(first);
    // the timestamp is the receipt time: it moves with market time
    await new Promise((r) => setTimeout(r, 300));
    const f2 = await client.call('GetFundingRate', { symbol: 'BTCUSDT' });
    expect(Number(f2.timestamp)).toBeGreaterThan(Number(f1.timestamp));
    expect((await client.call('GetHistoricalFundingRates', { symbol: 'BTCUSDT', limit: 10 })).rates ?? []).toEqual([]);
  });

  it('a short SELL borrows the base and fills at the spot price; quote credited net of the taker fee', async () => {
    const sell = await client.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_SELL', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.01' }, clientOrderId: 'spot-short-1' });
    expect(sell.status).toBe('ORDER_STATUS_FILLED');
    const px = new Decimal(sell.avgPrice.value);
    expect(px.gt(50_000) && px.lt(200_000)).toBe(true);
    const usdt = new Decimal((await client.call('GetBalance', { asset: 'USDT' })).balance.value);
    const fee = px.mul('0.01').mul('0.001').toDecimalPlaces(8, Decimal.ROUND_HALF_UP);
    expect(usdt.eq(new Decimal('100000').add(px.mul('0.01')).sub(fee))).toBe(true);
    // the margin position over gRPC (GetPositions and GetAccount): net size = −(borrowed + interest owed), in BTC
    for (const positions of [(await client.call('GetPositions', { symbol: 'BTCUSDT' })).positions, (await client.call('GetAccount')).positions]) {
      const p = positions.find((x: { symbol: string }) => x.symbol === 'BTCUSDT');
      const borrowed = new Decimal(p.borrowed.value);
      const interest = new Decimal(p.borrowInterest.value);
      expect(borrowed.toString()).toBe('0.01');
      expect(interest.gte(0)).toBe(true);
      expect(new Decimal(p.size.value).toString()).toBe(borrowed.add(interest).neg().toString());
    }
    // a post-only BUY 5 % above the last price would take: rejected with the reason
    await expect(
      client.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.01' }, price: { value: px.mul('1.05').toFixed(2) }, postOnly: true, clientOrderId: 'spot-po-1' }),
    ).rejects.toThrow(/post-only/);
  });
});

describe('sim spot market derived from the perp file (no SIM_SPOT_DATA)', () => {
  let conn: AppProcess;
  let client: TestExchangeClient;
  beforeAll(async () => {
    ({ conn, client } = await start({ SIM_MARKET: 'spot', SIM_DATA: `BTCUSDT=${PERP}`, SIM_MAX_CANDLES: '500', SIM_SPOT_BASIS: '-0.001', SIM_SPEED: '60' }));
  });
  afterAll(async () => {
    client?.close();
    await stopApp(conn);
  });

  it('prices are perp ÷ (1 + basis) on the 0.01 tick, within the perp file’s range', async () => {
    const perp = fs.readFileSync(PERP, 'utf8').slice(0, 60_000).split('\n').slice(1, 400).filter(Boolean).map((l) => l.split(','));
    const lows = perp.map((r) => new Decimal(r[3]).div('0.999'));
    const highs = perp.map((r) => new Decimal(r[2]).div('0.999'));
    const p = new Decimal((await client.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
    expect(p.mod('0.01').isZero()).toBe(true);
    expect(p.gte(Decimal.min(...lows).toDecimalPlaces(2, Decimal.ROUND_DOWN)) && p.lte(Decimal.max(...highs).toDecimalPlaces(2, Decimal.ROUND_UP))).toBe(true);
    expect((await client.call('GetFundingRate', { symbol: 'BTCUSDT' })).rate.value).toBe('0');
  });
});
