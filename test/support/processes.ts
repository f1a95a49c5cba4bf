import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, waitFor } from '../../bench/lib/proc';

export { freePort, waitFor };

export const ROOT = path.resolve(__dirname, '..', '..');
export const SHARED = path.resolve(ROOT, '..', 'shared');
export const BTC_CSV = path.join(SHARED, 'data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv');

export interface AppProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  output(): string;
}

/** Starts a built app (`dist/apps/<app>/src/main.js`) as a child process; output goes to a log file. */
export function startApp(app: 'exchange-connector' | 'market-maker' | 'live-server', env: Record<string, string>, logDir: string, tag: string = app): AppProcess {
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${tag}-${Date.now()}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps', app, 'src/main.js')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', out, out],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { name: tag, child, logFile, exited, output: () => fs.readFileSync(logFile, 'utf8') };
}

export async function httpJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code. */
export async function stopApp(p: AppProcess | undefined, graceMs = 8000): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}
