import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { type Dialect, buildEntities } from './entities';
import { InitialSchema1732200000000 } from './migrations/1732200000000-initial-schema';

export const MIGRATIONS = [InitialSchema1732200000000];

/**
 * TypeORM options: PostgreSQL when `databaseUrl` is a postgres:// URL, else an SQLite file at
 * `sqlitePath` (WAL mode, parent directory created). Schema only through migrations (never synchronize).
 * @throws Error for an unsupported URL scheme.
 */
export function dataSourceOptions(opts: { databaseUrl?: string; sqlitePath: string; statementTimeoutMs?: number }): DataSourceOptions & { dialect: Dialect } {
  const url = opts.databaseUrl?.trim();
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`database.url must be a postgres:// URL, got "${url.split(':')[0]}:…"`);
    return {
      dialect: 'postgres',
      type: 'postgres',
      url,
      entities: buildEntities('postgres'),
      migrations: MIGRATIONS,
      migrationsRun: true,
      synchronize: false,
      logging: false,
      // statement_timeout: the server cancels a statement running longer; query_timeout: the client
      // gives up on a query (covers a hung connection). Both ms (node-postgres pool options).
      extra: {
        max: 5,
        ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs, query_timeout: opts.statementTimeoutMs + 1000, connectionTimeoutMillis: opts.statementTimeoutMs } : {}),
      },
    };
  }
  if (opts.sqlitePath !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(opts.sqlitePath)), { recursive: true });
  return {
    dialect: 'sqlite',
    type: 'better-sqlite3',
    database: opts.sqlitePath,
    enableWAL: true,
    // Checkpoints fsync the database file. SQLite runs them inside whichever commit crosses the
    // threshold — on our decision path, that is an intent commit. A high threshold keeps them off that
    // path; the engine checkpoints passively from its reconcile timer instead (GridStore.checkpoint).
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('wal_autocheckpoint = 20000');
    },
    entities: buildEntities('sqlite'),
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    logging: false,
  };
}
