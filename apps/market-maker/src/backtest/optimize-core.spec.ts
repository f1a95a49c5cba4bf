import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dec } from '@mm/domain';
import { type ComboResult, appendJournal, combinations, comboKey, paretoFront, parseParam, rank, readJournal } from './optimize-core';

const summary = (netPnl: string, dd: string, sharpe: string | null = null) => ({ netPnl, returnOnCapital: new Dec(netPnl).div(10000).toFixed(), maxDrawdownPct: dd, sharpe }) as unknown as ComboResult['summary'];
const res = (key: string, netPnl: string, dd: string): ComboResult => ({ key, params: {}, summary: summary(netPnl, dd), wallMs: 1 });

describe('optimizer core', () => {
  it('parses ranges (inclusive, exact decimals) and lists; rejects bad specs naming the parameter', () => {
    expect(parseParam('grid.price_interval=50:150:25').values).toEqual(['50', '75', '100', '125', '150']);
    expect(parseParam('grid.volatility_scale=0.1:0.3:0.1').values).toEqual(['0.1', '0.2', '0.3']);
    expect(parseParam('grid.order_notional=100, 250,500,250').values).toEqual(['100', '250', '500']);
    expect(() => parseParam('grid.price_interval')).toThrow(/--param grid\.price_interval: expected key=/);
    expect(() => parseParam('grid.price_interval=5:1:1')).toThrow(/need step > 0 and to ≥ from/);
    expect(() => parseParam('grid.price_interval=1:5')).toThrow(/from:to:step/);
  });

  it('all combinations, last parameter fastest; --random K is a seeded sample without repeats', () => {
    const ps = [parseParam('a=1,2,3'), parseParam('b=x,y')];
    expect(combinations(ps).map(comboKey)).toEqual(['a=1&b=x', 'a=1&b=y', 'a=2&b=x', 'a=2&b=y', 'a=3&b=x', 'a=3&b=y']);
    const s1 = combinations(ps, 3, 42).map(comboKey);
    expect(s1).toHaveLength(3);
    expect(new Set(s1).size).toBe(3);
    expect(combinations(ps, 3, 42).map(comboKey)).toEqual(s1);
    expect(combinations(ps, 99, 42)).toHaveLength(6);
  });

  it('ranks by objective descending, drawdown-filtered rows last, ties by key', () => {
    const rows = rank([res('c', '5', '0.01'), res('a', '9', '0.08'), res('b', '5', '0.02'), res('d', '7', '0.03')], 'net_pnl', new Dec('0.05'));
    expect(rows.map((r) => [r.rank, r.key, r.eligible])).toEqual([
      [1, 'd', true],
      [2, 'b', true],
      [3, 'c', true],
      [4, 'a', false],
    ]);
    const sh = rank([{ ...res('x', '1', '0'), summary: summary('1', '0', null) }, { ...res('y', '1', '0'), summary: summary('1', '0', '1.5') }], 'sharpe');
    expect(sh.map((r) => r.key)).toEqual(['y', 'x']);
  });

  it('Pareto front: not dominated in (return ↑, drawdown ↓)', () => {
    const rows = rank([res('a', '10', '0.05'), res('b', '8', '0.01'), res('c', '7', '0.02'), res('d', '12', '0.09')], 'net_pnl');
    expect(paretoFront(rows).map((r) => r.key)).toEqual(['b', 'a', 'd']);
  });

  it('journal: appended lines read back; a torn last line is dropped and the file repaired', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'journal-')), 'journal.jsonl');
    appendJournal(f, res('a', '1', '0'));
    appendJournal(f, res('b', '2', '0'));
    fs.appendFileSync(f, '{"key":"c","par');
    expect([...readJournal(f).keys()]).toEqual(['a', 'b']);
    appendJournal(f, res('c', '3', '0'));
    expect([...readJournal(f).keys()]).toEqual(['a', 'b', 'c']);
  });
});
