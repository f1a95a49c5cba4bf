/**
 * Piscina worker of `npm run optimize`: runs one backtest per task and returns its summary. Market
 * data is loaded once per worker thread and reused for every combination.
 */
import { type BacktestJob, executeJob } from './backtest-job';
import type { ComboResult } from './optimize-core';

export interface OptimizeTask {
  key: string;
  params: Record<string, string>;
  job: BacktestJob;
}

export default async function runCombo(task: OptimizeTask): Promise<ComboResult> {
  const t0 = process.hrtime.bigint();
  const { report } = await executeJob({ ...task.job, overrides: task.params }, undefined, true);
  return { key: task.key, params: task.params, summary: report.summary, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
}
