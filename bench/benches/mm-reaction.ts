import { planGrid } from '@mm/grid';
import { Dec } from '@mm/domain';
import type { Bench, BenchContext } from '../lib/context';
import { btcCandles, createHarness, GRID } from '../lib/mm-harness';
import { tempPgDatabase } from '../lib/pg';
import type { PgSynchronousCommit } from '../../apps/market-maker/src/persistence/intent-journal';
import { type Row, row, side } from '../lib/results';
import { Samples, nowNs, round, summarize, type Summary } from '../lib/stats';

// a 50 USDT grid (vs 100 in config/market-maker.yaml; still covers round-trip fees) so that more ticks lead to orders
const PARAMS = { ...GRID, priceInterval: new Dec(50), orderNotional: new Dec(250) };

interface Variant {
  label: string;
  dec: Summary;
  quiet: Summary;
  fill: Summary;
  apply: Summary;
  ticks: number;
  secs: number;
  places: number;
  cancels: number;
  planS?: Summary;
  actions?: number;
}

/** Runs the engine over 1 s ticks until `decisions` ticks traded (or `maxTicks`). */
async function runVariant(ctx: BenchContext, label: string, opts: { databaseUrl?: string; journal: boolean; withPlan?: boolean; pgSynchronousCommit?: PgSynchronousCommit }): Promise<Variant> {
  const sc = ctx.scale.mm;
  const candles = btcCandles().slice(0, 100 + Math.ceil(sc.maxTicks / 60) + 2);
  const h = await createHarness(ctx.workDir, { candles, params: PARAMS, databaseUrl: opts.databaseUrl, journal: opts.journal, pgSynchronousCommit: opts.pgSynchronousCommit });
  try {
    const t0 = nowNs();
    for (let i = 0; i < sc.maxTicks && h.decision.n < sc.decisions && !h.sim.status().finished; i++) {
      h.sim.advance(1000); // one path point = one price tick to the engine
      await h.settle();
    }
    const secs = (nowNs() - t0) / 1e9;
    if (h.engine.state !== 'running') throw new Error(`engine ${h.engine.state}: ${h.engine.lastError}`);
    const v: Variant = {
      label,
      dec: summarize(h.decision.values(), 1e-6),
      quiet: summarize(h.decisionQuiet.values(), 1e-6),
      fill: summarize(h.fillPersist.values(), 1e-6),
      apply: summarize(h.apply.values(), 1e-6),
      ticks: h.ticks,
      secs,
      places: h.requests.place,
      cancels: h.requests.cancel,
    };
    if (opts.withPlan) {
      // pure decision pass over the engine's final slots, at prices around the last one
      const engine = h.engine.planningState();
      const plan = new Samples(sc.planCalls);
      const last = await h.sim.getLatestPrice('BTCUSDT');
      const prices = Array.from({ length: 64 }, (_, i) => last.plus((i - 32) * 25));
      let actions = 0;
      for (let i = 0; i < sc.planCalls; i++) {
        const a = nowNs();
        actions += planGrid(engine.slots, prices[i & 63], engine.anchorPrice!, PARAMS, engine.rules).length;
        plan.add(nowNs() - a);
      }
      v.planS = summarize(plan.values(), 1e-6);
      v.actions = actions;
    }
    ctx.log(`  ${label}: decision p50 ${round(v.dec.p50)} p99 ${round(v.dec.p99)} ms (n=${v.dec.n}), apply p99 ${round(v.apply.p99)} ms, ${v.ticks} ticks in ${round(secs, 1)} s`);
    return v;
  } finally {
    await h.close();
  }
}

