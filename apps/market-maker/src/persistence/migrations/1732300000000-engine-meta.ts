import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

/**
 * `engine_meta`: small key/value rows of the engine — the client-order-id secret (`client_id_secret`,
 * issue 12) and the storage write probe (`storage_probe`).
 */
export class EngineMeta1732300000000 implements MigrationInterface {
  name = 'EngineMeta1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'engine_meta',
        columns: [
          { name: 'key', type: 'varchar', length: '80', isPrimary: true },
          { name: 'value', type: 'varchar', length: '200' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('engine_meta');
  }
}
