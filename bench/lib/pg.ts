import { Client as PgClient } from 'pg';

/**
 * A fresh, empty PostgreSQL database for one bench case, created through `adminUrl`
 * (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres) and dropped by `drop()`.
 * Resolves undefined when the server is unreachable (the PostgreSQL rows are then skipped with a note).
 */
export async function tempPgDatabase(tag: string): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const adminUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `opensqt_bench_${tag}_${process.pid}_${Date.now()}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const admin = new PgClient({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch {
    await admin.end().catch(() => undefined);
    return undefined;
  }
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new PgClient({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
    },
  };
}
