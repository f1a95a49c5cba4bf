import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * `arb_journal`: the funding-arbitrage workflow journal (issue 10) — append-only rows (seq, workflow
 * id, entry type, the entry as JSON, wall time), read back in seq order on every start.
 */
export class ArbJournal1764400000000 implements MigrationInterface {
  name = 'ArbJournal1764400000000';

  async up(q: QueryRunner): Promise<void> {
    const ts = q.connection.options.type === 'postgres' ? 'timestamptz' : 'datetime';
    await q.createTable(
      new Table({
        name: 'arb_journal',
        columns: [
          { name: 'seq', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'workflow_id', type: 'varchar', length: '40' },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'entry', type: 'text' },
          { name: 'created_at', type: ts },
        ],
      }),
    );
    await q.createIndex('arb_journal', new TableIndex({ name: 'arb_journal_workflow', columnNames: ['workflow_id'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('arb_journal');
  }
}
