/**
 * `npm run optimize -- --data <csv> --param grid.price_interval=50:400:25 --param grid.order_notional=100,250,500
 *   [--funding <csv>] [--config <yaml>] [--from <date>] [--to <date>] [--objective net_pnl] [--max-drawdown 5%]
 *   [--workers N] [--random K] [--seed S] [--fill-model touch|conservative] [--out <dir>]`
 *
 * Backtests every combination (or K seeded random samples) on worker threads (piscina), journals each
 * finished combination in <out>/journal.jsonl (a rerun skips them: resume after an interruption), and
 * writes results.md, results.csv and optimize.html (Pareto front + heatmap) into --out.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { Dec } from '@mm/domain';
import { loadBacktestConfig } from './backtest-config';
import { type BacktestJob, UsageError, loadJobData, parseDate } from './backtest-job';
import { OBJECTIVES, type Objective, type ComboResult, appendJournal, comboKey, combinations, optimizeHtml, parseParam, rank, rankedCsv, rankedMarkdown, readJournal } from './optimize-core';
import type { OptimizeTask } from './optimize-worker';

const USAGE = `usage: npm run optimize -- --data <klines.csv> --param <key>=<from>:<to>:<step>|<v1,v2,…> [--param …]
       [--funding <csv>] [--config <yaml>] [--from <date>] [--to <date>] [--objective ${OBJECTIVES.join('|')}]
       [--max-drawdown <5%|0.05>] [--workers N] [--random K] [--seed S] [--fill-model touch|conservative] [--out <dir>]`;

function parseDrawdown(v: string): Dec {
  const m = /^(\d+(\.\d+)?)(%?)$/.exec(v.trim());
  if (!m) throw new UsageError(`--max-drawdown: expected a percentage like 5% or a fraction like 0.05, got "${v}"`);
  return m[3] ? new Dec(m[1]).div(100) : new Dec(m[1]);
}

async function main(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      strict: true,
      options: {
        data: { type: 'string' },
        funding: { type: 'string' },
        config: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        param: { type: 'string', multiple: true },
        objective: { type: 'string' },
        'max-drawdown': { type: 'string' },
        workers: { type: 'string' },
        random: { type: 'string' },
        seed: { type: 'string' },
        'fill-model': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`optimize: ${(e as Error).message.split('\n')[0]}\n${USAGE}\n`);
    return 2;
  }
  if (a.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let pool: Piscina | undefined;
  try {
    if (!a.param?.length) throw new UsageError('at least one --param key=spec is required');
    const params = a.param.map(parseParam);
    const dup = params.find((p, i) => params.findIndex((q) => q.key === p.key) !== i);
    if (dup) throw new UsageError(`--param ${dup.key} given twice`);
    const objective = (a.objective ?? 'net_pnl') as Objective;
    if (!OBJECTIVES.includes(objective)) throw new UsageError(`--objective must be one of ${OBJECTIVES.join(', ')}, got "${a.objective}"`);
    const maxDd = a['max-drawdown'] === undefined ? undefined : parseDrawdown(a['max-drawdown']);
    const workers = a.workers === undefined ? Math.max(1, os.availableParallelism()) : Number(a.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers must be an integer ≥ 1, got "${a.workers}"`);
    const random = a.random === undefined ? undefined : Number(a.random);
    if (random !== undefined && (!Number.isInteger(random) || random < 1)) throw new UsageError(`--random must be an integer ≥ 1, got "${a.random}"`);
    const seed = a.seed === undefined ? 1 : Number(a.seed);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${a.seed}"`);
    const fm = a['fill-model'];
    if (fm !== undefined && fm !== 'touch' && fm !== 'conservative') throw new UsageError(`--fill-model must be touch or conservative, got "${fm}"`);
    const job: BacktestJob = {
      data: a.data,
      funding: a.funding,
      config: a.config,
      fromMs: a.from === undefined ? undefined : parseDate('from', a.from),
      toMs: a.to === undefined ? undefined : parseDate('to', a.to),
      fillModel: fm as BacktestJob['fillModel'],
    };
    const combos = combinations(params, random, seed);
    // Validate everything before any work: every combination's config, and the data (bad row → file:line).
    for (const c of combos) loadBacktestConfig(job.config, c);
    loadJobData(job, loadBacktestConfig(job.config, combos[0]).config.grid.symbol);

    const out = a.out ?? 'optimize-report';
    fs.mkdirSync(out, { recursive: true });
    const journalFile = path.join(out, 'journal.jsonl');
    const done = readJournal(journalFile);
    const todo = combos.filter((c) => !done.has(comboKey(c)));
    process.stderr.write(`optimize: ${combos.length} combinations (${combos.length - todo.length} already in ${journalFile}), ${todo.length} to run on ${workers} worker thread(s)\n`);
    const t0 = Date.now();
    let finished = 0;
    const failed: string[] = [];
    if (todo.length) {
      pool = new Piscina({ filename: path.join(__dirname, 'optimize-worker.js'), minThreads: workers, maxThreads: workers, idleTimeout: 1000 });
      await Promise.all(
        todo.map(async (c) => {
          const task: OptimizeTask = { key: comboKey(c), params: c, job };
          let r: ComboResult;
          try {
            r = (await pool!.run(task)) as ComboResult;
          } catch (e) {
            failed.push(task.key);
            process.stderr.write(`optimize: ${task.key} failed: ${(e as Error).message.split('\n')[0]}\n`);
            return;
          }
          appendJournal(journalFile, r);
          done.set(r.key, r);
          finished++;
          const s = r.summary;
          process.stderr.write(`optimize: [${finished}/${todo.length}] ${r.key}: net PnL ${new Dec(s.netPnl).toFixed(2)}, max DD ${(Number(s.maxDrawdownPct) * 100).toFixed(2)} %, ${s.fills} fills (${(r.wallMs / 1000).toFixed(1)} s)\n`);
        }),
      );
      await pool.destroy();
      pool = undefined;
    }
    const wall = (Date.now() - t0) / 1000;
    if (failed.length === combos.length) throw new UsageError(`every combination failed (first: ${failed[0]})`);
    const rows = rank(
      combos.map((c) => done.get(comboKey(c))).filter((r): r is ComboResult => r !== undefined),
      objective,
      maxDd,
    );
    const title = `Optimization ${path.basename(job.data ?? '')}`;
    fs.writeFileSync(path.join(out, 'results.csv'), rankedCsv(rows, params));
    fs.writeFileSync(path.join(out, 'results.md'), `# ${title}\n\nObjective: ${objective}${maxDd ? `, max drawdown ≤ ${maxDd.mul(100).toFixed()} %` : ''}.\n\n${rankedMarkdown(rows, params, objective)}`);
    fs.writeFileSync(path.join(out, 'optimize.html'), optimizeHtml(rows, params, objective, title));
    process.stdout.write(rankedMarkdown(rows, params, objective, 20));
    process.stdout.write(`optimize: ${todo.length} backtests in ${wall.toFixed(2)} s on ${workers} worker(s); wrote ${path.join(out, 'results.md')}, results.csv, optimize.html\n`);
    if (failed.length) process.stderr.write(`optimize: ${failed.length} combination(s) failed and are not ranked (not journaled: a rerun tries them again)\n`);
    return 0;
  } catch (e) {
    if (pool) await pool.destroy().catch(() => undefined);
    const err = e as Error;
    const known = ['MarketDataError', 'ConfigError', 'BacktestError'].includes(err.name) || err instanceof UsageError;
    process.stderr.write(`optimize: ${known ? err.message.split('\n')[0] : `internal error: ${err.stack ?? err.message}`}\n`);
    return known ? 2 : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`optimize: internal error: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
