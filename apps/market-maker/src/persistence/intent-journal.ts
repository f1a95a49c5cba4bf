import Database from 'better-sqlite3';
import { Client as PgClient } from 'pg';
import type { Dec } from '@mm/domain';
import { type IntentRow, type StateChange, toSlotRow } from '@mm/trading';

/**
 * The hot write of the engine (`EngineStateStore.apply`: order intents, slot updates, fills,
 * strategy totals) without TypeORM's async transaction machinery. The schema stays owned by the
 * TypeORM migrations (apps/market-maker/src/persistence/migrations): a journal opens only after
 * they ran, writes the same tables and columns in the same encodings TypeORM uses (decimals as
 * text on SQLite / numeric on PostgreSQL, SQLite datetimes as UTC `YYYY-MM-DD HH:MM:SS.mmm`,
 * booleans 1/0 on SQLite), so TypeORM reads what a journal wrote.
 */
export interface IntentJournal {
  /** Writes one change atomically (one transaction). Throws (or rejects) when nothing was written. */
  apply(change: StateChange, symbol: string): void | Promise<void>;
  /** Opens the connection ahead of the first apply (no-op where it is opened at construction). */
  connect(): Promise<void>;
  /**
   * Resolves when every change applied so far is committed (a journal that buffers bookings writes
   * them now); readers call it before reading what the journal wrote.
   * @throws Error when the journal is broken (a write failed).
   */
  flush?(): Promise<void>;
  close(): Promise<void>;
}

/** SQLite `synchronous` setting of the journal connection (see SqliteIntentJournal). */
export type SqliteSync = 'FULL' | 'NORMAL';

/** snake_case column of each IntentRow field (order_intent). */
const INTENT_COLUMNS: Record<keyof IntentRow, string> = {
  clientOrderId: 'client_order_id',
  symbol: 'symbol',
  slotId: 'slot_id',
  side: 'side',
  price: 'price',
  quantity: 'quantity',
  reduceOnly: 'reduce_only',
  postOnly: 'post_only',
  status: 'status',
  orderId: 'order_id',
  executedQty: 'executed_qty',
  error: 'error',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
};

const SLOT_COLS = ['id', 'symbol', 'level', 'position_qty', 'position_cost', 'entry_fees', 'status', 'generation', 'client_order_id', 'post_only_rejects', 'updated_at'];
const INTENT_COLS = Object.values(INTENT_COLUMNS);
const FILL_COLS = ['trade_id', 'client_order_id', 'order_id', 'symbol', 'slot_id', 'side', 'price', 'quantity', 'fee', 'fee_asset', 'realized_pnl', 'trade_time_ms', 'created_at'];
const STRATEGY_COLS = ['symbol', 'anchor_price', 'realized_pnl', 'fees_paid', 'updated_at'];

/** TypeORM's SQLite datetime text for a Date (DateUtils.mixedDateToUtcDatetimeString): UTC, ms. */
export function sqliteDatetime(d: Date): string {
  const s = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ (years 0–9999)
  return `${s.slice(0, 10)} ${s.slice(11, 23)}`;
}

/** One patch value as TypeORM would store it on SQLite. */
function sqliteValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return sqliteDatetime(v);
  if (typeof v === 'object') return (v as Dec).toString();
  return v;
}

function upsertSql(table: string, cols: string[], key: string, ph: (i: number) => string): string {
  const set = cols.filter((c) => c !== key).map((c) => `"${c}" = excluded."${c}"`);
  return `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((_, i) => ph(i)).join(', ')}) ON CONFLICT ("${key}") DO UPDATE SET ${set.join(', ')}`;
}
function insertSql(table: string, cols: string[], ph: (i: number) => string): string {
  return `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((_, i) => ph(i)).join(', ')})`;
}

