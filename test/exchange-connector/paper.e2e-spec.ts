/**
 * Paper venue (`EXCHANGE=paper PAPER_SOURCE=binance`) against the local Binance fake's PUBLIC data
 * only (no API key is configured or sent): our orders rest in the paper account and fill only when
 * a public trade prints through their price, partially up to the traded quantity; post-only is
 * rejected against the live book; fees are the venue's maker rate; the account survives a restart
 * through SIM_STATE_FILE.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Decimal from 'decimal.js';
import { ConformanceClient, grpcFailure } from '../conformance/client';
import { type AppProcess, freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { DIALECTS, type FakeVenue, startFakeVenue } from '../support/fake-venue';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-paper-'));

describe('paper venue on binance public data (fake venue)', () => {
  let fake: FakeVenue;
  let conn: AppProcess | undefined;
  let cl: ConformanceClient;
  const stateFile = path.join(logDir, 'paper-state.json');
  const D = (w: { value?: string } | undefined) => new Decimal(w?.value || '0');

  async function startPaper(): Promise<void> {
    const port = await freePort();
    const metricsPort = await freePort();
    conn = startApp(
      'exchange-connector',
      { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), EXCHANGE: 'paper', PAPER_SOURCE: 'binance', CCXT_URL_OVERRIDE: fake.url, CCXT_SYMBOLS: 'BTCUSDT', SIM_BALANCE: '10000', SIM_STATE_FILE: stateFile, CCXT_FUNDING_POLL_MS: '1000' },
      logDir,
      'connector-paper',
    );
    await waitFor('paper connector health', async () => {
      if (conn!.child.exitCode !== null) throw new Error(`connector exited: ${conn!.output().slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${metricsPort}/health`).catch(() => undefined))?.status === 200;
    }, 30_000, 200);
    cl?.close();
    cl = new ConformanceClient(`127.0.0.1:${port}`);
    // The public trade stream is subscribed once the fake has a socket asking for it.
    await waitFor('public trade subscription', () => fake.subscriptions().includes('btcusdt@trade'), 15_000, 100);
  }

  beforeAll(async () => {
    fake = await startFakeVenue(DIALECTS.binance!(), { apiKey: 'never-used' });
    fake.engine.stop(); // no random walk: prices move only by the trades the test prints
    fake.engine.setPrice('BTCUSDT', '30000');
    await startPaper();
  });
  afterAll(async () => {
    cl?.close();
    await stopApp(conn);
    await fake?.close();
  });

  const buy = (clientOrderId: string, price: string, qty: string, extra: object = {}) => ({ symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', timeInForce: 'TIME_IN_FORCE_GTC', quantity: { value: qty }, price: { value: price }, clientOrderId, ...extra });

  it('sends no API key and no private request to the venue', () => {
    expect(fake.requests.some((r) => /listenKey|balance|account|order|userTrades|positionRisk/.test(r))).toBe(false);
  });

  it('rests a limit; a trade at or above its price does not fill it, a trade through it fills up to the traded quantity', async () => {
    const o = await cl.call('PlaceOrder', buy('p1', '29900', '0.010'));
    expect(o.status).toBe('ORDER_STATUS_NEW');
    fake.engine.printTrade('BTCUSDT', '29950', '5');
    fake.engine.printTrade('BTCUSDT', '29900', '5'); // at the price: we are behind the queue
    await new Promise((r) => setTimeout(r, 700));
    expect((await cl.call('GetOrder', { symbol: 'BTCUSDT', orderId: o.orderId })).status).toBe('ORDER_STATUS_NEW');
    fake.engine.printTrade('BTCUSDT', '29899.9', '0.004', 'sell'); // through: fills 0.004
    await waitFor('partial fill', async () => (await cl.call('GetOrder', { symbol: 'BTCUSDT', orderId: o.orderId })).status === 'ORDER_STATUS_PARTIALLY_FILLED', 5000, 100);
    let got = await cl.call('GetOrder', { symbol: 'BTCUSDT', orderId: o.orderId });
    expect(D(got.executedQty).toString()).toBe('0.004');
    fake.engine.printTrade('BTCUSDT', '29899', '1', 'sell');
    await waitFor('full fill', async () => (await cl.call('GetOrder', { symbol: 'BTCUSDT', orderId: o.orderId })).status === 'ORDER_STATUS_FILLED', 5000, 100);
    got = await cl.call('GetOrder', { symbol: 'BTCUSDT', orderId: o.orderId });
    expect(D(got.executedQty).toString()).toBe('0.01');
    expect(D(got.avgPrice).toString()).toBe('29900'); // maker at our limit, not at the trade price
    const pos = (await cl.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0];
    expect([D(pos.size).toString(), D(pos.entryPrice).toString()]).toEqual(['0.01', '29900']);
    // Maker fee from the venue's schedule (ccxt binanceusdm: 0.0002): 29900 × 0.01 × 0.0002 = 0.0598
    const wallet = D((await cl.call('GetAccount')).totalWalletBalance);
    expect(wallet.toString()).toBe('9999.9402');
  });

  it('rejects post-only against the live book and cancels by id and client order id', async () => {
    fake.engine.printTrade('BTCUSDT', '30000', '1'); // book becomes 29999.9 / 30000.1
    await new Promise((r) => setTimeout(r, 500));
    const e = await grpcFailure(cl.call('PlaceOrder', buy('p2', '30000.1', '0.001', { timeInForce: 'TIME_IN_FORCE_GTX' })));
    expect(grpc.status[e.code]).toBe('INVALID_ARGUMENT');
    expect(e.details).toContain('post_only');
    const ok = await cl.call('PlaceOrder', buy('p3', '29000', '0.001', { timeInForce: 'TIME_IN_FORCE_GTX' }));
    expect(ok.status).toBe('ORDER_STATUS_NEW');
    await cl.call('CancelOrder', { symbol: 'BTCUSDT', clientOrderId: 'p3' });
    expect((await cl.call('GetOrder', { symbol: 'BTCUSDT', clientOrderId: 'p3' })).status).toBe('ORDER_STATUS_CANCELED');
    await cl.call('PlaceOrder', buy('p4', '28000', '0.002'));
  });

  it('keeps the paper account, position and resting orders across a restart', async () => {
    const before = await cl.call('GetAccount');
    await stopApp(conn);
    const saved = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    expect(saved.kind).toBe('paper');
    await startPaper();
    const after = await cl.call('GetAccount');
    expect(D(after.totalWalletBalance).toString()).toBe(D(before.totalWalletBalance).toString());
    const pos = (await cl.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0];
    expect(D(pos.size).toString()).toBe('0.01');
    const open = (await cl.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders.map((o: { clientOrderId: string }) => o.clientOrderId);
    expect(open).toEqual(['p4']);
    // The restored resting order still fills on a trade through it.
    fake.engine.printTrade('BTCUSDT', '27999', '1', 'sell');
    await waitFor('restored order fills', async () => (await cl.call('GetOrder', { symbol: 'BTCUSDT', clientOrderId: 'p4' })).status === 'ORDER_STATUS_FILLED', 5000, 100);
    expect(D((await cl.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0].size).toString()).toBe('0.012');
  });
});

describe('market maker trading on the paper venue (binance public data, fake venue)', () => {
  let fake: FakeVenue;
  const procs: AppProcess[] = [];
  let cl: ConformanceClient | undefined;
  afterAll(async () => {
    cl?.close();
    for (const p of procs) await stopApp(p);
    await fake?.close();
  });

  it('places its grid on paper; only trades through a level fill it; the fill reaches the market maker', async () => {
    fake = await startFakeVenue(DIALECTS.binance!(), { apiKey: 'never-used' });
    fake.engine.stop();
    fake.engine.setPrice('BTCUSDT', '30000');
    const port = await freePort();
    const conn = startApp(
      'exchange-connector',
      { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), EXCHANGE: 'paper', PAPER_SOURCE: 'binance', CCXT_URL_OVERRIDE: fake.url, CCXT_SYMBOLS: 'BTCUSDT', SIM_STATE_FILE: path.join(logDir, 'mm-paper.json') },
      logDir,
      'connector-paper-mm',
    );
    procs.push(conn);
    cl = new ConformanceClient(`127.0.0.1:${port}`);
    await waitFor('paper connector', () => cl!.call('GetName').then((r) => r.name === 'paper-binance').catch(() => false), 30_000, 200);
    await waitFor('public trade subscription', () => fake.subscriptions().includes('btcusdt@trade'), 15_000, 100);
    fake.engine.printTrade('BTCUSDT', '30000', '0.5');
    const mmPort = await freePort();
    const mm = startApp(
      'market-maker',
      { MM_PORT: String(mmPort), MM_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${port}`, SQLITE_PATH: path.join(logDir, 'mm.sqlite'), GRID_PRICE_INTERVAL: '100', GRID_ORDER_NOTIONAL: '300', GRID_BUY_WINDOW: '3', GRID_SELL_WINDOW: '3', RECONCILE_INTERVAL_MS: '1000' },
      logDir,
      'mm-paper',
    );
    procs.push(mm);
    const open = async () => (await cl!.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders as { side: string; price: { value: string }; orderId: string; clientOrderId: string }[];
    await waitFor('grid buys on paper', async () => (await open()).filter((o) => o.side === 'ORDER_SIDE_BUY').length >= 3, 45_000, 300);
    const buys = (await open()).filter((o) => o.side === 'ORDER_SIDE_BUY').sort((a, b) => new Decimal(b.price.value).cmp(a.price.value));
    const top = buys[0];
    const topPrice = new Decimal(top.price.value);
    // A trade exactly at the level does not fill it.
    fake.engine.printTrade('BTCUSDT', topPrice.toFixed(), '10', 'sell');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await cl.call('GetOrder', { symbol: 'BTCUSDT', orderId: top.orderId })).status).toBe('ORDER_STATUS_NEW');
    expect(D((await cl.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0].size).isZero()).toBe(true);
    // One tick through it fills that level only.
    fake.engine.printTrade('BTCUSDT', topPrice.minus('0.1').toFixed(), '10', 'sell');
    await waitFor('top buy filled', async () => (await cl!.call('GetOrder', { symbol: 'BTCUSDT', orderId: top.orderId })).status === 'ORDER_STATUS_FILLED', 10_000, 200);
    expect((await cl.call('GetOrder', { symbol: 'BTCUSDT', orderId: buys[1].orderId })).status).toBe('ORDER_STATUS_NEW');
    // The market maker saw the fill and trades on: a sell appears above the filled level (grid take-profit).
    // (The grid plans on price ticks: keep the tape printing at the level, which fills nothing.)
    await waitFor(
      'sell above the filled buy',
      async () => {
        fake.engine.printTrade('BTCUSDT', topPrice.toFixed(), '0.01');
        return (await open()).some((o) => o.side === 'ORDER_SIDE_SELL' && new Decimal(o.price.value).gt(topPrice));
      },
      20_000,
      300,
    );
    const sell = (await open()).find((o) => o.side === 'ORDER_SIDE_SELL')!;
    expect(new Decimal(sell.price.value).toString()).toBe(topPrice.plus(100).toString());
    expect(D((await cl.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0].size).gt(0)).toBe(true);
    expect(mm.output()).not.toMatch(/"level":50/); // no error logged by the market maker
  });

  const D = (w: { value?: string } | undefined) => new Decimal(w?.value || '0');
});
