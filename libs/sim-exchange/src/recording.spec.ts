import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dec } from '@mm/domain';
import { MarketDataError, SimExchange, defaultSymbolRules, openRecording, type MarketEvent } from './index';

const dir = mkdtempSync(join(tmpdir(), 'rec-'));
let n = 0;
const file = (lines: string[]) => {
  const p = join(dir, `r${n++}.jsonl`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
};
const T = 1_746_372_780_000;
const price = (ms: number, v: string, sym = 'BTCUSDT') =>
  JSON.stringify({ t: ms + 5, stream: 'price', symbol: sym, data: { exchange: 'sim', symbol: sym, price: { value: v }, timestamp: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 } } });
const kline = (open: number, c: string, closed: boolean) =>
  JSON.stringify({ t: open + 60_000, stream: 'klines', symbol: 'BTCUSDT', data: { symbol: 'BTCUSDT', open: { value: '100' }, high: { value: '101' }, low: { value: '99' }, close: { value: c }, volume: { value: '3' }, timestamp: String(open), isClosed: closed } });
const funding = (ms: number, rate: string, next: number) =>
  JSON.stringify({ t: ms, stream: 'funding', symbol: 'BTCUSDT', data: { exchange: 'sim', symbol: 'BTCUSDT', rate: { value: rate }, predictedRate: { value: rate }, nextFundingTime: String(next), timestamp: String(ms) } });

function all(path: string, symbol?: string): MarketEvent[] {
  const src = openRecording(path, { symbol, chunkBytes: 64 });
  const out: MarketEvent[] = [];
  for (let e = src.next(); e; e = src.next()) out.push(e);
  return out;
}

describe('openRecording', () => {
  it('streams price, kline and funding events in market-time order (small chunks), filtered by symbol', () => {
    const p = file([price(T, '100'), price(T + 1000, '100.5'), price(T + 1000, '7', 'ETHUSDT'), kline(T - 60_000, '100', true), price(T + 500, '99.9'), funding(T + 2000, '0.0001', T + 3600_000)]);
    const ev = all(p, 'BTCUSDT');
    expect(ev.map((e) => e.kind)).toEqual(['price', 'price', 'kline', 'price', 'funding']);
    // the closed kline is stamped at its close (T) but may not go back in time; neither may the late price
    expect(ev.map((e) => e.timeMs - T)).toEqual([0, 1000, 1000, 1000, 2000]);
    expect(ev[3].kind === 'price' && ev[3].price.toString()).toBe('99.9');
    expect(all(p).length).toBe(6);
  });

  it.each([
    ['not JSON', ['{"t":1,'], 1, /not valid JSON/],
    ['missing fields', ['{"t":1,"stream":"price"}'], 1, /expected \{"t"/],
    ['unknown stream', [JSON.stringify({ t: 1, stream: 'orders', symbol: 'X', data: {} })], 1, /unknown stream "orders"/],
    ['NaN price on line 2', [price(T, '100'), price(T + 1, 'NaN')], 2, /price message: .*NaN/],
    ['zero price', [price(T, '0')], 1, /price must be > 0/],
    ['high < low', [JSON.stringify({ t: 1, stream: 'klines', symbol: 'BTCUSDT', data: { symbol: 'BTCUSDT', open: { value: '1' }, high: { value: '1' }, low: { value: '2' }, close: { value: '1' }, volume: { value: '1' }, timestamp: String(T), isClosed: true } })], 1, /high 1 is below low 2/],
  ])('%s → MarketDataError with the line', (_n, lines, line, problem) => {
    const p = file(lines);
    let err: unknown;
    try {
      all(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MarketDataError);
    expect((err as MarketDataError).line).toBe(line);
    expect((err as MarketDataError).file).toBe(p);
    expect((err as MarketDataError).problem).toMatch(problem);
  });

  it('an empty recording or a missing file is an error', () => {
    const p = join(dir, 'empty.jsonl');
    writeFileSync(p, '');
    expect(() => openRecording(p).peek()).toThrow(MarketDataError);
    expect(() => openRecording(join(dir, 'missing.jsonl'))).toThrow(/file not found/);
  });

  it('feeds the sim: prices match resting orders (touch and conservative), recorded funding settles at its time', async () => {
    const lines = [price(T, '100'), funding(T + 10, '0.001', T + 5000), price(T + 1000, '99.9'), price(T + 2000, '99.8'), price(T + 6000, '100.2')];
    const run = async (fillModel: 'touch' | 'conservative') => {
      const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('ETHUSDT'), events: openRecording(file(lines.map((l) => l.replace(/BTCUSDT/g, 'ETHUSDT')))) }], manual: true, fillModel });
      const fills: string[] = [];
      sim.watchOrders({ next: (e) => e.lastTrade && fills.push(`${e.lastTrade.side} ${e.lastTrade.quantity}@${e.lastTrade.price} t+${e.lastTrade.timestampMs - T}`) });
      await sim.placeOrder({ symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', price: new Dec('99.9'), quantity: new Dec('1') });
      sim.runToEnd();
      return { fills, account: await sim.getAccount() };
    };
    const touch = await run('touch');
    expect(touch.fills).toEqual(['BUY 1@99.9 t+1000']);
    const cons = await run('conservative');
    expect(cons.fills).toEqual(['BUY 1@99.9 t+2000']);
    // long 1 ETH at funding (rate 0.001, price 99.8 at T+5000): pays 0.0998
    const w = touch.account.totalWalletBalance.toString();
    expect(new Dec(10000).minus(new Dec('99.9').mul('0.0002')).minus('0.0998').toString()).toBe(w);
  });
});
