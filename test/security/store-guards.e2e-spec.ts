/**
 * The store side of issue 12 on real databases: the client-order-id secret is kept per database
 * (SQLite file, PostgreSQL), `verify` passes on a healthy store, and a hung PostgreSQL query is cut
 * off by the data source's statement timeout instead of blocking the engine forever.
 * PostgreSQL: DATABASE_URL_TEST (default postgres://postgres@127.0.0.1:5432/opensqt_g); the schema
 * is dropped and re-created by the migrations.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../apps/market-maker/src/persistence/data-source';
import { GridStore } from '../../apps/market-maker/src/persistence/grid.store';
import { loadMmConfig } from '../../apps/market-maker/src/mm.config';
import { clientIdSecret } from '../../apps/market-maker/src/engine/engine.factory';

jest.setTimeout(60_000);

const PG_URL = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/opensqt_g';

async function open(opts: Parameters<typeof dataSourceOptions>[0]): Promise<DataSource> {
  const ds = new DataSource(dataSourceOptions(opts));
  await ds.initialize();
  return ds;
}

describe('client-order-id secret and storage check (SQLite file)', () => {
  it('is generated once, kept across restarts on the same file, and differs on a fresh file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-store-'));
    const a = path.join(dir, 'a.sqlite');
    let made = 0;
    const create = () => `secret-${++made}-0123456789abcdef`;
    let ds = await open({ sqlitePath: a });
    const first = await new GridStore(ds, 'BTCUSDT').clientIdSecret(create);
    await new GridStore(ds, 'BTCUSDT').verify();
    await ds.destroy();
    ds = await open({ sqlitePath: a });
    expect(await new GridStore(ds, 'BTCUSDT').clientIdSecret(create)).toBe(first);
    await ds.destroy();
    expect(made).toBe(1);
    const fresh = await open({ sqlitePath: path.join(dir, 'b.sqlite') });
    expect(await new GridStore(fresh, 'BTCUSDT').clientIdSecret(create)).not.toBe(first);
    await fresh.destroy();
  });

  it('verify throws once the file is deleted', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-store-'));
    const file = path.join(dir, 'a.sqlite');
    const ds = await open({ sqlitePath: file });
    const store = new GridStore(ds, 'BTCUSDT');
    await store.verify();
    fs.rmSync(file);
    // The open handle still "works": this is exactly why the identity check exists.
    await ds.query('SELECT 1');
    await expect(store.verify()).rejects.toThrow(/is gone/);
    await ds.destroy();
  });
});

describe('PostgreSQL', () => {
  let ds: DataSource | undefined;
  beforeAll(async () => {
    const admin = new DataSource({ type: 'postgres', url: PG_URL });
    await admin.initialize();
    await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await admin.destroy();
    ds = await open({ databaseUrl: PG_URL, sqlitePath: 'unused', statementTimeoutMs: 500 });
  });
  afterAll(async () => {
    await ds?.destroy();
  });

  it('keeps the secret and passes verify', async () => {
    const store = new GridStore(ds!, 'BTCUSDT');
    const s = await store.clientIdSecret(() => 'pg-secret-0123456789abcdef');
    expect(s).toBe('pg-secret-0123456789abcdef');
    expect(await store.clientIdSecret(() => 'another-0123456789abcdef')).toBe(s);
    await store.verify();
  });

  it('a hung query fails after the statement timeout instead of blocking', async () => {
    const t0 = Date.now();
    await expect(ds!.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout|canceling statement|timeout/i);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(2500);
    // The pool is still usable afterwards.
    expect(await ds!.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});

describe('config: MM_CLIENT_ID_SECRET / _FILE', () => {
  it('reads the secret from the env or a file, and names the key of a bad one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-secret-'));
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, 'from-file-0123456789abcdef\n');
    const secret = (env: NodeJS.ProcessEnv) => clientIdSecret(loadMmConfig(env));
    expect(secret({ MM_CLIENT_ID_SECRET: 'from-env-0123456789abcdef' })).toBe('from-env-0123456789abcdef');
    expect(secret({ MM_CLIENT_ID_SECRET_FILE: file })).toBe('from-file-0123456789abcdef');
    expect(secret({})).toBe('');
    expect(() => loadMmConfig({ MM_CLIENT_ID_SECRET: 'short' })).toThrow(/engine\.client_id_secret/);
    expect(() => secret({ MM_CLIENT_ID_SECRET_FILE: path.join(dir, 'missing') })).toThrow(/engine\.client_id_secret_file/);
    fs.writeFileSync(file, 'short\n');
    expect(() => secret({ MM_CLIENT_ID_SECRET_FILE: file })).toThrow(/engine\.client_id_secret_file: must hold at least 16/);
  });
});
