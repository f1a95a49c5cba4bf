import * as fs from 'node:fs';
import * as path from 'node:path';
import { type BacktestProgress, type BacktestReport, type BacktestRun, DEFAULT_BACKTEST_MARGIN_CHECK_MS, DEFAULT_BACKTEST_RECONCILE_MS, buildReport, renderReportHtml, renderReportJson, runBacktest } from '@mm/backtest';
import { Dec } from '@mm/domain';
import { type KlineFillModel, type SimData, loadSimData, openRecording } from '@mm/sim-exchange';
import { loadBacktestConfig } from './backtest-config';

/** One backtest as the CLI and the optimizer describe it (paths as given; times Unix ms). */
export interface BacktestJob {
  /** Kline / trades / book CSV (exclusive with `recording`). */
  data?: string;
  funding?: string;
  /** A connector recording (`RECORD_FILE` JSON Lines). */
  recording?: string;
  /** Market maker YAML; undefined = schema defaults. */
  config?: string;
  /** Dotted-key overrides over the YAML (optimizer parameters). */
  overrides?: Record<string, string>;
  fromMs?: number;
  toMs?: number;
  fillModel?: KlineFillModel;
  volumeShare?: number;
  /** Engine price feed (see `BacktestOptions.engineFeed`), default coalesced. */
  engineFeed?: 'every' | 'coalesced';
  /** Market ms between the engine's reconciliations (see `BacktestOptions.reconcileIntervalMs`), default 60 000. */
  reconcileIntervalMs?: number;
  /** Market ms between the margin breakers' account polls (see `BacktestOptions.marginCheckIntervalMs`), default 60 000. */
  marginCheckIntervalMs?: number;
  /** Starting balance (quote, decimal string), default 10000. */
  balance?: string;
}

/** A bad date flag. */
export class UsageError extends Error {}

/**
 * A date flag: `2025-05-10`, `2025-05-10T12:00`, `2025-05-10T12:00:00Z` (UTC unless an offset is
 * given) or Unix ms.
 * @throws UsageError naming the flag.
 */
export function parseDate(flag: string, v: string): number {
  if (/^\d{12,14}$/.test(v)) return Number(v);
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(v) ? v : `${v}Z`;
  const ms = Date.parse(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(ms)) throw new UsageError(`--${flag}: not a date (use 2025-05-10, 2025-05-10T12:00 or Unix ms): "${v}"`);
  return ms;
}

const dataCache = new Map<string, SimData>();

/** Loads and validates the job's market data (kline files are cached per process, for the optimizer's workers). */
export function loadJobData(job: BacktestJob, symbol: string, cache = false): SimData {
  if (job.recording) {
    if (job.data) throw new UsageError('--data and --recording exclude each other');
    if (job.funding) throw new UsageError('--funding does not apply to a recording (it carries its own funding messages)');
    return { format: 'klines', events: openRecording(job.recording, { symbol }) };
  }
  if (!job.data) throw new UsageError('--data <csv> (or --recording <file>) is required');
  const key = `${job.data}\0${job.funding ?? ''}\0${symbol}`;
  const hit = cache ? dataCache.get(key) : undefined;
  if (hit && hit.format === 'klines') return hit;
  const loaded = loadSimData({ symbol, data: job.data, funding: job.funding });
  if (cache && loaded.format === 'klines') dataCache.set(key, loaded);
  return loaded;
}

/** Loads config and data, runs the backtest and builds the report (writes nothing). */
export async function executeJob(job: BacktestJob, onProgress?: (p: BacktestProgress) => void, cacheData = false): Promise<{ run: BacktestRun; report: BacktestReport }> {
  const cfg = loadBacktestConfig(job.config, job.overrides);
  const symbol = cfg.config.grid.symbol;
  const data = loadJobData(job, symbol, cacheData);
  const source: Record<string, string> = { fillModel: job.fillModel ?? 'touch' };
  if (job.data) source.data = path.basename(job.data);
  if (job.funding) source.funding = path.basename(job.funding);
  if (job.recording) source.recording = path.basename(job.recording);
  if (job.config) source.config = path.basename(job.config);
  source.engineFeed = job.engineFeed ?? 'coalesced';
  source.reconcileIntervalMs = String(job.reconcileIntervalMs ?? DEFAULT_BACKTEST_RECONCILE_MS);
  source.marginCheckIntervalMs = String(job.marginCheckIntervalMs ?? DEFAULT_BACKTEST_MARGIN_CHECK_MS);
  if (job.fillModel === 'conservative') source.volumeShare = String(job.volumeShare ?? 0.1);
  const run = await runBacktest({
    settings: cfg.settings,
    candles: data.candles,
    events: data.events,
    fundingRates: data.fundingRates,
    engineFeed: job.engineFeed,
    reconcileIntervalMs: job.reconcileIntervalMs,
    marginCheckIntervalMs: job.marginCheckIntervalMs,
    fillModel: job.fillModel,
    volumeShare: job.volumeShare,
    startingBalance: new Dec(job.balance ?? '10000'),
    fromMs: job.fromMs,
    toMs: job.toMs,
    config: cfg.echo,
    source,
    onProgress,
  });
  return { run, report: buildReport(run) };
}

function csvTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** fills.csv: every execution, oldest first. */
export function fillsCsv(run: BacktestRun): string {
  const rows = ['time,time_ms,side,price,qty,fee,liquidity,client_order_id'];
  for (const f of run.fills) rows.push(`${csvTime(f.timeMs)},${f.timeMs},${f.side},${f.price.toFixed()},${f.qty.toFixed()},${f.fee.toFixed()},${f.liquidity},${f.clientOrderId ?? ''}`);
  return `${rows.join('\n')}\n`;
}

/** round-trips.csv: every closed round trip, in closing order. */
export function roundTripsCsv(run: BacktestRun): string {
  const rows = ['direction,open_time_ms,close_time_ms,qty,entry_price,exit_price,pnl,fees'];
  for (const t of run.roundTrips) rows.push(`${t.direction},${t.openTimeMs},${t.closeTimeMs},${t.qty.toFixed()},${t.entryPrice.toFixed()},${t.exitPrice.toFixed()},${t.pnl.toFixed()},${t.fees.toFixed()}`);
  return `${rows.join('\n')}\n`;
}

/** Writes report.json, report.html, fills.csv and round-trips.csv into `out` (created). Returns the paths. */
export function writeOutputs(out: string, run: BacktestRun, report: BacktestReport): string[] {
  const files: [string, string][] = [
    ['report.json', renderReportJson(report)],
    ['report.html', renderReportHtml(run, report)],
    ['fills.csv', fillsCsv(run)],
    ['round-trips.csv', roundTripsCsv(run)],
  ];
  return writeFilesAtomically(out, files);
}

/** Writes each `[name, text]` into `out` (created): to a temp name first, then renamed, so a reader never sees half a file. Returns the paths. */
export function writeFilesAtomically(out: string, files: readonly (readonly [string, string])[]): string[] {
  fs.mkdirSync(out, { recursive: true });
  return files.map(([name, text]) => {
    const p = path.join(out, name);
    const tmp = `${p}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, p);
    return p;
  });
}