/** Columns of a patch, in a stable order, and the cache key of its UPDATE statement. */
function patchColumns(patch: Partial<IntentRow>): (keyof IntentRow)[] {
  const keys: (keyof IntentRow)[] = [];
  for (const k in patch) {
    if (k === 'updatedAt' || k === 'clientOrderId') continue;
    if (!(k in INTENT_COLUMNS)) throw new Error(`unknown intent field "${k}"`);
    if ((patch as Record<string, unknown>)[k] !== undefined) keys.push(k as keyof IntentRow);
  }
  return keys;
}

/**
 * Synchronous journal on its own better-sqlite3 connection to the app's SQLite file: prepared
 * statements, one `BEGIN IMMEDIATE … COMMIT` per change, no promise, no await, no TypeORM.
 *
 * Durability: WAL with `synchronous=NORMAL` by default. A commit has written its WAL frames to the
 * OS before `apply` returns, so a committed intent survives a process crash (kill -9, OOM kill,
 * `process.exit`) — the 50-kill crash test (test/market-maker/crash.e2e-spec.ts) proves that part.
 * It does NOT fsync per commit: on an OS crash or power loss the last commits (up to the previous
 * WAL sync at a checkpoint) can vanish, and with them the record of orders already sent; after the
 * restart the reconciler finds those orders at the venue without an intent (the dead-man's switch
 * cancels them venue-side if armed). `FULL` (`database.sqlite_synchronous: FULL`,
 * SQLITE_SYNCHRONOUS=FULL) fsyncs the WAL in every commit and closes that window, at the cost of one
 * fsync on every decision (0.3–10 ms on the bench machine's virtual disk, vs ~0.03 ms for NORMAL).
 *
 * WAL checkpoints run inside whichever commit crosses `wal_autocheckpoint`; the threshold is high
 * (as on TypeORM's connection) so they stay off the decision path, and the engine checkpoints
 * passively from its reconcile timer (`GridStore.checkpoint`).
 */
export class SqliteIntentJournal implements IntentJournal {
  private readonly db: Database.Database;
  private readonly insIntent: Database.Statement;
  private readonly insFill: Database.Statement;
  private readonly upSlot: Database.Statement;
  private readonly upStrategy: Database.Statement;
  private readonly updates = new Map<string, Database.Statement>();
  private readonly tx: (change: StateChange, symbol: string) => void;
  // reused argument arrays (the hot path allocates no per-row arrays)
  private readonly slotArgs: unknown[] = new Array(SLOT_COLS.length);
  private readonly intentArgs: unknown[] = new Array(INTENT_COLS.length);

