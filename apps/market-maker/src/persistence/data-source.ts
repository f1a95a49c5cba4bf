import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { type Dialect, buildEntities } from './entities';
import { InitialSchema1732200000000 } from './migrations/1732200000000-initial-schema';
import { EngineMeta1732300000000 } from './migrations/1732300000000-engine-meta';
import { ActiveSymbols1764300000000 } from './migrations/1764300000000-active-symbols';
import { ArbJournal1764400000000 } from './migrations/1764400000000-arb-journal';

export const MIGRATIONS = [InitialSchema1732200000000, EngineMeta1732300000000, ActiveSymbols1764300000000, ArbJournal1764400000000];

/** Default PostgreSQL statement and client query timeout, ms (`database.statement_timeout_ms`). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;

/**
 * TypeORM options: PostgreSQL when `databaseUrl` is a postgres:// URL, else an SQLite file at
 * `sqlitePath` (WAL mode, parent directory created). Schema only through migrations (never synchronize).
 * PostgreSQL queries are bounded: the server cancels a statement after `statementTimeoutMs`
 * (`statement_timeout`), the client gives up after the same time plus 1 s (`query_timeout`, also for
 * a server that never answers), and connecting is bounded too; a hung query fails instead of
 * blocking the engine (a failed write is fatal: the process restarts and recovers).
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
      extra: {
        max: 5,
        statement_timeout: opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
        query_timeout: (opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS) + 1000,
        connectionTimeoutMillis: opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
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
