import request from 'supertest';
import { dec } from '@mm/domain';
import type { LiveCandle, LiveMessage } from '../../apps/live-server/src/messages';
import {
  LiveClient,
  type LiveHarness,
  MIN,
  SYMBOL,
  T0,
  account,
  candle,
  fill,
  order,
  position,
  startHarness,
  waitFor,
} from './helpers';

/** Live server booted in-process against a real gRPC fake connector, with real `ws` clients. */
describe('live-server (e2e)', () => {
  let h: LiveHarness;
  const clients: LiveClient[] = [];
  const connect = async (): Promise<LiveClient> => {
    const c = new LiveClient(h.wsUrl);
    clients.push(c);
    await c.opened;
    return c;
  };

  beforeAll(async () => {
    h = await startHarness({ ws: { max_buffered_bytes: 256 * 1024 } });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.close();
  });

  it('subscribes once per stream with the configured symbol and bearer token', () => {
    expect(h.fake.calls).toMatchObject({
      SubscribeKlines: 1,
      SubscribeOrders: 1,
      SubscribeAccount: 1,
      SubscribePositions: 1,
      GetHistoricalKlines: 1,
      GetOpenOrders: 1,
      GetAccount: 1,
    });
    expect(h.fake.subscribeRequests.map((s) => [s.rpc, s.request])).toEqual(
      expect.arrayContaining([
        ['SubscribeKlines', { symbols: [SYMBOL], interval: '1m' }],
        ['SubscribeOrders', {}],
        ['SubscribeAccount', {}],
        ['SubscribePositions', { symbol: SYMBOL }],
      ]),
    );
    expect(h.fake.lastAuthorization).toBe('Bearer s3cret');
  });

  it('sends history, account, orders, position on connect, in that order and exact format', async () => {
    const c = await connect();
    await c.count(4);
    expect(c.messages.map((m) => m.type)).toEqual(['history', 'account', 'orders', 'position']);

    const history = c.messages[0].data as LiveCandle[];
    expect(history).toHaveLength(100);
    const times = history.map((x) => x.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(times).size).toBe(100);
    // last 100 of 120 scripted candles: index 20 … 119, times in SECONDS
    expect(history[0]).toEqual({ time: (T0 + 20 * MIN) / 1000, open: '64048.5', high: '64052.25', low: '64047', close: '64050', volume: '12.345' });
    expect(history[99]).toEqual({ time: (T0 + 119 * MIN) / 1000, open: '64296', high: '64299.75', low: '64294.5', close: '64297.5', volume: '12.345' });

    expect(c.messages[1]).toEqual({
      type: 'account',
      data: { asset: 'USDT', free: '11345.67', balance: '12345.67', marginBalance: '12358.17', symbol: SYMBOL, realizedPnL: '0', fees: '0' },
    });
    expect(c.messages[2]).toEqual({
      type: 'orders',
      data: [
        { id: '9007199254740993', clientOrderId: 'grid-9007199254740993', price: '63900', side: 'BUY', status: 'NEW', type: 'LIMIT', symbol: SYMBOL, quantity: '0.01', executedQty: '0' },
        { id: '1002', clientOrderId: 'grid-1002', price: '64400', side: 'SELL', status: 'NEW', type: 'LIMIT', symbol: SYMBOL, quantity: '0.01', executedQty: '0' },
      ],
    });
    expect(c.messages[3]).toEqual({
      type: 'position',
      data: { symbol: SYMBOL, amount: '0.03', entryPrice: '63950', unrealizedPnL: '1.815', realizedPnL: '0', markPrice: '64010.5', liquidationPrice: '51000', leverage: 5 },
    });
  });

  it('serves /health with client count and connector state', async () => {
    const before = h.gateway.clientCount;
    const res = await request(h.httpUrl).get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok', clients: before, time: expect.any(Number), connector: 'connected' });
    expect(Math.abs(res.body.time - Date.now() / 1000)).toBeLessThan(5);
  });

  it('broadcasts kline, orders, trade_event, account and position to every client', async () => {
    const a = await connect();
    const b = await connect();
    await a.count(4);
    await b.count(4);
    const from = a.messages.length;
    const fromB = b.messages.length;

    // update of the last bar (same open time), then a new bar
    h.fake.pushCandle(candle(119, '64301.25'));
    h.fake.pushCandle(candle(120, '64302.00', { closed: false, volume: dec('0.5') }));
    // an older bar must not reach the chart (the page would throw "Cannot update oldest data")
    h.fake.pushCandle(candle(50, '1.00'));
    await waitFor(() => a.of('kline').length >= 2 && b.of('kline').length >= 2);
    expect(a.of('kline')).toEqual([
      { time: (T0 + 119 * MIN) / 1000, open: '64299.75', high: '64303.5', low: '64298.25', close: '64301.25', volume: '12.345' },
      { time: (T0 + 120 * MIN) / 1000, open: '64300.5', high: '64304.25', low: '64299', close: '64302', volume: '0.5' },
    ]);
    expect(b.of('kline')).toEqual(a.of('kline'));

    // a new order, an order of another symbol (ignored), then a fill of the resting buy
    const buy = order('9007199254740993', 'BUY', '63900.00');
    h.fake.pushOrderUpdate({ order: order('1003', 'BUY', '63850.50') });
    h.fake.pushOrderUpdate({ order: order('2002', 'BUY', '3000', 'NEW', { symbol: 'ETHUSDT' }) });
    const filled = order(buy.orderId, 'BUY', '63900.00', 'FILLED');
    const fillTime = T0 + 121 * MIN + 12_345;
    h.fake.pushOrderUpdate({ order: filled, lastTrade: fill(filled, 't-1', fillTime, '2.5', '0.0123') });
    const trade = await a.next('trade_event', from);
    await b.next('trade_event', fromB);
    expect(a.of('orders').slice(-2)).toEqual([
      { id: '1003', clientOrderId: 'grid-1003', price: '63850.5', side: 'BUY', status: 'NEW', type: 'LIMIT', symbol: SYMBOL, quantity: '0.01', executedQty: '0' },
      { id: '9007199254740993', clientOrderId: 'grid-9007199254740993', price: '63900', side: 'BUY', status: 'FILLED', type: 'LIMIT', symbol: SYMBOL, quantity: '0.01', executedQty: '0.01' },
    ]);
    expect(trade).toEqual({
      side: 'buy',
      price: '63900',
      amount: '0.01',
      symbol: SYMBOL,
      time: Math.floor(fillTime / 1000),
      orderId: '9007199254740993',
      tradeId: 't-1',
      fee: '0.0123',
      feeAsset: 'USDT',
      realizedPnL: '2.5',
    });
    // the fill updated the running totals → account rebroadcast
    const acc = await a.next('account', from);
    expect(acc).toMatchObject({ balance: '12345.67', realizedPnL: '2.5', fees: '0.0123' });

    // a duplicate delivery of the same fill: order update only, no second trade_event / PnL
    h.fake.pushOrderUpdate({ order: filled, lastTrade: fill(filled, 't-1', fillTime, '2.5', '0.0123') });
    // a sell fill
    const sell = order('1002', 'SELL', '64400.00', 'FILLED');
    h.fake.pushOrderUpdate({ order: sell, lastTrade: fill(sell, 't-2', fillTime + 1000, '-0.5') });
    await waitFor(() => a.of('trade_event').length === 2);
    expect(a.of('trade_event')[1]).toMatchObject({ side: 'sell', price: '64400', amount: '0.01', time: Math.floor(fillTime / 1000) + 1 });

    const fromAcc = a.messages.length;
    h.fake.pushAccount(account('12400.01'));
    expect(await a.next('account', fromAcc)).toEqual({
      asset: 'USDT', free: '11400.01', balance: '12400.01', marginBalance: '12412.51', symbol: SYMBOL, realizedPnL: '2', fees: '0.0243',
    });
    h.fake.pushPosition(position('-0.010', '64400', '-0.25'));
    h.fake.pushPosition({ ...position('1', '1', '1'), symbol: 'ETHUSDT' }); // other symbol: ignored
    const pos = await a.next('position', fromAcc);
    expect(pos).toEqual({ symbol: SYMBOL, amount: '-0.01', entryPrice: '64400', unrealizedPnL: '-0.25', realizedPnL: '2', markPrice: '64010.5', liquidationPrice: '51000', leverage: 5 });
    await b.next('position', fromB);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.of('position')).toHaveLength(2); // snapshot + one update
    expect(a.of('trade_event')).toHaveLength(2);
    // a and b saw exactly the same stream
    expect(b.messages).toEqual(a.messages.slice(a.messages.length - b.messages.length));

    // a late client gets the updated state as its snapshot
    const late = await connect();
    await late.count(4);
    expect(late.messages.map((m) => m.type)).toEqual(['history', 'account', 'orders', 'position']);
    const hist = late.messages[0].data as LiveCandle[];
    expect(hist).toHaveLength(100);
    expect(hist[99]).toMatchObject({ time: (T0 + 120 * MIN) / 1000, close: '64302' });
    expect((late.messages[2].data as Array<{ id: string }>).map((o) => o.id)).toEqual(['1003']);
    expect(late.messages[1].data).toMatchObject({ realizedPnL: '2', fees: '0.0243' });
  });

  it('ignores garbage from a client and drops flooders without affecting others', async () => {
    const garbage = await connect();
    const flooder = await connect();
    const other = await connect();
    await Promise.all([garbage.count(4), flooder.count(4), other.count(4)]);

    garbage.ws.send('this is not json');
    garbage.ws.send(Buffer.from([0xff, 0x00, 0x13]));
    garbage.ws.send(JSON.stringify({ event: 'PlaceOrder', data: { side: 'BUY' } }));
    garbage.ws.send('null');
    for (let i = 0; i < 200; i++) flooder.ws.send(`{"spam":${i}}`);
    await waitFor(() => flooder.closeCode !== undefined, 5000, 'flooder dropped');
    expect(flooder.closeCode).toBe(1008);

    const oversized = await connect();
    await oversized.count(4);
    oversized.ws.send('x'.repeat(10_000));
    await waitFor(() => oversized.closeCode !== undefined, 5000, 'oversized frame rejected');
    expect(oversized.closeCode).toBe(1009);

    const g0 = garbage.messages.length;
    const o0 = other.messages.length;
    h.fake.pushCandle(candle(121, '64310'));
    expect(await garbage.next('kline', g0)).toMatchObject({ time: (T0 + 121 * MIN) / 1000, close: '64310' });
    expect(await other.next('kline', o0)).toMatchObject({ close: '64310' });
    expect(garbage.closeCode).toBeUndefined();
    expect(h.fake.orderRpcCalls).toBe(0);
  });

  it('terminates a stalled client only, others keep receiving', async () => {
    for (const c of clients.splice(0)) c.close();
    await waitFor(() => h.gateway.clientCount === 0, 5000, 'clients gone');
    const healthy = await connect();
    const stalled = await connect();
    await Promise.all([healthy.count(4), stalled.count(4)]);
    expect(h.gateway.clientCount).toBe(2);
    stalled.ws.pause(); // stop reading: the server's send buffer for it fills up

    const big: LiveMessage = {
      type: 'history',
      data: Array.from({ length: 400 }, (_, i) => ({ time: 1_700_000_000 + i * 60, open: '1', high: '2', low: '0.5', close: '1.5', volume: '100' })),
    };
    const perMessage = JSON.stringify(big).length;
    let sent = 0;
    const start = healthy.messages.length;
    // keep broadcasting until the server gives up on the stalled socket (kernel buffers absorb a few MB first)
    while (h.gateway.clientCount === 2 && sent < 2000) {
      for (let i = 0; i < 10; i++) h.gateway.broadcast(big);
      sent += 10;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(h.gateway.clientCount).toBe(1);
    expect(sent * perMessage).toBeGreaterThan(h.config.ws.max_buffered_bytes);
    await healthy.count(start + sent, 20_000);

    const from = healthy.messages.length;
    h.fake.pushCandle(candle(122, '64320'));
    expect(await healthy.next('kline', from)).toMatchObject({ close: '64320' });
    const res = await request(h.httpUrl).get('/health').expect(200);
    expect(res.body.clients).toBe(1);
  });

  it('resubscribes and broadcasts again after a connector restart', async () => {
    const c = await connect();
    await c.count(4);
    const subs = h.fake.calls.SubscribeKlines;

    await h.fake.stop();
    await waitFor(() => !h.feed.connected, 5000, 'feed disconnected');
    expect(await c.next('connector', 0)).toEqual({ state: 'disconnected' });
    const down = await request(h.httpUrl).get('/health').expect(503);
    expect(down.body).toMatchObject({ status: 'degraded', connector: 'disconnected' });

    // state changed while the connector was down
    h.fake.openOrders = [order('3001', 'SELL', '64500')];
    h.fake.candles.push(candle(123, '64330'));
    const from = c.messages.length;
    await h.fake.start();
    await waitFor(() => h.feed.connected, 15_000, 'feed reconnected');
    expect(h.fake.calls.SubscribeKlines).toBe(subs + 1);
    expect(h.fake.openStreams('SubscribeOrders')).toBe(1);
    expect(await c.next('connector', from)).toEqual({ state: 'connected' });
    // snapshots reloaded and re-broadcast
    const hist = await c.next('history', from);
    expect(hist[hist.length - 1]).toMatchObject({ time: (T0 + 123 * MIN) / 1000, close: '64330' });
    await waitFor(() => c.messages.slice(from).some((m) => m.type === 'orders' && Array.isArray(m.data)));
    const snap = c.messages.slice(from).find((m) => m.type === 'orders' && Array.isArray(m.data));
    expect((snap?.data as Array<{ id: string }>).map((o) => o.id)).toEqual(['3001']);

    const from2 = c.messages.length;
    h.fake.pushCandle(candle(124, '64340'));
    expect(await c.next('kline', from2)).toMatchObject({ time: (T0 + 124 * MIN) / 1000, close: '64340' });
    await request(h.httpUrl).get('/health').expect(200);
  });

  it('serves the page and the local chart library', async () => {
    const page = await request(h.httpUrl).get('/').expect(200).expect('Content-Type', /text\/html/);
    expect(page.text).toContain('/vendor/lightweight-charts.js');
    expect(page.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    const lib = await request(h.httpUrl).get('/vendor/lightweight-charts.js').expect(200).expect('Content-Type', /javascript/);
    expect(lib.text).toContain('Lightweight Charts');
    expect(lib.text).toContain('v4.1.3');
    await request(h.httpUrl).get('/app.js').expect(200).expect('Content-Type', /javascript/);
  });

  it('never calls an order-placing RPC', () => {
    expect(h.fake.orderRpcCalls).toBe(0);
    for (const rpc of ['PlaceOrder', 'BatchPlaceOrders', 'CancelOrder', 'BatchCancelOrders', 'CancelAllOrders']) {
      expect(h.fake.calls[rpc]).toBeUndefined();
    }
  });
});

describe('live-server heartbeat (e2e)', () => {
  let h: LiveHarness;
  beforeAll(async () => {
    h = await startHarness({ ws: { ping_interval_ms: 150 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('terminates a client that misses a pong, keeps the ones that answer', async () => {
    const alive = new LiveClient(h.wsUrl);
    const dead = new LiveClient(h.wsUrl, false);
    await Promise.all([alive.opened, dead.opened]);
    await waitFor(() => dead.closeCode !== undefined, 3000, 'dead client terminated');
    expect(dead.closeCode).toBe(1006); // terminated, no close frame
    await new Promise((r) => setTimeout(r, 500)); // several more ping rounds
    expect(alive.closeCode).toBeUndefined();
    expect(h.gateway.clientCount).toBe(1);
    alive.close();
  });
});