  constructor(file: string, sync: SqliteSync = 'NORMAL') {
    this.db = new Database(file, { fileMustExist: true });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${sync === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('wal_autocheckpoint = 20000');
    // Never wait for a lock synchronously: the other writer (TypeORM's connection: the storage probe's
    // write check) may need this event loop to finish its transaction. SQLITE_BUSY → retried
    // asynchronously (see apply).
    this.db.pragma('busy_timeout = 0');
    const q = () => '?';
    this.insIntent = this.db.prepare(insertSql('order_intent', INTENT_COLS, q));
    this.insFill = this.db.prepare(insertSql('fill', FILL_COLS, q));
    this.upSlot = this.db.prepare(upsertSql('grid_slot', SLOT_COLS, 'id', q));
    this.upStrategy = this.db.prepare(upsertSql('strategy_state', STRATEGY_COLS, 'symbol', q));
    this.tx = this.db.transaction((change: StateChange, symbol: string) => this.write(change, symbol)).immediate;
  }

  /** The connection's `synchronous` level as SQLite reports it (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA). */
  synchronousLevel(): number {
    return this.db.pragma('synchronous', { simple: true }) as number;
  }

  /**
   * Synchronous when the write lock is free (always, unless another connection is writing); when
   * it is taken (SQLITE_BUSY at BEGIN IMMEDIATE: nothing written), returns a promise that retries
   * every millisecond for up to `busyRetryMs` and then rejects with the SQLITE_BUSY error.
   */
  apply(change: StateChange, symbol: string): void | Promise<void> {
    try {
      this.tx(change, symbol);
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
      return this.retryBusy(change, symbol, Date.now() + this.busyRetryMs);
    }
  }

  /** How long a change waits for another connection's write lock, ms. */
  busyRetryMs = 5000;

  private async retryBusy(change: StateChange, symbol: string, deadline: number): Promise<void> {
    for (;;) {
      await new Promise((r) => setTimeout(r, 1));
      try {
        this.tx(change, symbol);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
      }
    }
  }

  async connect(): Promise<void> {}

  private write(change: StateChange, symbol: string): void {
    const now = sqliteDatetime(new Date());
    if (change.intents) for (const i of change.intents) this.insIntent.run(this.intentRow(i));
    if (change.intentUpdates) for (const u of change.intentUpdates) this.update(u.clientOrderId, u.patch, now);
    if (change.fills)
      for (const f of change.fills)
        this.insFill.run(
          f.tradeId,
          f.clientOrderId,
          f.orderId,
          f.symbol,
          f.slotId,
          f.side,
          f.price.toString(),
          f.quantity.toString(),
          f.fee.toString(),
          f.feeAsset,
          f.realizedPnl.toString(),
          f.tradeTimeMs,
          sqliteDatetime(f.createdAt),
        );
    if (change.slots) {
      const a = this.slotArgs;
      for (const s of change.slots) {
        a[0] = `${symbol}:${s.key}`;
        a[1] = symbol;
        a[2] = s.level.toString();
        a[3] = s.positionQty.toString();
        a[4] = s.positionCost.toString();
        a[5] = s.entryFees.toString();
        a[6] = s.status;
        a[7] = s.generation;
        a[8] = s.order?.clientOrderId ?? null;
        a[9] = s.postOnlyRejects;
        a[10] = now;
        this.upSlot.run(a);
      }
    }
    const st = change.strategy;
    if (st) this.upStrategy.run(st.symbol, st.anchorPrice.toString(), st.realizedPnl.toString(), st.feesPaid.toString(), now);
  }

  private intentRow(i: IntentRow): unknown[] {
    const a = this.intentArgs;
    a[0] = i.clientOrderId;
    a[1] = i.symbol;
    a[2] = i.slotId;
    a[3] = i.side;
    a[4] = i.price.toString();
    a[5] = i.quantity.toString();
    a[6] = i.reduceOnly ? 1 : 0;
    a[7] = i.postOnly ? 1 : 0;
    a[8] = i.status;
    a[9] = i.orderId;
    a[10] = i.executedQty.toString();
    a[11] = i.error;
    a[12] = sqliteDatetime(i.createdAt);
    a[13] = sqliteDatetime(i.updatedAt);
    return a;
  }

  private update(clientOrderId: string, patch: Partial<IntentRow>, now: string): void {
    const keys = patchColumns(patch);
    const sig = keys.join(',');
    let st = this.updates.get(sig);
    if (!st) {
      const set = keys.map((k) => `"${INTENT_COLUMNS[k]}" = ?`);
      set.push('"updated_at" = ?');
      st = this.db.prepare(`UPDATE "order_intent" SET ${set.join(', ')} WHERE "client_order_id" = ?`);
      this.updates.set(sig, st);
    }
    const args: unknown[] = keys.map((k) => sqliteValue(patch[k]));
    args.push(now, clientOrderId);
    st.run(args);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * `synchronous_commit` policy of the PostgreSQL journal (config `database.pg_synchronous_commit`):
 * - `on` (default): every change commits synchronously (WAL flushed before `apply` resolves), nothing
 *   is buffered. Measured on a 2-core machine (mm-reaction bench, several runs) its decision-latency
 *   p99 is lower on the whole than `intents`' (2.7–4.2 ms vs 3.8–4.8 ms; p50 0.85 vs 0.65 ms).
 * - `intents` (opt-in): a change that records new order intents — the write that must be durable
 *   before an order leaves — commits synchronously (WAL flushed to disk before `apply` resolves);
 *   every other change (bookings of venue answers and fills, closed intents, slot and strategy
 *   updates) commits asynchronously: visible at once, flushed by the WAL writer within
 *   ≤ 3 × `wal_writer_delay` (600 ms by default) or by the next intent commit, whichever is first
 *   (WAL is flushed in order, so a durable intent implies every earlier booking is durable too). A
 *   PostgreSQL crash can drop the last bookings; they are facts the venue still has, and the restart
 *   re-reads them (the intents they closed are still open in the database, so the reconciler looks
 *   the orders up and books their trades by trade id). A market-maker crash loses nothing.
 * - `off`: every change commits asynchronously (intents included: survives a market-maker crash, not
 *   a database crash).
 */
export type PgSynchronousCommit = 'intents' | 'on' | 'off';

/**
 * Journal on a dedicated PostgreSQL connection (node-postgres client, not TypeORM's pool) with
 * named prepared statements: a whole change is ONE statement (one round trip; each table write a
 * data-modifying CTE, rows passed as arrays through `unnest`), falling back to `BEGIN`, one
 * statement per table, `COMMIT` when a change touches a row twice. Which commits wait for the WAL
 * flush: see {@link PgSynchronousCommit} (an asynchronous commit is asked for inside the statement
 * itself, `set_config('synchronous_commit', 'off', true)`, so it costs no extra round trip).
 */
export class PgIntentJournal implements IntentJournal {
  private readonly client: PgClient;
  private connected?: Promise<void>;
  private broken?: Error;
  private readonly updateNames = new Map<string, { name: string; text: string }>();
  private readonly shapes = new Map<string, { name?: string; text: string }>();

  /**
   * @param synchronousCommit which commits wait for the WAL flush (see {@link PgSynchronousCommit}):
   *   `on` (default) all; `intents` only changes with new order intents (bookings written behind); `off` none (set on this
   *   connection only — a committed intent survives a market-maker crash, not a PostgreSQL crash or
   *   power loss: the same trade as SQLite NORMAL).
   */
  constructor(
    url: string,
    private readonly synchronousCommit: PgSynchronousCommit = 'on',
    /** statement_timeout (server) and query timeout (client) of every query, ms, as on TypeORM's pool; none when unset. */
    statementTimeoutMs?: number,
  ) {
    this.client = new PgClient({
      connectionString: url,
      ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + 1000, connectionTimeoutMillis: statementTimeoutMs } : {}),
    });
    this.client.on('error', (e) => {
      this.broken = e;
    });
  }

  /** Opens the dedicated connection (called once before the first apply). */
  connect(): Promise<void> {
    this.connected ??= this.client.connect().then(async () => {
      if (this.synchronousCommit === 'off') await this.client.query('SET synchronous_commit = off');
    });
    return this.connected;
  }

  private static readonly SLOT = {
    name: 'mm_journal_slot_upsert',
    text:
      `INSERT INTO "grid_slot" (${SLOT_COLS.map((c) => `"${c}"`).join(', ')}) ` +
      `SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::varchar[], $8::integer[], $9::varchar[], $10::integer[], $11::timestamptz[]) ` +
      `ON CONFLICT ("id") DO UPDATE SET ${SLOT_COLS.filter((c) => c !== 'id')
        .map((c) => `"${c}" = excluded."${c}"`)
        .join(', ')}`,
  };
  private static readonly INTENT = {
    name: 'mm_journal_intent_insert',
    text:
      `INSERT INTO "order_intent" (${INTENT_COLS.map((c) => `"${c}"`).join(', ')}) ` +
      `SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::numeric[], $6::numeric[], $7::boolean[], $8::boolean[], $9::varchar[], $10::varchar[], $11::numeric[], $12::varchar[], $13::timestamptz[], $14::timestamptz[])`,
  };
  private static readonly FILL = {
    name: 'mm_journal_fill_insert',
    text:
      `INSERT INTO "fill" (${FILL_COLS.map((c) => `"${c}"`).join(', ')}) ` +
      `SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::numeric[], $8::numeric[], $9::numeric[], $10::varchar[], $11::numeric[], $12::bigint[], $13::timestamptz[])`,
  };
  private static readonly STRATEGY = {
    name: 'mm_journal_strategy_upsert',
    text: upsertSql('strategy_state', STRATEGY_COLS, 'symbol', (i) => `$${i + 1}`),
  };

  /**
   * Bookings to write with the next statement (policy `intents` only): a change without new order
   * intents is not sent on its own round trip while the engine waits — it is written together with
   * the next change that records intents (one statement, one commit) or, when none comes first, by a
   * flush on the next event-loop turn (setImmediate). The order request that follows an intent write
   * waits for one round trip however many fills were booked just before it.
   */
  private pending: StateChange[] = [];
  private pendingWritten?: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };
  private flushTimer?: NodeJS.Immediate;
  /** The last statement sent (resolves when it committed; never rejects). */
  private tail: Promise<void> = Promise.resolve();

