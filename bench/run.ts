/**
 * Benchmark runner: `node dist/bench/run.js [--only name[,name…]]` (npm run bench).
 * Env: BENCH_SCALE=smoke|full (default full), BENCH_OUT_DIR (default bench/results),
 * BENCH_CPU_PROF=<dir> (child processes write V8 CPU profiles there).
 * Writes <out>/latest.json, <out>/latest.md and timestamped copies under <out>/history/.
 * Exit code 1 when any benchmark failed to run (a missed target is not a failure).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Bench } from './lib/context';
import { ROOT } from './lib/proc';
import { type BenchResult, type RunResult, runMeta, writeResults } from './lib/results';
import { getScale } from './lib/scale';
import { unaryBench } from './benches/unary';
import { throughputBench } from './benches/throughput';
import { fanoutBench } from './benches/fanout';
import { mmBench } from './benches/mm-reaction';
import { liveBench } from './benches/live';
import { replayBench } from './benches/replay';
import { memoryBench } from './benches/memory';
import { backtestBench, optimizeBench } from './benches/backtest';
import { sustainedBench } from './benches/sustained';
import { soakBench } from './benches/soak';
import { multisymbolBench } from './benches/multisymbol';

export const BENCHES: Bench[] = [unaryBench, throughputBench, fanoutBench, mmBench, liveBench, replayBench, memoryBench, sustainedBench, soakBench, multisymbolBench, backtestBench, optimizeBench];

function parseOnly(argv: string[]): string[] | undefined {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return undefined;
  const v = argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
  if (!v) throw new Error('--only needs a benchmark name');
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

async function main(): Promise<void> {
  const only = parseOnly(process.argv.slice(2));
  const scale = getScale();
  const unknown = (only ?? []).filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  const outDir = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(ROOT, 'bench', 'results'));
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-bench-'));
  const result: RunResult = { meta: runMeta(scale.name, only), benchmarks: [] };
  const t0 = Date.now();
  const log = (m: string) => process.stdout.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
  log(`scale ${scale.name}, logs in ${workDir}`);
  let failed = 0;
  for (const b of BENCHES) {
    if (only ? !only.includes(b.name) : b.optIn) continue;
    log(`── ${b.name}: ${b.title}`);
    const started = Date.now();
    let r: BenchResult;
    try {
      const out = await b.run({ scale, workDir, log });
      r = { name: b.name, title: b.title, ...out, seconds: (Date.now() - started) / 1000 };
    } catch (e) {
      failed++;
      r = { name: b.name, title: b.title, method: '', rows: [], targets: [], notes: [], seconds: (Date.now() - started) / 1000, error: (e as Error).stack ?? String(e) };
      log(`${b.name} FAILED: ${(e as Error).message}`);
    }
    result.benchmarks.push(r);
    for (const t of r.targets) log(`  ${t.pass ? 'pass' : 'MISS'}  ${t.what}: ${t.value} (target ${t.target})`);
  }
  result.meta.finishedAt = new Date().toISOString();
  const files = writeResults(outDir, result);
  log(`wrote ${files.json} and ${files.md} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exitCode = failed ? 1 : 0;
}

main()
  .catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref());
