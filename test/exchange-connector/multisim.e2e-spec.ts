/**
 * Several symbols, one cross-margin account (issue 9, sim side of acceptance 1 and 5): the built
 * connector replays BTCUSDT and ETHUSDT from ../shared/data/market together, with funding and
 * mark-price files, over real gRPC on loopback. Funding booked is checked against
 * Σ −position × mark × rate computed here from the CSV files; a crafted −25 % crash liquidates a
 * leveraged long on a small balance.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Decimal from 'decimal.js';
import { type AppProcess, ROOT, freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';

jest.setTimeout(180_000);
const D = Decimal.clone({ precision: 100 });
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-multisim-'));
const MARKET = path.resolve(ROOT, '../shared/data/market');
const file = (sym: string, kind: string) => path.join(MARKET, `binance-usdm-${sym}-${kind}.csv`);
const KLINES: Record<string, string> = { BTCUSDT: file('BTCUSDT', '1m-20250504-20250624'), ETHUSDT: file('ETHUSDT', '1m-20250504-20250624') };
const TAKER = new D('0.0005');
const H8 = 8 * 3_600_000;

function rows(p: string): string[][] {
  return fs.readFileSync(p, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.trim().split(','));
}

async function start(env: Record<string, string>): Promise<{ conn: AppProcess; client: TestExchangeClient }> {
  const port = await freePort();
  const conn = startApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), SIM_LOCKSTEP: 'false', ...env }, logDir);
  const client = new TestExchangeClient(`127.0.0.1:${port}`);
  await waitFor('connector', () => client.call('GetName').then((r) => r.name === 'sim'), 60_000, 200);
  return { conn, client };
}

describe('sim: BTCUSDT + ETHUSDT replayed together on one account', () => {
  let conn: AppProcess;
  let client: TestExchangeClient;

  beforeAll(async () => {
    ({ conn, client } = await start({
      SIM_DATA: `BTCUSDT=${KLINES.BTCUSDT},ETHUSDT=${KLINES.ETHUSDT}`,
      SIM_FUNDING: `BTCUSDT=${file('BTCUSDT', 'funding-rate-8h')},ETHUSDT=${file('ETHUSDT', 'funding-rate-8h')}`,
      SIM_MARK_PRICE: `BTCUSDT=${file('BTCUSDT', 'markprice-8h')},ETHUSDT=${file('ETHUSDT', 'markprice-8h')}`,
      // 100 history + 2300 replayed minutes ≈ 38 market hours (5 funding times per symbol) at 12000× ≈ 12 s
      SIM_MAX_CANDLES: '2400',
      SIM_SPEED: '12000',
      SIM_START: 'immediate',
      SIM_SYMBOL_LEVERAGE: 'BTCUSDT=20,ETHUSDT=10',
    }));
  });
  afterAll(async () => {
    client?.close();
    await stopApp(conn);
  });

  it('serves both symbols with their own rules, streams both prices, fills orders on both, and books funding = Σ −size × mark × rate', async () => {
    expect((await client.call('GetSymbols')).symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    const btc = await client.call('GetSymbolInfo', { symbol: 'BTCUSDT' });
    const eth = await client.call('GetSymbolInfo', { symbol: 'ETHUSDT' });
    expect([btc.tickSize.value, btc.stepSize.value, btc.minNotional.value]).toEqual(['0.1', '0.001', '100']);
    expect([eth.tickSize.value, eth.stepSize.value, eth.minNotional.value]).toEqual(['0.01', '0.001', '20']);

    const prices: Record<string, number> = { BTCUSDT: 0, ETHUSDT: 0 };
    const ps = client.stream('SubscribePrice', { symbols: ['BTCUSDT', 'ETHUSDT'] }, (p: any) => (prices[p.symbol] += 1));
    await waitFor('prices of both symbols', () => prices.BTCUSDT >= 3 && prices.ETHUSDT >= 3, 30_000, 100);
    ps.cancel();

    const buy = await client.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.013' }, clientOrderId: 'ms-btc' });
    const sell = await client.call('PlaceOrder', { symbol: 'ETHUSDT', side: 'ORDER_SIDE_SELL', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.37' }, clientOrderId: 'ms-eth' });
    expect([buy.status, sell.status]).toEqual(['ORDER_STATUS_FILLED', 'ORDER_STATUS_FILLED']);
    const positions = (await client.call('GetPositions', {})).positions;
    const bySym = Object.fromEntries(positions.map((p: any) => [p.symbol, p]));
    expect(bySym.BTCUSDT.size.value).toBe('0.013');
    expect(bySym.ETHUSDT.size.value).toBe('-0.37');
    expect([bySym.BTCUSDT.leverage, bySym.ETHUSDT.leverage]).toEqual([20, 10]);
    // a cross-margin liquidation price on each side of the market, on the tick
    expect(new D(bySym.BTCUSDT.liquidationPrice.value).gte(0)).toBe(true);
    expect(new D(bySym.ETHUSDT.liquidationPrice.value).gt(new D(sell.avgPrice.value))).toBe(true);
    expect(new D(bySym.ETHUSDT.liquidationPrice.value).mod('0.01').isZero()).toBe(true);
    const acc0 = await client.call('GetAccount');
    expect(new D(acc0.totalMaintenanceMargin.value).gt(0)).toBe(true);

    // wait for the replay to end (prices stop moving): then funding is final
    const endOf = async () => (await client.call('GetHistoricalKlines', { symbol: 'BTCUSDT', interval: '1m', limit: 1 })).candles[0].timestamp;
    let last = '';
    await waitFor('replay end', async () => {
      const t = String(await endOf());
      const same = t === last;
      last = t;
      return same && (await client.call('GetHistoricalFundingRates', { symbol: 'BTCUSDT', limit: 1000 })).rates.length >= 3;
    }, 150_000, 2000);

    // independent expectation from the CSV files
    const fillTime = (o: any) => Number(o.updateTime);
    const marks = (sym: string) => {
      const m = new Map<number, string>();
      for (const [t, , , , close] of rows(file(sym, 'markprice-8h'))) m.set(Number(t) + H8, close); // close at the row's end
      return m;
    };
    let expected = new D(0);
    let settlements = 0;
    const endMs = Number(await endOf()) + 60_000;
    for (const [sym, size, order] of [['BTCUSDT', '0.013', buy], ['ETHUSDT', '-0.37', sell]] as const) {
      const m = marks(sym);
      for (const [t, rate] of rows(file(sym, 'funding-rate-8h'))) {
        const ft = Number(t);
        if (ft <= fillTime(order) || ft > endMs) continue;
        const mark = m.get(ft - (ft % 60_000));
        expect(mark).toBeDefined();
        expected = expected.minus(new D(size).mul(mark!).mul(rate));
        settlements++;
      }
    }
    process.stderr.write(`multisim e2e: ${settlements} funding settlements, expected funding ${expected.toFixed(8)} USDT\n`);
    expect(settlements).toBeGreaterThanOrEqual(4);
    const fees = new D(buy.avgPrice.value).mul('0.013').mul(TAKER).plus(new D(sell.avgPrice.value).mul('0.37').mul(TAKER));
    const acc = await client.call('GetAccount');
    // wallet = initial − fees + funding (no position was reduced, so no realized PnL); reported to 8 dp
    expect(acc.totalWalletBalance.value).toBe(new D(10_000).minus(fees).plus(expected).toDecimalPlaces(8).toString());
    expect(acc.totalWalletBalance.value.split('.')[1]?.length ?? 0).toBeLessThanOrEqual(8);
    // funding history RPCs carry the settled rates of both symbols
    for (const sym of ['BTCUSDT', 'ETHUSDT']) {
      const hist = (await client.call('GetHistoricalFundingRates', { symbol: sym, limit: 1000 })).rates;
      expect(hist.length).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('sim: liquidation of a leveraged long on a small balance through a −25 % crash', () => {
  let conn: AppProcess;
  let client: TestExchangeClient;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-crash-'));
  const csv = path.join(dir, 'crash.csv');

  beforeAll(async () => {
    // 100 history minutes + 20 flat at 100 000, −25 % in 10 minutes, then 30 flat at 75 000
    const t0 = Date.UTC(2025, 0, 1);
    const lines = ['open_time_ms,open,high,low,close,volume_base'];
    let i = 0;
    for (; i < 120; i++) lines.push(`${t0 + i * 60_000},100000,100000,100000,100000,50`);
    for (let k = 0; k < 10; k++, i++) {
      const o = 100_000 - 2500 * k;
      lines.push(`${t0 + i * 60_000},${o},${o},${o - 2500},${o - 2500},50`);
    }
    for (let k = 0; k < 30; k++, i++) lines.push(`${t0 + i * 60_000},75000,75000,75000,75000,50`);
    fs.writeFileSync(csv, lines.join('\n') + '\n');
    ({ conn, client } = await start({ SIM_DATA: csv, SIM_BALANCE: '300', SIM_LEVERAGE: '50', SIM_SPEED: '120', SIM_START: 'immediate' }));
  });
  afterAll(async () => {
    client?.close();
    await stopApp(conn);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('closes the position with an autoclose order at the mark, shows it in the order and account streams, and keeps the wallet ≥ 0', async () => {
    const updates: any[] = [];
    const accounts: any[] = [];
    const os1 = client.stream('SubscribeOrders', {}, (u: any) => updates.push(u));
    const as1 = client.stream('SubscribeAccount', {}, (a: any) => accounts.push(a));
    await new Promise((r) => setTimeout(r, 500));
    const buy = await client.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.1' } });
    expect(buy.status).toBe('ORDER_STATUS_FILLED');
    const [pos] = (await client.call('GetPositions', { symbol: 'BTCUSDT' })).positions;
    const liq = new D(pos.liquidationPrice.value);
    // hand formula (one position, bracket 1): (wallet − |q| × entry) / (|q| × 0.004 − |q|)
    const wallet = new D(300).minus(new D(buy.avgPrice.value).mul('0.1').mul(TAKER));
    const lp = wallet.minus(new D(buy.avgPrice.value).mul('0.1')).div(new D('0.0004').minus('0.1'));
    expect(liq.toString()).toBe(lp.div('0.1').ceil().mul('0.1').toString());

    await waitFor('autoclose fill', () => updates.some((u) => u.clientOrderId.startsWith('autoclose-') && u.status === 'ORDER_STATUS_FILLED'), 120_000, 200);
    const close = updates.find((u) => u.clientOrderId.startsWith('autoclose-') && u.status === 'ORDER_STATUS_FILLED');
    expect(close.side).toBe('ORDER_SIDE_SELL');
    expect(close.executedQty.value).toBe('0.1');
    const px = new D(close.avgPrice.value);
    expect(px.lte(lp)).toBe(true);
    expect(px.gt(lp.minus(500))).toBe(true);
    const [after] = (await client.call('GetPositions', { symbol: 'BTCUSDT' })).positions;
    expect(after.size.value).toBe('0');
    const acc = await client.call('GetAccount');
    expect(new D(acc.totalWalletBalance.value).gte(0)).toBe(true);
    expect(new D(acc.totalWalletBalance.value).lt(wallet)).toBe(true);
    await waitFor('account event after the liquidation', () => accounts.some((a) => a.totalWalletBalance.value === acc.totalWalletBalance.value), 10_000, 100);
    os1.cancel();
    as1.cancel();
  });
});

describe('sim state file across runs (what `npm start` keeps in data/sim-state.json)', () => {
  it('restores the account on a second start of the same setup and refuses a state saved for another setup', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-simstate-'));
    const state = path.join(dir, 'sim-state.json');
    const first = await start({ SIM_SEED: '5', SIM_STATE_FILE: state, SIM_SPEED: '60' });
    const o = await first.client.call('PlaceOrder', { symbol: 'BTCUSDT', side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_MARKET', quantity: { value: '0.002' } });
    expect(o.status).toBe('ORDER_STATUS_FILLED');
    const wallet = (await first.client.call('GetAccount')).totalWalletBalance.value;
    first.client.close();
    await stopApp(first.conn);
    expect(JSON.parse(fs.readFileSync(state, 'utf8')).dataset).toBe('random walk BTCUSDT seed 5');

    const second = await start({ SIM_SEED: '5', SIM_STATE_FILE: state, SIM_SPEED: '60' });
    const [pos] = (await second.client.call('GetPositions', { symbol: 'BTCUSDT' })).positions;
    expect(pos.size.value).toBe('0.002');
    expect((await second.client.call('GetAccount')).totalWalletBalance.value).toBe(wallet);
    second.client.close();
    await stopApp(second.conn);

    const port = await freePort();
    const other = startApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), SIM_SEED: '6', SIM_STATE_FILE: state }, logDir);
    expect(await other.exited).toBe(1);
    expect(other.output()).toContain('belongs to another sim setup (random walk BTCUSDT seed 5), not this one (random walk BTCUSDT seed 6)');
    expect(other.output()).toContain('npm run reset');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
