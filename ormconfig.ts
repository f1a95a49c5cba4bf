import { DataSource } from 'typeorm';
import { dataSourceOptions } from './apps/market-maker/src/persistence/data-source';

/**
 * DataSource for the TypeORM CLI (`npx typeorm -d dist/ormconfig.js migration:run|revert|show`).
 * Same options as the market maker: PostgreSQL when DATABASE_URL is set, else SQLite at SQLITE_PATH
 * (default data/market-maker.sqlite).
 */
export default new DataSource(
  dataSourceOptions({ databaseUrl: process.env.DATABASE_URL, sqlitePath: process.env.SQLITE_PATH ?? 'data/market-maker.sqlite' }),
);
