/**
 * Acceptance 4 of issue 12, as an attack on the real apps over loopback: the market maker (dist) on
 * the sim connector (dist) with access control on, and a second trading client with its own trader
 * token. The attacker reads the market maker's client order ids the way an outsider with access to
 * the account can (GetOpenOrders / the order stream), pre-places what it believes is the next id of
 * a slot with 10× the quantity, and cancels ours, so that our re-place returns its order (PlaceOrder
 * is idempotent per client order id).
 * 1. Predicting is no longer possible: the next id carries a keyed tag; both guesses miss, the
 *    engine re-places under its own id, nothing is adopted, nothing trips.
 * 2. Even with the secret leaked (the test computes the real next id), the answer is compared with
 *    the intent: not adopted, breaker trips (foreign_order, held), alert sent, metric counted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Decimal from 'decimal.js';
import { dec } from '@mm/domain';
import { makeClientOrderId } from '@mm/grid';
import { type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { FakeSlack, MM1, MM_TOKEN, openOrders, sleep, startConnector, writeCsv } from './engine-attack-support';

jest.setTimeout(120_000);

const SECRET = 'leaked-secret-for-the-test-0001';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-preempt-'));

describe('pre-emption of the next client order id (issue 12 acceptance 4)', () => {
  const procs: AppProcess[] = [];
  const slack = new FakeSlack();
  let conn: Awaited<ReturnType<typeof startConnector>> | undefined;
  afterAll(async () => {
    conn?.attacker.close();
    await Promise.all(procs.map((p) => stopApp(p)));
    await slack.stop();
  });

  it('guesses miss; a leaked id with 10× the quantity is caught: not adopted, breaker trips, alert sent', async () => {
    await slack.start();
    const csv = path.join(dir, 'flat.csv');
    writeCsv(csv, '100000', 2000);
    conn = await startConnector(dir, csv, '30');
    procs.push(conn.proc);
    const att = conn.attacker;
    const mmPort = await freePort();
    const base = `http://127.0.0.1:${mmPort}`;
    const mm = startApp(
      'market-maker',
      {
        MM_PORT: String(mmPort),
        MM_HOST: '127.0.0.1',
        EXCHANGE_GRPC_ADDRESS: conn.address,
        CONNECTOR_TOKEN: MM_TOKEN,
        SQLITE_PATH: path.join(dir, 'mm.sqlite'),
        MM_CLIENT_ID_SECRET: SECRET,
        RECONCILE_INTERVAL_MS: '1000',
        ALERT_SLACK_WEBHOOK_URL: slack.url,
      },
      dir,
      'mm',
    );
    procs.push(mm);
    const ourBuys = async () => (await openOrders(att)).filter((o) => o.side === 'ORDER_SIDE_BUY' && MM1.test(o.clientOrderId));
    const buys = await waitFor('market maker buys', async () => {
      const b = await ourBuys();
      return b.length >= 3 && b;
    }, 60_000, 200);
    const status = async () => (await httpJson<any>(`${base}/status`)).body.components;
    const foreignMetric = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('market_maker_foreign_orders_total{')).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    };
    buys.sort((a, b) => new Decimal(b.price.value).comparedTo(a.price.value));
    const qty = new Decimal(buys[0].quantity.value);
    const big = qty.mul(10).toString();
    const plant = (clientOrderId: string, price: string) =>
      att.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', timeInForce: 'TIME_IN_FORCE_GTC', quantity: { value: big }, price: { value: price }, clientOrderId });

    // 1. Guessing. The outsider sees mm1B<ticks>g<n><tag> and tries g<n+1> without a tag and with the seen tag.
    const x = buys[0];
    const [, , ticks, gen, tag] = MM1.exec(x.clientOrderId)!;
    const guesses = [`mm1B${ticks}g${Number(gen) + 1}`, `mm1B${ticks}g${Number(gen) + 1}${tag}`];
    for (const g of guesses) expect((await plant(g, x.price.value)).clientOrderId).toBe(g);
    await att.call('CancelOrder', { symbol: 'BTCUSDT', orderId: x.orderId });
    const replaced = await waitFor('re-placed buy', async () => (await ourBuys()).find((o) => o.price.value === x.price.value && !guesses.includes(o.clientOrderId) && o.orderId !== x.orderId), 30_000, 100);
    expect(replaced.clientOrderId).toMatch(new RegExp(`^mm1B${ticks}g${Number(gen) + 1}[0-9a-z]{6}$`));
    expect(replaced.quantity.value).toBe(qty.toString());
    let c = await status();
    expect(c.risk.breaker.state).toBe('CLOSED');
    expect(c.strategy.foreignOrders).toBe(0);
    expect(await foreignMetric()).toBe(0);
    const slotX = (await httpJson<any[]>(`${base}/slots`)).body.find((s) => s.order?.clientOrderId === replaced.clientOrderId);
    expect(slotX.order.quantity).toBe(qty.toString());
    for (const g of guesses) {
      const o = (await openOrders(att)).find((p) => p.clientOrderId === g);
      await att.call('CancelOrder', { symbol: 'BTCUSDT', orderId: o.orderId });
    }

    // 2. Leaked secret: the attacker computes the real next id of another slot.
    const y = buys[1];
    const [, , yTicks, yGen] = MM1.exec(y.clientOrderId)!;
    const next = makeClientOrderId('mm1', 'BUY', dec(y.price.value), dec('0.1'), Number(yGen) + 1, SECRET);
    expect(next).toMatch(new RegExp(`^mm1B${yTicks}g${Number(yGen) + 1}`));
    const planted = await plant(next, y.price.value);
    await att.call('CancelOrder', { symbol: 'BTCUSDT', orderId: y.orderId });
    c = await waitFor('breaker trip', async () => {
      const s = await status();
      return s.risk.breaker.state === 'OPEN' && s;
    }, 30_000, 100);
    expect(c.risk.breaker.reason).toBe('foreign_order');
    expect(c.strategy.foreignOrders).toBeGreaterThanOrEqual(1);
    expect(await foreignMetric()).toBeGreaterThanOrEqual(1);
    await waitFor('foreign-order alert', () => slack.texts.some((t) => t.includes('Foreign order under our client order id') && t.includes(next)), 15_000, 100);
    // Not adopted: no slot holds the planted order, no inventory, no 10× exit, the planted order left alone.
    const slots = (await httpJson<any[]>(`${base}/slots`)).body;
    expect(slots.some((s) => s.order?.clientOrderId === next)).toBe(false);
    expect(slots.every((s) => s.positionQty === '0')).toBe(true);
    const venue = await openOrders(att);
    expect(venue.some((o) => o.side === 'ORDER_SIDE_SELL' && MM1.test(o.clientOrderId))).toBe(false);
    expect(venue.find((o) => o.clientOrderId === next)?.orderId).toBe(planted.orderId);
    // Held: still open after the cooldown would have passed, and nothing of ours is placed any more.
    await sleep(3000);
    expect((await status()).risk.breaker.state).toBe('OPEN');
    expect((await ourBuys()).filter((o) => o.clientOrderId !== next)).toHaveLength(0);
  });
});
