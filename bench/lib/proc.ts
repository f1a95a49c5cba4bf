import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ROOT, SHARED, freePort, stopApp, waitFor } from '@mm/testing';

export { ROOT, SHARED, freePort, waitFor };
export const BTC_CSV = process.env.BENCH_BTC_CSV ?? path.join(SHARED, 'data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv');
const HOSTS = path.join(ROOT, 'dist', 'bench', 'hosts');

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  output(): string;
  /** Sends a request over IPC and resolves with the reply of the same id. */
  request<T = any>(msg: Record<string, unknown>, timeoutMs?: number): Promise<T>;
}

let reqId = 0;

/**
 * Starts a node script as a child with an IPC channel. `preload` names modules in dist/bench/hosts
 * loaded with `-r` (e.g. `preload-ipc` answers `mem` requests: RSS and heap after a forced GC).
 * With BENCH_CPU_PROF=<dir> every child writes a V8 CPU profile there on exit; BENCH_NODE_ARGS adds
 * node flags to every child (e.g. `--trace-gc`, which NODE_OPTIONS refuses).
 */
export function startNode(
  name: string,
  script: string,
  opts: { env?: Record<string, string>; preload?: string[]; logDir: string; args?: string[] },
): Proc {
  fs.mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name}-${Date.now()}.log`);
  const out = fs.openSync(logFile, 'a');
  // The apps' Node flags as deployed (Dockerfile NODE_OPTIONS), for every child alike: products and
  // baselines run with the same young-generation size.
  const nodeArgs = ['--expose-gc', '--max-semi-space-size=32'];
  for (const p of opts.preload ?? []) nodeArgs.push('-r', path.join(HOSTS, `${p}.js`));
  const prof = process.env.BENCH_CPU_PROF;
  if (prof) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(prof)}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`);
  // extra node flags for every child, e.g. BENCH_NODE_ARGS=--trace-gc (not allowed in NODE_OPTIONS)
  if (process.env.BENCH_NODE_ARGS) nodeArgs.push(...process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean));
  const child = spawn(process.execPath, [...nodeArgs, script, ...(opts.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', out, out, 'ipc'],
  });
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const pending = new Map<number, (v: any) => void>();
  child.on('message', (m: any) => {
    const cb = pending.get(m?.id);
    if (cb) {
      pending.delete(m.id);
      cb(m);
    }
  });
  return {
    name,
    child,
    logFile,
    exited,
    output: () => fs.readFileSync(logFile, 'utf8'),
    request: (msg, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const id = ++reqId;
        const t = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no reply to ${String(msg.type)} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, (v) => {
          clearTimeout(t);
          if (v.error) reject(new Error(`${name}: ${v.error}`));
          else resolve(v);
        });
        child.send({ ...msg, id });
      }),
  };
}

/** Starts a built app (`dist/apps/<app>/src/main.js`). */
export function startApp(app: 'exchange-connector' | 'live-server', env: Record<string, string>, logDir: string, preload: string[] = ['preload-ipc']): Proc {
  return startNode(app, path.join(ROOT, 'dist/apps', app, 'src/main.js'), { env, preload, logDir });
}

/** Starts a bench host script from dist/bench/hosts. */
export function startHost(host: string, env: Record<string, string>, logDir: string): Proc {
  return startNode(host, path.join(HOSTS, `${host}.js`), { env, preload: ['preload-ipc'], logDir });
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export const stopProc: (p: Proc | undefined, graceMs?: number) => Promise<void> = stopApp;

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Samples a child's RSS every `everyMs` until stopped; returns the maximum seen. */
export function rssSampler(pid: number, everyMs = 100): { stop(): number } {
  let max = 0;
  const sample = () => {
    try {
      max = Math.max(max, rssOf(pid));
    } catch {
      /* exited */
    }
  };
  sample();
  const t = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(t);
      sample();
      return max;
    },
  };
}

export interface MemReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** RSS and heap of a child started with `preload-ipc`, after forced GCs. */
export async function memOf(p: Proc, gc = true): Promise<MemReport> {
  return p.request<MemReport>({ type: 'mem', gc });
}
