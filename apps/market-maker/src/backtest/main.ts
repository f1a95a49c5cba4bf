/**
 * `npm run backtest -- [--strategy grid|funding-arb] …` (default grid; funding-arb: see `arb-job.ts` and the USAGE text).
 *
 * Grid: `npm run backtest -- --data <klines.csv> [--funding <csv>] [--config <yaml>] [--from <date>] [--to <date>]
 *   [--out <dir>] [--recording <file>] [--fill-model touch|conservative] [--volume-share 0.1] [--balance 10000]`
 *
 * Runs the unchanged grid engine against the in-process sim on market time (see `runBacktest`), writes
 * report.json, report.html, fills.csv and round-trips.csv into --out (default `backtest-report`), and
 * prints the summary table. Exit 0 on success; on bad input one line on stderr, exit 2, nothing written.
 */
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { type BacktestProgress, renderArbSummaryTable, renderSummaryTable } from '@mm/backtest';
import { type BacktestJob, UsageError, executeJob, parseDate, writeOutputs } from './backtest-job';
import { executeArbJob, writeArbOutputs } from './arb-job';

const USAGE = `usage: npm run backtest -- --data <klines.csv> [--funding <funding.csv>] [--config <market-maker.yaml>]
       [--from <date>] [--to <date>] [--out <dir>] [--recording <file>] [--fill-model touch|conservative]
       [--volume-share <0..1>] [--balance <USDT>] [--engine-feed coalesced|every] [--reconcile-ms <market ms>] [--margin-check-ms <market ms>]
       npm run backtest -- --strategy funding-arb --data SYM=<perp 1m klines.csv>[,SYM=…] --funding SYM=<funding.csv>[,…]
       [--mark-price SYM=<markprice-8h.csv>[,…]] [--spot-data SYM=<spot 1m klines.csv>[,…]] [--symbols BTCUSDT,ETHUSDT]
       [--config <funding-arb.yaml>] [--from <date>] [--to <date>] [--out <dir>] [--balance <USDT per market>]
  --strategy      grid (default) or funding-arb (spot + perp per symbol on the in-process sim)
  funding-arb:    files are SYMBOL=path lists (one path alone needs exactly one --symbols symbol); a symbol
                  without --spot-data trades a spot path derived from its perp (basis -4.5 bp); without
                  --mark-price funding settles at the last price. --config keys: see README "Funding-arb backtest".
                  Writes report.json, report.html, fills.csv.`;
const GRID_ONLY = ['recording', 'fill-model', 'volume-share', 'engine-feed', 'reconcile-ms', 'margin-check-ms'] as const;
const ARB_ONLY = ['symbols', 'mark-price', 'spot-data'] as const;

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : n.toFixed(0);
}

