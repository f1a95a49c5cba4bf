/**
 * The intent journal (the hot write of GridStore) on real SQLite files and a real PostgreSQL
 * database: what it writes, TypeORM reads back identically to what the TypeORM path writes; a
 * failing change writes nothing; the PostgreSQL single-statement path and its sequential fallback
 * agree; PostgreSQL bookings written behind the engine (merged into the next intent write, reads
 * flush first, a failed one stops the journal). PostgreSQL: a fresh database created through DATABASE_URL_TEST (default
 * postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Client as PgClient } from 'pg';
import { DataSource } from 'typeorm';
import { Dec } from '@mm/domain';
import { newSlot } from '@mm/grid';
import type { IntentRow, StateChange } from '@mm/trading';
import { dataSourceOptions } from '../../apps/market-maker/src/persistence/data-source';
import { GridStore } from '../../apps/market-maker/src/persistence/grid.store';
import { type IntentJournal, SqliteIntentJournal, openIntentJournal } from '../../apps/market-maker/src/persistence/intent-journal';

const PG_ADMIN_URL = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function intent(id: string, over: Partial<IntentRow> = {}): IntentRow {
  const t = new Date('2026-11-28T10:00:00.123Z');
  return {
    clientOrderId: id,
    symbol: 'BTCUSDT',
    slotId: 'BTCUSDT:95000',
    side: 'BUY',
    price: new Dec('95000.10'),
    quantity: new Dec('0.00263157894736842105'),
    reduceOnly: false,
    postOnly: true,
    status: 'PENDING_NEW',
    orderId: null,
    executedQty: new Dec(0),
    error: null,
    createdAt: t,
    updatedAt: t,
    ...over,
  };
}

function slot(level: string, status: 'FREE' | 'PENDING' = 'PENDING', cid?: string) {
  const s = newSlot(new Dec(level), level);
  s.status = status as never;
  s.generation = 3;
  s.positionQty = new Dec('0.001');
  s.positionCost = new Dec('95.0001');
  s.entryFees = new Dec('0.019000020000000001');
  if (cid) s.order = { clientOrderId: cid, orderId: null, side: 'BUY', price: new Dec(level), quantity: new Dec('0.001'), executedQty: new Dec(0), status: 'PENDING_NEW' as never, reduceOnly: false };
  return s;
}

/** A sequence of changes shaped like the engine's: place, answer, fill, strategy. */
function changes(prefix: string): StateChange[] {
  const a = `${prefix}-a`;
  const b = `${prefix}-b`;
  return [
    { intents: [intent(a), intent(b, { side: 'SELL', reduceOnly: true, price: new Dec('95100') })], slots: [slot('95000', 'PENDING', a), slot('95100', 'PENDING', b)] },
    { intentUpdates: [{ clientOrderId: a, patch: { status: 'NEW', orderId: 'v-1' } }], slots: [slot('95000', 'PENDING', a)] },
    {
      intentUpdates: [{ clientOrderId: a, patch: { status: 'FILLED', executedQty: new Dec('0.00263157894736842105') } }, { clientOrderId: b, patch: { status: 'REJECTED', error: 'post-only would take' } }],
      fills: [
        {
          tradeId: `${prefix}-t1`,
          clientOrderId: a,
          orderId: 'v-1',
          symbol: 'BTCUSDT',
          slotId: 'BTCUSDT:95000',
          side: 'BUY',
          price: new Dec('95000.10'),
          quantity: new Dec('0.00263157894736842105'),
          fee: new Dec('0.0499999'),
          feeAsset: 'USDT',
          realizedPnl: new Dec(0),
          tradeTimeMs: '1764324000123',
          createdAt: new Date('2026-11-28T10:00:01.001Z'),
        },
      ],
      slots: [slot('95000', 'FREE'), slot('95100', 'FREE')],
      strategy: { symbol: 'BTCUSDT', anchorPrice: new Dec('95050.5'), realizedPnl: new Dec('-0.0499999'), feesPaid: new Dec('0.0499999'), updatedAt: new Date() },
    },
    // an insert and an update of the same intent in one change (PostgreSQL: sequential fallback)
    { intents: [intent(`${prefix}-c`)], intentUpdates: [{ clientOrderId: `${prefix}-c`, patch: { status: 'NOT_PLACED', error: 'venue down' } }] },
  ];
}

/** Everything the engine can read back, with volatile updatedAt stamps dropped. */
async function snapshot(store: GridStore, ids: string[]) {
  const loaded = await store.load();
  const strip = <T extends object>(r: T): T => ({ ...r, updatedAt: undefined });
  const intents = await Promise.all(ids.map(async (id) => strip((await store.intent(id))!)));
  const fills = await store.dataSource.manager.find('fill', { order: { tradeId: 'ASC' } });
  return {
    strategy: loaded.strategy && strip(loaded.strategy),
    slots: loaded.slots.map(strip).sort((x, y) => x.id.localeCompare(y.id)),
    open: loaded.openIntents.map((i) => i.clientOrderId),
    intents: intents.map((i) => JSON.parse(JSON.stringify(i))),
    fills: JSON.parse(JSON.stringify(fills)),
  };
}

