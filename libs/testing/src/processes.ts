import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** Repository root: the nearest ancestor with a package.json (works from sources and from dist/). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const ROOT = findRoot(__dirname);
/** The shared data directory: `../shared` next to the repository, or TEST_SHARED_DIR (for worktrees elsewhere). */
export const SHARED = path.resolve(process.env.TEST_SHARED_DIR ?? path.join(ROOT, '..', 'shared'));
export const BTC_CSV = path.join(SHARED, 'data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv');

const issuedPorts = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 (asks the OS). Never returns the same port twice in one process: the
 * OS may hand a just-released port out again, and two of them given to one app collide (EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(p));
      });
      srv.on('error', reject);
    });
    if (!issuedPorts.has(port)) {
      issuedPorts.add(port);
      return port;
    }
  }
  throw new Error('freePort: no unused port after 50 attempts');
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** A child process with its output in a log file. */
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
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { name: tag, child, logFile, exited, output: () => fs.readFileSync(logFile, 'utf8') };
}

export async function httpJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopApp(p: Pick<AppProcess, 'child' | 'exited'> | undefined, graceMs = 8000): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}
