/**
 * Venue-native countdown cancel-all (ccxt `cancelAllOrdersAfter`) on a fake that implements it
 * (OKX `POST /api/v5/trade/cancel-all-after`, timeOut 0 or 10..120 s): a Heartbeat arms it on the
 * venue (`venue_enforced`), and when the connector dies without disarming, the venue itself cancels
 * the open orders. A heartbeat with timeout 0 disarms it on the venue too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConformanceClient } from '../conformance/client';
import { stopApp, waitFor } from '@mm/testing';
import { type CcxtConnector, startCcxtConnector } from '../support/fake-venue';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-countdown-'));

describe('okx: venue-native countdown cancel-all through Heartbeat', () => {
  let c: CcxtConnector;
  let cl: ConformanceClient;
  beforeAll(async () => {
    // the venue's countdown cancels every order on the account, so it is opt-in (DEAD_MAN_VENUE_NATIVE)
    c = await startCcxtConnector('okx', logDir, { DEAD_MAN_VENUE_NATIVE: 'true' });
    cl = new ConformanceClient(c.address);
  });
  afterAll(async () => {
    cl?.close();
    await stopApp(c?.conn);
    await c?.fake.close();
  });

  const restingBuy = (clientOrderId: string) => {
    const i = c.fake.engine.inst('BTC-USDT-SWAP');
    return { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', timeInForce: 'TIME_IN_FORCE_GTC', quantity: { value: '0.01' }, price: { value: i.price.mul('0.9').div(i.tick).floor().mul(i.tick).toFixed() }, clientOrderId };
  };

  it('a heartbeat with timeout 0 disarms the venue countdown', async () => {
    const armed = await cl.call('Heartbeat', { clientId: 'mm1', symbol: 'BTCUSDT', timeoutMs: '30000' });
    expect(armed.venueEnforced).toBe(true);
    const off = await cl.call('Heartbeat', { clientId: 'mm1', symbol: 'BTCUSDT', timeoutMs: '0' });
    expect([String(off.deadlineMs), off.venueEnforced]).toEqual(['0', false]);
    expect(c.fake.requests.filter((r) => r === 'POST /api/v5/trade/cancel-all-after')).toHaveLength(2);
  });

  it('cancels the open orders on the venue after the connector died', async () => {
    const o = await cl.call('PlaceOrder', restingBuy('countdown1'));
    expect(o.status).toBe('ORDER_STATUS_NEW');
    const hb = await cl.call('Heartbeat', { clientId: 'mm1', symbol: 'BTCUSDT', timeoutMs: '10000' });
    expect(hb.venueEnforced).toBe(true);
    const armedAt = Date.now();
    c.conn.child.kill('SIGKILL'); // no graceful cancel, no connector-side timer any more
    await new Promise((r) => setTimeout(r, 5000));
    expect(c.fake.engine.findByClientId('countdown1')!.status).toBe('new'); // not before the countdown
    await waitFor('venue countdown cancel', async () => c.fake.engine.findByClientId('countdown1')!.status === 'canceled', 15_000, 100);
    expect(Date.now() - armedAt).toBeGreaterThanOrEqual(9_500);
    expect(c.fake.engine.countdownFired).toBe(1);
  });
});
