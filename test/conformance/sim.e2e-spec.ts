/**
 * The conformance suite against the sim connector (a separate process) with access control on and
 * an API secret in its environment; then 10,000 fuzzed requests against the same process; then a
 * scan of its whole log and of every response for the secret and the tokens.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type AppProcess, freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { ConformanceClient } from './client';
import { type ConformanceOptions, runConformanceSuite } from './suite';
import { prng, runFuzz } from '../exchange-connector/fuzz';

jest.setTimeout(120_000);

const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-conformance-'));
const SECRET = `sec${randomBytes(24).toString('hex')}`;
const TRADER = `trd${randomBytes(18).toString('base64url')}`;
const MONITOR = `mon${randomBytes(18).toString('base64url')}`;
/** Every response and error any client of this file received, serialized. */
const captured: string[] = [];
const sink = (method: string, payload: unknown) => captured.push(`${method} ${JSON.stringify(payload)}`);

let conn: AppProcess;
let metricsPort = 0;
const opts: ConformanceOptions = {
  name: 'sim connector with tokens',
  address: '', // set in beforeAll (read lazily by the suite)
  traderToken: TRADER,
  monitorToken: MONITOR,
  symbol: 'BTCUSDT',
  canFill: true,
  onResponse: sink,
};

beforeAll(async () => {
  const port = await freePort();
  metricsPort = await freePort();
  opts.address = `127.0.0.1:${port}`;
  conn = startApp('exchange-connector', {
    PORT: String(port),
    GRPC_HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort),
    SIM_SPEED: '60',
    SIM_SEED: '11',
    LOG_LEVEL: 'debug', // successful RPCs are logged at debug
    API_KEY: `key${randomBytes(8).toString('hex')}`,
    API_SECRET: SECRET,
    CONNECTOR_TOKENS: `trader:conformance:${TRADER},monitor:watcher:${MONITOR}`,
    RATE_LIMIT_RPS: '100000', // the fuzzer sends ~1000 requests/s on purpose
    RATE_LIMIT_BURST: '100000',
  }, logDir, 'conformance-connector');
  await waitFor('connector health', async () => (await fetch(`http://127.0.0.1:${metricsPort}/health`)).status === 200, 30_000, 200);
});

afterAll(async () => {
  await stopApp(conn);
});

runConformanceSuite(opts);

describe('fuzzing every unary RPC (10,000 seeded requests)', () => {
  it('answers every request with a proper status; INVALID_ARGUMENT names the field; the server stays up', async () => {
    const client = new ConformanceClient(opts.address, TRADER, undefined, sink);
    try {
      const price = Number((await client.call('GetLatestPrice', { symbol: 'BTCUSDT' })).price.value);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const o = await client.call('PlaceOrder', {
          symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', quantity: { value: '0.002' },
          // 15 % below: inside the connector's ±20 % price band.
          price: { value: (Math.floor(price * 0.85) + i).toFixed(1) }, clientOrderId: `fuzzseed${i}`,
        });
        ids.push(o.orderId);
      }
      const r = prng(99);
      const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
      const report = await runFuzz({
        client,
        count: 10_000,
        seed: 20240607,
        concurrency: 24,
        plausible: {
          symbol: () => pick(['BTCUSDT', 'BTCUSDT', 'ETHUSDT', '']),
          symbols: () => 'BTCUSDT',
          asset: () => pick(['USDT', 'BTC']),
          interval: () => pick(['1m', '5m', '1x']),
          orderId: () => pick([...ids, '0', '424242']),
          orderIds: () => pick([...ids, '1']),
          clientOrderId: () => pick(['fuzzseed0', `fz${Math.floor(r() * 1e6)}`, '']),
          price: () => ({ value: (Math.floor(price * (0.5 + r())) + pick([0, 0.1, 0.05])).toString() }),
          quantity: () => ({ value: pick(['0.001', '0.002', '0.0015', '1000']) }),
          side: () => pick(['ORDER_SIDE_BUY', 'ORDER_SIDE_SELL']),
          type: () => pick(['ORDER_TYPE_LIMIT', 'ORDER_TYPE_MARKET']),
          limit: () => pick([1, 10, 500]),
        },
      });
      // eslint-disable-next-line no-console
      console.log(`fuzz: ${report.sent} sent in ${report.ms} ms over ${report.methods.length} RPCs, ${report.clientRejected} refused by proto-loader; codes ${JSON.stringify(report.byCode)}; ms by RPC ${JSON.stringify(report.msByMethod)}`);
      expect(report.sent).toBe(10_000);
      expect(report.methods.length).toBeGreaterThanOrEqual(22);
      expect(report.violations).toEqual([]);
      expect(report.violationCount).toBe(0);
      expect(report.byCode.INVALID_ARGUMENT).toBeGreaterThan(1000);
      expect(report.byCode.OK).toBeGreaterThan(500);
      // ~10–15 s on an idle 2-core machine; the bound is loose because CI machines are shared.
      expect(report.ms).toBeLessThan(90_000);
      // Still up and healthy.
      expect((await client.call('GetName')).name).toBe('sim');
      expect((await fetch(`http://127.0.0.1:${metricsPort}/health`)).status).toBe(200);
      expect(conn.child.exitCode).toBeNull();
      // No UNKNOWN and no INTERNAL in the server's own accounting either.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="PlaceOrder",grpc_type="unary",grpc_code="INVALID_ARGUMENT"\} \d+/);
      expect(metrics).not.toMatch(/grpc_server_handled_total\{[^}]*grpc_code="(UNKNOWN|INTERNAL)"\}/);
    } finally {
      client.close();
    }
  });
});

describe('secret hygiene', () => {
  it('neither the API secret nor any token appears in the log or in any response', async () => {
    const status = await (await fetch(`http://127.0.0.1:${metricsPort}/status`)).text();
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    await stopApp(conn); // flush the log completely
    const log = conn.output();
    const lines = log.split('\n').filter(Boolean);
    // The run did happen and was logged: one line per RPC with the client's role/name.
    expect(lines.filter((l) => l.includes('"msg":"rpc"')).length).toBeGreaterThan(10_000);
    expect(log).toContain('"client":"trader/conformance"');
    expect(log).toContain('"client":"monitor/watcher"');
    expect(captured.length).toBeGreaterThan(10_000);
    const haystacks: Array<[string, string]> = [['log', log], ['status', status], ['metrics', metrics], ['responses', captured.join('\n')]];
    for (const [where, text] of haystacks) {
      for (const [what, needle] of [['API secret', SECRET], ['trader token', TRADER], ['monitor token', MONITOR]]) {
        expect(`${where}: ${what} ${text.includes(needle) ? 'FOUND' : 'absent'}`).toBe(`${where}: ${what} absent`);
      }
    }
    expect(grpc.status.OK).toBe(0);
  });
});
