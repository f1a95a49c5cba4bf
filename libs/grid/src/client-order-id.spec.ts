import { dec } from '@mm/domain';
import { TAG_LENGTH, assertPrefix, clientOrderIdTag, levelFromTicks, makeClientOrderId, parseClientOrderId } from './client-order-id';

const TICK = dec('0.1');
const SECRET = 'test-secret-0123456789';
const OTHER = 'another-secret-98765432';
const mk = (prefix: string, side: 'BUY' | 'SELL', level: string, tick: string | typeof TICK, gen: number, secret = SECRET) =>
  makeClientOrderId(prefix, side, dec(level), typeof tick === 'string' ? dec(tick) : tick, gen, secret);

describe('makeClientOrderId', () => {
  it('is <prefix><B|S><ticks>g<generation><6-char keyed tag>', () => {
    const id = mk('mm1', 'BUY', '95500.1', TICK, 3);
    expect(id).toMatch(/^mm1B955001g3[0-9a-z]{6}$/);
    expect(id.slice(-TAG_LENGTH)).toBe(clientOrderIdTag(SECRET, 'mm1', 'B', '955001', '3'));
  });

  it('is deterministic for one secret (recovery recomputes it) and differs across secrets', () => {
    expect(mk('mm1', 'BUY', '95500.1', TICK, 3)).toBe(mk('mm1', 'BUY', '95500.1', TICK, 3));
    expect(mk('mm1', 'BUY', '95500.1', TICK, 3, OTHER)).not.toBe(mk('mm1', 'BUY', '95500.1', TICK, 3));
    expect(mk('mm1', 'BUY', '95500.1', TICK, 3, OTHER)).toMatch(/^mm1B955001g3[0-9a-z]{6}$/);
  });

  it('the next id is not derivable from the current one: tags of consecutive generations and sides are unrelated', () => {
    const tags = new Set<string>();
    for (let g = 0; g < 2000; g++) for (const side of ['BUY', 'SELL'] as const) tags.add(mk('mm1', side, '95500.1', TICK, g).slice(-TAG_LENGTH));
    // 4000 ids, 36^6 possible tags: collisions would show a weak derivation.
    expect(tags.size).toBeGreaterThan(3990);
  });

  it('equal levels written differently give the same id', () => {
    expect(mk('mm1', 'BUY', '95500.1', '0.1', 7)).toBe(mk('mm1', 'BUY', '95500.10', '0.10', 7));
  });

  it('rejects a level off the tick, a short secret and a bad prefix', () => {
    expect(() => mk('mm1', 'BUY', '95500.15', TICK, 0)).toThrow(/not on tick/);
    expect(() => mk('mm1', 'BUY', '95500.1', TICK, 0, 'short')).toThrow(/at least 16/);
    expect(() => mk('MM1', 'BUY', '95500.1', TICK, 0)).toThrow(/instance id/);
  });

  it('allows exactly 32 characters and rejects 33', () => {
    // 8 (prefix) + 1 (side) + 10 (ticks) + 1 ('g') + 6 (generation) + 6 (tag) = 32
    const id32 = mk('abcdefgh', 'SELL', '99999.99999', '0.00001', 999999);
    expect(id32).toHaveLength(32);
    expect(() => mk('abcdefgh', 'SELL', '99999.99999', '0.00001', 9999999)).toThrow(/too long/);
  });

  it('produces ≤ 32 alphanumerics for realistic inputs', () => {
    const cases: [string, string, string, number][] = [
      ['mm1', '95500.1', '0.1', 0],
      ['abcdefgh', '1234567.8', '0.1', 123456],
      ['x9', '0.00001234', '0.00000001', 42],
      ['grid01', '3456.78', '0.01', 99999],
    ];
    for (const [prefix, level, tick, gen] of cases) {
      for (const side of ['BUY', 'SELL'] as const) expect(mk(prefix, side, level, tick, gen)).toMatch(/^[A-Za-z0-9]{1,32}$/);
    }
  });
});

describe('parseClientOrderId', () => {
  it('round-trips side, level and generation', () => {
    const p = parseClientOrderId(mk('mm1', 'SELL', '95500.1', TICK, 3), 'mm1', SECRET);
    expect(p).toEqual({ prefix: 'mm1', side: 'SELL', levelTicks: '955001', generation: 3 });
    expect(levelFromTicks(p!.levelTicks, TICK).toString()).toBe('95500.1');
    for (const [level, tick] of [['0.3712', '0.0001'], ['95500', '1'], ['0.00001234', '0.00000001']]) {
      const q = parseClientOrderId(mk('mm1', 'BUY', level, tick, 12), 'mm1', SECRET);
      expect(levelFromTicks(q!.levelTicks, dec(tick)).toString()).toBe(level);
      expect(q!.generation).toBe(12);
    }
  });

  it('an id with our prefix but a wrong tag is foreign (forged, legacy unsalted, or another secret)', () => {
    const id = mk('mm1', 'BUY', '95500.1', TICK, 3);
    expect(parseClientOrderId(id, 'mm1', OTHER)).toBeUndefined();
    expect(parseClientOrderId('mm1B955001g3', 'mm1', SECRET)).toBeUndefined();
    const flipped = id.slice(0, -1) + (id.endsWith('0') ? '1' : '0');
    expect(parseClientOrderId(flipped, 'mm1', SECRET)).toBeUndefined();
    // The tag covers every field: moving an id to the next generation or the other side breaks it.
    expect(parseClientOrderId(id.replace('g3', 'g4'), 'mm1', SECRET)).toBeUndefined();
    expect(parseClientOrderId(id.replace('mm1B', 'mm1S'), 'mm1', SECRET)).toBeUndefined();
  });

  it('rejects ids of other owners and malformed ids', () => {
    const id = mk('mm1', 'BUY', '95500.1', TICK, 3);
    expect(parseClientOrderId(id.replace('mm1', 'xx1'), 'mm1', SECRET)).toBeUndefined();
    expect(parseClientOrderId('web_EXTRACT123', 'mm1', SECRET)).toBeUndefined();
    expect(parseClientOrderId('', 'mm1', SECRET)).toBeUndefined();
    expect(parseClientOrderId(id, 'mm', SECRET)).toBeUndefined();
    expect(parseClientOrderId(id + 'x', 'mm1', SECRET)).toBeUndefined();
    expect(parseClientOrderId(id.slice(0, -1), 'mm1', SECRET)).toBeUndefined();
  });
});

describe('levelFromTicks', () => {
  it('multiplies back exactly', () => {
    expect(levelFromTicks('955001', dec('0.1')).toString()).toBe('95500.1');
    expect(levelFromTicks('3712', dec('0.0001')).toString()).toBe('0.3712');
  });
});

describe('assertPrefix', () => {
  it('accepts 2–8 lower-case alphanumerics starting with a letter', () => {
    expect(() => assertPrefix('mm1')).not.toThrow();
    expect(() => assertPrefix('1mm')).toThrow();
  });
});
