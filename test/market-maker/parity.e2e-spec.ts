/**
 * Issue 8 acceptance 3 — parity: the same market events fed to the unchanged engine
 *  (a) in process, as a backtest does: a manual SimExchange stepped one market instant at a time, the
 *      engine on a VirtualScheduler that follows the sim's clock, an InMemoryStateStore;
 *  (b) over gRPC: the built connector replaying the same CSV in lockstep, the engine over the
 *      RemoteExchange on the market maker's ReplayClock, acknowledging through LockstepAcker
 *      (exactly as EngineService wires it), an InMemoryStateStore;
 * produce the same sequence of order requests (client order ids, sides, prices, quantities, flags,
 * cancels) — captured by wrapping each side's venue. Same settings on both sides: the app's
 * config/market-maker.yaml mapped by `engineSettingsFromConfig` (breakers and reconciliation live).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dec, type ExchangeVenue, type OrderRequest, VirtualScheduler } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { type GridEngine, InMemoryStateStore, buildGridEngine } from '@mm/trading';
import { BTC_CSV, type AppProcess, freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { RemoteExchange } from '../../apps/market-maker/src/exchange/remote-exchange';
import { LockstepAcker, ReplayClock, tapMarketEvents } from '../../apps/market-maker/src/engine/lockstep';
import { engineSettingsFromConfig } from '../../apps/market-maker/src/engine/engine.factory';
import { loadMmConfig } from '../../apps/market-maker/src/mm.config';

jest.setTimeout(90_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-parity-'));
const CSV = path.join(dir, 'btc-460.csv');
const ROWS = 460; // 100 candles of history + 6 market hours
const TICK_MS = 15_000;
const config = loadMmConfig({ CONFIG_FILE: path.join(__dirname, '..', '..', 'config', 'market-maker.yaml') } as NodeJS.ProcessEnv);
// one client-order-id secret on both paths (otherwise each store generates its own and the ids' tags differ)
const settings = { ...engineSettingsFromConfig(config), clientIdSecret: 'parity-test-client-id-secret' };
const SYMBOL = config.grid.symbol;

/** Wraps a venue: every order request (place, cancel, cancel-all) is appended to `log` before it is sent. */
function recording(venue: ExchangeVenue, log: string[]): ExchangeVenue {
  return new Proxy(venue, {
    get(target, prop, receiver) {
      if (prop === 'placeOrder')
        return (r: OrderRequest) => {
          log.push(`place ${r.clientOrderId} ${r.side} ${r.type} ${r.timeInForce ?? ''} ${r.quantity}@${r.price} ro=${!!r.reduceOnly} po=${!!r.postOnly}`);
          return target.placeOrder(r);
        };
      if (prop === 'cancelOrder')
        return (symbol: string, orderId: string) => {
          log.push(`cancel ${symbol} ${orderId}`);
          return target.cancelOrder(symbol, orderId);
        };
      if (prop === 'cancelAllOrders')
        return (symbol: string) => {
          log.push(`cancel-all ${symbol}`);
          return target.cancelAllOrders(symbol);
        };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as ExchangeVenue;
}

async function inProcess(): Promise<{ requests: string[]; fills: number }> {
  const requests: string[] = [];
  const sim = new SimExchange({
    symbols: [{ rules: defaultSymbolRules(SYMBOL), candles: { csvPath: CSV } }],
    manual: true,
    tickIntervalMs: TICK_MS,
    initialBalance: new Dec('10000'),
    makerFee: new Dec('0.0002'),
    takerFee: new Dec('0.0005'),
    leverage: 10,
  });
  const scheduler = new VirtualScheduler(sim.clock.now());
  const store = new InMemoryStateStore(SYMBOL, () => scheduler.now());
  let fatal: Error | undefined;
  const engine = buildGridEngine({ venue: recording(sim, requests), store, scheduler, onFatal: (e) => (fatal = e) }, settings);
  const settle = async () => {
    await engine.whenIdle();
    if (fatal) throw fatal;
  };
  await engine.start();
  await settle();
  for (let t = sim.stepNext(); t !== undefined; t = sim.stepNext()) await scheduler.advanceToAsync(t, settle);
  await settle();
  const fills = engine.snapshot().fills;
  await engine.stop(false);
  return { requests, fills };
}

async function overGrpc(): Promise<{ requests: string[]; fills: number; acks: number }> {
  const [grpcPort, metricsPort] = [await freePort(), await freePort()];
  const conn: AppProcess = startApp(
    'exchange-connector',
    {
      PORT: String(grpcPort),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      EXCHANGE: 'sim',
      SIM_DATA: CSV,
      SIM_SPEED: '20000',
      SIM_TICK_MS: String(TICK_MS),
      SIM_START: 'on_subscribe',
      SIM_LOCKSTEP: 'true',
      SIM_LOCKSTEP_ON_STALL: 'pause',
      RATE_LIMIT_RPS: '5000',
      RATE_LIMIT_BURST: '10000',
    },
    dir,
    'parity-connector',
  );
  const requests: string[] = [];
  const streams: Record<string, string> = {};
  const remote = new RemoteExchange({
    address: `127.0.0.1:${grpcPort}`,
    connectAttempts: 20,
    requestTimeoutMs: 5000,
    onStreamState: (s, st) => (streams[s] = st),
  });
  let engine: GridEngine | undefined;
  try {
    await waitFor('connector health', async () => (await fetch(`http://127.0.0.1:${metricsPort}/health`).catch(() => undefined))?.status === 200, 30_000, 100);
    await remote.connect();
    // as EngineService.run does in lockstep
    const clock = new ReplayClock();
    const last = (await remote.getHistoricalKlines(SYMBOL, '1m', 1)).at(-1)!;
    clock.activate(last.openTimeMs + 60_000);
    let fatal: Error | undefined;
    const venue = tapMarketEvents(recording(remote, requests), (ms) => acker.onEvent(ms), {
      barrier: () => remote.getLatestPrice(SYMBOL).then(() => undefined),
      beforeEvent: (ms) => acker.beforeEvent(ms),
    });
    // as EngineService in lockstep: the latency breaker input off
    const lockstepSettings = { ...settings, risk: { ...settings.risk, breaker: { ...settings.risk.breaker, maxLatencyP99Ms: 0 } } };
    const eng = buildGridEngine({ venue, store: new InMemoryStateStore(SYMBOL, () => clock.now()), scheduler: clock, onFatal: (e) => (fatal = e) }, lockstepSettings);
    engine = eng;
    const acker: LockstepAcker = new LockstepAcker({
      clock,
      whenIdle: () => eng.whenIdle(),
      blocked: () => venue.pendingTicks() > 0,
      send: (ms) => remote.heartbeat('parity-mm', SYMBOL, 0, ms).then(() => undefined),
    });
    await eng.start();
    await waitFor('streams attached', () => Object.values(streams).length > 0 && Object.values(streams).every((s) => s === 'subscribed'), 10_000, 10);
    await eng.whenIdle();
    const t = (await remote.getTickers()).find((x) => x.symbol === SYMBOL)!.timestampMs;
    await acker.join(t);
    await waitFor('replay finished', () => /sim replay finished/.test(conn.output()), 60_000, 100);
    await waitFor('last instant acknowledged', () => acker.seenMs > 0 && acker.ackedMs === acker.seenMs, 10_000, 50);
    await eng.whenIdle();
    if (fatal) throw fatal;
    expect(conn.output()).not.toMatch(/LOCKSTEP STALL/);
    expect(conn.output()).toMatch(/lockstep client parity-mm joined/);
    return { requests, fills: eng.snapshot().fills, acks: acker.sent };
  } finally {
    await engine?.stop(false);
    await remote.close();
    await stopApp(conn);
  }
}

describe('parity: in-process sim (backtest) vs connector over gRPC in lockstep (issue 8 acceptance 3)', () => {
  beforeAll(() => {
    const lines = fs.readFileSync(BTC_CSV, 'utf8').split('\n');
    fs.writeFileSync(CSV, lines.slice(0, ROWS + 1).join('\n') + '\n');
  });

  it('the engine sends the same order requests, in the same order, on both paths', async () => {
    const a = await inProcess();
    const b = await overGrpc();
    process.stdout.write(`parity: ${a.requests.length} order requests, ${a.fills} fills in process; ${b.requests.length} requests, ${b.fills} fills over gRPC (${b.acks} acknowledgements)\n`);
    // the grid traded in these 6 hours: places, and fills that lead to take-profit orders
    expect(a.requests.filter((r) => r.startsWith('place')).length).toBeGreaterThan(20);
    expect(a.fills).toBeGreaterThan(2);
    expect(a.requests.some((r) => / SELL .* ro=true/.test(r) || / SELL /.test(r))).toBe(true);
    // one acknowledgement per market instant at least (4 path points a minute over 360 minutes)
    expect(b.acks).toBeGreaterThanOrEqual(360 * 4);
    expect(b.requests).toEqual(a.requests);
    expect(b.fills).toBe(a.fills);
  });
});
