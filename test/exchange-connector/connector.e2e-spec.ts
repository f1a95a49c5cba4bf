/**
 * The exchange connector as a separate process on the sim venue, driven over real gRPC on loopback.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import Decimal from 'decimal.js';
import { type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';

jest.setTimeout(60_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-connector-'));

function healthClient(address: string) {
  const def = protoLoader.loadSync(healthProtoPath, { enums: String });
  const pkg = grpc.loadPackageDefinition(def) as any;
  return new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

async function expectGrpcError(p: Promise<unknown>, code: grpc.status, field?: string): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    expect(grpc.status[err.code]).toBe(grpc.status[code]);
    if (field) {
      expect(err.details.startsWith(`${field}:`)).toBe(true);
      expect(err.metadata.get('x-error-field')[0]).toBe(field);
    }
    return err;
  }
  throw new Error('expected a gRPC error');
}

describe('exchange connector over gRPC (sim venue)', () => {
  let conn: AppProcess;
  let client: TestExchangeClient;
  let address: string;
  let metricsPort: number;

  beforeAll(async () => {
    const port = await freePort();
    metricsPort = await freePort();
    address = `127.0.0.1:${port}`;
    conn = startApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), SIM_SPEED: '60', SIM_SEED: '7' }, logDir);
    client = new TestExchangeClient(address);
    await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 30000, 200);
  });
  afterAll(async () => {
    client?.close();
    await stopApp(conn);
  });

  it('answers every unary RPC of the contract', async () => {
    expect((await client.call('GetType')).type).toBe('EXCHANGE_TYPE_FUTURES');
    const info = await client.call('GetSymbolInfo', { symbol: 'BTCUSDT' });
    expect([info.tickSize.value, info.stepSize.value, info.minNotional.value]).toEqual(['0.1', '0.001', '100']);
    expect((await client.call('GetSymbols')).symbols).toEqual(['BTCUSDT']);
    await client.call('FetchExchangeInfo', { symbol: 'BTCUSDT' });
    const price = new Decimal((await client.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
    expect(price.gt(0)).toBe(true);
    const account = await client.call('GetAccount');
    expect(account.totalWalletBalance.value).toBe('10000');
    expect((await client.call('GetBalance', { asset: 'USDT' })).balance.value).toBe('10000');
    expect((await client.call('GetPositions', { symbol: 'BTCUSDT' })).positions.length).toBeLessThanOrEqual(1);
    const klines = (await client.call('GetHistoricalKlines', { symbol: 'BTCUSDT', interval: '1m', limit: 50 })).candles;
    expect(klines.length).toBe(50);
    expect(Number(klines[1].timestamp) - Number(klines[0].timestamp)).toBe(60000);
    expect((await client.call('GetTickers')).tickers[0].symbol).toBe('BTCUSDT');
    await client.call('GetOpenInterest', { symbol: 'BTCUSDT' });
    expect((await client.call('GetFundingRate', { symbol: 'BTCUSDT' })).symbol).toBe('BTCUSDT');
    expect((await client.call('GetFundingRates')).rates.length).toBe(1);
    await client.call('GetHistoricalFundingRates', { symbol: 'BTCUSDT', limit: 10 });

    // Order round trip: place below the market, look it up both ways, cancel.
    const limit = price.mul('0.9').toDecimalPlaces(1, Decimal.ROUND_DOWN).toString();
    const placed = await client.call('PlaceOrder', {
      symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', timeInForce: 'TIME_IN_FORCE_GTC',
      quantity: { value: '0.002' }, price: { value: limit }, postOnly: true, clientOrderId: 'e2eB1',
    });
    expect(placed.status).toBe('ORDER_STATUS_NEW');
    expect(placed.price.value).toBe(limit);
    const again = await client.call('PlaceOrder', {
      symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.002' }, price: { value: limit }, clientOrderId: 'e2eB1',
    });
    expect(again.orderId).toBe(placed.orderId); // idempotent client order id
    expect((await client.call('GetOrder', { symbol: 'BTCUSDT', clientOrderId: 'e2eB1' })).orderId).toBe(placed.orderId);
    expect((await client.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.map((o: any) => o.orderId)).toContain(placed.orderId);
    await client.call('CancelOrder', { symbol: 'BTCUSDT', orderId: placed.orderId });
    expect((await client.call('GetOrder', { symbol: 'BTCUSDT', orderId: placed.orderId })).status).toBe('ORDER_STATUS_CANCELED');

    const batch = await client.call('BatchPlaceOrders', {
      orders: [
        { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.002' }, price: { value: limit } },
        { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.0015' }, price: { value: limit } },
      ],
    });
    expect(batch.orders.length).toBe(1);
    expect(batch.allSuccess).toBe(false);
    expect(batch.errors[0].index).toBe(1);
    expect(batch.errors[0].code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(batch.errors[0].errorMessage).toMatch(/^quantity:/);
    const bc = await client.call('BatchCancelOrders', { symbol: 'BTCUSDT', orderIds: [batch.orders[0].orderId, '999999999'] });
    expect(bc.errors.map((e: any) => e.index)).toEqual([1]);
    await client.call('CancelAllOrders', { symbol: 'BTCUSDT' });
    expect((await client.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.length).toBe(0);
  });

  it('rejects bad input with INVALID_ARGUMENT naming the field', async () => {
    const base = { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.002' }, price: { value: '50000' } };
    await expectGrpcError(client.call('PlaceOrder', { ...base, price: { value: '50000.05' } }), grpc.status.INVALID_ARGUMENT, 'price');
    await expectGrpcError(client.call('PlaceOrder', { ...base, price: { value: 'abc' } }), grpc.status.INVALID_ARGUMENT, 'price');
    await expectGrpcError(client.call('PlaceOrder', { ...base, quantity: { value: '0.0025' } }), grpc.status.INVALID_ARGUMENT, 'quantity');
    await expectGrpcError(client.call('PlaceOrder', { ...base, quantity: { value: '-1' } }), grpc.status.INVALID_ARGUMENT, 'quantity');
    await expectGrpcError(client.call('PlaceOrder', { ...base, symbol: 'NOPEUSDT' }), grpc.status.INVALID_ARGUMENT, 'symbol');
    await expectGrpcError(client.call('PlaceOrder', { ...base, side: 'ORDER_SIDE_UNSPECIFIED' }), grpc.status.INVALID_ARGUMENT, 'side');
    await expectGrpcError(client.call('PlaceOrder', { ...base, clientOrderId: 'has spaces!' }), grpc.status.INVALID_ARGUMENT, 'client_order_id');
    const price = new Decimal((await client.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
    // Below min notional (100 USDT) at a price inside the connector's ±20 % band (a far price is refused as `price` first).
    const low = price.mul('0.9').toDecimalPlaces(1).toString();
    await expectGrpcError(client.call('PlaceOrder', { ...base, quantity: { value: '0.001' }, price: { value: low } }), grpc.status.INVALID_ARGUMENT, 'quantity');
    const crossing = price.mul('1.05').toDecimalPlaces(1).toString();
    const e = await expectGrpcError(client.call('PlaceOrder', { ...base, price: { value: crossing }, postOnly: true }), grpc.status.INVALID_ARGUMENT, 'post_only');
    expect(e.metadata.get('x-error-reason')[0]).toBe('POST_ONLY_WOULD_TAKE');
    await expectGrpcError(client.call('GetOrder', { symbol: 'BTCUSDT', orderId: '424242' }), grpc.status.NOT_FOUND);
    await expectGrpcError(client.call('GetOrder', { symbol: 'BTCUSDT' }), grpc.status.INVALID_ARGUMENT, 'order_id');
    await expectGrpcError(client.call('CancelOrder', { symbol: 'BTCUSDT', orderId: 'x1' }), grpc.status.INVALID_ARGUMENT, 'order_id');
    await expectGrpcError(client.call('GetHistoricalKlines', { symbol: 'BTCUSDT', interval: '1m', limit: 5000 }), grpc.status.INVALID_ARGUMENT, 'limit');
    await expectGrpcError(client.call('BatchPlaceOrders', { orders: [] }), grpc.status.INVALID_ARGUMENT, 'orders');
    // Still healthy afterwards.
    expect((await client.call('GetName')).name).toBe('sim');
  });

  it('fans one price stream out to two subscribers, identical and in order, and releases the topic', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const sa = client.stream('SubscribePrice', { symbols: ['BTCUSDT'] }, (p: any) => a.push(`${p.timestamp.seconds}.${p.timestamp.nanos}:${p.price.value}`));
    await waitFor('first subscriber data', () => a.length > 0, 10000, 20);
    const sb = client.stream('SubscribePrice', { symbols: ['BTCUSDT'] }, (p: any) => b.push(`${p.timestamp.seconds}.${p.timestamp.nanos}:${p.price.value}`));
    await waitFor('second subscriber data', () => b.length >= 20, 10000, 20);
    const start = a.indexOf(b[0]);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(a.slice(start, start + 20)).toEqual(b.slice(0, 20));
    let metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/exchange_stream_subscribers\{stream="price"\} 2/);
    sa.cancel();
    sb.cancel();
    await waitFor('topic closed', async () => {
      metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /exchange_stream_subscribers\{stream="price"\} 0/.test(metrics) && /exchange_stream_connected\{[^}]*stream="price"[^}]*\} 0/.test(metrics);
    }, 5000, 100);
    await expectGrpcError(
      new Promise((resolve, reject) => {
        const s = client.raw.SubscribePrice({ symbols: [] }, client.metadata());
        s.on('error', reject);
        s.on('end', resolve);
      }),
      grpc.status.INVALID_ARGUMENT,
      'symbols',
    );
  });

  it('serves grpc.health.v1 and HTTP /health', async () => {
    const h = healthClient(address);
    for (const service of ['', 'opensqt.market_maker.v1.ExchangeService']) {
      const res = await new Promise<any>((resolve, reject) => h.Check({ service }, (e: Error | null, r: any) => (e ? reject(e) : resolve(r))));
      expect(res.status).toBe('SERVING');
    }
    h.close();
    const http = await httpJson<any>(`http://127.0.0.1:${metricsPort}/health`);
    expect(http.status).toBe(200);
    expect(http.body.status).toBe('SERVING');
  });
});

describe('startup errors name what is wrong', () => {
  it('connector: a bad setting names its key and exits non-zero', async () => {
    const p = startApp('exchange-connector', { PORT: String(await freePort()), SIM_SPEED: '-5' }, logDir, 'bad-connector');
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/config error: sim\.speed: .*greater than 0.*\(from env SIM_SPEED\)/);
  });

  it('market maker: a bad grid setting names its key and exits non-zero', async () => {
    const p = startApp('market-maker', { MM_PORT: String(await freePort()), GRID_PRICE_INTERVAL: 'ten' }, logDir, 'bad-mm');
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/config error: grid\.price_interval: must be a decimal number/);
  });

  it('market maker: fails fast with a clear message when the connector is unreachable', async () => {
    const p = startApp('market-maker', {
      MM_PORT: String(await freePort()),
      EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${await freePort()}`,
      CONNECT_ATTEMPTS: '2',
      SQLITE_PATH: path.join(logDir, 'unreachable.sqlite'),
    }, logDir, 'mm-unreachable');
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/cannot reach exchange connector at 127\.0\.0\.1:\d+ after 2 attempts/);
  });
});
