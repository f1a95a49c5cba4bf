import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MarketDataError, detectDataFormat, loadBookTickerCsv, loadFundingCsv, loadKlineCsv, loadTradesCsv } from './index';

const dir = mkdtempSync(join(tmpdir(), 'mdata-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `f${n++}.csv`);
  writeFileSync(p, text);
  return p;
}
const H = 'open_time_ms,open,high,low,close,volume_base\n';
const T0 = 1746372780000;
const row = (t: number, o = '100', h = '101', l = '99', c = '100.5', v = '3') => `${t},${o},${h},${l},${c},${v}\n`;

/** Asserts the loader throws a MarketDataError for `path` at `line` whose message matches `problem`. */
function expectBad(fn: () => unknown, path: string, line: number, problem: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MarketDataError);
  const m = err as MarketDataError;
  expect(m.file).toBe(path);
  expect(m.line).toBe(line);
  expect(m.problem).toMatch(problem);
  expect(m.message).toBe(`${path}:${line}: ${m.problem}`);
  expect(m.message).not.toContain('\n');
}

describe('kline file validation (one MarketDataError naming file, line and problem)', () => {
  it('accepts a good file with and without header', () => {
    expect(loadKlineCsv(file(H + row(T0) + row(T0 + 60_000)), 'X')).toHaveLength(2);
    expect(loadKlineCsv(file(row(T0) + row(T0 + 60_000)), 'X')[1].openTimeMs).toBe(T0 + 60_000);
  });
  it('empty file', () => {
    const p = file('');
    expectBad(() => loadKlineCsv(p, 'X'), p, 1, /file is empty/);
    const q = file('\n\n');
    expectBad(() => loadKlineCsv(q, 'X'), q, 1, /file is empty/);
  });
  it('header-only file', () => {
    const p = file(H);
    expectBad(() => loadKlineCsv(p, 'X'), p, 1, /no data rows \(only a header\)/);
  });
  it('missing file', () => {
    expectBad(() => loadKlineCsv(join(dir, 'nope.csv'), 'X'), join(dir, 'nope.csv'), 0, /file not found/);
  });
  it('duplicate timestamp', () => {
    const p = file(H + row(T0) + row(T0 + 60_000) + row(T0 + 60_000));
    expectBad(() => loadKlineCsv(p, 'X'), p, 4, /duplicate open_time_ms 1746372840000 \(same as line 3\)/);
  });
  it('non-monotonic timestamp', () => {
    const p = file(H + row(T0) + row(T0 + 120_000) + row(T0 + 60_000));
    expectBad(() => loadKlineCsv(p, 'X'), p, 4, /is before 1746372900000 on line 3/);
  });
  it('klines less than a minute apart', () => {
    const p = file(H + row(T0) + row(T0 + 1000));
    expectBad(() => loadKlineCsv(p, 'X'), p, 3, /less than 1 minute after/);
  });
  it('timestamps in seconds', () => {
    const p = file(H + row(1746372780) + row(1746372840));
    expectBad(() => loadKlineCsv(p, 'X'), p, 2, /looks like Unix seconds; expected Unix milliseconds \(1746372780000\)/);
  });
  it.each([
    ['zero', row(T0, '0'), /open must be > 0, got 0/],
    ['negative low', row(T0, '100', '101', '-5'), /low must be > 0, got -5/],
    ['NaN', row(T0, '100', '101', '99', 'NaN'), /close "NaN" is not a number/],
    ['non-numeric', row(T0, 'abc'), /open "abc" is not a number/],
    ['Infinity', row(T0, '100', 'Infinity'), /high "Infinity" is not a number/],
    ['empty field', row(T0, '100', '101', '99', ''), /close "" is not a number/],
    ['negative volume', row(T0, '100', '101', '99', '100', '-1'), /volume_base must be ≥ 0/],
    ['high < low', row(T0, '100', '99', '101', '100'), /high 99 is below low 101/],
    ['open above high', row(T0, '102', '101', '99', '100'), /open 102 is outside \[low 99, high 101\]/],
    ['close below low', row(T0, '100', '101', '99', '98'), /close 98 is outside \[low 99, high 101\]/],
    ['bad time', row(T0).replace(String(T0), '17463727800x0'), /open_time_ms "17463727800x0" is not a whole number/],
  ])('%s', (_name, bad, problem) => {
    const p = file(H + row(T0 - 60_000) + bad);
    expectBad(() => loadKlineCsv(p, 'X'), p, 3, problem);
  });
  it('wrong column count', () => {
    const p = file(H + row(T0) + `${T0 + 60_000},1,2,0.5\n`);
    expectBad(() => loadKlineCsv(p, 'X'), p, 3, /expected 6 columns, got 4/);
    const q = file(H + row(T0) + `${T0 + 60_000},1,2,0.5,1,1,7\n`);
    expectBad(() => loadKlineCsv(q, 'X'), q, 3, /expected 6 columns, got 7/);
  });
  it('a header without the needed columns', () => {
    const p = file('time,o,h,l,c,v\n' + row(T0));
    expectBad(() => loadKlineCsv(p, 'X'), p, 1, /header has no column "open_time_ms"/);
  });
  it('counts lines 1-based including blank lines and CRLF', () => {
    const p = file((H + row(T0) + '\n' + row(T0 + 60_000, '100', '99', '101')).replace(/\n/g, '\r\n'));
    expectBad(() => loadKlineCsv(p, 'X'), p, 4, /high 99 is below low 101/);
  });
});

