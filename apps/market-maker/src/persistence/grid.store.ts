import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, type EntityManager, In } from 'typeorm';
import type { IntentJournal } from './intent-journal';
import { type EngineStateStore, type FillRow, type IntentRow, type LoadedState, OPEN_INTENT_STATUSES, type SlotRow, type StateChange, type StrategyRow, toSlotRow } from '@mm/trading';

export { OPEN_INTENT_STATUSES, type LoadedState, type StateChange };

/** Key of the client-order-id secret in `engine_meta`. */
const SECRET_KEY = 'client_id_secret';
const PROBE_KEY = 'storage_probe';

/**
 * Durable grid state over TypeORM (SQLite or PostgreSQL). Every change is one transaction; the
 * engine treats a failed write as fatal (crash-only: a restart recovers from here and the venue).
 * `verify` (the engine's storage timer) checks that an SQLite file is still the one opened — same
 * device and inode at its path: a deleted or replaced file keeps "working" through the open handle
 * while nothing reaches the disk (issue 12) — and that a probe write commits (PostgreSQL: within the
 * data source's statement timeout).
 *
 * With a `journal` (the app's default, see `openIntentJournal`), `apply` — the engine's hot write —
 * goes through it instead of a TypeORM transaction (synchronously on SQLite); reads stay on TypeORM
 * and flush the journal first (on PostgreSQL bookings are written behind the engine, see
 * PgIntentJournal), so a read sees every change applied before it.
 */
export class GridStore implements EngineStateStore {
  /** SQLite file path and identity at open; null for PostgreSQL and `:memory:`. */
  private readonly file: { path: string; dev: number; ino: number } | null;

  constructor(
    readonly dataSource: DataSource,
    private readonly symbol: string,
    readonly journal?: IntentJournal,
  ) {
    const db = dataSource.options.type === 'better-sqlite3' ? String(dataSource.options.database) : null;
    if (db && db !== ':memory:') {
      const p = path.resolve(db);
      const st = fs.statSync(p);
      this.file = { path: p, dev: st.dev, ino: st.ino };
    } else this.file = null;
  }

  /**
   * Set for every symbol engine but the default one: its client-order-id secret is the stored one
   * with `:<scope>` appended, so two symbols' ids never collide (the default symbol keeps the plain
   * secret, as before symbol engines existed).
   */
  secretScope?: string;

  /** The stored secret (scoped, see `secretScope`), or `create()` stored now (a concurrent first start re-reads the winner). */
  async clientIdSecret(create: () => string): Promise<string> {
    const value = await this.storedSecret(create);
    return this.secretScope ? `${value}:${this.secretScope}` : value;
  }

  private async storedSecret(create: () => string): Promise<string> {
    const m = this.dataSource.manager;
    const row = await m.findOne<{ key: string; value: string }>('engine_meta', { where: { key: SECRET_KEY } });
    if (row) return row.value;
    try {
      await m.insert('engine_meta', { key: SECRET_KEY, value: create() });
    } catch {
      // another process inserted first
    }
    return (await m.findOneOrFail<{ key: string; value: string }>('engine_meta', { where: { key: SECRET_KEY } })).value;
  }

  /**
   * @throws Error when the SQLite file at the opened path is gone or is another file, or when the
   * probe write fails.
   */
  async verify(): Promise<void> {
    if (this.file) {
      let st: fs.Stats;
      try {
        st = fs.statSync(this.file.path);
      } catch (e) {
        throw new Error(`database file ${this.file.path} is gone (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); writes would be lost`);
      }
      if (st.dev !== this.file.dev || st.ino !== this.file.ino) throw new Error(`database file ${this.file.path} was replaced (inode ${this.file.ino} → ${st.ino}); writes would be lost`);
    }
    try {
      // a journal write that failed since the last apply (PostgreSQL bookings are written behind the engine)
      await this.journal?.flush?.();
    } catch (e) {
      throw new Error(`database write failed: ${(e as Error).message}`);
    }
    try {
      await this.dataSource.manager.upsert('engine_meta', { key: PROBE_KEY, value: new Date().toISOString() }, ['key']);
    } catch (e) {
      throw new Error(`database probe write failed: ${(e as Error).message}`);
    }
  }

  async load(): Promise<LoadedState> {
    await this.journal?.flush?.();
    const m = this.dataSource.manager;
    const [strategy, slots, openIntents] = await Promise.all([
      m.findOne<StrategyRow>('strategy_state', { where: { symbol: this.symbol } }),
      m.find<SlotRow>('grid_slot', { where: { symbol: this.symbol } }),
      m.find<IntentRow>('order_intent', { where: { symbol: this.symbol, status: In(OPEN_INTENT_STATUSES) }, order: { createdAt: 'ASC' } }),
    ]);
    return { strategy, slots, openIntents };
  }

  /** Trade ids already booked for these client order ids (to seed the engine's in-memory dedupe). */
  async tradeIdsOf(clientOrderIds: string[]): Promise<{ clientOrderId: string; tradeId: string }[]> {
    if (clientOrderIds.length === 0) return [];
    await this.journal?.flush?.();
    return this.dataSource.manager.find<FillRow>('fill', { where: { clientOrderId: In(clientOrderIds) }, select: { clientOrderId: true, tradeId: true } });
  }

  async fillExists(tradeId: string): Promise<boolean> {
    await this.journal?.flush?.();
    return (await this.dataSource.manager.count('fill', { where: { tradeId } })) > 0;
  }

  async intent(clientOrderId: string): Promise<IntentRow | null> {
    await this.journal?.flush?.();
    return this.dataSource.manager.findOne<IntentRow>('order_intent', { where: { clientOrderId } });
  }

  apply(change: StateChange): void | Promise<void> {
    if (this.journal) return this.journal.apply(change, this.symbol);
    return this.applyTypeorm(change);
  }

  /** The same change as one TypeORM transaction (no journal: tests, `:memory:` databases). */
  async applyTypeorm(change: StateChange): Promise<void> {
    await this.dataSource.transaction(async (m: EntityManager) => {
      const now = new Date();
      if (change.intents?.length) await m.insert('order_intent', change.intents);
      for (const u of change.intentUpdates ?? []) {
        await m.update('order_intent', { clientOrderId: u.clientOrderId }, { ...u.patch, updatedAt: now });
      }
      if (change.fills?.length) await m.insert('fill', change.fills);
      // upsert is one INSERT … ON CONFLICT DO UPDATE; save() would SELECT every row first (≈30 % of replay CPU).
      if (change.slots?.length) await m.upsert('grid_slot', change.slots.map((s) => this.slotRow(s, now)), ['id']);
      if (change.strategy) await m.upsert('strategy_state', { ...change.strategy, updatedAt: now }, ['symbol']);
    });
  }

  /** SQLite only: moves committed WAL pages into the database file without blocking writers (PASSIVE). */
  async checkpoint(): Promise<void> {
    if (this.dataSource.options.type === 'better-sqlite3') await this.dataSource.query('PRAGMA wal_checkpoint(PASSIVE)');
  }

  slotRow(s: Parameters<typeof toSlotRow>[1], now = new Date()): SlotRow {
    return toSlotRow(this.symbol, s, now);
  }
}
