import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { type Candle, Dec, VirtualScheduler, dec } from '@mm/domain';
import { type FundingPoint, SimExchange, SimSpotExchange, defaultSpotRules, defaultSymbolRules } from '@mm/sim-exchange';
import { type ArbJournal, FundingArbStrategy, type PairSpec, fundingArb } from '@mm/trading';
import { dataSourceOptions } from '../persistence/data-source';
import { TypeOrmArbJournal } from './arb-journal.store';

/**
 * The funding-arbitrage journal on the market maker's database (`arb_journal`), on a real SQLite file
 * and a real PostgreSQL database (migrations run): append order, reopen, and a strategy that "dies"
 * between its first and second leg resumes from the database on a fresh connection and hedges.
 */
const PG_ADMIN = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pgDb = `arb_journal_${process.pid}`;
const sqliteFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'arbjournal-')), 'mm.sqlite');

const open = {
  SQLite: () => new DataSource(dataSourceOptions({ sqlitePath: sqliteFile })).initialize(),
  PostgreSQL: () => new DataSource(dataSourceOptions({ databaseUrl: PG_ADMIN.replace(/\/[^/]*$/, `/${pgDb}`), sqlitePath: 'unused' })).initialize(),
};

const H = 3_600_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % H);
const flat = (symbol: string, p: string, n: number): Candle[] =>
  Array.from({ length: n }, (_, i) => ({ symbol, openTimeMs: T0 + i * 60_000, open: dec(p), high: dec(p), low: dec(p), close: dec(p), volume: dec('10'), closed: true }));

function venues() {
  const funding: FundingPoint[] = [-16 * H, -8 * H, 2 * H, 10 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec('0.0005') }));
  const perp = new SimExchange({ symbols: [{ rules: defaultSymbolRules('ETHUSDT'), candles: flat('ETHUSDT', '2000', 120), fundingRates: funding }], manual: true, historyCandles: 20, tickIntervalMs: 1000, initialBalance: dec('100000') });
  const spot = new SimSpotExchange({ name: 'simspot', symbols: [{ rules: defaultSpotRules('ETHUSDT'), candles: flat('ETHUSDT', '2000', 120) }], balances: { USDT: dec('100000') }, historyCandles: 20 });
  const base = { symbol: 'ETHUSDT', execution: { type: 'MARKET' } as const, defaultFundingIntervalMs: 8 * H };
  const pair: PairSpec = {
    symbol: 'ETHUSDT',
    orderQty: dec('0.05'),
    legs: {
      a: { ...base, venue: spot, kind: 'spot', makerFee: dec('0.001'), takerFee: dec('0.001'), borrowRateHourly: dec(0), canShort: false },
      b: { ...base, venue: perp, kind: 'perp', makerFee: dec('0.0002'), takerFee: dec('0.0005'), borrowRateHourly: dec(0), canShort: true },
    },
  };
  return { perp, spot, pair };
}

function strategy(pair: PairSpec, journal: ArbJournal, scheduler: VirtualScheduler) {
  return new FundingArbStrategy(
    {
      pairs: [pair],
      thresholds: { entryApr: dec('0.1'), exitApr: dec('0.02'), minAboveThresholdMs: 0, minLeadBeforeFundingMs: 0, expectedHoldMs: 7 * 24 * H, basisHaircutApr: dec('0.02'), maxLegPriceSpread: dec('0.01'), maxFundingAgeMs: 300_000 },
      decisionIntervalMs: 60_000,
      fundingPollMs: 60_000,
      firstLeg: 'long',
      maxSendAttempts: 3,
      retryDelayMs: 30_000,
      maxEntryAttemptsPerFunding: 1,
    },
    { scheduler, journal },
  );
}

