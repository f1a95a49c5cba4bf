import type { DataSource } from 'typeorm';
import type { ActiveSymbolRow } from '../persistence/entities';
import type { SymbolEntry } from '../mm.config';

/** A symbol's durable entry: status, grid overrides (snake_case `grid` keys), who added it. */
export interface SymbolRecord {
  symbol: string;
  status: ActiveSymbolRow['status'];
  grid: Omit<SymbolEntry, 'symbol'>;
  source: ActiveSymbolRow['source'];
}

/**
 * The orchestrator's durable list of symbol engines (`active_symbol`, SQLite or PostgreSQL through
 * TypeORM). Rule at startup (`seed`): a configured symbol the table does not know is added as active;
 * a symbol the table knows keeps its stored status and grid (an operator's pause, removal or added
 * symbol survives restarts; the operator API changes it, not the config file).
 */
export class SymbolTable {
  constructor(private readonly ds: DataSource) {}

  /** Every row, by symbol. */
  async list(): Promise<SymbolRecord[]> {
    const rows = await this.ds.manager.find<ActiveSymbolRow>('active_symbol', { order: { symbol: 'ASC' } });
    return rows.map((r) => ({ symbol: r.symbol, status: r.status, grid: JSON.parse(r.grid) as SymbolRecord['grid'], source: r.source }));
  }

  /** Inserts or replaces one row. */
  async put(rec: SymbolRecord): Promise<void> {
    await this.ds.manager.upsert<ActiveSymbolRow>('active_symbol', { symbol: rec.symbol, status: rec.status, grid: JSON.stringify(rec.grid), source: rec.source, updatedAt: new Date() }, ['symbol']);
  }

  /** Sets the status of a known symbol. */
  async setStatus(symbol: string, status: ActiveSymbolRow['status']): Promise<void> {
    await this.ds.manager.update<ActiveSymbolRow>('active_symbol', { symbol }, { status, updatedAt: new Date() });
  }

  /**
   * Adds the configured symbols the table does not know (active) and returns the table's view: the
   * records to run (active or paused), in the configured order first, then the operator's.
   */
  async seed(configured: SymbolRecord[]): Promise<SymbolRecord[]> {
    const known = new Map((await this.list()).map((r) => [r.symbol, r]));
    for (const c of configured) {
      if (!known.has(c.symbol)) {
        await this.put(c);
        known.set(c.symbol, c);
      }
    }
    const order = [...configured.map((c) => c.symbol), ...[...known.keys()].filter((s) => !configured.some((c) => c.symbol === s))];
    return order.map((s) => known.get(s)!).filter((r) => r.status !== 'removed');
  }
}
