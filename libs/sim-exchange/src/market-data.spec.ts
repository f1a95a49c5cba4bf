import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dec, type Candle } from '@mm/domain';
import { candlePath, defaultSymbolRules, loadFundingCsv, loadKlineCsv } from './index';
import { RandomWalk } from './market-data';

const KLINES = '/work/shared/data/market/binance-usdm-BTCUSDT-1m-20250504-20250624.csv';
const FUNDING = '/work/shared/data/market/binance-usdm-BTCUSDT-funding-rate-8h.csv';
const tick = new Dec('0.1');

function candle(o: string, h: string, l: string, c: string, t = 1_700_000_000_000): Candle {
  return { symbol: 'BTCUSDT', openTimeMs: t, open: new Dec(o), high: new Dec(h), low: new Dec(l), close: new Dec(c), volume: new Dec('1'), closed: true };
}

describe('candlePath', () => {
  it('up candle: open → low → high → close, every second, on tick', () => {
    const p = candlePath(candle('100000', '100100', '99900', '100050'), 1000, tick);
    expect(p).toHaveLength(60);
    expect(p.map((x) => x.timeMs - 1_700_000_000_000)).toEqual(Array.from({ length: 60 }, (_, k) => k * 1000));
    const s = p.map((x) => x.price.toString());
    expect(s[0]).toBe('100000');
    expect(s[59]).toBe('100050');
    // low at sample round(59/3) = 20, high at round(118/3) = 39
    expect(s[20]).toBe('99900');
    expect(s[39]).toBe('100100');
    expect(s.indexOf('99900')).toBeLessThan(s.indexOf('100100'));
    // linear 100000 → 99900 over 20 s is −5 per second
    expect(s[1]).toBe('99995');
    expect(s[10]).toBe('99950');
    // 99900 → 100100 over 19 steps: 99900 + 200·10/19 = 100005.263… → 100005.3
    expect(s[30]).toBe('100005.3');
    // 100100 → 100050 over 20 steps: −2.5 per step
    expect(s[41]).toBe('100095');
    for (const x of p) {
      expect(x.price.mod(tick).isZero()).toBe(true);
      expect(x.price.gte('99900') && x.price.lte('100100')).toBe(true);
    }
  });

  it('down candle visits the high before the low', () => {
    const p = candlePath(candle('100000', '100100', '99900', '99950'), 1000, tick).map((x) => x.price.toString());
    expect(p[0]).toBe('100000');
    expect(p[20]).toBe('100100');
    expect(p[39]).toBe('99900');
    expect(p[59]).toBe('99950');
  });

  it('contains the exact high and low for awkward intervals and for coarse ones', () => {
    for (const iv of [7000, 13000, 20000, 30000, 60000]) {
      const p = candlePath(candle('95505.4', '95505.5', '95502.7', '95502.7'), iv, tick);
      const s = p.map((x) => x.price.toString());
      expect(s).toContain('95505.5');
      expect(s).toContain('95502.7');
      expect(s[0]).toBe('95505.4');
      expect(s[s.length - 1]).toBe('95502.7');
      expect(s.indexOf('95505.5')).toBeLessThan(s.lastIndexOf('95502.7'));
      for (const x of p) expect(x.timeMs - 1_700_000_000_000).toBeLessThan(60_000);
    }
    expect(candlePath(candle('1', '2', '1', '1'), 30000, new Dec('0.0001'))).toHaveLength(4);
  });
});

describe('defaultSymbolRules', () => {
  it('uses Binance USD-M filters', () => {
    const b = defaultSymbolRules('BTCUSDT');
    expect([b.tickSize, b.stepSize, b.minQty, b.minNotional].map(String)).toEqual(['0.1', '0.001', '0.001', '100']);
    expect([b.baseAsset, b.quoteAsset, b.pricePrecision, b.quantityPrecision]).toEqual(['BTC', 'USDT', 1, 3]);
    const e = defaultSymbolRules('ETHUSDT');
    expect([e.tickSize, e.stepSize, e.minQty, e.minNotional].map(String)).toEqual(['0.01', '0.001', '0.001', '20']);
    const x = defaultSymbolRules('DOGEUSDT');
    expect([x.tickSize, x.stepSize, x.minQty, x.minNotional].map(String)).toEqual(['0.0001', '0.1', '0.1', '5']);
  });
});

describe('CSV loading', () => {
  it('loads the real BTCUSDT 1m file exactly and fast', () => {
    const t0 = Date.now();
    const c = loadKlineCsv(KLINES, 'BTCUSDT');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(c).toHaveLength(73139);
    expect(c[0]).toMatchObject({ symbol: 'BTCUSDT', openTimeMs: 1746372780000, closed: true });
    expect([c[0].open, c[0].high, c[0].low, c[0].close, c[0].volume].map(String)).toEqual([
      '95505.4',
      '95505.5',
      '95502.7',
      '95502.7',
      '16.536',
    ]);
    expect(c[1].openTimeMs - c[0].openTimeMs).toBe(60_000);
  });

  it('loads funding rates', () => {
    const f = loadFundingCsv(FUNDING);
    expect(f).toHaveLength(329);
    expect(f[0].fundingTimeMs).toBe(1741276800000);
    expect(f[0].rate.toString()).toBe('0.00006818');
    expect(f[1].rate.toString()).toBe('-0.00000612');
  });

  it('handles CRLF and reports the bad line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'simcsv-'));
    const ok = join(dir, 'ok.csv');
    writeFileSync(ok, 'open_time_ms,open,high,low,close,volume_base\r\n60000,1,2,0.5,1.5,3\r\n');
    expect(loadKlineCsv(ok, 'X')[0].close.toString()).toBe('1.5');
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'open_time_ms,open,high,low,close,volume_base\n60000,1,2,0.5,1.5,3\n120000,1,x,0.5,1.5,3\n');
    expect(() => loadKlineCsv(bad, 'X')).toThrow(/bad\.csv:3/);
  });
});

describe('RandomWalk', () => {
  const rules = defaultSymbolRules('BTCUSDT');
  const take = (seed: number) => {
    const w = new RandomWalk(seed, rules, new Dec(100000));
    return Array.from({ length: 500 }, (_, i) => w.next(i * 60_000));
  };

  it('is deterministic per seed, continuous and on the tick/step grid', () => {
    const a = take(7);
    const b = take(7);
    expect(a.map((c) => c.close.toString())).toEqual(b.map((c) => c.close.toString()));
    expect(take(8).map((c) => c.close.toString())).not.toEqual(a.map((c) => c.close.toString()));
    expect(a[0].open.toString()).toBe('100000');
    for (let i = 0; i < a.length; i++) {
      const c = a[i];
      if (i > 0) expect(c.open.eq(a[i - 1].close)).toBe(true);
      expect(c.high.gte(Dec.max(c.open, c.close)) && c.low.lte(Dec.min(c.open, c.close))).toBe(true);
      expect(c.close.mod(rules.tickSize).isZero() && c.volume.mod(rules.stepSize).isZero()).toBe(true);
    }
    // ~0.08 % per minute: log-return std over 500 minutes within a loose band
    const r = a.map((c) => Math.log(c.close.toNumber() / c.open.toNumber()));
    const sd = Math.sqrt(r.reduce((s, x) => s + x * x, 0) / r.length);
    expect(sd).toBeGreaterThan(0.0006);
    expect(sd).toBeLessThan(0.001);
  });
});
