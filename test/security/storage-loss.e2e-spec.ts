/**
 * Acceptance 5 of issue 12, on the real apps over loopback (market maker and sim connector from
 * dist/, access control on):
 * 1. The SQLite file is deleted while the market maker runs (writes would go on into an unlinked
 *    file). The storage check sees it: /health answers non-200, /status names the fault, an alert
 *    goes out, and from detection on no order is opened — not even the exit the venue lost.
 * 2. Restart on a fresh database with the venue's exits (reduce-only SELLs of the filled buys) still
 *    outstanding and the same configured client-order-id secret (the case that looped in the issue:
 *    old exit fills booked into new slots, a −0.002 slot in long mode, a reduce-only BUY re-sent
 *    200 times per 10 s): no slot goes short, at most N rejections, the breaker stops it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { FakeSlack, MM1, MM_TOKEN, openOrders, sleep, startConnector, writeCsv } from './engine-attack-support';

jest.setTimeout(240_000);

const SECRET = 'storage-loss-test-secret-01';
const MAX_REJECTIONS = 3;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-storage-'));

describe('storage loss stops trading (issue 12 acceptance 5)', () => {
  const procs: AppProcess[] = [];
  const slack = new FakeSlack();
  let conn: Awaited<ReturnType<typeof startConnector>> | undefined;
  afterAll(async () => {
    conn?.attacker.close();
    await Promise.all(procs.map((p) => stopApp(p)));
    await slack.stop();
  });

  it('a deleted SQLite file: no order opened after detection, /health fails; a fresh-database restart with exits outstanding does not loop', async () => {
    await slack.start();
    const csv = path.join(dir, 'dip.csv');
    // Flat at 100000, then a gap down to 99650: the 99900/99800/99700 buys fill, their exits rest.
    writeCsv(csv, '100000', 125, '99650', 2000); // the sim takes the first 100 as history
    // Flat at 100000, then a gap down to 99650: the 99900/99800/99700 buys fill, their exits rest.
    conn = await startConnector(dir, csv, '60');
    procs.push(conn.proc);
    const att = conn.attacker;
    const start = async (tag: string, sqlite: string) => {
      const port = await freePort();
      const p = startApp(
        'market-maker',
        {
          MM_PORT: String(port),
          MM_HOST: '127.0.0.1',
          EXCHANGE_GRPC_ADDRESS: conn!.address,
          CONNECTOR_TOKEN: MM_TOKEN,
          SQLITE_PATH: sqlite,
          MM_CLIENT_ID_SECRET: SECRET,
          MM_STORAGE_CHECK_INTERVAL_MS: '200',
          MM_MAX_CONSECUTIVE_REJECTIONS: String(MAX_REJECTIONS),
          RECONCILE_INTERVAL_MS: '1000',
          ALERT_SLACK_WEBHOOK_URL: slack.url,
        },
        dir,
        tag,
      );
      procs.push(p);
      return { p, base: `http://127.0.0.1:${port}` };
    };
    const ours = async () => (await openOrders(att)).filter((o) => MM1.test(o.clientOrderId));

    // 1. Lose the database file mid-run.
    const db = path.join(dir, 'a.sqlite');
    const mm1 = await start('mm1', db);
    const exits = await waitFor('three exits resting', async () => {
      const sells = (await ours()).filter((o) => o.side === 'ORDER_SIDE_SELL');
      return sells.length >= 3 && sells;
    }, 150_000, 250);
    expect((await fetch(`${mm1.base}/health`)).status).toBe(200);
    const seen = new Set((await ours()).map((o) => o.clientOrderId));
    for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
    const deletedAt = Date.now();
    const health = await waitFor('/health fails', async () => {
      const r = await fetch(`${mm1.base}/health`);
      return r.status !== 200 && { status: r.status, body: await r.text() };
    }, 10_000, 50);
    const detectedAfterMs = Date.now() - deletedAt;
    console.log(`storage loss detected after ${detectedAfterMs} ms; /health ${health.status}`);
    expect(health.body).toMatch(/storage lost/);
    const st = (await httpJson<any>(`${mm1.base}/status`)).body.components;
    expect(st.database.status).toBe('down');
    expect(st.database.fault).toMatch(/is gone/);
    expect(st.risk.breaker.reason).toBe('storage_fault');
    await waitFor('storage alert', () => slack.texts.some((t) => t.includes('Storage lost')), 10_000, 100);
    // Everything of ours on the venue now was there before the deletion.
    for (const o of await ours()) seen.add(o.clientOrderId);
    const before = new Set(seen);
    // Provoke a placement: an exit the engine would normally re-place at once.
    await att.call('CancelOrder', { symbol: 'BTCUSDT', orderId: exits[0].orderId });
    const opened: string[] = [];
    for (const t0 = Date.now(); Date.now() - t0 < 4000; ) {
      for (const o of await ours()) if (!before.has(o.clientOrderId)) opened.push(o.clientOrderId);
      await sleep(100);
    }
    expect(opened).toEqual([]);
    expect((await fetch(`${mm1.base}/health`)).status).not.toBe(200);
    mm1.p.child.kill('SIGKILL');
    await mm1.p.exited;

    // 2. Restart on a fresh database; the venue still has the other exits and the 0.006-ish long.
    const left = (await ours()).filter((o) => o.side === 'ORDER_SIDE_SELL');
    expect(left.length).toBeGreaterThanOrEqual(2);
    const mm2 = await start('mm2', path.join(dir, 'b.sqlite'));
    await waitFor('mm2 running', async () => (await httpJson<any>(`${mm2.base}/status`).catch(() => ({ body: {} as any }))).body.components?.strategy?.state === 'running', 30_000, 200);
    // The venue position the new database does not know is adopted into sell slots (issue 9), so the
    // books agree with the venue and no breaker trips; the old exits are not booked into the new slots.
    const adopted = await waitFor('adoption', async () => {
      const s = (await httpJson<any>(`${mm2.base}/status`)).body.components;
      return s.strategy?.adoption ? s : false;
    }, 30_000, 200);
    console.log(`fresh-database restart: adopted ${adopted.strategy.adoption.quantity} into ${adopted.strategy.adoption.slots.length} slot(s)`);
    await sleep(8000);
    const metrics = await (await fetch(`${mm2.base}/metrics`)).text();
    const rejections = metrics.split('\n').filter((l) => l.startsWith('market_maker_orders_rejected_total{')).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    console.log(`fresh-database restart: ${rejections} rejections`);
    expect(rejections).toBeLessThanOrEqual(MAX_REJECTIONS);
    const slots = (await httpJson<any[]>(`${mm2.base}/slots`)).body;
    for (const s of slots) expect(Number(s.positionQty)).toBeGreaterThanOrEqual(0);
    expect(Math.max(0, ...slots.map((s) => s.generation))).toBeLessThanOrEqual(MAX_REJECTIONS + 1);
    const intents = await httpJson<any>(`${mm2.base}/intents`).catch(() => undefined);
    if (intents && Array.isArray(intents.body)) expect(intents.body.length).toBeLessThanOrEqual(20);
    const final = (await httpJson<any>(`${mm2.base}/status`)).body.components;
    expect(final.risk.breaker.state).toBe('CLOSED');
    const venuePos = (await att.call('GetPositions', { symbol: 'BTCUSDT' })).positions[0]?.size?.value ?? '0';
    expect(Number(final.strategy.inventory).toFixed(3)).toBe(Number(venuePos).toFixed(3));
  });
});
