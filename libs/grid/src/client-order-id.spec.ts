import { dec } from '@mm/domain';
import { assertPrefix, levelFromTicks, makeClientOrderId, parseClientOrderId } from './client-order-id';

const TICK = dec('0.1');

describe('makeClientOrderId', () => {
  it('encodes prefix, side, level in ticks and generation', () => {
    expect(makeClientOrderId('mm1', 'BUY', dec('95500.1'), TICK, 3)).toBe('mm1B955001g3');
  });

  it('uses S for SELL (upstream bug 9.2 gave every id a B)', () => {
    expect(makeClientOrderId('mm1', 'SELL', dec('95500.1'), TICK, 3)).toBe('mm1S955001g3');
    expect(makeClientOrderId('mm1', 'SELL', dec('95500.1'), TICK, 3)).not.toBe(makeClientOrderId('mm1', 'BUY', dec('95500.1'), TICK, 3));
  });

  it('is deterministic: same inputs (fresh objects, different spellings) give the same id', () => {
    const a = makeClientOrderId('mm1', 'BUY', dec('95500.1'), dec('0.1'), 7);
    const b = makeClientOrderId('mm1', 'BUY', dec('95500.10'), dec('0.10'), 7);
    expect(a).toBe('mm1B955001g7');
    expect(b).toBe(a);
  });

  it('differs by generation, level and prefix', () => {
    expect(makeClientOrderId('mm1', 'BUY', dec('95500.1'), TICK, 4)).toBe('mm1B955001g4');
    expect(makeClientOrderId('mm1', 'BUY', dec('95500.2'), TICK, 3)).toBe('mm1B955002g3');
    expect(makeClientOrderId('mm2', 'BUY', dec('95500.1'), TICK, 3)).toBe('mm2B955001g3');
  });

  it('counts ticks for other tick sizes', () => {
    expect(makeClientOrderId('mm1', 'BUY', dec('95500'), dec('1'), 0)).toBe('mm1B95500g0');
    expect(makeClientOrderId('mm1', 'BUY', dec('95500.1'), dec('0.01'), 0)).toBe('mm1B9550010g0');
    expect(makeClientOrderId('ab', 'SELL', dec('0.3712'), dec('0.0001'), 12)).toBe('abS3712g12');
  });

  it('throws when the level is not on the tick', () => {
    expect(() => makeClientOrderId('mm1', 'BUY', dec('95500.15'), TICK, 0)).toThrow(/not on tick/);
    expect(() => makeClientOrderId('mm1', 'SELL', dec('0.37125'), dec('0.0001'), 0)).toThrow(/not on tick/);
  });

  it('allows exactly 32 characters and rejects 33', () => {
    // 8 (prefix) + 1 (side) + 16 (ticks) + 1 ('g') + 6 (generation) = 32
    const level = dec('99999999.99999999');
    const tick = dec('0.00000001');
    const id32 = makeClientOrderId('abcdefgh', 'SELL', level, tick, 999999);
    expect(id32).toBe('abcdefghS9999999999999999g999999');
    expect(id32).toHaveLength(32);
    expect(() => makeClientOrderId('abcdefgh', 'SELL', level, tick, 9999999)).toThrow(/too long/);
  });

  it('produces ≤ 32 alphanumerics for realistic inputs', () => {
    const cases: [string, string, string, number][] = [
      ['mm1', '95500.1', '0.1', 0],
      ['abcdefgh', '1234567.8', '0.1', 123456],
      ['x9', '0.00001234', '0.00000001', 42],
      ['grid01', '3456.78', '0.01', 99999],
    ];
    for (const [prefix, level, tick, gen] of cases) {
      for (const side of ['BUY', 'SELL'] as const) {
        const id = makeClientOrderId(prefix, side, dec(level), dec(tick), gen);
        expect(id).toMatch(/^[A-Za-z0-9]{1,32}$/);
      }
    }
  });
});

describe('parseClientOrderId', () => {
  it('round-trips a SELL id back to side, ticks, generation and level', () => {
    const id = makeClientOrderId('mm1', 'SELL', dec('95500.1'), TICK, 3);
    const p = parseClientOrderId(id, 'mm1');
    expect(p).toEqual({ prefix: 'mm1', side: 'SELL', levelTicks: '955001', generation: 3 });
    expect(levelFromTicks(p!.levelTicks, TICK).toString()).toBe('95500.1');
  });

  it('round-trips a BUY id', () => {
    const p = parseClientOrderId('mm1B955001g12', 'mm1');
    expect(p).toEqual({ prefix: 'mm1', side: 'BUY', levelTicks: '955001', generation: 12 });
  });

  it('round-trips many levels and tick sizes', () => {
    const cases: [string, string][] = [
      ['0.1', '95500.1'],
      ['0.01', '3456.78'],
      ['0.0001', '0.3712'],
      ['1', '95500'],
      ['0.5', '100.5'],
    ];
    for (const [tick, level] of cases) {
      for (const side of ['BUY', 'SELL'] as const) {
        const id = makeClientOrderId('mm1', side, dec(level), dec(tick), 5);
        const p = parseClientOrderId(id, 'mm1');
        expect(p?.side).toBe(side);
        expect(p?.generation).toBe(5);
        expect(levelFromTicks(p!.levelTicks, dec(tick)).toString()).toBe(level);
      }
    }
  });

  it('rejects ids with a foreign prefix', () => {
    expect(parseClientOrderId('xx1B955001g3', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('web_EXTRACT123', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('', 'mm1')).toBeUndefined();
  });

  it('does not confuse instances whose prefixes share a start', () => {
    // instance "mm" must not claim the orders of instance "mm1", nor vice versa
    expect(parseClientOrderId('mm1B955001g3', 'mm')).toBeUndefined();
    expect(parseClientOrderId('mmB955001g3', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mmbB955001g3', 'mm')).toBeUndefined();
  });

  it('rejects malformed suffixes', () => {
    expect(parseClientOrderId('mm1X955001g3', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mm1b955001g3', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mm1B955001', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mm1B955001g', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mm1B955001g3x', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mm1Bg3', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mm1B95500.1g3', 'mm1')).toBeUndefined();
    expect(parseClientOrderId('mm1B-955001g3', 'mm1')).toBeUndefined();
  });
});

describe('levelFromTicks', () => {
  it('multiplies ticks by the tick size exactly', () => {
    expect(levelFromTicks('955001', dec('0.1')).toString()).toBe('95500.1');
    expect(levelFromTicks('3', dec('0.1')).toString()).toBe('0.3');
    expect(levelFromTicks('3712', dec('0.0001')).toString()).toBe('0.3712');
  });
});

describe('assertPrefix', () => {
  it.each(['ab', 'mm1', 'grid01', 'abcdefgh', 'a1b2c3d4'])('accepts %p', (p) => {
    expect(() => assertPrefix(p)).not.toThrow();
  });

  it.each(['', 'a', 'abcdefghi', 'MM1', 'Mm1', 'mM1', '1mm', 'mm-1', 'mm_1', 'mm 1', 'mmé'])('rejects %p', (p) => {
    expect(() => assertPrefix(p)).toThrow(/instance id/);
  });
});