describe('funding file validation', () => {
  const FH = 'funding_time_ms,funding_rate\n';
  it('accepts negative rates', () => {
    expect(loadFundingCsv(file(FH + '1741276800000,-0.0001\n1741305600000,0.0002\n'))[0].rate.toString()).toBe('-0.0001');
  });
  it.each([
    ['header only', FH, 1, /only a header/],
    ['duplicate', FH + '1741276800000,0\n1741276800000,0\n', 3, /duplicate funding_time_ms/],
    ['out of order', FH + '1741305600000,0\n1741276800000,0\n', 3, /is before/],
    ['seconds', FH + '1741276800,0\n', 2, /looks like Unix seconds/],
    ['NaN rate', FH + '1741276800000,NaN\n', 2, /funding_rate "NaN" is not a number/],
    ['columns', FH + '1741276800000\n', 2, /expected 2 columns, got 1/],
  ])('%s', (_n, text, line, problem) => {
    const p = file(text);
    expectBad(() => loadFundingCsv(p), p, line, problem);
  });
});

describe('tick files', () => {
  const TRADES = '/work/shared/data/market/tick/binance-usdm-BTCUSDT-20240808T2354-2400-trades.csv';
  const BOOK = '/work/shared/data/market/tick/binance-usdm-BTCUSDT-20240808T2354-2400-bookTicker.csv';
  it('loads the shared Binance trades and bookTicker files by header name', () => {
    const t = loadTradesCsv(TRADES);
    expect(t).toHaveLength(21313);
    expect(t[0]).toMatchObject({ timeMs: 1723161256322, isBuyerMaker: false });
    expect(t[0].price.toString()).toBe('61800.3');
    expect(t[0].qty.toString()).toBe('0.006');
    const b = loadBookTickerCsv(BOOK);
    expect(b).toHaveLength(66089);
    expect(b[0].bidPrice.toString()).toBe('61800.2');
    expect(b[0].askQty.toString()).toBe('2.51');
    expect(detectDataFormat(TRADES)).toBe('trades');
    expect(detectDataFormat(BOOK)).toBe('book');
    expect(detectDataFormat('/work/shared/data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv')).toBe('klines');
  });
  it('allows equal trade times but not decreasing ones; rejects zero qty and crossed books', () => {
    const TH = 'trade_time_ms,price,qty,is_buyer_maker\n';
    expect(loadTradesCsv(file(TH + '1723161256322,1,1,true\n1723161256322,1,1,false\n'))).toHaveLength(2);
    const p = file(TH + '1723161256323,1,1,true\n1723161256322,1,1,false\n');
    expectBad(() => loadTradesCsv(p), p, 3, /is before 1723161256323 on line 2/);
    const q = file(TH + '1723161256323,1,0,true\n');
    expectBad(() => loadTradesCsv(q), q, 2, /qty must be > 0/);
    const r = file(TH + '1723161256323,1,1,maybe\n');
    expectBad(() => loadTradesCsv(r), r, 2, /is_buyer_maker "maybe" must be true\/false/);
    const BH = 'event_time_ms,bid_price,bid_qty,ask_price,ask_qty\n';
    const s = file(BH + '1723161256323,10,1,9.9,1\n');
    expectBad(() => loadBookTickerCsv(s), s, 2, /crossed book: bid_price 10 ≥ ask_price 9.9/);
  });
});

describe('loadSimData', () => {
  const TR = '/work/shared/data/market/tick/binance-usdm-BTCUSDT-20240808T2354-2400-trades.csv';
  const FUND = '/work/shared/data/market/binance-usdm-BTCUSDT-funding-rate-8h.csv';
  it('detects the format and loads klines (with funding) or tick events', async () => {
    const { loadSimData } = await import('./index');
    const k = loadSimData({ symbol: 'BTCUSDT', data: '/work/shared/data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv', funding: FUND, maxCandles: 10 });
    expect([k.format, k.candles?.length, k.fundingRates?.length, k.events]).toEqual(['klines', 10, 329, undefined]);
    const t = loadSimData({ symbol: 'BTCUSDT', data: TR });
    expect(t.format).toBe('trades');
    expect(t.events?.peek()).toMatchObject({ kind: 'trade', timeMs: 1723161256322 });
    expectBad(() => loadSimData({ symbol: 'BTCUSDT', data: FUND }), FUND, 1, /funding file/);
    expectBad(() => loadSimData({ symbol: 'BTCUSDT', data: TR, funding: FUND }), FUND, 0, /kline data only/);
    expectBad(() => loadSimData({ symbol: 'BTCUSDT', data: TR, format: 'book' }), TR, 1, /header has no column "event_time_ms"|header has no column "bid_price"/);
  });
});
