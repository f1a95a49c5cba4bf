/**
 * The built connector (dist) on the sim: bad market data stops it with one clear line (issue 8
 * acceptance 5); RECORD_FILE records what it publishes and the recording replays into the sim
 * matcher with fills (acceptance 7); a file replay waits for its trading client and, in lockstep,
 * never runs ahead of a slow client's acknowledgements (§3).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules, openRecording, type MarketEvent } from '@mm/sim-exchange';
import { TestExchangeClient } from '../support/exchange-client';
import { BTC_CSV, ROOT, freePort, startApp, stopApp, waitFor, type AppProcess } from '@mm/testing';

jest.setTimeout(90_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-replay-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the built connector to exit; stdout and stderr separately. */
function runConnector(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/exchange-connector/src/main.js')], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', METRICS_PORT: '0', GRPC_HOST: '127.0.0.1', EXCHANGE: 'sim', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('connector: bad market data stops it with one line (e2e, dist)', () => {
  const H = 'open_time_ms,open,high,low,close,volume_base\n';
  const ok = '1746372780000,95505.4,95505.5,95502.7,95502.7,16.536\n';
  const cases: [string, string, string, RegExp][] = [
    ['negative low', H + ok + '1746372840000,95502.7,95510,-5,95505,3\n', 'SIM_DATA', /:3: low must be > 0, got -5$/],
    ['NaN price', H + ok + '1746372840000,95502.7,NaN,95500,95505,3\n', 'SIM_DATA', /:3: high "NaN" is not a number$/],
    ['header only', H, 'SIM_DATA', /:1: no data rows \(only a header\)$/],
    ['seconds', H + '1746372780,95505.4,95505.5,95502.7,95502.7,16.536\n', 'SIM_DATA', /:2: open_time_ms 1746372780 looks like Unix seconds/],
    ['bad funding', 'funding_time_ms,funding_rate\n1741276800000,0.0001\n1741276800000,0.0002\n', 'SIM_FUNDING', /:3: duplicate funding_time_ms 1741276800000 \(same as line 2\)$/],
  ];
  it.each(cases)('%s', async (_name, text, key, problem) => {
    const file = path.join(dir, `${_name.replace(/\W/g, '-')}.csv`);
    fs.writeFileSync(file, text);
    const env: Record<string, string> = key === 'SIM_FUNDING' ? { SIM_DATA: BTC_CSV, SIM_MAX_CANDLES: '200', SIM_FUNDING: file } : { SIM_DATA: file };
    const r = await runConnector(env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0].startsWith(`exchange-connector: bad market data: ${file}:`)).toBe(true);
    expect(lines[0]).toMatch(problem);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

async function startConnector(env: Record<string, string>, tag: string): Promise<{ app: AppProcess; client: TestExchangeClient; metricsPort: number }> {
  const port = await freePort();
  const metricsPort = await freePort();
  const app = startApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), EXCHANGE: 'sim', ...env }, dir, tag);
  await waitFor('connector health', async () => (await fetch(`http://127.0.0.1:${metricsPort}/health`).catch(() => undefined))?.status === 200, 30_000, 100);
  return { app, client: new TestExchangeClient(`127.0.0.1:${port}`), metricsPort };
}

describe('RECORD_FILE: record, then replay the recording into the sim matcher (e2e)', () => {
  let app: AppProcess | undefined;
  afterAll(async () => stopApp(app));

  it('records price, klines and funding as JSON Lines; the recording replays with fills against resting orders', async () => {
    const rec = path.join(dir, 'rec.jsonl');
    const c = await startConnector(
      { SIM_DATA: BTC_CSV, SIM_MAX_CANDLES: '400', SIM_SPEED: '1500', RECORD_FILE: rec, SIM_FUNDING: '../shared/data/market/binance-usdm-BTCUSDT-funding-rate-8h.csv' },
      'record',
    );
    app = c.app;
    let prices = 0;
    const streams = [
      c.client.stream('SubscribePrice', { symbols: ['BTCUSDT'] }, () => prices++),
      c.client.stream('SubscribeKlines', { symbols: ['BTCUSDT'], interval: '1m' }, () => undefined),
      c.client.stream('SubscribeFundingRate', { symbol: 'BTCUSDT' }, () => undefined),
    ];
    await waitFor('prices', async () => prices > 300, 30_000, 100);
    await sleep(2000);
    for (const s of streams) s.cancel();
    c.client.close();
    await stopApp(app);
    app = undefined;

    const lines = fs.readFileSync(rec, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(prices);
    const first = JSON.parse(lines[0]);
    expect(Object.keys(first)).toEqual(['t', 'stream', 'symbol', 'data']);
    const kinds = new Set(lines.map((l) => JSON.parse(l).stream));
    expect(kinds.has('price') && kinds.has('klines')).toBe(true);
    const priceLine = lines.map((l) => JSON.parse(l)).find((l) => l.stream === 'price');
    expect(priceLine.data.price.value).toMatch(/^\d+(\.\d+)?$/);

    // read back: time-ordered market events
    const src = openRecording(rec, { symbol: 'BTCUSDT' });
    const events: MarketEvent[] = [];
    for (let e = src.next(); e; e = src.next()) events.push(e);
    expect(events.filter((e) => e.kind === 'price').length).toBe(lines.filter((l) => l.includes('"stream":"price"')).length);
    for (let i = 1; i < events.length; i++) expect(events[i].timeMs).toBeGreaterThanOrEqual(events[i - 1].timeMs);
    const ps = events.filter((e): e is Extract<MarketEvent, { kind: 'price' }> => e.kind === 'price').map((e) => e.price);
    const lo = ps.reduce((a, b) => (b.lt(a) ? b : a));
    const hi = ps.reduce((a, b) => (b.gt(a) ? b : a));
    expect(hi.gt(lo)).toBe(true);

    // replay into the sim matcher: a ladder of resting orders between the first price and the extremes
    const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), events: openRecording(rec, { symbol: 'BTCUSDT' }) }], manual: true, initialBalance: new Dec(1_000_000) });
    // the ladder sits around the sim's own current price (the recording may open with a kline whose close is not the first price)
    const p0 = await sim.getLatestPrice('BTCUSDT');
    const fills: string[] = [];
    sim.watchOrders({ next: (e) => e.lastTrade && fills.push(`${e.lastTrade.side} ${e.lastTrade.price}`) });
    const buyAt = p0.plus(lo).div(2).toDecimalPlaces(1, Dec.ROUND_DOWN);
    const sellAt = p0.plus(hi).div(2).toDecimalPlaces(1, Dec.ROUND_UP);
    if (buyAt.lt(p0)) await sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', price: buyAt, quantity: new Dec('0.01'), postOnly: true });
    if (sellAt.gt(p0)) await sim.placeOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', price: sellAt, quantity: new Dec('0.01'), postOnly: true });
    sim.runToEnd();
    expect(fills.length).toBeGreaterThan(0);
    for (const f of fills) expect([`BUY ${buyAt}`, `SELL ${sellAt}`]).toContain(f);
    // the recorded closed klines became the sim's history
    expect((await sim.getHistoricalKlines('BTCUSDT', '1m', 1500)).filter((k) => k.closed).length).toBeGreaterThan(0);
  });
});

