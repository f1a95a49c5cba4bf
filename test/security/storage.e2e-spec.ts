/**
 * Storage faults (part of acceptance 5, app side): a hung PostgreSQL query fails after the
 * configured statement timeout instead of blocking forever (real PostgreSQL at DATABASE_URL_TEST).
 */
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../apps/market-maker/src/persistence/data-source';

const url = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/postgres';
jest.setTimeout(30_000);

describe('PostgreSQL query timeouts', () => {
  let ds: DataSource;
  beforeAll(async () => {
    // The app's own options (pool timeouts), without migrations: nothing is written to the database.
    ds = new DataSource({ ...dataSourceOptions({ databaseUrl: url, sqlitePath: 'unused', statementTimeoutMs: 500 }), migrationsRun: false } as never);
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
  });

  it('a query hung for 10 s fails after ~0.5 s (statement_timeout), and the pool keeps working', async () => {
    const t0 = performance.now();
    await expect(ds.query('SELECT pg_sleep(10)')).rejects.toThrow(/statement timeout|Query read timeout/);
    const ms = performance.now() - t0;
    process.stdout.write(`[security] PostgreSQL pg_sleep(10) with statement_timeout 500 ms failed after ${ms.toFixed(0)} ms\n`);
    expect(ms).toBeLessThan(3000);
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
