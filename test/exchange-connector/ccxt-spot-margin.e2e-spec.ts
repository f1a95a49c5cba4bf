/**
 * Spot margin through ccxt (issue 10 "Venues", REQ-ARB-007: the short-spot leg of the funding
 * arbitrage), real gRPC over loopback against the Binance fake venue:
 *
 * - `SPOT_MARGIN=cross`: a SELL with no base on the account borrows it (the fake receives
 *   POST /sapi/v1/margin/order with `sideEffectType=MARGIN_BUY`); GetAccount then shows the BTCUSDT
 *   position negative by the borrowed base plus the interest owed, with `borrowed` and
 *   `borrow_interest` set; a BUY (`sideEffectType=AUTO_REPAY`) repays principal and interest; a
 *   reduce-only order only repays (never borrows).
 *   Nothing goes to the plain spot endpoints; the order stream is the margin user stream.
 * - `SPOT_MARGIN=isolated`: the same flow with `isIsolated=true` and the isolated account.
 * - Bad combinations exit non-zero naming the config key or the venue.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Decimal from 'decimal.js';
import { freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';
import { type CcxtConnector, startCcxtConnector } from '../support/fake-venue';
import type { FakeCall } from '../support/fake-venue/server';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-spot-margin-'));

const STEP = new Decimal('0.00001'); // BTCUSDT spot LOT_SIZE step (recorded exchangeInfo)

const marketOrder = (side: 'BUY' | 'SELL', qty: string, cid: string) => ({
  symbol: 'BTCUSDT',
  side: `ORDER_SIDE_${side}`,
  type: 'ORDER_TYPE_MARKET',
  timeInForce: 'TIME_IN_FORCE_GTC',
  quantity: { value: qty },
  clientOrderId: cid,
});

async function filled(client: TestExchangeClient, orderId: string): Promise<void> {
  await waitFor(`order ${orderId} filled`, async () => (await client.call('GetOrder', { symbol: 'BTCUSDT', orderId })).status === 'ORDER_STATUS_FILLED', 15_000, 100);
}

async function btcPosition(client: TestExchangeClient): Promise<{ size: string; borrowed?: string; borrowInterest?: string; marginType: string }> {
  const acct = await client.call('GetAccount', {});
  const p = acct.positions.find((x: { symbol: string }) => x.symbol === 'BTCUSDT');
  if (!p) throw new Error(`no BTCUSDT position in GetAccount: ${JSON.stringify(acct.positions)}`);
  return { size: p.size.value, borrowed: p.borrowed?.value, borrowInterest: p.borrowInterest?.value, marginType: p.marginType };
}

const orderCalls = (calls: FakeCall[], cid: string) => calls.filter((c) => c.method === 'POST' && c.params.newClientOrderId === cid);

/** Runs the borrow → interest → repay flow for one margin mode. */
function marginFlow(mode: 'cross' | 'isolated') {
  describe(`SPOT_MARGIN=${mode} (binance spot, fake venue)`, () => {
    let c: CcxtConnector | undefined;
    let client: TestExchangeClient;
    const updates: { clientOrderId: string; status: string }[] = [];

    beforeAll(async () => {
      c = await startCcxtConnector('binance', logDir, { MARKET_TYPE: 'spot', SPOT_MARGIN: mode });
      client = new TestExchangeClient(c.address);
      client.stream('SubscribeOrders', {}, (u: { clientOrderId: string; status: string }) => updates.push({ clientOrderId: u.clientOrderId, status: u.status }));
      // The connector starts the venue order stream (margin listenToken) when the first client subscribes:
      // once the fake saw it, our subscription is registered and no order event can be missed.
      await waitFor('order stream subscribed', async () => c!.fake.calls.some((x) => x.path === '/sapi/v1/userListenToken'), 15_000, 50);
    });
    afterAll(async () => {
      client?.close();
      await stopApp(c?.conn);
      await c?.fake.close();
    });

    it('SELL with auto-borrow: POST /sapi/v1/margin/order with sideEffectType=MARGIN_BUY; GetAccount shows the borrowed base and interest', async () => {
      const e = c!.fake.engine;
      expect(e.spotBalance('BTC').isZero()).toBe(true); // nothing to sell: the SELL must borrow
      const sell = await client.call('PlaceOrder', marketOrder('SELL', '0.01', `short-${mode}`));
      await filled(client, sell.orderId);

      const sent = orderCalls(c!.fake.calls, `short-${mode}`);
      expect(sent).toHaveLength(1);
      expect(sent[0].path).toBe('/sapi/v1/margin/order');
      expect(sent[0].params).toMatchObject({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '0.01', sideEffectType: 'MARGIN_BUY' });
      if (mode === 'isolated') expect(sent[0].params.isIsolated).toBe('true'); // as ccxt 4.5.84 sends it (Binance reads it case-insensitively)
      else expect(sent[0].params.isIsolated).toBeUndefined();

      // Binance charges the first hour at the borrow instant: roundUp(0.01 × hourly rate, 8).
      const rate = e.marginHourlyRate.get('BTC')!;
      const interest = new Decimal('0.01').mul(rate).toDecimalPlaces(8, Decimal.ROUND_UP);
      expect(interest.gt(0)).toBe(true);
      expect(e.borrowed('BTC').toFixed()).toBe('0.01');
      const p = await btcPosition(client);
      expect(p.borrowed).toBe('0.01');
      expect(p.borrowInterest).toBe(interest.toFixed());
      expect(p.size).toBe(new Decimal('-0.01').minus(interest).toFixed());
      expect(p.marginType).toBe(mode);

      // Another hour on the venue: the interest owed grows, the position with it.
      e.accrueInterestHour();
      const twoHours = interest.mul(2);
      const p2 = await btcPosition(client);
      expect(p2.borrowInterest).toBe(twoHours.toFixed());
      expect(p2.size).toBe(new Decimal('-0.01').minus(twoHours).toFixed());
      const viaPositions = (await client.call('GetPositions', { symbol: 'BTCUSDT' })).positions;
      expect(viaPositions.map((x: { size: { value: string } }) => x.size.value)).toEqual([p2.size]);
    });

    it('BUY with auto-repay: sideEffectType=AUTO_REPAY clears principal and interest', async () => {
      const e = c!.fake.engine;
      const debt = e.borrowed('BTC').plus(e.interest('BTC'));
      const qty = debt.div(STEP).ceil().mul(STEP); // buy back the debt, rounded up to the step
      const buy = await client.call('PlaceOrder', marketOrder('BUY', qty.toFixed(), `cover-${mode}`));
      await filled(client, buy.orderId);

      const sent = orderCalls(c!.fake.calls, `cover-${mode}`);
      expect(sent).toHaveLength(1);
      expect(sent[0].path).toBe('/sapi/v1/margin/order');
      expect(sent[0].params).toMatchObject({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: qty.toFixed(), sideEffectType: 'AUTO_REPAY' });

      const p = await btcPosition(client);
      expect(p.borrowed).toBe('0');
      expect(p.borrowInterest).toBe('0');
      expect(p.size).toBe(qty.minus(debt).toFixed()); // what the rounding left over
      expect(e.borrowed('BTC').isZero() && e.interest('BTC').isZero()).toBe(true);
    });

    it('a reduce-only SELL only repays: sideEffectType=AUTO_REPAY, no borrowing, rejected for lack of base', async () => {
      const e = c!.fake.engine;
      const free = e.spotFree('BTC');
      expect(free.lt('0.01')).toBe(true);
      const err = await client.call('PlaceOrder', { ...marketOrder('SELL', '0.01', `reduce-${mode}`), reduceOnly: true }).then(
        () => undefined,
        (x: grpc.ServiceError) => x,
      );
      expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(err?.details).toContain('insufficient balance');
      const sent = orderCalls(c!.fake.calls, `reduce-${mode}`);
      expect(sent.map((x) => [x.path, x.params.sideEffectType, x.params.reduceOnly])).toEqual([['/sapi/v1/margin/order', 'AUTO_REPAY', undefined]]);
      expect(e.borrowed('BTC').isZero()).toBe(true);
    });

    it('a resting margin order: GetOpenOrders, CancelOrder and GetOrder through the margin endpoints', async () => {
      const e = c!.fake.engine;
      const i = e.inst('BTCUSDT');
      const price = i.price.mul('0.9').div(i.tick).floor().mul(i.tick).toFixed();
      const before = c!.fake.calls.length;
      const o = await client.call('PlaceOrder', { ...marketOrder('BUY', '0.001', `rest-${mode}`), type: 'ORDER_TYPE_LIMIT', price: { value: price } });
      const open = (await client.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders;
      expect(open.map((x: { clientOrderId: string }) => x.clientOrderId)).toEqual([`rest-${mode}`]);
      await client.call('CancelOrder', { symbol: 'BTCUSDT', orderId: o.orderId }); // CancelOrderResponse is empty
      expect(e.orders.get(o.orderId)?.status).toBe('canceled');
      expect((await client.call('GetOrder', { symbol: 'BTCUSDT', clientOrderId: `rest-${mode}` })).status).toBe('ORDER_STATUS_CANCELED');
      const paths = c!.fake.calls.slice(before).map((x) => `${x.method} ${x.path}`);
      expect(paths).toEqual(expect.arrayContaining(['POST /sapi/v1/margin/order', 'GET /sapi/v1/margin/openOrders', 'DELETE /sapi/v1/margin/order', 'GET /sapi/v1/margin/order']));
      expect(paths.filter((p) => p.includes('/api/v3/order') || p.includes('/api/v3/openOrders'))).toEqual([]);
      const cancelCall = c!.fake.calls.slice(before).find((x) => x.method === 'DELETE')!;
      if (mode === 'isolated') expect(cancelCall.params.isIsolated).toBe('true');
      else expect(cancelCall.params.isIsolated).toBeUndefined();
    });

    it('went only to the margin endpoints, and the order stream is the margin user stream', async () => {
      const paths = c!.fake.calls.map((x) => `${x.method} ${x.path}`);
      expect(paths.filter((p) => p.startsWith('POST /api/v3/order') || p === 'GET /api/v3/account' || p.startsWith('GET /api/v3/openOrders') || p.startsWith('GET /api/v3/myTrades'))).toEqual([]);
      expect(paths).toContain(mode === 'cross' ? 'GET /sapi/v1/margin/account' : 'GET /sapi/v1/margin/isolated/account');
      expect(paths).toContain('POST /sapi/v1/userListenToken');
      if (mode === 'isolated') expect(c!.fake.calls.find((x) => x.path === '/sapi/v1/userListenToken')!.params).toMatchObject({ symbol: 'BTCUSDT', isIsolated: 'true' });
      await waitFor(
        'both fills on the order stream',
        async () => {
          const ok = [`short-${mode}`, `cover-${mode}`].every((cid) => updates.some((u) => u.clientOrderId === cid && u.status === 'ORDER_STATUS_FILLED'));
          if (!ok && process.env.DEBUG_MARGIN) process.stderr.write(`${JSON.stringify(updates)}\n`);
          return ok;
        },
        15_000,
        100,
      );
    });
  });
}

marginFlow('cross');
marginFlow('isolated');

describe('SPOT_MARGIN bad combinations: exit 1 naming the key or the venue', () => {
  async function startFails(env: Record<string, string>, name: string): Promise<string> {
    const conn = startApp(
      'exchange-connector',
      { PORT: String(await freePort()), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), API_KEY: 'k', API_SECRET: 's', PASSPHRASE: 'p', CCXT_URL_OVERRIDE: 'http://127.0.0.1:9', ...env },
      logDir,
      name,
    );
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([conn.exited, new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') conn.child.kill('SIGKILL');
    expect(code).toBe(1);
    return conn.output();
  }

  it('with MARKET_TYPE=swap', async () => {
    const out = await startFails({ EXCHANGE: 'binance', MARKET_TYPE: 'swap', SPOT_MARGIN: 'cross' }, 'margin-swap');
    expect(out).toContain('config error: ccxt.spotMargin: cross is only valid with marketType=spot');
    expect(out).toContain('(from env SPOT_MARGIN)');
  });

  it('with the sim', async () => {
    const out = await startFails({ EXCHANGE: 'sim', SPOT_MARGIN: 'cross' }, 'margin-sim');
    expect(out).toContain('config error: ccxt.spotMargin: cross needs a real venue through ccxt, not exchange=sim');
  });

  it('an unknown mode', async () => {
    const out = await startFails({ EXCHANGE: 'binance', MARKET_TYPE: 'spot', SPOT_MARGIN: 'portfolio' }, 'margin-bogus');
    expect(out).toContain('config error: ccxt.spotMargin:');
    expect(out).toContain('(from env SPOT_MARGIN)');
  });

  it('isolated without exactly one symbol', async () => {
    const out = await startFails({ EXCHANGE: 'binance', MARKET_TYPE: 'spot', SPOT_MARGIN: 'isolated', CCXT_SYMBOLS: 'BTCUSDT,ETHUSDT' }, 'margin-isolated-2');
    expect(out).toContain('config error: ccxt.symbols: spotMargin=isolated needs exactly one symbol (CCXT_SYMBOLS), got 2');
  });

  it.each(['okx', 'bybit', 'gate', 'bitget'])('a venue without spot margin in the mapping (%s)', async (venue) => {
    const out = await startFails({ EXCHANGE: venue, MARKET_TYPE: 'spot', SPOT_MARGIN: 'cross', CCXT_SYMBOLS: 'BTCUSDT' }, `margin-${venue}`);
    expect(out).toContain(`${venue} (spot) failed to start: spot margin not supported on ${venue}`);
  });
});
