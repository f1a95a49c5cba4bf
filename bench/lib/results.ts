import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execSync } from 'node:child_process';
import { type Summary, round } from './stats';

/** Latency and throughput of one side (product or baseline) of a case. Latencies in ms. */
export interface Side {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Per second, in the row's `throughputUnit`. */
  throughput: number;
}

export interface Row {
  case: string;
  product: Side;
  baseline?: Side;
  /** product / baseline. Latency: lower is better (1.10 = 10 % slower). Throughput: higher is better (0.90 = 10 % less). */
  ratio?: { p50: number; p99: number; throughput: number };
  throughputUnit: string;
  /** Other figures of the case (drops, memory, counts…). */
  extra?: Record<string, number | string>;
}

export interface Target {
  what: string;
  target: string;
  value: string;
  pass: boolean;
}

export interface BenchResult {
  name: string;
  title: string;
  /** How it was measured and what the baseline is. */
  method: string;
  rows: Row[];
  targets: Target[];
  notes: string[];
  seconds: number;
  error?: string;
}

export interface RunResult {
  meta: {
    startedAt: string;
    finishedAt: string;
    scale: string;
    node: string;
    cpus: number;
    cpuModel: string;
    loadavgAtStart: number[];
    git?: string;
    only?: string[];
  };
  benchmarks: BenchResult[];
}

export function side(s: Summary, throughput: number): Side {
  return { n: s.n, p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), max: round(s.max), throughput: round(throughput, 1) };
}

export function row(name: string, product: Side, baseline: Side | undefined, throughputUnit: string, extra?: Row['extra']): Row {
  const r: Row = { case: name, product, throughputUnit, extra };
  if (baseline) {
    r.baseline = baseline;
    const q = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? round(a / b, 3) : NaN);
    r.ratio = { p50: q(product.p50, baseline.p50), p99: q(product.p99, baseline.p99), throughput: q(product.throughput, baseline.throughput) };
  }
  return r;
}

export function gitRev(): string | undefined {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return undefined;
  }
}

export function runMeta(scale: string, only?: string[]): RunResult['meta'] {
  return {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    scale,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    loadavgAtStart: os.loadavg().map((v) => round(v, 2)),
    git: gitRev(),
    only,
  };
}

const fmt = (v: number | undefined, dp = 3): string => (v === undefined || !Number.isFinite(v) ? '–' : String(round(v, dp)));
const fmtThr = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));

export function toMarkdown(r: RunResult): string {
  const out: string[] = [];
  out.push(`# Benchmark results (${r.meta.scale})`, '');
  out.push(
    `Run ${r.meta.startedAt} → ${r.meta.finishedAt}, node ${r.meta.node}, ${r.meta.cpus} × ${r.meta.cpuModel}, load average at start ${r.meta.loadavgAtStart.join(' / ')}${r.meta.git ? `, git ${r.meta.git}` : ''}.`,
    '',
    'Latencies in ms (p50 / p90 / p99 / max). Ratios are product ÷ baseline: for latency lower is better (1.10 = 10 % slower than the baseline); for throughput higher is better (0.90 = 10 % less).',
    '',
  );
  const targets = r.benchmarks.flatMap((b) => b.targets.map((t) => ({ ...t, bench: b.name })));
  if (targets.length) {
    out.push('## Targets', '', '| benchmark | what | target | measured | |', '|---|---|---|---|---|');
    for (const t of targets) out.push(`| ${t.bench} | ${t.what} | ${t.target} | ${t.value} | ${t.pass ? 'pass' : '**MISS**'} |`);
    out.push('');
  }
  for (const b of r.benchmarks) {
    out.push(`## ${b.name}: ${b.title}`, '', b.method, '');
    if (b.error) out.push(`**ERROR:** ${b.error}`, '');
    if (b.rows.length) {
      out.push(
        '| case | n | p50 | p90 | p99 | max | throughput | baseline p50 / p99 | baseline throughput | ratio p50 | ratio p99 | ratio throughput | other |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      );
      for (const x of b.rows) {
        const p = x.product;
        const bl = x.baseline;
        const extra = x.extra ? Object.entries(x.extra).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v, 2) : v}`).join(', ') : '';
        out.push(
          `| ${x.case} | ${p.n} | ${fmt(p.p50)} | ${fmt(p.p90)} | ${fmt(p.p99)} | ${fmt(p.max)} | ${fmtThr(p.throughput)} ${x.throughputUnit} | ${bl ? `${fmt(bl.p50)} / ${fmt(bl.p99)}` : '–'} | ${bl ? fmtThr(bl.throughput) : '–'} | ${fmt(x.ratio?.p50, 2)} | ${fmt(x.ratio?.p99, 2)} | ${fmt(x.ratio?.throughput, 2)} | ${extra} |`,
        );
      }
      out.push('');
    }
    for (const n of b.notes) out.push(`- ${n}`);
    out.push('', `(${round(b.seconds, 1)} s)`, '');
  }
  return out.join('\n');
}

/** Writes latest.json/latest.md and keeps a timestamped copy of both under history/. */
export function writeResults(dir: string, r: RunResult): { json: string; md: string } {
  fs.mkdirSync(path.join(dir, 'history'), { recursive: true });
  const json = JSON.stringify(r, null, 2);
  const md = toMarkdown(r);
  const stamp = r.meta.startedAt.replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(dir, 'latest.json'), json);
  fs.writeFileSync(path.join(dir, 'latest.md'), md);
  fs.writeFileSync(path.join(dir, 'history', `${stamp}-${r.meta.scale}.json`), json);
  fs.writeFileSync(path.join(dir, 'history', `${stamp}-${r.meta.scale}.md`), md);
  return { json: path.join(dir, 'latest.json'), md: path.join(dir, 'latest.md') };
}
