import { type Side, dec } from '@mm/domain';
import type { GridParams } from './grid-math';
import { btcRules, gridParams } from './__tests__/fixtures';
import { type QuietBand, inQuietBand, planGrid, quietBand } from './planner';
import { type Slot, applyFill, applyOrderState, beginIntent, newSlot } from './slot';

const rules = btcRules();
const ANCHOR = dec('100000');

const slot = (level: string): Slot => newSlot(dec(level), dec(level).toString());
const filledLong = (level: string): Slot => {
  const s = slot(level);
  applyFill(s, { side: 'BUY', price: dec(level), quantity: dec('0.002'), fee: dec('0') });
  return s;
};
/** A flat slot with a live opening order on `side` at its level. */
const opening = (level: string, side: Side): Slot => {
  const s = slot(level);
  const cid = `c${side[0]}${level}`;
  beginIntent(s, { clientOrderId: cid, side, price: dec(level), quantity: dec('0.002'), reduceOnly: false });
  applyOrderState(s, { clientOrderId: cid, orderId: `o${level}`, status: 'NEW' });
  return s;
};

const band = (b: QuietBand) => `${b.loInclusive ? '[' : '('}${b.lo.toString()}, ${b.hi.toString()}${b.hiInclusive ? ']' : ')'}`;

/**
 * For every tick-size price in [p0 − 2I, p0 + 2I] inside the band, the plan is the one at p0 (`planned`
 * actions; the band is safe). Returns the band; the cases check its exact bounds (tightness) and a plan just outside.
 */
function check(slots: Slot[], p0: string, over: Partial<GridParams>, planned = 0): QuietBand {
  const map = new Map(slots.map((s) => [s.key, s]));
  const p = gridParams(over);
  const at0 = planGrid(map, dec(p0), ANCHOR, p, rules);
  expect(at0.length).toBe(planned);
  const b = quietBand(map, dec(p0), ANCHOR, p, rules)!;
  expect(inQuietBand(b, dec(p0))).toBe(true);
  const I = p.priceInterval;
  let inside = 0;
  for (let x = dec(p0).minus(I.mul(2)); x.lte(dec(p0).plus(I.mul(2))); x = x.plus(rules.tickSize)) {
    if (!inQuietBand(b, x)) continue;
    inside++;
    expect([x.toString(), planGrid(map, x, ANCHOR, p, rules)]).toEqual([x.toString(), at0]);
  }
  expect(inside).toBeGreaterThan(0);
  return b;
}

describe('quietBand: the prices where planGrid plans nothing', () => {
  it('long grid: bounded by a would-be buy (level + buffer, inclusive) and a long slot’s exit threshold', () => {
    // centre 100000; buy 99900 free → opens when P > 99900 + 70; 99800 busy; long slot 100100 exits at P ≥ 100000
    const over = { buyWindow: 2, sellWindow: 1, safetyBufferRatio: dec('0.7') };
    const b = check([opening('99800', 'BUY'), filledLong('100100')], '99960', over);
    expect(band(b)).toBe('(99950, 99970]');
    const map = new Map([opening('99800', 'BUY'), filledLong('100100')].map((s) => [s.key, s]));
    expect(planGrid(map, dec('99970.1'), ANCHOR, gridParams(over), rules).map((a) => a.kind === 'place' && a.level.toString())).toEqual(['99900']);
  });

  it('long grid: the exit threshold binds (exclusive) when it is nearer than the centre’s half step', () => {
    const over = { buyWindow: 1, sellWindow: 1 };
    // 99900 busy; long slot 100130 exits at P ≥ 100030
    const b = check([opening('99900', 'BUY'), filledLong('100130')], '100010', over);
    expect(band(b)).toBe('(99950, 100030)');
    const map = new Map([opening('99900', 'BUY'), filledLong('100130')].map((s) => [s.key, s]));
    expect(planGrid(map, dec('100030'), ANCHOR, gridParams(over), rules).map((a) => a.kind === 'place' && a.side)).toEqual(['SELL']);
  });

  it('neutral grid: bounded below by a would-be sell (level − buffer, inclusive)', () => {
    const over = { mode: 'neutral' as const, buyWindow: 1, sellWindow: 1, safetyBufferRatio: dec('0.7') };
    // centre 100000; buy 99900 busy; sell 100100 free → opens when P < 100100 − 70
    const b = check([opening('99900', 'BUY')], '100040', over);
    expect(band(b)).toBe('[100030, 100050)');
  });

  it('no order budget left: only the centre bounds the band', () => {
    const b = check([opening('99900', 'BUY'), filledLong('100050')], '100000', { buyWindow: 1, sellWindow: 1, maxActiveOrders: 1 });
    expect(band(b)).toBe('(99950, 100050)');
  });

  it('a plan that is not empty (a buy and one exit, e.g. held back by the exposure screen) is the same across its band', () => {
    const over = { buyWindow: 2, sellWindow: 1, safetyBufferRatio: dec('0.7') };
    // centre 100000: buy 99900 planned while P > 99970; 99800 busy; long 100020 exits while P ≥ 99920
    const b = check([opening('99800', 'BUY'), filledLong('100020')], '99990', over, 2);
    expect(band(b)).toBe('(99970, 100050)');
  });

  it('no band when two exits are planned (their order depends on the price)', () => {
    const map = new Map([filledLong('100020'), filledLong('100030')].map((s) => [s.key, s]));
    expect(planGrid(map, dec('100000'), ANCHOR, gridParams({ sellWindow: 1 }), rules).length).toBeGreaterThan(1);
    expect(quietBand(map, dec('100000'), ANCHOR, gridParams({ sellWindow: 1 }), rules)).toBeNull();
  });

  it('no band with an inventory skew (the plan depends on the inventory)', () => {
    expect(quietBand(new Map(), dec('100000'), ANCHOR, gridParams({ inventorySkewFactor: dec('0.01') }), rules)).toBeNull();
  });
});
