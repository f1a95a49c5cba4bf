/**
 * Symbol orchestrator (issue 9): one market-maker process runs a BTCUSDT and an ETHUSDT engine on one
 * cross-margin sim account, replayed together from ../shared/data/market (1m klines, funding and mark
 * price files) in lockstep for 24 market hours, over real gRPC and a real SQLite file.
 * Acceptance 1: both engines fill; per symbol the venue position equals the engine's inventory and
 * the realized PnL equals the exact round-trip sum minus fees (computed here from the order stream);
 * funding booked equals Σ −position × mark × rate at each funding time (computed here from the CSVs).
 * Acceptance 2: a portfolio cap (risk.exposure.max_total_notional) that BTC nearly uses up blocks
 * the ETH opening orders that would exceed it, and /status says why.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Decimal from 'decimal.js';
import { type AppProcess, ROOT, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';
import { type SeenTrade, roundTripPnl, tradeOf } from '../support/round-trips';
import { stackEnv, startStack as startRunStack } from '../support/run-stack';

jest.setTimeout(600_000);
const D = Decimal.clone({ precision: 80 });
const H8 = 8 * 3_600_000;

/** ../shared/data/market from the repository, or from the parent of a worktree folder. */
function marketDir(): string {
  for (let dir = path.resolve(ROOT, '..'); ; dir = path.dirname(dir)) {
    const p = path.join(dir, 'shared', 'data', 'market');
    if (fs.existsSync(p)) return p;
    if (path.dirname(dir) === dir) throw new Error(`no shared/data/market above ${ROOT}`);
  }
}
const MARKET = marketDir();
const file = (sym: string, kind: string) => path.join(MARKET, `binance-usdm-${sym}-${kind}.csv`);
const rows = (p: string) =>
  fs.readFileSync(p, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.trim().split(','));

interface Stack {
  conn: AppProcess;
  mm: AppProcess;
  client: TestExchangeClient;
  base: string;
  connHttp: string;
  updates: any[];
  dir: string;
  address: string;
}

const procs: AppProcess[] = [];
const clients: TestExchangeClient[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(procs.map((p) => stopApp(p)));
});

/** Connector (sim, BTC+ETH with funding and mark price, lockstep) + market maker with `yaml` as its config. */
async function startStack(tag: string, yaml: string, connEnv: Record<string, string> = {}, mmEnv: Record<string, string> = {}): Promise<Stack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `opensqt-symbols-${tag}-`));
  const [grpcPort, metricsPort, mmPort] = [await freePort(), await freePort(), await freePort()];
  const conn = startApp(
    'exchange-connector',
    {
      PORT: String(grpcPort),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      EXCHANGE: 'sim',
      SIM_DATA: `BTCUSDT=${file('BTCUSDT', '1m-20250504-20250624')},ETHUSDT=${file('ETHUSDT', '1m-20250504-20250624')}`,
      SIM_FUNDING: `BTCUSDT=${file('BTCUSDT', 'funding-rate-8h')},ETHUSDT=${file('ETHUSDT', 'funding-rate-8h')}`,
      SIM_MARK_PRICE: `BTCUSDT=${file('BTCUSDT', 'markprice-8h')},ETHUSDT=${file('ETHUSDT', 'markprice-8h')}`,
      SIM_TICK_MS: '15000',
      SIM_START: 'on_subscribe',
      SIM_LOCKSTEP: 'true',
      SIM_LOCKSTEP_ON_STALL: 'pause',
      SIM_LOCKSTEP_STALL_MS: '20000',
      RATE_LIMIT_RPS: '5000',
      RATE_LIMIT_BURST: '10000',
      ...connEnv,
    },
    dir,
    `connector-${tag}`,
  );
  procs.push(conn);
  const client = new TestExchangeClient(`127.0.0.1:${grpcPort}`);
  clients.push(client);
  await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 60_000, 200);
  const updates: any[] = [];
  client.stream('SubscribeOrders', {}, (u: any) => updates.push(u));
  fs.writeFileSync(path.join(dir, 'mm.yaml'), yaml);
  const mm = startApp(
    'market-maker',
    {
      MM_PORT: String(mmPort),
      MM_HOST: '127.0.0.1',
      EXCHANGE_GRPC_ADDRESS: `127.0.0.1:${grpcPort}`,
      SQLITE_PATH: path.join(dir, 'mm.sqlite'),
      CONFIG_FILE: path.join(dir, 'mm.yaml'),
      MM_LOCKSTEP: 'on',
      ...mmEnv,
    },
    dir,
    `mm-${tag}`,
  );
  procs.push(mm);
  return { conn, mm, client, base: `http://127.0.0.1:${mmPort}`, connHttp: `http://127.0.0.1:${metricsPort}`, updates, dir, address: `127.0.0.1:${grpcPort}` };
}