beforeAll(async () => {
  const admin = await new DataSource({ type: 'postgres', url: PG_ADMIN }).initialize();
  await admin.query(`DROP DATABASE IF EXISTS ${pgDb}`);
  await admin.query(`CREATE DATABASE ${pgDb}`);
  await admin.destroy();
});
afterAll(async () => {
  const admin = await new DataSource({ type: 'postgres', url: PG_ADMIN }).initialize();
  await admin.query(`DROP DATABASE IF EXISTS ${pgDb}`);
  await admin.destroy();
});

describe.each(['SQLite', 'PostgreSQL'] as const)('arb_journal on %s', (name) => {
  it('appends in order and reads every entry back after a reopen, field for field', async () => {
    const ds = await open[name]();
    const j = new TypeOrmArbJournal(ds);
    const id = 'fa-XYZUSDT-Eb-abc-1';
    const entries: fundingArb.JournalEntry[] = [
      { t: 'started', atMs: 1, id, symbol: 'XYZUSDT', kind: 'entry', short: 'b', first: 'a', fundingTimeMs: 99, attempt: 1, quantity: '0.123456789012345678' },
      { t: 'intent', atMs: 2, id, intent: { step: 'f', leg: 'a', symbol: 'XYZUSDT', side: 'BUY', type: 'MARKET', quantity: '0.123456789012345678', reduceOnly: false, clientOrderId: `${id}-f` } },
      { t: 'outcome', atMs: 3, id, outcome: { clientOrderId: `${id}-f`, status: 'FILLED', executedQty: '0.123456789012345678', avgPrice: '2000.01' } },
      { t: 'finished', atMs: 4, id, result: 'aborted', detail: 'test' },
    ];
    for (const e of entries) await j.append(e);
    await ds.destroy();
    const ds2 = await open[name]();
    const back = (await new TypeOrmArbJournal(ds2).entries()).filter((e) => e.id === id);
    expect(back).toEqual(entries);
    expect(fundingArb.foldJournal(back).get(id)?.finished?.result).toBe('aborted');
    await ds2.destroy();
  });

  it('a strategy killed between the legs (first leg journaled, hedge not sent) resumes from the database and hedges with the executed quantity', async () => {
    const { perp, spot, pair } = venues();
    const scheduler = new VirtualScheduler(perp.clock.now());
    const ds = await open[name]();
    const durable = new TypeOrmArbJournal(ds);
    // life 1: the first leg's outcome is committed, then the process "dies" (every later append fails)
    let dead = false;
    const dying: ArbJournal = {
      entries: () => durable.entries(),
      append: async (e) => {
        if (dead) throw new Error('process gone');
        await durable.append(e);
        if (e.t === 'outcome' && e.outcome.clientOrderId.endsWith('-f')) dead = true;
      },
    };
    const s1 = strategy(pair, dying, scheduler);
    await s1.start();
    await s1.whenIdle();
    s1.stop();
    await ds.destroy();
    expect(spot.balances().find((b) => b.asset === 'ETH')?.free.toString()).toBe('0.05');
    expect((await perp.getPositions('ETHUSDT'))[0]?.size.toString() ?? '0').toBe('0');

    // life 2: a fresh connection, the journal read back from the database
    const ds2 = await open[name]();
    const s2 = strategy(pair, new TypeOrmArbJournal(ds2), scheduler);
    await s2.start();
    await s2.whenIdle();
    s2.stop();
    const wfs = fundingArb.foldJournal(await new TypeOrmArbJournal(ds2).entries());
    const mine = [...wfs.values()].filter((w) => w.symbol === 'ETHUSDT');
    expect(mine.map((w) => w.finished?.result)).toEqual(['hedged']);
    expect(mine[0].steps.h?.outcome?.executedQty).toBe('0.05');
    expect((await perp.getPositions('ETHUSDT'))[0]?.size).toEqual(new Dec('-0.05'));
    expect(spot.balances().find((b) => b.asset === 'ETH')?.free.toString()).toBe('0.05');
    expect(perp.status().duplicateClientOrderIds).toBe(0);
    expect(spot.status().duplicateClientOrderIds).toBe(0);
    await ds2.destroy();
  });
});