  /**
   * Writes a change. A change with new order intents (and, under policy `on`/`off`, every change)
   * resolves once committed (with the bookings buffered before it, in the same statement). Under
   * policy `intents` a change without intents is buffered and `apply` returns at once (void); it is
   * committed within one event-loop turn (see `pending`). A failed statement that carried buffered
   * bookings marks the journal broken: every later `apply` and `flush` throws that error (the engine
   * stops: crash-only); a failed statement without them only rejects (nothing of it was written).
   * @throws Error the broken journal's first write error.
   */
  apply(change: StateChange, symbol: string): void | Promise<void> {
    if (this.broken) throw this.broken;
    this.lastSymbol = symbol;
    if (this.relaxed(change)) {
      this.pending.push(change);
      this.flushTimer ??= setImmediate(() => {
        this.flushTimer = undefined;
        void this.flush(symbol).catch(() => undefined);
      });
      return;
    }
    return this.send(this.withPending(change), symbol);
  }

  /**
   * Writes the buffered bookings now (if any) and resolves when everything sent so far committed.
   * @throws Error the broken journal's write error.
   */
  async flush(symbol?: string): Promise<void> {
    if (this.broken) throw this.broken;
    if (this.pending.length) {
      if (this.flushTimer) clearImmediate(this.flushTimer);
      this.flushTimer = undefined;
      await this.send(this.withPending({}), symbol ?? this.symbolOf());
    } else await this.tail;
    if (this.broken) throw this.broken;
  }