const TWO_SYMBOLS = `
instance_id: mm1
grid:
  symbol: BTCUSDT
  price_interval: "100"
  order_notional: "250"
  buy_window: 8
  sell_window: 8
symbols:
  - symbol: BTCUSDT
  - symbol: ETHUSDT
    price_interval: "4"
    order_notional: "100"
risk:
  breaker:
    max_drawdown_abs: "0"
    max_drawdown_pct: "0"
`;

describe('two symbol engines on one account, 24 market hours in lockstep (acceptance 1)', () => {
  let s: Stack;
  beforeAll(async () => {
    // 100 history minutes + 1440 replayed (24 market hours, 3 funding times per symbol)
    s = await startStack('a1', TWO_SYMBOLS, { SIM_MAX_CANDLES: '1540', SIM_SPEED: '20000' });
  });

  it('both engines fill; per symbol venue position = inventory, realized = round trips − fees; funding = Σ −position × mark × rate', async () => {
    await waitFor('replay finished', async () => /sim replay finished/.test(s.conn.output()), 560_000, 250);
    let last = '';
    let st: any;
    await waitFor(
      'market maker settled',
      async () => {
        st = (await httpJson<any>(`${s.base}/status`)).body;
        const sig = JSON.stringify(Object.values(st.symbols ?? {}).map((x: any) => [x.fills, x.slots.pending, x.realizedPnl]));
        const same = sig === last && Object.values(st.symbols).every((x: any) => x.slots.pending === 0);
        last = sig;
        return same;
      },
      60_000,
      1000,
    );
    expect(Object.keys(st.symbols).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
    // the default symbol's existing /status fields are unchanged
    expect(st.components.strategy.symbol).toBe('BTCUSDT');
    expect(st.account).not.toBeNull();

    const positions = Object.fromEntries((await s.client.call('GetPositions', {})).positions.map((p: any) => [p.symbol, new D(p.size.value)]));
    let venueRealized = new D(0);
    let fees = new D(0);
    const tradesBySymbol: Record<string, { t: number; side: string; qty: Decimal }[]> = { BTCUSDT: [], ETHUSDT: [] };
    for (const sym of ['BTCUSDT', 'ETHUSDT']) {
      const mine = s.updates.filter((u) => u.symbol === sym);
      const trades: SeenTrade[] = mine.map(tradeOf).filter((t): t is SeenTrade => !!t);
      const { realized, inventory, closed } = roundTripPnl(trades, (sold, held) => expect(`${sym} sold ${sold}`).toBe(`${sym} sold ${held}`));
      process.stderr.write(`symbols e2e ${sym}: ${trades.length} fills, ${closed} round trips, realized ${realized.toFixed(8)}, inventory ${inventory}\n`);
      expect(trades.length).toBeGreaterThan(10);
      expect(closed).toBeGreaterThan(3);
      const e = st.symbols[sym];
      expect(e.status).toBe('running');
      expect(e.fills).toBe(trades.length);
      expect(e.inventory).toBe(inventory.toString());
      expect((positions[sym] ?? new D(0)).toString()).toBe(inventory.toString());
      expect(e.realizedPnl).toBe(realized.toString());
      for (const u of mine) {
        if (!u.lastTrade) continue;
        venueRealized = venueRealized.plus(u.lastTrade.realizedPnl?.value ?? '0');
        fees = fees.plus(u.lastTrade.fee.value);
        tradesBySymbol[sym].push({ t: Number(u.updateTime), side: u.lastTrade.side, qty: new D(u.lastTrade.quantity.value) });
      }
    }

    // funding, independently: at each funding time inside the replay, −position × mark × rate
    const endMs = Number((await s.client.call('GetHistoricalKlines', { symbol: 'BTCUSDT', interval: '1m', limit: 1 })).candles[0].timestamp) + 60_000;
    let expected = new D(0);
    let settlements = 0;
    const expectedBySymbol: Record<string, Decimal> = {};
    for (const sym of ['BTCUSDT', 'ETHUSDT']) {
      const before = expected;
      const marks = new Map<number, string>();
      for (const [t, , , , close] of rows(file(sym, 'markprice-8h'))) marks.set(Number(t) + H8, close);
      for (const [t, rate] of rows(file(sym, 'funding-rate-8h'))) {
        const ft = Number(t);
        if (ft > endMs) continue;
        const pos = tradesBySymbol[sym].filter((x) => x.t <= ft).reduce((a, x) => (x.side === 'ORDER_SIDE_BUY' ? a.plus(x.qty) : a.minus(x.qty)), new D(0));
        if (pos.isZero()) continue;
        const mark = marks.get(ft - (ft % 60_000));
        expect(mark).toBeDefined();
        expected = expected.minus(pos.mul(mark!).mul(rate));
        settlements++;
      }
      expectedBySymbol[sym] = expected.minus(before);
    }
    const acc = await s.client.call('GetAccount');
    const funding = new D(acc.totalWalletBalance.value).minus(10_000).minus(venueRealized).plus(fees);
    process.stderr.write(`symbols e2e funding: ${settlements} settlements, booked ${funding.toFixed(8)}, expected ${expected.toFixed(8)}\n`);
    expect(settlements).toBeGreaterThanOrEqual(2);
    // wallet is reported to 8 decimals
    expect(funding.minus(expected).abs().lte('0.00000002')).toBe(true);
    // funding attributed per symbol (issue 9): each symbol's own, in /status per symbol and in the account section
    const fin = (await httpJson<any>(`${s.base}/status`)).body;
    process.stderr.write(`symbols e2e funding by symbol: ${JSON.stringify(fin.account.fundingBySymbol)}, engines ${JSON.stringify(Object.fromEntries(Object.entries(fin.symbols).map(([k, v]: [string, any]) => [k, v.fundingPnl])))}\n`);
    for (const sym of ['BTCUSDT', 'ETHUSDT']) {
      expect(new D(fin.account.fundingBySymbol[sym] ?? '0').minus(expectedBySymbol[sym]).abs().lte('0.00000002')).toBe(true);
      expect(new D(fin.symbols[sym].fundingPnl).minus(expectedBySymbol[sym]).abs().lte('0.00000002')).toBe(true);
      expect(fin.symbols[sym].venueRealizedPnl).toBeDefined();
    }
    expect(new D(fin.account.fundingPnl).minus(expected).abs().lte('0.00000002')).toBe(true);
    expect(fin.account.risk.drawdownBreaker.open).toBe(false);
    expect(fin.account.risk.openingBlocked).toBeNull();
    const sim = (await httpJson<any>(`${s.connHttp}/status`)).body.sim;
    expect(sim.duplicateClientOrderIds).toBe(0);
  });
});

describe('portfolio cap across symbols (acceptance 2)', () => {
  let s: Stack;
  beforeAll(async () => {
    // BTC alone may use 1 350 of the 1 400 cap (position + pending worst case); ETH's 100 orders then do not fit
    const yaml = `${TWO_SYMBOLS}  exposure:\n    max_total_notional: "1400"\n    max_position_notional: "0"\n    max_open_order_notional: "0"\n`;
    s = await startStack('a2', yaml.replace('symbols:\n  - symbol: BTCUSDT\n  - symbol: ETHUSDT', 'symbols:\n  - symbol: BTCUSDT\n    buy_window: 5\n  - symbol: ETHUSDT'), { SIM_MAX_CANDLES: '400', SIM_SPEED: '2000' });
  });

  it('does not send the ETH opening order that would break the cap BTC nearly uses up, counts it, and /status says why', async () => {
    let st: any;
    await waitFor(
      'an ETH order blocked by the portfolio cap',
      async () => {
        st = (await httpJson<any>(`${s.base}/status`).catch(() => ({ body: {} }))).body;
        return (st.symbols?.ETHUSDT?.blocked?.portfolio_total_notional ?? 0) > 0;
      },
      120_000,
      500,
    );
    expect(st.portfolio.limits.maxTotalNotional).toBe('1400');
    expect(st.portfolio.lastBlock.reason).toBe('portfolio_total_notional');
    expect(st.portfolio.lastBlock.detail).toMatch(/exceeds the portfolio cap 1400/);
    expect(st.portfolio.blockedBySymbol.ETHUSDT.portfolio_total_notional).toBeGreaterThan(0);
    // no sent order ever broke the cap: Σ |position| × price + open opening orders ≤ 1400 on the venue now
    const open = (await s.client.call('GetOpenOrders', {})).orders.filter((o: any) => !o.reduceOnly);
    const positions = (await s.client.call('GetPositions', {})).positions;
    let total = new D(0);
    for (const o of open) total = total.plus(new D(o.price.value).mul(new D(o.quantity.value).minus(o.executedQty?.value ?? '0')));
    for (const p of positions) total = total.plus(new D(p.size.value).abs().mul(p.markPrice.value));
    process.stderr.write(`symbols e2e cap: worst-case total on the venue ${total.toFixed(2)} (cap 1400), blocked ${JSON.stringify(st.portfolio.blocked)}\n`);
    expect(total.lte(1400 * 1.02)).toBe(true); // mark moves after the check: 2 % slack
    const metrics = await fetch(`${s.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/market_maker_orders_blocked_total\{symbol="ETHUSDT",reason="portfolio_total_notional"\} [1-9]/);
  });
});

describe('isolation: a fault in one symbol engine (acceptance 3)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack('a3', TWO_SYMBOLS, { SIM_MAX_CANDLES: '700', SIM_SPEED: '2000' }, { MM_FAULT_SYMBOL: 'ETHUSDT', MM_FAULT_AFTER_TICKS: '40', MM_FAULT_KIND: 'error' });
  });

  it('stops only the faulted engine (held with the reason, restarted by the supervisor); the other keeps quoting and filling', async () => {
    await waitFor('ETH engine failed', async () => /ETHUSDT engine failed: injected fault/.test(s.mm.output()), 120_000, 250);
    const faultAt = s.updates.length;
    let st: any;
    await waitFor(
      'ETH restarted and running',
      async () => {
        st = (await httpJson<any>(`${s.base}/status`).catch(() => ({ body: {} }))).body;
        return st.symbols?.ETHUSDT?.restarts >= 1 && st.symbols.ETHUSDT.status === 'running';
      },
      60_000,
      250,
    );
    expect(st.symbols.ETHUSDT.lastError).toMatch(/injected fault/);
    await waitFor('BTC fills after the ETH fault', async () => s.updates.slice(faultAt).some((u) => u.symbol === 'BTCUSDT' && u.lastTrade), 120_000, 250);
    expect(s.mm.child.exitCode).toBeNull(); // the process never exited
    expect(st.symbols.BTCUSDT.restarts).toBe(0);
    expect(st.symbols.BTCUSDT.status).toBe('running');
    const metrics = await fetch(`${s.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/market_maker_engine_restarts_total\{symbol="ETHUSDT"\} [1-9]/);
  });
});

describe('isolation: a stale feed in one symbol engine (acceptance 3, feed variant)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack('a3s', TWO_SYMBOLS, { SIM_MAX_CANDLES: '700', SIM_SPEED: '2000' }, { MM_FAULT_SYMBOL: 'ETHUSDT', MM_FAULT_AFTER_TICKS: '40', MM_FAULT_KIND: 'stale' });
  });

  it('opens the stale-price breaker of that symbol only; the other keeps quoting and filling', async () => {
    let st: any;
    await waitFor(
      'ETH stale-price breaker open',
      async () => {
        st = (await httpJson<any>(`${s.base}/status`).catch(() => ({ body: {} }))).body;
        return st.symbols?.ETHUSDT?.breaker?.state === 'OPEN';
      },
      120_000,
      250,
    );
    expect(st.symbols.ETHUSDT.breaker.reason).toBe('stale_price');
    expect(st.symbols.BTCUSDT.breaker.state).toBe('CLOSED');
    const at = s.updates.length;
    await waitFor('BTC fills while ETH is held', async () => s.updates.slice(at).some((u) => u.symbol === 'BTCUSDT' && u.lastTrade), 120_000, 250);
    // ETH sends no opening order while its breaker is open
    const ethOpenBuys = (await s.client.call('GetOpenOrders', { symbol: 'ETHUSDT' })).orders.filter((o: any) => o.side === 'ORDER_SIDE_BUY');
    expect(ethOpenBuys).toEqual([]);
    st = (await httpJson<any>(`${s.base}/status`)).body;
    expect(st.symbols.ETHUSDT.breaker.state).toBe('OPEN');
    expect(st.components.symbols.status).toBe('degraded');
  });
});