describe('file replay waits for its trading client and holds lockstep with its acknowledgements (e2e)', () => {
  let app: AppProcess | undefined;
  afterAll(async () => stopApp(app));

  it('does not start before a trading client, never emits past ack + one instant, and continues after a stall', async () => {
    const c = await startConnector(
      { SIM_DATA: BTC_CSV, SIM_MAX_CANDLES: '2000', SIM_SPEED: '20000', SIM_START: 'on_subscribe', SIM_LOCKSTEP: 'true', SIM_LOCKSTEP_STALL_MS: '1500' },
      'lockstep',
    );
    app = c.app;
    const times: number[] = [];
    const price = c.client.stream('SubscribePrice', { symbols: ['BTCUSDT'] }, (p: { timestamp: { seconds: string; nanos: number } }) =>
      times.push(Number(p.timestamp.seconds) * 1000 + Math.floor(p.timestamp.nanos / 1e6)),
    );
    // no trading client yet: the replay stands still (at 20000× it would be 20000 market s per wall s)
    await sleep(1500);
    expect(times).toHaveLength(0);

    // become a lockstep trading client: heartbeat (arms the switch + first ack), then an orders stream
    const ack = (ms: number) => c.client.call('Heartbeat', { clientId: 'lockstep-test', symbol: 'BTCUSDT', timeoutMs: '60000', processedMarketTimeMs: String(ms) });
    await ack(1);
    const orders = c.client.stream('SubscribeOrders', {}, () => undefined);
    await waitFor('first price', async () => times.length > 0, 10_000, 20);

    // slow client: ack the latest received time every 150 ms; check the invariant before each ack
    let acked = 1;
    let violations = 0;
    for (let i = 0; i < 12; i++) {
      await sleep(150);
      const max = Math.max(...times);
      // the sim may emit the instant after the acknowledged one, nothing later (path points are 1 s apart)
      if (acked > 1 && max > acked + 1000) violations++;
      acked = max;
      await ack(acked);
    }
    expect(violations).toBe(0);
    const progressed = Math.max(...times) - times[0];
    // 12 acknowledgements ≈ 12 instants of 1 s: far below the ~36 000 market s 20000× would give in 1.8 s
    expect(progressed).toBeLessThanOrEqual(13 * 1000);
    expect(progressed).toBeGreaterThanOrEqual(5 * 1000);

    // stop acknowledging: nothing moves while the client lags, then the stall timeout lets the replay continue
    const frozen = Math.max(...times);
    await sleep(700);
    expect(Math.max(...times)).toBeLessThanOrEqual(frozen + 1000);
    await waitFor('continue after stall', async () => Math.max(...times) > frozen + 60_000, 15_000, 100);
    expect(c.app.output()).toMatch(/LOCKSTEP STALL: no acknowledgement past market time .* from lockstep-test/);
    expect(c.app.output()).toMatch(/sim replay started at market time .*: trading client connected/);

    // the trading client leaves: the replay pauses
    orders.cancel();
    await waitFor('paused', async () => /sim replay paused at market time/.test(c.app.output()), 10_000, 100);
    // messages already queued for the client still arrive, none past the pause
    const pausedAt = Date.parse(/sim replay paused at market time (\S+):/.exec(c.app.output())![1]);
    // (on a loaded machine the backlog drains slowly: wait until nothing new arrives for 1 s)
    let prev = -1;
    await waitFor('stream drained', async () => {
      const m = Math.max(...times);
      const quiet = m === prev;
      prev = m;
      return quiet;
    }, 20_000, 1000);
    expect(Math.max(...times)).toBeLessThanOrEqual(pausedAt);
    price.cancel();
    c.client.close();
  });
});
