import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MarketRecorder } from './market-recorder';

describe('MarketRecorder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recorder-'));

  it('appends market streams as JSON Lines, skips account streams, flushes at the buffer bound and on close', () => {
    const path = join(dir, 'r.jsonl');
    writeFileSync(path, '{"existing":true}\n');
    let now = 1000;
    const r = new MarketRecorder(path, { flushMs: 60_000, maxBufferBytes: 300, now: () => now++ });
    r.record('price', { symbol: 'BTCUSDT', price: { value: '1.5' } });
    r.record('orders', { symbol: 'BTCUSDT' });
    r.record('account', { x: 1 });
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(1); // buffered
    for (let i = 0; i < 5; i++) r.record('klines', { symbol: 'BTCUSDT', close: { value: String(i) } });
    // over 300 bytes: written without waiting for the timer
    const mid = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    expect(mid.length).toBeGreaterThan(1);
    r.record('funding', { symbol: 'BTCUSDT', rate: { value: '-0.0001' } });
    r.close();
    r.record('price', { symbol: 'BTCUSDT' }); // after close: ignored
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    expect(lines[0]).toBe('{"existing":true}');
    const recs = lines.slice(1).map((l) => JSON.parse(l));
    expect(recs.map((x) => x.stream)).toEqual(['price', 'klines', 'klines', 'klines', 'klines', 'klines', 'funding']);
    expect(recs.map((x) => x.t)).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006]);
    expect(recs[0]).toEqual({ t: 1000, stream: 'price', symbol: 'BTCUSDT', data: { symbol: 'BTCUSDT', price: { value: '1.5' } } });
    expect(r.written).toBe(7);
  });
});