describe('operator API add/remove at runtime, and SIGKILL with two symbols (acceptance 4)', () => {
  const TOKEN = 'op-secret-token-0123';
  const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  const post = (base: string, p: string, body: unknown) => fetch(`${base}${p}`, { method: 'POST', headers: auth, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const ONE = TWO_SYMBOLS.replace('  - symbol: ETHUSDT\n    price_interval: "4"\n    order_notional: "100"\n', '');
  let s: Stack;
  beforeAll(async () => {
    s = await startStack('a4', ONE, { SIM_MAX_CANDLES: '1100', SIM_SPEED: '1500' }, { OPERATOR_TOKEN: TOKEN });
  });

  it('adds ETH at runtime, survives SIGKILL with both symbols (no duplicate client order id, positions reconciled), removes with flatten', async () => {
    await waitFor('BTC running', async () => (await httpJson<any>(`${s.base}/status`).catch(() => ({ body: {} }))).body.symbols?.BTCUSDT?.status === 'running', 60_000, 250);
    expect((await post(s.base, '/operator/symbols', { symbol: 'ETHUSDT', price_intervall: '4' })).body.message).toMatch(/price_intervall/);
    expect((await post(s.base, '/operator/symbols', { symbol: 'DOGEUSDT' })).status).toBe(400);
    const add = await post(s.base, '/operator/symbols', { symbol: 'ETHUSDT', price_interval: '4', order_notional: '100' });
    expect(add.status).toBe(201);
    expect((await post(s.base, '/operator/symbols', { symbol: 'ETHUSDT' })).status).toBe(409);
    await waitFor('ETH fills', async () => s.updates.filter((u) => u.symbol === 'ETHUSDT' && u.lastTrade).length >= 3, 180_000, 250);
    // pause / resume one symbol at runtime (durable in the table), the other untouched
    const paused = await post(s.base, '/operator/symbols/ETHUSDT/pause', {});
    expect([paused.status, paused.body.status, paused.body.paused]).toEqual([200, 'paused', true]);
    const listed = (await fetch(`${s.base}/operator/symbols`, { headers: auth }).then((r) => r.json())) as any[];
    expect(listed.map((x) => `${x.symbol}:${x.status}:${x.record}`)).toEqual(['BTCUSDT:running:active', 'ETHUSDT:paused:paused']);
    expect((await post(s.base, '/operator/symbols/ETHUSDT/resume', {})).body.status).toBe('running');
    expect((await post(s.base, '/operator/symbols/XRPUSDT/pause', {})).status).toBe(404);
    expect((await fetch(`${s.base}/operator/symbols`)).status).toBe(401);

    // SIGKILL, restart on the same database: both symbols resume (ETH from the durable table)
    s.mm.child.kill('SIGKILL');
    await s.mm.exited;
    const mmPort = Number(new URL(s.base).port);
    const mm2 = startApp(
      'market-maker',
      { MM_PORT: String(mmPort), MM_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: s.address, SQLITE_PATH: path.join(s.dir, 'mm.sqlite'), CONFIG_FILE: path.join(s.dir, 'mm.yaml'), MM_LOCKSTEP: 'on', OPERATOR_TOKEN: TOKEN },
      s.dir,
      'mm-a4-restart',
    );
    procs.push(mm2);
    const before = s.updates.length;
    await waitFor(
      'both running after restart',
      async () => {
        const st = (await httpJson<any>(`${s.base}/status`).catch(() => ({ body: {} }))).body;
        return st.symbols?.BTCUSDT?.status === 'running' && st.symbols?.ETHUSDT?.status === 'running';
      },
      60_000,
      250,
    );
    await waitFor('fills after the restart', async () => s.updates.slice(before).some((u) => u.lastTrade), 180_000, 250);

    // positions reconciled: per symbol venue position = engine inventory once nothing is pending
    let st: any;
    await waitFor(
      'settled',
      async () => {
        st = (await httpJson<any>(`${s.base}/status`)).body;
        const pos = Object.fromEntries((await s.client.call('GetPositions', {})).positions.map((p: any) => [p.symbol, p.size.value]));
        return ['BTCUSDT', 'ETHUSDT'].every((sym) => st.symbols[sym].slots.pending === 0 && new D(pos[sym] ?? '0').eq(st.symbols[sym].inventory));
      },
      60_000,
      300,
    );
    const sim = (await httpJson<any>(`${s.connHttp}/status`)).body.sim;
    expect(sim.duplicateClientOrderIds).toBe(0);

    // remove ETH: position must be explicit; flatten sends one reduce-only order
    expect((await post(s.base, '/operator/symbols/ETHUSDT/remove', {})).status).toBe(400);
    // a position to flatten whatever the grid holds right now: one more market buy on the account
    const extra = await s.client.call('PlaceOrder', { symbol: 'ETHUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.05' }, clientOrderId: 'test-eth-extra' });
    expect(extra.status).toBe('ORDER_STATUS_FILLED');
    const held = new D((await s.client.call('GetPositions', { symbol: 'ETHUSDT' })).positions[0].size.value);
    expect(held.gt(0)).toBe(true);
    const rm = await post(s.base, '/operator/symbols/ETHUSDT/remove', { position: 'flatten' });
    expect(rm.status).toBe(200);
    expect(rm.body.status).toBe('removed');
    // the position the remove flattened is the venue's after the engine's orders were cancelled: a
    // take-profit of the grid may still fill between our read and the cancel, so it is at most `held`
    const flattened = new D(rm.body.positionQty);
    expect(flattened.gt(0) && flattened.lte(held)).toBe(true);
    expect(rm.body.flattenOrderId).toBeDefined();
    const flat = await s.client.call('GetOrder', { symbol: 'ETHUSDT', orderId: rm.body.flattenOrderId, clientOrderId: '' });
    expect([flat.side, flat.executedQty.value]).toEqual(['ORDER_SIDE_SELL', flattened.toString()]);
    await waitFor('ETH flat', async () => new D((await s.client.call('GetPositions', { symbol: 'ETHUSDT' })).positions[0]?.size?.value ?? '0').isZero(), 30_000, 250);
    const ours = (await s.client.call('GetOpenOrders', { symbol: 'ETHUSDT' })).orders;
    expect(ours.length).toBe(0);
    const list = (await fetch(`${s.base}/operator/symbols`, { headers: auth }).then((r) => r.json())) as any[];
    expect(list.find((x) => x.symbol === 'ETHUSDT').status).toBe('removed');
    const after = (await httpJson<any>(`${s.base}/status`)).body;
    expect(Object.keys(after.symbols)).toEqual(['BTCUSDT']);
  });
});

describe('symbols: auto — every symbol the sim serves, grid scaled per symbol (acceptance 7, second half)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack('auto', 'instance_id: mm1\n', { SIM_MAX_CANDLES: '500', SIM_SPEED: '2000' }, { MM_SYMBOLS: 'auto' });
  });

  it('trades BTCUSDT and ETHUSDT with interval = price × 0.002 rounded down to the tick, and /status shows each', async () => {
    let st: any;
    await waitFor(
      'both symbols filled',
      async () => {
        st = (await httpJson<any>(`${s.base}/status`).catch(() => ({ body: {} }))).body;
        return ['BTCUSDT', 'ETHUSDT'].every((sym) => st.symbols?.[sym]?.fills > 0);
      },
      180_000,
      500,
    );
    for (const [sym, tick] of [['BTCUSDT', '0.1'], ['ETHUSDT', '0.01']] as const) {
      const e = st.symbols[sym];
      expect(e.status).toBe('running');
      const expected = new D(e.anchorPrice).mul('0.002').div(tick).floor().mul(tick);
      expect(e.grid.price_interval).toBe(expected.toString());
      expect(e.grid.order_notional).toBe('250');
    }
    expect(st.symbols.ETHUSDT.grid.price_interval).not.toBe(st.symbols.BTCUSDT.grid.price_interval);
  });
});

