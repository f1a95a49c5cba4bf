import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OrderIdMap, isWireInt64, syntheticIdOf } from './order-id-map';

const UUID = '3a0c8f7e-6d2b-4a51-9f3e-1c2d3e4f5a6b';

describe('OrderIdMap', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'order-id-map-'));

  it('passes int64 venue ids through unchanged and maps others into [2^62, 2^63)', () => {
    const m = new OrderIdMap();
    expect(m.toWire('1098394857967353857')).toBe('1098394857967353857');
    expect(m.toVenue('1098394857967353857')).toBe('1098394857967353857');
    expect(isWireInt64('9223372036854775807')).toBe(true);
    expect(isWireInt64('9223372036854775808')).toBe(false); // 2^63 does not fit
    expect(m.toWire('9223372036854775808')).not.toBe('9223372036854775808');
    const w = m.toWire(UUID);
    expect(w).toBe(syntheticIdOf(UUID));
    expect(BigInt(w) >= 1n << 62n && BigInt(w) < 1n << 63n).toBe(true);
    expect(m.toVenue(w)).toBe(UUID);
    expect(m.toWire(UUID)).toBe(w); // stable
  });

  it('gives the same synthetic id in another process without any file (hash-derived)', () => {
    expect(new OrderIdMap().toWire(UUID)).toBe(new OrderIdMap().toWire(UUID));
    expect(new OrderIdMap().toVenue(syntheticIdOf(UUID))).toBeUndefined(); // but cannot reverse it without the file
  });

  it('persists synthetic ids in the SQLite file and resolves them after a reopen', () => {
    const file = path.join(dir, 'ids.sqlite');
    const a = new OrderIdMap(file);
    const w = a.toWire(UUID);
    a.close();
    const b = new OrderIdMap(file);
    expect(b.toVenue(w)).toBe(UUID);
    b.close();
  });

  it('resolves a hash collision to the next value, durably', () => {
    const file = path.join(dir, 'collide.sqlite');
    const a = new OrderIdMap(file);
    // Occupy the slot UUID would hash to with another venue id by writing it directly.
    const taken = syntheticIdOf(UUID);
    (a as unknown as { insert: { run(...x: unknown[]): void } }).insert.run(taken, 'someone-else', Date.now());
    const w = a.toWire(UUID);
    expect(w).toBe(syntheticIdOf(UUID, 1n));
    expect(a.toVenue(taken)).toBe('someone-else');
    a.close();
    const b = new OrderIdMap(file);
    expect(b.toWire(UUID)).toBe(w);
    b.close();
  });

  it('prunes rows older than the retention at open', () => {
    const file = path.join(dir, 'prune.sqlite');
    const a = new OrderIdMap(file, { now: () => 1_000 });
    const w = a.toWire(UUID);
    a.close();
    const b = new OrderIdMap(file, { now: () => 1_000 + 31 * 24 * 3600_000 });
    expect(b.toVenue(w)).toBeUndefined();
    b.close();
  });

  it('keeps a native int64 id that falls in the synthetic range resolvable', () => {
    const m = new OrderIdMap();
    expect(m.toWire('5000000000000000001')).toBe('5000000000000000001');
    expect(m.toVenue('5000000000000000001')).toBe('5000000000000000001');
  });

  it('rejects non-numeric wire ids instead of throwing', () => {
    expect(new OrderIdMap().toVenue('abc')).toBeUndefined();
  });
});