export const mmBench: Bench = {
  name: 'mm-reaction',
  title: 'Market maker reaction: tick → order request, fill → slot persisted, planGrid (SQLite and PostgreSQL)',
  async run(ctx) {
    const sc = ctx.scale.mm;
    const notes: string[] = [];
    // BENCH_MM_VARIANTS=sqlite,typeorm,pg,pg-intents,pg-off (default all) narrows a development run; the
    // SQLite journal variant always runs (it carries the planGrid baseline).
    const want = new Set((process.env.BENCH_MM_VARIANTS ?? 'sqlite,typeorm,pg,pg-intents,pg-off').split(',').map((x) => x.trim()));
    const sqlite = await runVariant(ctx, 'SQLite, intent journal', { journal: true, withPlan: true });
    const planS = sqlite.planS!;
    const planSide = side(planS, 1000 / planS.mean);
    const legacy = want.has('typeorm') ? await runVariant(ctx, 'SQLite, TypeORM transaction', { journal: false }) : undefined;
    const pgRun = async (tag: string, label: string, sync?: PgSynchronousCommit): Promise<Variant | undefined> => {
      const db = await tempPgDatabase(tag);
      if (!db) return undefined;
      try {
        return await runVariant(ctx, label, { databaseUrl: db.url, journal: true, pgSynchronousCommit: sync });
      } finally {
        await db.drop();
      }
    };
    const pg = want.has('pg') ? await pgRun('mm', 'PostgreSQL, intent journal') : undefined;
    const pgIntents = want.has('pg-intents') ? await pgRun('mm_intents', 'PostgreSQL, intent journal, bookings written behind (synchronous_commit only for intents)', 'intents') : undefined;
    const pgAsync = want.has('pg-off') ? await pgRun('mm_async', 'PostgreSQL, intent journal, synchronous_commit=off', 'off') : undefined;
    if (want.has('pg') && !pg) notes.push('PostgreSQL unreachable at BENCH_PG_URL: PostgreSQL rows skipped');

    const rows: Row[] = [];
    const add = (v: Variant, db: string) => {
      rows.push(
        row(`${v.label}: tick → first order request (all ticks that traded)`, side(v.dec, v.ticks / v.secs), planSide, 'ticks/s', { ticks: v.ticks, places: v.places, cancels: v.cancels }),
        row(`${v.label}: tick → first order request (no fill earlier in the step)`, side(v.quiet, v.ticks / v.secs), planSide, 'ticks/s'),
        row(`${v.label}: fill event → slot + fill committed`, side(v.fill, v.fill.n / v.secs), undefined, 'fills/s'),
        row(`${v.label}: GridStore.apply (one ${db} transaction)`, side(v.apply, v.apply.n / v.secs), undefined, 'tx/s'),
      );
      notes.push(`${v.label}: fills booked ${v.fill.n}; store transactions ${v.apply.n}; ${v.ticks} ticks in ${round(v.secs, 1)} s`);
    };
    add(sqlite, 'SQLite');
    if (pg) add(pg, 'PostgreSQL');
    if (pgIntents) add(pgIntents, 'PostgreSQL');
    if (pgAsync) add(pgAsync, 'PostgreSQL');
    if (legacy) add(legacy, 'SQLite');
    rows.push(row('planGrid alone (pure decision)', planSide, undefined, 'calls/s', { actionsPerCall: round(sqlite.actions! / sc.planCalls, 2) }));
    const minN = sc.decisions;
    const targets = [
      {
        what: `decision latency p99 (tick → order request), SQLite, ≥ ${minN} samples`,
        target: '< 1 ms',
        value: `${round(sqlite.dec.p99)} ms (p50 ${round(sqlite.dec.p50)}; n=${sqlite.dec.n})`,
        pass: sqlite.dec.p99 < 1 && sqlite.dec.n >= minN,
      },
      pg
        ? {
            what: `decision latency p99 (tick → order request), PostgreSQL, ≥ ${minN} samples`,
            target: '< 3 ms',
            value: `${round(pg.dec.p99)} ms (p50 ${round(pg.dec.p50)}; n=${pg.dec.n})`,
            pass: pg.dec.p99 < 3 && pg.dec.n >= minN,
          }
        : { what: 'decision latency p99, PostgreSQL', target: '< 3 ms', value: 'not run (PostgreSQL unreachable)', pass: false },
      ...(pgIntents
        ? [
            {
              what: 'decision latency p99, PostgreSQL with bookings written behind and committed asynchronously (opt-in PG_SYNCHRONOUS_COMMIT=intents, informational)',
              target: '—',
              value: `${round(pgIntents.dec.p99)} ms (p50 ${round(pgIntents.dec.p50)}; n=${pgIntents.dec.n})`,
              pass: true,
            },
          ]
        : []),
      ...(pgAsync
        ? [
            {
              what: 'decision latency p99, PostgreSQL with synchronous_commit=off on the journal connection (opt-in, informational)',
              target: '—',
              value: `${round(pgAsync.dec.p99)} ms (p50 ${round(pgAsync.dec.p50)}; n=${pgAsync.dec.n})`,
              pass: true,
            },
          ]
        : []),
      ...(legacy
        ? [
            {
              what: 'decision latency p99, SQLite through TypeORM transactions (previous path, informational)',
              target: '—',
              value: `${round(legacy.dec.p99)} ms (p50 ${round(legacy.dec.p50)}; n=${legacy.dec.n}); journal ÷ TypeORM p99 ${round(sqlite.dec.p99 / legacy.dec.p99, 2)}`,
              pass: true,
            },
          ]
        : []),
      { what: 'planGrid p99 (pure decision)', target: '< 1 ms (informational)', value: `${round(planS.p99)} ms`, pass: planS.p99 < 1 },
    ];
    return {
      method: `In-process: GridEngine (dist) with a SimExchange in manual mode (BTCUSDT 1m CSV, 1 s path points) as its ExchangeVenue and the app's store (GridStore: TypeORM with the app's migrations for reads, the intent journal for the hot write — better-sqlite3 prepared statements, synchronous, WAL, synchronous=NORMAL on SQLite (the default; kill -9 safe, not power-loss safe); a dedicated node-postgres connection with named prepared statements on PostgreSQL, a fresh database per run), grid as config/market-maker.yaml except a 50 USDT interval (more ticks trade); risk gates fed by wall-clock feeds off and the order-rate throttle lifted. The venue port is wrapped: hrtime when a price tick is handed to the engine, when the first placeOrder/cancelOrder of that tick leaves it (decision latency includes planGrid, the durable intent commit and the engine queue), when a fill event arrives and when the transaction booking it commits. Each variant runs 1 s ticks (advance, then drain the engine queue) until ${minN} ticks traded (max ${sc.maxTicks} ticks). Variants in order: SQLite + journal, SQLite + TypeORM transactions (the previous hot path, for a same-run ratio), PostgreSQL + journal (the default policy "on": every commit synchronous), PostgreSQL + journal with the opt-in write-behind policy (PG_SYNCHRONOUS_COMMIT=intents: a change with new order intents commits synchronously, bookings of venue answers are buffered and committed asynchronously), PostgreSQL + journal with synchronous_commit=off on its connection (opt-in PG_SYNCHRONOUS_COMMIT=off). Baseline for the decision rows: planGrid alone on the engine's final slots at nearby prices.`,
      rows,
      targets,
      notes,
    };
  },
};