describe('npm start with SIM_DATA=BTCUSDT=…,ETHUSDT=… and no other setting (acceptance 7, second half)', () => {
  it('trades both symbols, each with its scaled grid, and /status shows each', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-symbols-npmstart-'));
    const { env, mmPort } = await stackEnv(dir, {
      SIM_SPEED: '3600',
      SIM_DATA: `BTCUSDT=${file('BTCUSDT', '1m-20250504-20250624')},ETHUSDT=${file('ETHUSDT', '1m-20250504-20250624')}`,
    });
    const stack = startRunStack(env, mmPort);
    try {
      let st: any;
      await waitFor(
        'both symbols running with fills',
        async () => {
          st = (await httpJson<any>(`http://127.0.0.1:${mmPort}/status`).catch(() => ({ body: {} }))).body;
          return ['BTCUSDT', 'ETHUSDT'].every((sym) => st.symbols?.[sym]?.status === 'running') && Object.values(st.symbols).some((x: any) => x.fills > 0);
        },
        120_000,
        500,
      );
      expect(Object.keys(st.symbols).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
      expect(st.symbols.ETHUSDT.grid.price_interval).toBe(new D(st.symbols.ETHUSDT.anchorPrice).mul('0.002').div('0.01').floor().mul('0.01').toString());
      expect(st.account.equity).toMatch(/^\d+(\.\d+)?$/);
    } catch (e) {
      process.stderr.write(stack.output().slice(-3000));
      throw e;
    } finally {
      await stack.stop();
    }
  });
});
