/**
 * The image's runtime tree (deploy/runtime-files.json, assembled by scripts/assemble-runtime.js as in
 * the Dockerfile) is complete: all three apps start from it alone (cwd = the tree, NODE_ENV=production,
 * no path into the repository) and the live page answers 200 on `/`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, freePort, httpJson, waitFor } from '@mm/testing';

jest.setTimeout(90_000);

describe('runtime tree of the image', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-runtime-'));
  const tree = path.join(tmp, 'app');
  const procs: { child: ChildProcess; out: string[] }[] = [];

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function start(app: string, env: Record<string, string>) {
    const out: string[] = [];
    const child = spawn(process.execPath, [path.join('dist/apps', app, 'src/main.js')], {
      cwd: tree,
      // Only what the container would have: no repository paths, production mode.
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d) => out.push(String(d)));
    child.stderr?.on('data', (d) => out.push(String(d)));
    procs.push({ child, out });
    return { child, out };
  }

  it('the Dockerfile assembles the runtime tree with the shared list', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('RUN node scripts/assemble-runtime.js /runtime');
    expect(dockerfile).toContain('COPY --from=build /runtime/ ./');
    expect(dockerfile.match(/^COPY --from=build/gm)).toHaveLength(1);
    // The build context keeps the list and the script (`deploy` itself is ignored).
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toContain('!deploy/runtime-files.json');
    expect(ignore.indexOf('!deploy/runtime-files.json')).toBeGreaterThan(ignore.indexOf('deploy'));
    expect(ignore.some((l) => l === 'scripts' || l === 'scripts/')).toBe(false);
  });

  it('the image\'s Node flags (NODE_OPTIONS) are the ones npm start and the benchmarks use, and Node accepts them there', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const flags = /^ENV NODE_OPTIONS=(.+)$/m.exec(dockerfile)?.[1];
    expect(flags).toBe('--max-semi-space-size=32');
    for (const f of ['scripts/run-stack.js', 'bench/lib/proc.ts', 'package.json']) expect(fs.readFileSync(path.join(ROOT, f), 'utf8')).toContain(flags);
    // a flag NODE_OPTIONS refuses would stop every app at start
    const out = execFileSync(process.execPath, ['-e', 'process.stdout.write("started with " + process.env.NODE_OPTIONS)'], { env: { ...process.env, NODE_OPTIONS: flags }, encoding: 'utf8' });
    expect(out).toBe(`started with ${flags}`);
    expect(() => execFileSync(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_OPTIONS: '--no-such-flag' }, stdio: 'pipe' })).toThrow(); // the check can fail
  });

  it('all three apps start from the assembled tree; the page answers 200', async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/assemble-runtime.js'), tree, '--link', 'node_modules'], { stdio: 'pipe' });
    for (const f of ['apps/live-server/public/index.html', 'proto', 'config/market-maker.yaml', 'dist/apps/market-maker/src/main.js']) {
      expect(fs.existsSync(path.join(tree, f))).toBe(true);
    }
    // Nothing from the sources besides the listed page.
    expect(fs.existsSync(path.join(tree, 'apps/market-maker'))).toBe(false);
    expect(fs.existsSync(path.join(tree, 'test'))).toBe(false);

    const [grpc, http, mmPort, livePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const trader = 'rt-trader-token-0123456789';
    const monitor = 'rt-monitor-token-0123456789';
    const conn = start('exchange-connector', {
      PORT: String(grpc),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(http),
      SIM_SPEED: '60',
      CONNECTOR_TOKENS: `trader:market-maker:${trader},monitor:live-server:${monitor}`,
    });
    await waitFor('connector /health', () => httpJson(`http://127.0.0.1:${http}/health`).then((r) => r.status === 200).catch(() => false), 30000, 200).catch((e) => {
      throw new Error(`${(e as Error).message}\n${conn.out.join('')}`);
    });
    fs.mkdirSync(path.join(tree, 'data'));
    const mm = start('market-maker', { MM_PORT: String(mmPort), MM_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${grpc}`, CONNECTOR_TOKEN: trader });
    const live = start('live-server', { LIVE_PORT: String(livePort), LIVE_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${grpc}`, CONNECTOR_TOKEN: monitor });
    await waitFor('market maker /ready', () => httpJson(`http://127.0.0.1:${mmPort}/ready`).then((r) => r.status === 200).catch(() => false), 30000, 200).catch((e) => {
      throw new Error(`${(e as Error).message}\n${mm.out.join('')}`);
    });
    await waitFor('live /health', () => httpJson(`http://127.0.0.1:${livePort}/health`).then((r) => r.status === 200).catch(() => false), 30000, 200).catch((e) => {
      throw new Error(`${(e as Error).message}\n${live.out.join('')}`);
    });

    // Kubernetes probes of the chart: liveness /live on the connector and the market maker.
    expect((await fetch(`http://127.0.0.1:${http}/live`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${mmPort}/live`)).status).toBe(200);
    const page = await fetch(`http://127.0.0.1:${livePort}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    // The market maker used the baked-in config and the SQLite file under the tree's data/.
    expect(fs.existsSync(path.join(tree, 'data/market-maker.sqlite'))).toBe(true);
    for (const p of [live, mm, conn]) {
      p.child.kill('SIGTERM');
      await new Promise((r) => (p.child.exitCode !== null || p.child.signalCode !== null ? r(null) : p.child.once('exit', r)));
    }
  });
});