  /** Resolves when the bookings buffered so far are committed (without hurrying them); rejects if that write fails. */
  whenWritten(): Promise<void> {
    if (!this.pending.length) return this.tail;
    if (!this.pendingWritten) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => undefined);
      this.pendingWritten = { promise, resolve, reject };
    }
    return this.pendingWritten.promise;
  }

  private lastSymbol = '';
  private symbolOf(): string {
    return this.lastSymbol;
  }

  /** `change` with the buffered bookings in front of it (one change; the buffer is emptied). */
  private withPending(change: StateChange): Behind {
    if (!this.pending.length) return { change };
    const all = [...this.pending, change];
    this.pending = [];
    const written = this.pendingWritten;
    this.pendingWritten = undefined;
    return { change: mergeChanges(all), behind: true, written };
  }

  private send(w: Behind, symbol: string): Promise<void> {
    this.lastSymbol = symbol;
    const p = this.write(w.change, symbol).then(
      () => w.written?.resolve(),
      (e: Error) => {
        // bookings nobody waits for were lost with this statement: nothing later may be written
        if (w.behind) this.broken ??= e;
        w.written?.reject(e);
        throw e;
      },
    );
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async write(change: StateChange, symbol: string): Promise<void> {
    await this.connect();
    if (needsSequentialStatements(change)) return this.applyInTransaction(change, symbol);
    const now = new Date();
    const st = this.statementFor(change);
    const values: unknown[] = [];
    if (change.intents?.length) values.push(...intentArrays(change.intents));
    for (const u of change.intentUpdates ?? []) {
      for (const k of patchColumns(u.patch)) values.push(pgValue(u.patch[k]));
      values.push(now, u.clientOrderId);
    }
    if (change.fills?.length) values.push(...fillArrays(change.fills));
    if (change.slots?.length) values.push(...slotArrays(change.slots, symbol, now));
    const g = change.strategy;
    if (g) values.push(g.symbol, g.anchorPrice.toString(), g.realizedPnl.toString(), g.feesPaid.toString(), now);
    await this.client.query({ name: st.name, text: st.text, values });
  }

  /**
   * One statement for the whole change: each table write is a data-modifying CTE, so the change is
   * atomic without BEGIN/COMMIT round trips (PostgreSQL runs a single statement in its own
   * transaction). Named (server-side prepared) per shape of change: which tables, which intent
   * columns an update sets.
   */
  private statementFor(change: StateChange): { name?: string; text: string } {
    const sigs = (change.intentUpdates ?? []).map((u) => patchColumns(u.patch));
    const relaxed = this.relaxed(change);
    const key = `${change.intents?.length ? 'i' : ''}${change.fills?.length ? 'f' : ''}${change.slots?.length ? 's' : ''}${change.strategy ? 'g' : ''}${relaxed ? 'a' : ''}|${sigs.map((k) => k.join(',')).join(';')}`;
    let st = this.shapes.get(key);
    if (st) return st;
    let n = 0;
    const p = () => `$${++n}`;
    const ctes: string[] = [];
    if (change.intents?.length) ctes.push(`i AS (INSERT INTO "order_intent" (${quoted(INTENT_COLS)}) SELECT * FROM unnest(${INTENT_TYPES.map((t) => `${p()}::${t}[]`).join(', ')}))`);
    sigs.forEach((keys, u) => {
      const set = keys.map((k) => `"${INTENT_COLUMNS[k]}" = ${p()}`);
      set.push(`"updated_at" = ${p()}`);
      ctes.push(`u${u} AS (UPDATE "order_intent" SET ${set.join(', ')} WHERE "client_order_id" = ${p()})`);
    });
    if (change.fills?.length) ctes.push(`f AS (INSERT INTO "fill" (${quoted(FILL_COLS)}) SELECT * FROM unnest(${FILL_TYPES.map((t) => `${p()}::${t}[]`).join(', ')}))`);
    if (change.slots?.length)
      ctes.push(`s AS (INSERT INTO "grid_slot" (${quoted(SLOT_COLS)}) SELECT * FROM unnest(${SLOT_TYPES.map((t) => `${p()}::${t}[]`).join(', ')}) ON CONFLICT ("id") DO UPDATE SET ${excludedSet(SLOT_COLS, 'id')})`);
    if (change.strategy) ctes.push(`g AS (INSERT INTO "strategy_state" (${quoted(STRATEGY_COLS)}) VALUES (${STRATEGY_COLS.map(() => p()).join(', ')}) ON CONFLICT ("symbol") DO UPDATE SET ${excludedSet(STRATEGY_COLS, 'symbol')})`);
    // asynchronous commit of this statement's implicit transaction (SET LOCAL without a round trip)
    if (relaxed) ctes.unshift(`a AS (SELECT set_config('synchronous_commit', 'off', true) AS v)`);
    const text = ctes.length ? `WITH ${ctes.join(', ')} SELECT ${relaxed ? 'v FROM a' : '1'}` : 'SELECT 1';
    // a bounded number of server-side prepared statements; rare shapes beyond it go unnamed
    st = this.shapes.size < 256 ? { name: `mm_journal_${this.shapes.size}`, text } : { text };
    if (st.name) this.shapes.set(key, st);
    return st;
  }

  /**
   * True when this change may commit asynchronously: policy `intents` and no new order intent in it
   * (under `off` the whole connection is asynchronous already; under `on` nothing is).
   */
  private relaxed(change: StateChange): boolean {
    return this.synchronousCommit === 'intents' && !change.intents?.length;
  }

  /** BEGIN, one statement per table, COMMIT: for changes one statement cannot express (see needsSequentialStatements). */
  private async applyInTransaction(change: StateChange, symbol: string): Promise<void> {
    const c = this.client;
    const now = new Date();
    await c.query(this.relaxed(change) ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN');
    try {
      if (change.intents?.length) await c.query({ ...PgIntentJournal.INTENT, values: intentArrays(change.intents) });
      for (const u of change.intentUpdates ?? []) await this.update(u.clientOrderId, u.patch, now);
      if (change.fills?.length) await c.query({ ...PgIntentJournal.FILL, values: fillArrays(change.fills) });
      if (change.slots?.length) await c.query({ ...PgIntentJournal.SLOT, values: slotArrays(change.slots, symbol, now) });
      const st = change.strategy;
      if (st) await c.query({ ...PgIntentJournal.STRATEGY, values: [st.symbol, st.anchorPrice.toString(), st.realizedPnl.toString(), st.feesPaid.toString(), now] });
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  private async update(clientOrderId: string, patch: Partial<IntentRow>, now: Date): Promise<void> {
    const keys = patchColumns(patch);
    const sig = keys.join(',');
    let st = this.updateNames.get(sig);
    if (!st) {
      const set = keys.map((k, i) => `"${INTENT_COLUMNS[k]}" = $${i + 1}`);
      set.push(`"updated_at" = $${keys.length + 1}`);
      st = { name: `mm_journal_intent_update_${this.updateNames.size}`, text: `UPDATE "order_intent" SET ${set.join(', ')} WHERE "client_order_id" = $${keys.length + 2}` };
      this.updateNames.set(sig, st);
    }
    const values: unknown[] = keys.map((k) => pgValue(patch[k]));
    values.push(now, clientOrderId);
    await this.client.query({ ...st, values });
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    if (this.connected) await this.client.end().catch(() => undefined);
  }
}

const INTENT_TYPES = ['varchar', 'varchar', 'varchar', 'varchar', 'numeric', 'numeric', 'boolean', 'boolean', 'varchar', 'varchar', 'numeric', 'varchar', 'timestamptz', 'timestamptz'];
const FILL_TYPES = ['varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'numeric', 'numeric', 'numeric', 'varchar', 'numeric', 'bigint', 'timestamptz'];
const SLOT_TYPES = ['varchar', 'varchar', 'numeric', 'numeric', 'numeric', 'numeric', 'varchar', 'integer', 'varchar', 'integer', 'timestamptz'];
const quoted = (cols: string[]) => cols.map((c) => `"${c}"`).join(', ');
const excludedSet = (cols: string[], key: string) =>
  cols
    .filter((c) => c !== key)
    .map((c) => `"${c}" = excluded."${c}"`)
    .join(', ');

/** A statement's change and, when it carries buffered bookings, who waits for them. */
interface Behind {
  change: StateChange;
  behind?: boolean;
  written?: { resolve: () => void; reject: (e: Error) => void };
}

/**
 * Several changes as one, in order: intents, fills concatenated; updates of one intent merged (later
 * fields win); each slot once (the last reference: the engine's live slot objects, so the latest
 * state); the last strategy row. What one statement cannot express is left to
 * needsSequentialStatements.
 */
function mergeChanges(list: StateChange[]): StateChange {
  const out: StateChange = {};
  const updates = new Map<string, Partial<IntentRow>>();
  const slots = new Map<string, NonNullable<StateChange['slots']>[number]>();
  for (const c of list) {
    if (c.intents?.length) (out.intents ??= []).push(...c.intents);
    for (const u of c.intentUpdates ?? []) updates.set(u.clientOrderId, { ...updates.get(u.clientOrderId), ...u.patch });
    if (c.fills?.length) (out.fills ??= []).push(...c.fills);
    for (const sl of c.slots ?? []) {
      slots.delete(sl.key);
      slots.set(sl.key, sl);
    }
    if (c.strategy) out.strategy = c.strategy;
  }
  if (updates.size) out.intentUpdates = [...updates].map(([clientOrderId, patch]) => ({ clientOrderId, patch }));
  if (slots.size) out.slots = [...slots.values()];
  return out;
}

/**
 * Data-modifying CTEs of one statement all see the snapshot from before it, and a row must not be
 * modified twice in one statement: an update of an intent inserted in the same change, two updates
 * of one intent, or one slot twice need sequential statements.
 */
function needsSequentialStatements(change: StateChange): boolean {
  const ups = change.intentUpdates;
  if (ups?.length) {
    const seen = new Set<string>();
    for (const i of change.intents ?? []) seen.add(i.clientOrderId);
    for (const u of ups) {
      if (seen.has(u.clientOrderId)) return true;
      seen.add(u.clientOrderId);
    }
  }
  const slots = change.slots;
  if (slots && slots.length > 1) {
    const keys = new Set<string>();
    for (const s of slots) {
      if (keys.has(s.key)) return true;
      keys.add(s.key);
    }
  }
  return false;
}

function intentArrays(rows: IntentRow[]): unknown[][] {
  return INTENT_COLS.map((_, col) => rows.map((i) => pgIntentValue(i, col)));
}

function fillArrays(f: NonNullable<StateChange['fills']>): unknown[][] {
  return [
    f.map((x) => x.tradeId),
    f.map((x) => x.clientOrderId),
    f.map((x) => x.orderId),
    f.map((x) => x.symbol),
    f.map((x) => x.slotId),
    f.map((x) => x.side),
    f.map((x) => x.price.toString()),
    f.map((x) => x.quantity.toString()),
    f.map((x) => x.fee.toString()),
    f.map((x) => x.feeAsset),
    f.map((x) => x.realizedPnl.toString()),
    f.map((x) => x.tradeTimeMs),
    f.map((x) => x.createdAt),
  ];
}

function slotArrays(slots: NonNullable<StateChange['slots']>, symbol: string, now: Date): unknown[][] {
  const rows = slots.map((s) => toSlotRow(symbol, s, now));
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.symbol),
    rows.map((r) => r.level.toString()),
    rows.map((r) => r.positionQty.toString()),
    rows.map((r) => r.positionCost.toString()),
    rows.map((r) => r.entryFees.toString()),
    rows.map((r) => r.status),
    rows.map((r) => r.generation),
    rows.map((r) => r.clientOrderId),
    rows.map((r) => r.postOnlyRejects),
    rows.map((r) => r.updatedAt),
  ];
}

function pgValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object' && !(v instanceof Date)) return (v as Dec).toString();
  return v;
}

function pgIntentValue(i: IntentRow, col: number): unknown {
  switch (col) {
    case 0: return i.clientOrderId;
    case 1: return i.symbol;
    case 2: return i.slotId;
    case 3: return i.side;
    case 4: return i.price.toString();
    case 5: return i.quantity.toString();
    case 6: return i.reduceOnly;
    case 7: return i.postOnly;
    case 8: return i.status;
    case 9: return i.orderId;
    case 10: return i.executedQty.toString();
    case 11: return i.error;
    case 12: return i.createdAt;
    default: return i.updatedAt;
  }
}

/**
 * The journal for a TypeORM DataSource that is initialized (migrations ran): SQLite file →
 * SqliteIntentJournal on a second connection to the same file; PostgreSQL → PgIntentJournal on a
 * dedicated connection (opened by `connect()`, or by the first apply); an in-memory SQLite database → undefined (TypeORM path).
 */
export function openIntentJournal(
  options: { type: string; database?: unknown; url?: string },
  opts: { sqliteSynchronous?: SqliteSync; pgSynchronousCommit?: PgSynchronousCommit; statementTimeoutMs?: number } = {},
): IntentJournal | undefined {
  if (options.type === 'better-sqlite3') {
    const file = String(options.database ?? '');
    if (!file || file === ':memory:') return undefined;
    return new SqliteIntentJournal(file, opts.sqliteSynchronous);
  }
  if (options.type === 'postgres' && options.url) return new PgIntentJournal(options.url, opts.pgSynchronousCommit, opts.statementTimeoutMs);
  return undefined;
}