async function exercise(ds: DataSource, journal: IntentJournal) {
  const viaTypeorm = new GridStore(ds, 'BTCUSDT');
  const viaJournal = new GridStore(ds, 'BTCUSDT', journal);
  for (const t of ['order_intent', 'fill', 'grid_slot', 'strategy_state']) await ds.query(`DELETE FROM ${t}`);
  for (const c of changes('x')) await viaTypeorm.apply(c);
  const expected = await snapshot(viaTypeorm, ['x-a', 'x-b', 'x-c']);
  await ds.query('DELETE FROM order_intent');
  await ds.query('DELETE FROM fill');
  await ds.query('DELETE FROM grid_slot');
  await ds.query('DELETE FROM strategy_state');
  for (const c of changes('x')) await viaJournal.apply(c);
  const got = await snapshot(viaTypeorm, ['x-a', 'x-b', 'x-c']);
  expect(got.intents.map((i: IntentRow) => i.status)).toEqual(['FILLED', 'REJECTED', 'NOT_PLACED']);
  expect(got.fills).toHaveLength(1);
  expect(got.strategy?.anchorPrice.toString()).toBe('95050.5');
  expect(got).toEqual(expected);

  // a failing change (duplicate intent in the middle) writes nothing, not even its first part
  const before = await snapshot(viaTypeorm, ['x-a', 'x-b', 'x-c']);
  let failed: unknown;
  try {
    await viaJournal.apply({ intents: [intent('y-1'), intent('x-a')], slots: [slot('96000', 'PENDING', 'y-1')] });
  } catch (e) {
    failed = e;
  }
  // (not toBeInstanceOf(Error): the native driver's error class may come from another jest realm)
  expect(String((failed as Error | undefined)?.message)).toMatch(/UNIQUE|duplicate/i);
  expect(await viaTypeorm.intent('y-1')).toBeNull();
  expect(await snapshot(viaTypeorm, ['x-a', 'x-b', 'x-c'])).toEqual(before);
  // and the journal still works afterwards
  await viaJournal.apply({ intents: [intent('y-2')], slots: [slot('96000', 'PENDING', 'y-2')] });
  expect((await viaTypeorm.intent('y-2'))?.status).toBe('PENDING_NEW');
}

describe('intent journal on SQLite', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-journal-'));
  let ds: DataSource;
  let journal: SqliteIntentJournal;
  beforeAll(async () => {
    ds = new DataSource(dataSourceOptions({ sqlitePath: path.join(dir, 'mm.sqlite') }));
    await ds.initialize();
    journal = openIntentJournal(ds.options as { type: string }) as SqliteIntentJournal;
  });
  afterAll(async () => {
    await journal?.close();
    await ds?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is synchronous, NORMAL by default, FULL on request', () => {
    expect(journal).toBeInstanceOf(SqliteIntentJournal);
    expect(journal.synchronousLevel()).toBe(1);
    const full = new SqliteIntentJournal(path.join(dir, 'mm.sqlite'), 'FULL');
    expect(full.synchronousLevel()).toBe(2);
    void full.close();
    expect(journal.apply({ intents: [intent('sync-1')] }, 'BTCUSDT')).toBeUndefined();
  });

  it('writes what the TypeORM path writes, atomically', async () => {
    await exercise(ds, journal);
  });

  it('waits asynchronously (never blocking the event loop) while another connection holds the write lock', async () => {
    const other = new Database(path.join(dir, 'mm.sqlite'));
    other.exec('BEGIN IMMEDIATE');
    other.exec('PRAGMA user_version = 7');
    const t0 = Date.now();
    const r = journal.apply({ intents: [intent('busy-1')] }, 'BTCUSDT');
    expect(Date.now() - t0).toBeLessThan(50); // did not wait synchronously
    expect(r).toBeInstanceOf(Promise);
    setTimeout(() => other.exec('COMMIT'), 30);
    await r;
    expect((await new GridStore(ds, 'BTCUSDT').intent('busy-1'))?.status).toBe('PENDING_NEW');
    // a lock held past the retry window: rejected, nothing written
    other.exec('BEGIN IMMEDIATE');
    journal.busyRetryMs = 50;
    await expect(journal.apply({ intents: [intent('busy-2')] }, 'BTCUSDT')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    other.exec('ROLLBACK');
    journal.busyRetryMs = 5000;
    expect(await new GridStore(ds, 'BTCUSDT').intent('busy-2')).toBeNull();
    other.close();
  });

  it('has no journal for an in-memory database (TypeORM path)', () => {
    expect(openIntentJournal({ type: 'better-sqlite3', database: ':memory:' })).toBeUndefined();
  });
});

