/**
 * Issue item 4: a fill that happens while the venue's WebSocket is gone is not missed. The fake
 * venue drops its pushes, fills our resting order, then cuts every WebSocket connection; after
 * ccxt.pro reconnects the connector backfills over REST (open orders, then fetchOrder for orders
 * no longer open) and the order stream delivers the FILLED event with its trade.
 * Binance USD-M via ccxt, fake venue.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Decimal from 'decimal.js';
import { TestExchangeClient } from '../support/exchange-client';
import { stopApp, waitFor } from '@mm/testing';
import { type CcxtConnector, startCcxtConnector } from '../support/fake-venue';

jest.setTimeout(60_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-ccxt-backfill-'));

describe('order backfill after a WebSocket gap (binance via ccxt, fake venue)', () => {
  let c: CcxtConnector;
  let client: TestExchangeClient;
  beforeAll(async () => {
    c = await startCcxtConnector('binance', logDir);
    client = new TestExchangeClient(c.address);
  });
  afterAll(async () => {
    client?.close();
    await stopApp(c?.conn);
    await c?.fake.close();
  });

  it('emits the fill that happened during the gap', async () => {
    const events: { clientOrderId: string; status: string; lastTrade?: { tradeId: string; quantity: { value: string } } }[] = [];
    const s = client.stream('SubscribeOrders', {}, (e: any) => events.push(e));
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const last = new Decimal((await client.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
      const price = last.minus(50).toDecimalPlaces(2, Decimal.ROUND_DOWN).toString();
      const placed = await client.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.010' }, price: { value: price }, clientOrderId: 'gapfill1' });
      await waitFor('NEW on the stream', () => events.some((e) => e.clientOrderId === 'gapfill1' && e.status === 'ORDER_STATUS_NEW'), 10_000);

      c.fake.pauseWs(); // pushes are lost from here on
      c.fake.engine.stop(); // hold the price still
      c.fake.engine.setPrice('BTCUSDT', price); // our buy fills on the venue
      expect(c.fake.engine.orders.get(placed.orderId)?.status).toBe('filled');
      await new Promise((r) => setTimeout(r, 500));
      expect(events.some((e) => e.clientOrderId === 'gapfill1' && e.status === 'ORDER_STATUS_FILLED')).toBe(false);

      c.fake.dropConnections(); // the venue WebSocket goes away …
      c.fake.resumeWs(); // … and comes back for the reconnect
      await waitFor('FILLED after the backfill', () => events.some((e) => e.clientOrderId === 'gapfill1' && e.status === 'ORDER_STATUS_FILLED'), 20_000);
      const filled = events.find((e) => e.clientOrderId === 'gapfill1' && e.status === 'ORDER_STATUS_FILLED')!;
      expect(filled.lastTrade?.tradeId).toMatch(/^\d+$/);
      expect(filled.lastTrade?.quantity.value).toBe('0.01');
      expect(c.fake.requests).toContain('GET /fapi/v1/openOrders');
      expect(c.conn.output()).toMatch(/orders stream interrupted/);
    } finally {
      s.cancel();
    }
  });
});
