import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../persistence/data-source';
import { type SymbolRecord, SymbolTable } from './symbol-table';

/** The orchestrator's durable symbol list on a real SQLite file and a real PostgreSQL database (migrations run). */
const PG_ADMIN = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pgDb = `orch_symbols_${process.pid}`;

async function sqlite(): Promise<DataSource> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'symtable-')), 'mm.sqlite');
  return new DataSource(dataSourceOptions({ sqlitePath: file })).initialize();
}

async function postgres(): Promise<DataSource> {
  const admin = await new DataSource({ type: 'postgres', url: PG_ADMIN }).initialize();
  await admin.query(`DROP DATABASE IF EXISTS ${pgDb}`);
  await admin.query(`CREATE DATABASE ${pgDb}`);
  await admin.destroy();
  return new DataSource(dataSourceOptions({ databaseUrl: PG_ADMIN.replace(/\/[^/]*$/, `/${pgDb}`), sqlitePath: 'unused' })).initialize();
}

const configured: SymbolRecord[] = [
  { symbol: 'BTCUSDT', status: 'active', grid: {}, source: 'config' },
  { symbol: 'ETHUSDT', status: 'active', grid: { price_interval: '4' }, source: 'config' },
];

describe.each([
  ['SQLite', sqlite],
  ['PostgreSQL', postgres],
])('active_symbol table on %s', (_name, open) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await open();
  });
  afterAll(async () => {
    await ds?.destroy();
    if (_name === 'PostgreSQL') {
      const admin = await new DataSource({ type: 'postgres', url: PG_ADMIN }).initialize();
      await admin.query(`DROP DATABASE IF EXISTS ${pgDb}`);
      await admin.destroy();
    }
  });

  it('seeds configured symbols once; afterwards the table wins (pause, removal, operator additions survive)', async () => {
    const t = new SymbolTable(ds);
    expect((await t.seed(configured)).map((r) => r.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    await t.setStatus('ETHUSDT', 'removed');
    await t.setStatus('BTCUSDT', 'paused');
    await t.put({ symbol: 'SOLUSDT', status: 'active', grid: { order_notional: '50' }, source: 'operator' });
    // a restart with the same config: ETH stays removed, BTC paused, SOL (operator) runs
    const again = await new SymbolTable(ds).seed(configured);
    expect(again.map((r) => [r.symbol, r.status, r.source])).toEqual([
      ['BTCUSDT', 'paused', 'config'],
      ['SOLUSDT', 'active', 'operator'],
    ]);
    expect(again[1].grid).toEqual({ order_notional: '50' });
    const all = await t.list();
    expect(all.map((r) => `${r.symbol}:${r.status}`)).toEqual(['BTCUSDT:paused', 'ETHUSDT:removed', 'SOLUSDT:active']);
    expect(all.find((r) => r.symbol === 'ETHUSDT')!.grid).toEqual({ price_interval: '4' });
  });
});