/** Progress: a bar on a TTY, a plain line every 5 s otherwise (stderr). */
function progressReporter(unit = 'events'): { update(p: BacktestProgress): void; stop(): void } {
  const t0 = Date.now();
  const tty = process.stderr.isTTY === true;
  let bar: SingleBar | undefined;
  let lastLine = t0;
  return {
    update(p) {
      const now = Date.now();
      const secs = Math.max(1e-3, (now - t0) / 1000);
      const eps = p.events / secs;
      const total = Number.isFinite(p.endMs) ? p.endMs - p.startMs : 0;
      const done = p.marketTimeMs - p.startMs;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const eta = frac > 0 ? Math.round((secs * (1 - frac)) / frac) : 0;
      const date = new Date(p.marketTimeMs).toISOString().slice(0, 16).replace('T', ' ');
      if (tty) {
        bar ??= new SingleBar({ format: `backtest |{bar}| {percentage}% | {date} UTC | {eps} ${unit}/s | {fills} fills | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 20 });
        if (!bar.isActive) bar.start(1000, 0, { date, eps: fmtRate(eps), fills: p.fills });
        bar.update(Math.round(frac * 1000), { date, eps: fmtRate(eps), fills: p.fills });
      } else if (now - lastLine >= 5000) {
        lastLine = now;
        process.stderr.write(`backtest: ${date} UTC ${total ? `${(frac * 100).toFixed(0)}%` : ''} ${fmtRate(eps)} ${unit}/s, ${p.fills} fills${total ? `, ETA ${eta}s` : ''}\n`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      strict: true,
      options: {
        data: { type: 'string' },
        funding: { type: 'string' },
        config: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        out: { type: 'string' },
        recording: { type: 'string' },
        'fill-model': { type: 'string' },
        'volume-share': { type: 'string' },
        balance: { type: 'string' },
        'engine-feed': { type: 'string' },
        'reconcile-ms': { type: 'string' },
        'margin-check-ms': { type: 'string' },
        strategy: { type: 'string' },
        symbols: { type: 'string' },
        'mark-price': { type: 'string' },
        'spot-data': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`backtest: ${(e as Error).message.split('\n')[0]}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const strategy = args.strategy ?? 'grid';
  if (strategy !== 'grid' && strategy !== 'funding-arb') {
    process.stderr.write(`backtest: --strategy must be grid or funding-arb, got "${strategy}"\n`);
    return 2;
  }
  const reporter = progressReporter(strategy === 'grid' ? 'events' : 'steps');
  try {
    if (args.balance !== undefined && !/^\d+(\.\d+)?$/.test(args.balance)) throw new UsageError(`--balance must be a positive decimal, got "${args.balance}"`);
    if (strategy === 'funding-arb') {
      for (const k of GRID_ONLY) if (args[k] !== undefined) throw new UsageError(`--${k} does not apply to --strategy funding-arb`);
      const job = {
        symbols: args.symbols === undefined ? undefined : args.symbols.split(',').map((x) => x.trim()).filter(Boolean),
        data: args.data,
        funding: args.funding,
        markPrice: args['mark-price'],
        spotData: args['spot-data'],
        config: args.config,
        fromMs: args.from === undefined ? undefined : parseDate('from', args.from),
        toMs: args.to === undefined ? undefined : parseDate('to', args.to),
        balance: args.balance,
      };
      if (job.fromMs !== undefined && job.toMs !== undefined && job.toMs <= job.fromMs) throw new UsageError('--to must be after --from');
      const t0 = Date.now();
      const { run, report } = await executeArbJob(job, (p) => reporter.update(p));
      reporter.stop();
      const secs = (Date.now() - t0) / 1000;
      const files = writeArbOutputs(args.out ?? 'backtest-report', run, report);
      process.stdout.write(`${renderArbSummaryTable(report)}\n`);
      process.stdout.write(`backtest: funding-arb ${run.symbols.map((x) => x.symbol).join(', ')}: ${run.steps} steps, ${run.candlesReplayed} candles, ${run.fills.length} fills in ${secs.toFixed(2)} s\n`);
      for (const x of run.symbols)
        if (x.delta.violationsOutsideWorkflow > 0) process.stdout.write(`backtest: WARNING ${x.symbol}: net delta exceeded the tolerance ${x.deltaTolerance} outside a workflow ${x.delta.violationsOutsideWorkflow} time(s), max ${x.delta.maxAbsOutsideWorkflow}\n`);
      process.stdout.write(`backtest: wrote ${files.join(', ')}\n`);
      return 0;
    }
    for (const k of ARB_ONLY) if (args[k] !== undefined) throw new UsageError(`--${k} applies to --strategy funding-arb only`);
    const fm = args['fill-model'];
    if (fm !== undefined && fm !== 'touch' && fm !== 'conservative') throw new UsageError(`--fill-model must be touch or conservative, got "${fm}"`);
    const vs = args['volume-share'] === undefined ? undefined : Number(args['volume-share']);
    if (vs !== undefined && !(vs > 0 && vs <= 1)) throw new UsageError(`--volume-share must be in (0, 1], got "${args['volume-share']}"`);
    const ef = args['engine-feed'];
    if (ef !== undefined && ef !== 'every' && ef !== 'coalesced') throw new UsageError(`--engine-feed must be coalesced or every, got "${ef}"`);
    const mc = args['margin-check-ms'];
    if (mc !== undefined && !(/^\d+$/.test(mc) && Number(mc) >= 100 && Number(mc) <= 3_600_000)) throw new UsageError(`--margin-check-ms must be an integer in [100, 3600000] (market ms), got "${mc}"`);
    const rm = args['reconcile-ms'];
    if (rm !== undefined && !(/^\d+$/.test(rm) && Number(rm) >= 100 && Number(rm) <= 3_600_000)) throw new UsageError(`--reconcile-ms must be an integer in [100, 3600000] (market ms), got "${rm}"`);
    const job: BacktestJob = {
      reconcileIntervalMs: rm === undefined ? undefined : Number(rm),
      marginCheckIntervalMs: mc === undefined ? undefined : Number(mc),
      engineFeed: ef as BacktestJob['engineFeed'],
      data: args.data,
      funding: args.funding,
      recording: args.recording,
      config: args.config,
      fromMs: args.from === undefined ? undefined : parseDate('from', args.from),
      toMs: args.to === undefined ? undefined : parseDate('to', args.to),
      fillModel: fm as BacktestJob['fillModel'],
      volumeShare: vs,
      balance: args.balance,
    };
    if (job.fromMs !== undefined && job.toMs !== undefined && job.toMs <= job.fromMs) throw new UsageError('--to must be after --from');
    const t0 = Date.now();
    const { run, report } = await executeJob(job, (p) => reporter.update(p));
    reporter.stop();
    const secs = (Date.now() - t0) / 1000;
    const files = writeOutputs(args.out ?? 'backtest-report', run, report);
    process.stdout.write(`${renderSummaryTable(report)}\n`);
    process.stdout.write(`backtest: ${run.events} market events, ${run.candlesReplayed} candles, ${run.fills.length} fills in ${secs.toFixed(2)} s (${fmtRate(run.events / Math.max(secs, 1e-3))} events/s)\n`);
    for (const l of run.liquidations) process.stdout.write(`backtest: LIQUIDATED ${l.symbol} ${l.side} ${l.quantity} @ ${l.price} at ${new Date(l.timeMs).toISOString()} (margin balance ${l.marginBalance.toDecimalPlaces(2)} ≤ maintenance ${l.maintenanceMargin.toDecimalPlaces(2)})\n`);
    process.stdout.write(`backtest: wrote ${files.join(', ')}\n`);
    return 0;
  } catch (e) {
    reporter.stop();
    const err = e as Error;
    const known = ['MarketDataError', 'ConfigError', 'BacktestError', 'SymbolFileListError'].includes(err.name) || err instanceof UsageError;
    process.stderr.write(`backtest: ${known ? err.message.split('\n')[0] : `internal error: ${err.stack ?? err.message}`}\n`);
    return known ? 2 : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`backtest: internal error: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
