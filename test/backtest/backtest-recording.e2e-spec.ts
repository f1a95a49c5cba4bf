/**
 * Issue 8 acceptance 7, the backtest half: a connector on the sim records what it publishes
 * (`RECORD_FILE`), then `npm run backtest -- --recording <file>` (the built CLI) replays the recording
 * into the sim matcher and the unchanged engine and produces fills.
 *
 * The acceptance text says "for 2 minutes"; this records for ~20 wall seconds at SIM_SPEED=3600
 * (up to 20 market hours of the shared BTC file; fewer on a loaded machine, where the sim falls behind) instead: at live speed 2 minutes of a quiet market may
 * not cross a single grid level, while 20 market hours of BTC always do, and the test stays short.
 * The recording format does not depend on the speed (market timestamps, one coalesced price per wake).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestExchangeClient } from '../support/exchange-client';
import { BTC_CSV, ROOT, freePort, startApp, stopApp, waitFor, type AppProcess } from '@mm/testing';

jest.setTimeout(5 * 60_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-bt-rec-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('backtest of a connector recording (e2e, dist)', () => {
  let app: AppProcess | undefined;
  afterAll(async () => stopApp(app));

  it('records ~20 market hours from the sim connector, then backtests the recording with fills', async () => {
    const rec = path.join(dir, 'rec.jsonl');
    const port = await freePort();
    const metricsPort = await freePort();
    app = startApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), EXCHANGE: 'sim', SIM_DATA: BTC_CSV, SIM_MAX_CANDLES: '3000', SIM_SPEED: '3600', RECORD_FILE: rec }, dir, 'record');
    await waitFor('connector health', async () => (await fetch(`http://127.0.0.1:${metricsPort}/health`).catch(() => undefined))?.status === 200, 30_000, 100);
    const client = new TestExchangeClient(`127.0.0.1:${port}`);
    let prices = 0;
    const streams = [
      client.stream('SubscribePrice', { symbols: ['BTCUSDT'] }, () => prices++),
      client.stream('SubscribeKlines', { symbols: ['BTCUSDT'], interval: '1m' }, () => undefined),
      client.stream('SubscribeFundingRate', { symbol: 'BTCUSDT' }, () => undefined),
    ];
    await sleep(20_000);
    // on a loaded machine the sim falls behind: record until it has published a few hundred prices
    await waitFor('recorded prices', async () => prices > 300, 180_000, 200);
    for (const s of streams) s.cancel();
    client.close();
    await stopApp(app);
    app = undefined;
    expect(prices).toBeGreaterThan(300);
    const lines = fs.readFileSync(rec, 'utf8').split('\n').filter(Boolean);
    const first = JSON.parse(lines[0]);
    const last = JSON.parse(lines[lines.length - 1]);
    expect(last.t).toBeGreaterThan(first.t);

    const out = path.join(dir, 'out');
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/market-maker/src/backtest/main.js'), '--recording', rec, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => (stdout += b));
      child.stderr.on('data', (b) => (stderr += b));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const rep = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(rep.source.recording).toBe('rec.jsonl');
    // the replay covered market hours, not wall seconds
    expect(rep.period.toMs - rep.period.fromMs).toBeGreaterThan(3_600_000);
    expect(rep.summary.fills).toBeGreaterThan(0);
    const fills = fs.readFileSync(path.join(out, 'fills.csv'), 'utf8').trim().split('\n').slice(1);
    expect(fills.length).toBe(rep.summary.fills);
    // every fill is one of the engine's orders (client order id mm1B…/mm1S…), at a price the recording reached
    for (const f of fills) expect(f.split(',')[7]).toMatch(/^mm1[BS]\d+g\d+[0-9a-z]{6}$/);
  });
});
