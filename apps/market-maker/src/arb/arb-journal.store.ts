import type { DataSource } from 'typeorm';
import type { ArbJournal, fundingArb } from '@mm/trading';

type JournalEntry = fundingArb.JournalEntry;
import type { ArbJournalRow } from '../persistence/entities';

/**
 * The funding-arbitrage journal (`ArbJournal` port of libs/trading) on the market maker's database
 * (`arb_journal`, SQLite or PostgreSQL through TypeORM). `append` resolves once the row is
 * committed (one INSERT, its own transaction), so the strategy journals each step before it sends
 * the order: a kill -9 right after `append` resolved keeps the entry (SQLite WAL, PostgreSQL commit).
 * `entries()` reads every row back in `seq` (append) order.
 */
export class TypeOrmArbJournal implements ArbJournal {
  constructor(private readonly ds: DataSource) {}

  /** @throws the database error (the strategy then halts opening). */
  async append(entry: JournalEntry): Promise<void> {
    await this.ds.manager.insert<ArbJournalRow>('arb_journal', { workflowId: entry.id, kind: entry.t, entry: JSON.stringify(entry), createdAt: new Date() });
  }

  /** @throws Error naming the row for an entry that is not valid JSON. */
  async entries(): Promise<JournalEntry[]> {
    const rows = await this.ds.manager.find<ArbJournalRow>('arb_journal', { order: { seq: 'ASC' } });
    return rows.map((r) => {
      try {
        return JSON.parse(r.entry) as JournalEntry;
      } catch (e) {
        throw new Error(`arb_journal seq ${r.seq}: entry is not valid JSON (${(e as Error).message})`);
      }
    });
  }
}
