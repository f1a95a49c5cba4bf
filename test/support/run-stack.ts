/**
 * `npm start` as a test runs it: `scripts/run-stack.js` (the built apps) on free ports, with the
 * market maker's SQLite file and the sim's state file in `dir`, the caller's `extra` settings, and
 * no inherited setting that would change the embedded defaults (hosts, addresses, symbols, config).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT, freePort } from '@mm/testing';

export interface StackRun {
  /** Market maker HTTP port (`/status`). */
  mmPort: number;
  exited: Promise<number | null>;
  /** Everything the stack printed so far (stdout and stderr). */
  output: () => string;
  /** Ctrl-C (SIGINT), SIGKILL after 40 s; resolves to the exit code. */
  stop: () => Promise<number | null>;
}

/** Environment for one stack run: free ports, state files in `dir`, `extra` on top. */
export async function stackEnv(dir: string, extra: Record<string, string> = {}): Promise<{ env: Record<string, string | undefined>; mmPort: number }> {
  const [grpcPort, metricsPort, mmPort, livePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(grpcPort),
    METRICS_PORT: String(metricsPort),
    MM_PORT: String(mmPort),
    LIVE_PORT: String(livePort),
    SQLITE_PATH: path.join(dir, 'market-maker.sqlite'),
    SIM_STATE_FILE: path.join(dir, 'sim-state.json'),
    NO_COLOR: '1',
    ...extra,
  };
  for (const k of ['GRPC_HOST', 'MM_HOST', 'LIVE_HOST', 'EXCHANGE_GRPC_ADDRESS', 'MM_SYMBOLS', 'CONFIG_FILE', 'DATABASE_URL']) delete env[k];
  if (!('SIM_DATA' in extra)) delete env.SIM_DATA;
  return { env, mmPort };
}

/** Starts `scripts/run-stack.js` with `env` (see {@link stackEnv}). */
export function startStack(env: Record<string, string | undefined>, mmPort: number): StackRun {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/run-stack.js')], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    mmPort,
    exited,
    output: () => out,
    stop: async () => {
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 40_000))]);
      if (code !== 'timeout') return code;
      child.kill('SIGKILL');
      return exited;
    },
  };
}
