import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

/**
 * `active_symbol`: the symbol orchestrator's durable list of symbol engines (issue 9) — status
 * (active, paused, removed), grid overrides as JSON text, who added it, last change.
 */
export class ActiveSymbols1764300000000 implements MigrationInterface {
  name = 'ActiveSymbols1764300000000';

  async up(q: QueryRunner): Promise<void> {
    const ts = q.connection.options.type === 'postgres' ? 'timestamptz' : 'datetime';
    await q.createTable(
      new Table({
        name: 'active_symbol',
        columns: [
          { name: 'symbol', type: 'varchar', length: '40', isPrimary: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'grid', type: 'text' },
          { name: 'source', type: 'varchar', length: '16' },
          { name: 'updated_at', type: ts },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('active_symbol');
  }
}
