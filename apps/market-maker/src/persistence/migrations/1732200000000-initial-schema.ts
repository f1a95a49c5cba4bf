import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

/** Initial schema: grid_slot, order_intent, fill, strategy_state. Dialect-neutral (SQLite, PostgreSQL). */
export class InitialSchema1732200000000 implements MigrationInterface {
  name = 'InitialSchema1732200000000';

  async up(q: QueryRunner): Promise<void> {
    const pg = q.connection.options.type === 'postgres';
    const dec = pg ? 'numeric' : 'text';
    const ts = pg ? 'timestamptz' : 'datetime';
    const str = (name: string, length: number, extra: object = {}) => ({ name, type: 'varchar', length: String(length), ...extra });
    await q.createTable(
      new Table({
        name: 'grid_slot',
        columns: [
          str('id', 80, { isPrimary: true }),
          str('symbol', 40),
          { name: 'level', type: dec },
          { name: 'position_qty', type: dec },
          { name: 'position_cost', type: dec },
          { name: 'entry_fees', type: dec },
          str('status', 16),
          { name: 'generation', type: 'integer' },
          str('client_order_id', 40, { isNullable: true }),
          { name: 'post_only_rejects', type: 'integer' },
          { name: 'updated_at', type: ts },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'order_intent',
        columns: [
          str('client_order_id', 40, { isPrimary: true }),
          str('symbol', 40),
          str('slot_id', 80),
          str('side', 4),
          { name: 'price', type: dec },
          { name: 'quantity', type: dec },
          { name: 'reduce_only', type: 'boolean' },
          { name: 'post_only', type: 'boolean' },
          str('status', 20),
          str('order_id', 40, { isNullable: true }),
          { name: 'executed_qty', type: dec },
          str('error', 500, { isNullable: true }),
          { name: 'created_at', type: ts },
          { name: 'updated_at', type: ts },
        ],
      }),
    );
    await q.createIndex('order_intent', new TableIndex({ name: 'idx_order_intent_status', columnNames: ['symbol', 'status'] }));
    await q.createTable(
      new Table({
        name: 'fill',
        columns: [
          str('trade_id', 64, { isPrimary: true }),
          str('client_order_id', 40),
          str('order_id', 40),
          str('symbol', 40),
          str('slot_id', 80),
          str('side', 4),
          { name: 'price', type: dec },
          { name: 'quantity', type: dec },
          { name: 'fee', type: dec },
          str('fee_asset', 16),
          { name: 'realized_pnl', type: dec },
          { name: 'trade_time_ms', type: 'bigint' },
          { name: 'created_at', type: ts },
        ],
      }),
    );
    await q.createIndex('fill', new TableIndex({ name: 'idx_fill_symbol', columnNames: ['symbol', 'trade_time_ms'] }));
    await q.createTable(
      new Table({
        name: 'strategy_state',
        columns: [
          str('symbol', 40, { isPrimary: true }),
          { name: 'anchor_price', type: dec },
          { name: 'realized_pnl', type: dec },
          { name: 'fees_paid', type: dec },
          { name: 'updated_at', type: ts },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['strategy_state', 'fill', 'order_intent', 'grid_slot']) await q.dropTable(t);
  }
}
