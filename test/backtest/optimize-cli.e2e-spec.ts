/**
 * `npm run optimize` as a user runs it (built CLI, child process): 4 combinations on ~1.5 days of the
 * shared BTC file on 2 worker threads; the ranking follows the objective; an interrupted run resumes
 * from its journal (lines removed from the journal are run again, the others are not, and the result
 * is the same); optimize.html opens offline in headless Chromium with the Pareto front and heatmap.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { Dec } from '@mm/domain';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/apps/market-maker/src/backtest/optimize.js');
const DATA = path.join(ROOT, '../shared/data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-optimize-'));
jest.setTimeout(15 * 60_000);

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const ARGS = ['--data', DATA, '--to', '2025-05-06', '--param', 'grid.price_interval=100:200:100', '--param', 'grid.order_notional=250,500', '--workers', '2', '--objective', 'net_pnl'];

describe('npm run optimize (e2e, dist)', () => {
  const out = path.join(dir, 'opt');
  let browser: Browser | undefined;
  afterAll(async () => browser?.close());

  it('rejects an unknown parameter key and a bad range with one line, exit 2', async () => {
    const r = await run(['--data', DATA, '--param', 'grid.price_intervall=50,100', '--out', path.join(dir, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('optimize: config error: grid.price_intervall: unknown key');
    const r2 = await run(['--data', DATA, '--param', 'grid.price_interval=400:50:25', '--out', path.join(dir, 'y')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^optimize: --param grid\.price_interval: need step > 0 and to ≥ from/);
    expect(fs.existsSync(path.join(dir, 'x')) || fs.existsSync(path.join(dir, 'y'))).toBe(false);
  });

  it('runs every combination on 2 workers and ranks them by the objective', async () => {
    const r = await run([...ARGS, '--out', out]);
    expect(r.stderr).toMatch(/4 combinations \(0 already in .*journal\.jsonl\), 4 to run on 2 worker/);
    expect(r.code).toBe(0);
    const rows = fs.readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    const head = rows[0].split(',');
    const body = rows.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i], v])));
    expect(body).toHaveLength(4);
    expect(new Set(body.map((b) => `${b['grid.price_interval']}/${b['grid.order_notional']}`))).toEqual(new Set(['100/250', '100/500', '200/250', '200/500']));
    expect(body.map((b) => Number(b.rank))).toEqual([1, 2, 3, 4]);
    // descending net PnL, and the objective column is the net PnL
    for (let i = 1; i < body.length; i++) expect(new Dec(body[i - 1].netPnl).gte(body[i].netPnl)).toBe(true);
    for (const b of body) expect(new Dec(b.objective).eq(new Dec(b.netPnl).toDecimalPlaces(8))).toBe(true);
    expect(new Set(body.map((b) => b.netPnl)).size).toBeGreaterThan(1);
    expect(fs.readFileSync(path.join(out, 'results.md'), 'utf8')).toMatch(/\| # \| grid\.price_interval \| grid\.order_notional \| net_pnl \|/);
    expect(r.stdout).toMatch(/\| 1 \| /);
  });

  it('resumes: journaled combinations are skipped, the missing ones run again, same ranking', async () => {
    const journal = path.join(out, 'journal.jsonl');
    const before = fs.readFileSync(path.join(out, 'results.csv'), 'utf8');
    const lines = fs.readFileSync(journal, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    // interrupted: two finished, a third torn mid-write
    fs.writeFileSync(journal, `${lines[0]}\n${lines[1]}\n${lines[2].slice(0, 40)}`);
    const r = await run([...ARGS, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/4 combinations \(2 already in .*journal\.jsonl\), 2 to run/);
    const ran = r.stderr.split('\n').filter((l) => /^optimize: \[\d\/2\]/.test(l));
    expect(ran).toHaveLength(2);
    const keys = [lines[0], lines[1]].map((l) => JSON.parse(l).key as string);
    for (const k of keys) expect(ran.some((l) => l.includes(k))).toBe(false);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(before);
    // a complete journal: nothing runs
    const again = await run([...ARGS, '--out', out]);
    expect(again.stderr).toMatch(/\(4 already in .*\), 0 to run/);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(before);
  });

  (fs.existsSync(CHROMIUM) ? it : it.skip)('optimize.html: Pareto front and heatmap, offline, no page errors', async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => !r.url().startsWith('file:') && requests.push(r.url()));
    await page.goto(`file://${path.join(out, 'optimize.html')}`);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    const counts = await page.evaluate(`({
      dots: document.querySelectorAll('#pareto circle').length,
      front: document.querySelectorAll('#pareto circle.front').length,
      cells: document.querySelectorAll('#heatmap rect.cell').length,
      rows: document.querySelectorAll('#ranking tr').length,
      w: document.querySelector('#pareto').getBoundingClientRect().width,
    })`);
    expect(counts).toMatchObject({ dots: 4, cells: 4, rows: 5 });
    const c = counts as { front: number; w: number };
    expect(c.front).toBeGreaterThanOrEqual(1);
    expect(c.w).toBeGreaterThan(100);
  });
});