describe('intent journal on PostgreSQL', () => {
  const name = `opensqt_journal_${process.pid}_${Date.now()}`;
  let ds: DataSource;
  let journal: IntentJournal;
  beforeAll(async () => {
    const admin = new PgClient({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${name}`;
    ds = new DataSource(dataSourceOptions({ databaseUrl: u.toString(), sqlitePath: 'unused' }));
    await ds.initialize();
    // the write-behind policy (opt-in): the default `on` is checked below
    journal = openIntentJournal(ds.options as { type: string; url: string }, { pgSynchronousCommit: 'intents' })!;
    await journal.connect();
  });
  afterAll(async () => {
    await journal?.close();
    await ds?.destroy();
    const admin = new PgClient({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('writes what the TypeORM path writes, atomically (one statement, or BEGIN…COMMIT when a row is touched twice)', async () => {
    await exercise(ds, journal);
  });

  it('writes bookings behind the engine: apply returns at once, the next intent write carries them, reads flush first', async () => {
    const store = new GridStore(ds, 'BTCUSDT', journal);
    const plain = new GridStore(ds, 'BTCUSDT');
    await store.apply({ intents: [intent('wb-a')], slots: [slot('97000', 'PENDING', 'wb-a')] });
    // a booking (no new intent) is buffered: no promise to wait for
    expect(journal.apply({ intentUpdates: [{ clientOrderId: 'wb-a', patch: { status: 'NEW', orderId: 'v-9' } }] }, 'BTCUSDT')).toBeUndefined();
    // a read through the journal's store flushes first
    expect((await store.intent('wb-a'))?.status).toBe('NEW');
    // a buffered booking followed by an intent write: awaiting the intent write commits both
    expect(journal.apply({ intentUpdates: [{ clientOrderId: 'wb-a', patch: { status: 'FILLED', executedQty: new Dec('0.00263157894736842105') } }] }, 'BTCUSDT')).toBeUndefined();
    await journal.apply({ intents: [intent('wb-b')], slots: [slot('97100', 'PENDING', 'wb-b')] }, 'BTCUSDT');
    expect((await plain.intent('wb-a'))?.status).toBe('FILLED');
    expect((await plain.intent('wb-b'))?.status).toBe('PENDING_NEW');
    // and with nothing after it, a booking is written on the next event-loop turn
    expect(journal.apply({ intentUpdates: [{ clientOrderId: 'wb-b', patch: { status: 'REJECTED', error: 'test' } }] }, 'BTCUSDT')).toBeUndefined();
    await (journal as unknown as { whenWritten(): Promise<void> }).whenWritten();
    expect((await plain.intent('wb-b'))?.status).toBe('REJECTED');
  });

  it('by default (synchronous_commit on) nothing is written behind: every apply is a commit to wait for', async () => {
    const j = openIntentJournal(ds.options as { type: string; url: string })!;
    await j.connect();
    try {
      await j.apply({ intents: [intent('on-a')], slots: [slot('96000', 'PENDING', 'on-a')] }, 'BTCUSDT');
      const booking = j.apply({ intentUpdates: [{ clientOrderId: 'on-a', patch: { status: 'NEW', orderId: 'v-on' } }] }, 'BTCUSDT');
      expect(booking).toBeInstanceOf(Promise);
      await booking;
      // committed when it resolved: another connection sees it without any flush
      expect((await new GridStore(ds, 'BTCUSDT').intent('on-a'))?.status).toBe('NEW');
      const { rows } = await (j as unknown as { client: PgClient }).client.query('SHOW synchronous_commit');
      expect(rows[0].synchronous_commit).toBe('on');
    } finally {
      await j.close();
    }
  });

  it('a failed write-behind stops the journal: later applies and flushes throw its error', async () => {
    const j = openIntentJournal(ds.options as { type: string; url: string }, { pgSynchronousCommit: 'intents' })!;
    await j.connect();
    try {
      const fill = changes('wbf')[2].fills![0];
      await j.apply({ intents: [intent('wbf-a')], fills: [fill] }, 'BTCUSDT');
      // the same trade id again (primary key): fails when written behind the caller
      expect(j.apply({ fills: [fill] }, 'BTCUSDT')).toBeUndefined();
      await expect(j.flush!()).rejects.toThrow(/duplicate/i);
      expect(() => j.apply({ intents: [intent('wbf-b')] }, 'BTCUSDT')).toThrow(/duplicate/i);
      expect(await new GridStore(ds, 'BTCUSDT').intent('wbf-b')).toBeNull();
    } finally {
      await j.close();
    }
  });
});
