import { type Side, type SymbolRules, dec } from '@mm/domain';
import type { GridParams } from './grid-math';
import { btcRules, gridParams } from './__tests__/fixtures';
import { type GridAction, planGrid } from './planner';
import { type Slot, applyFill, applyOrderState, beginIntent, newSlot } from './slot';

const rules = btcRules();
const params = gridParams;

const ANCHOR = dec('100000');

/** A compact, order-sensitive view of the actions. */
const view = (actions: GridAction[]): string[] =>
  actions.map((a) =>
    a.kind === 'place'
      ? `place ${a.side} key=${a.key} level=${a.level.toString()} px=${a.price.toString()} qty=${a.quantity.toString()}` +
        `${a.reduceOnly ? ' RO' : ''}${a.postOnly ? ' PO' : ''}`
      : `cancel key=${a.key} oid=${a.orderId} cid=${a.clientOrderId} ${a.reason}`,
  );

const plan = (slots: Slot[], price: string, over: Partial<GridParams> = {}, anchor = ANCHOR) =>
  view(planGrid(new Map(slots.map((s) => [s.key, s])), dec(price), anchor, params(over), rules));

const slot = (level: string): Slot => newSlot(dec(level), dec(level).toString());

/** A FREE slot holding `qty` bought at its level. */
const filled = (level: string, qty = '0.002'): Slot => {
  const s = slot(level);
  applyFill(s, { side: 'BUY', price: dec(level), quantity: dec(qty), fee: dec('0') });
  return s;
};

/** A slot with a live (LOCKED) order. */
const locked = (level: string, side: Side, price: string, orderId: string | null = '1', qty = '0.002'): Slot => {
  const s = side === 'SELL' ? filled(level, qty) : slot(level);
  const cid = `mm1${side[0]}${dec(level).mul(10).toFixed(0)}g1`;
  beginIntent(s, { clientOrderId: cid, side, price: dec(price), quantity: dec(qty), reduceOnly: side === 'SELL' });
  applyOrderState(s, { clientOrderId: cid, orderId, status: 'NEW' });
  return s;
};

/** A slot whose intent is not yet answered (PENDING). */
const pending = (level: string, side: Side, price: string): Slot => {
  const s = side === 'SELL' ? filled(level) : slot(level);
  beginIntent(s, { clientOrderId: `p${level}`, side, price: dec(price), quantity: dec('0.002'), reduceOnly: side === 'SELL' });
  return s;
};

const FIVE_BUYS = [
  'place BUY key=99900 level=99900 px=99900 qty=0.002 PO',
  'place BUY key=99800 level=99800 px=99800 qty=0.002 PO',
  'place BUY key=99700 level=99700 px=99700 qty=0.002 PO',
  'place BUY key=99600 level=99600 px=99600 qty=0.002 PO',
  'place BUY key=99500 level=99500 px=99500 qty=0.002 PO',
];

describe('planGrid — opening buys', () => {
  it('an empty grid gets 5 post-only BUYs at C−100..C−500 with qty 0.002', () => {
    expect(plan([], '100000')).toEqual(FIVE_BUYS);
  });

  it('returns full action objects (side, flags, Decimal values)', () => {
    const a = planGrid(new Map(), dec('100000'), ANCHOR, params(), rules)[0];
    expect(a).toMatchObject({ kind: 'place', key: '99900', side: 'BUY', reduceOnly: false, postOnly: true });
    if (a.kind !== 'place') throw new Error('expected place');
    expect(a.price.toString()).toBe('99900');
    expect(a.level.toString()).toBe('99900');
    expect(a.quantity.toString()).toBe('0.002');
  });

  it('centres on the anchor lattice as the price trails', () => {
    // (100049.9 − 100000)/100 = 0.499 → C = 100000
    expect(plan([], '100049.9')).toEqual(FIVE_BUYS);
    // (100050.1 − 100000)/100 = 0.501 → C = 100100, levels 100000..99600
    expect(plan([], '100050.1')).toEqual([
      'place BUY key=100000 level=100000 px=100000 qty=0.002 PO',
      'place BUY key=99900 level=99900 px=99900 qty=0.002 PO',
      'place BUY key=99800 level=99800 px=99800 qty=0.002 PO',
      'place BUY key=99700 level=99700 px=99700 qty=0.002 PO',
      'place BUY key=99600 level=99600 px=99600 qty=0.002 PO',
    ]);
  });

  it('uses an off-round anchor', () => {
    expect(plan([], '100000', {}, dec('100000.3'))).toEqual([
      'place BUY key=99900.3 level=99900.3 px=99900.3 qty=0.002 PO',
      'place BUY key=99800.3 level=99800.3 px=99800.3 qty=0.002 PO',
      'place BUY key=99700.3 level=99700.3 px=99700.3 qty=0.002 PO',
      'place BUY key=99600.3 level=99600.3 px=99600.3 qty=0.002 PO',
      'place BUY key=99500.3 level=99500.3 px=99500.3 qty=0.002 PO',
    ]);
  });

  it('sizes each level by notional/level floored to the step', () => {
    // at ~50k: 250/49900 = 0.00501 → 0.005 … 250/49500 = 0.00505 → 0.005
    const out = plan([], '50000', {}, dec('50000'));
    expect(out[0]).toBe('place BUY key=49900 level=49900 px=49900 qty=0.005 PO');
    expect(out[4]).toBe('place BUY key=49500 level=49500 px=49500 qty=0.005 PO');
    // at 250/83300 = 0.003001 → 0.003; at 250/83400 = 0.0029976 → 0.002
    const out2 = plan([], '83500', { buyWindow: 2 }, dec('83500'));
    expect(out2).toEqual([
      'place BUY key=83400 level=83400 px=83400 qty=0.002 PO',
      'place BUY key=83300 level=83300 px=83300 qty=0.003 PO',
    ]);
  });

  it('skips a level whose order would be below minOrderValue', () => {
    // qty 0.002 → values 199.8, 199.6, 199.4, 199.2, 199; min 199.5 keeps only the first two
    expect(plan([], '100000', { minOrderValue: dec('199.5') })).toEqual(FIVE_BUYS.slice(0, 2));
  });

  it('skips a level within the safety buffer of P (level must be < P − buffer·I)', () => {
    // P = 99950: −0.5 → half-even 0 → C = 100000; buffer 0.6 → buy below 99890: 99900 is skipped
    expect(plan([], '99950', { safetyBufferRatio: dec('0.6') })).toEqual(FIVE_BUYS.slice(1));
  });

  it('the buffer boundary is strict: level = P − buffer·I is skipped, one tick lower is bought', () => {
    // P = 99960, buffer 0.6 → buyBelow = 99900 exactly → 99900 skipped
    expect(plan([], '99960', { safetyBufferRatio: dec('0.6') })).toEqual(FIVE_BUYS.slice(1));
    // P = 99960.1 → buyBelow = 99900.1 → 99900 bought
    expect(plan([], '99960.1', { safetyBufferRatio: dec('0.6') })).toEqual(FIVE_BUYS);
  });

  it('an existing FREE empty slot at a buy level gets its BUY (same key)', () => {
    expect(plan([slot('99900'), slot('99700')], '100000')).toEqual(FIVE_BUYS);
  });

  it('does not place a BUY at a level whose slot is PENDING or LOCKED', () => {
    const out = plan([pending('99900', 'BUY', '99900'), locked('99700', 'BUY', '99700')], '100000');
    expect(out).toEqual([FIVE_BUYS[1], FIVE_BUYS[3], FIVE_BUYS[4]]);
  });

  it('does not place levels at or below zero', () => {
    // C = 300, I = 100, BW = 5 → levels 200, 100, 0, −100, −200: only 200 and 100
    const r: SymbolRules = { ...rules, minNotional: dec('1') };
    const out = planGrid(new Map(), dec('300'), dec('300'), params({ orderNotional: dec('1000') }), r);
    expect(view(out)).toEqual(['place BUY key=200 level=200 px=200 qty=5 PO', 'place BUY key=100 level=100 px=100 qty=10 PO']);
  });
});

describe('planGrid — take-profit sells', () => {
  it('a filled FREE slot gets ONE reduce-only, non-post-only SELL at level + I for its whole qty, and no new BUY', () => {
    const out = plan([filled('99900', '0.002')], '100000');
    expect(out).toEqual([
      'place SELL key=99900 level=99900 px=100000 qty=0.002 RO',
      ...FIVE_BUYS.slice(1),
    ]);
  });

  it('sells the whole held qty, including a partial fill qty', () => {
    expect(plan([filled('99800', '0.001')], '100000')[0]).toBe('place SELL key=99800 level=99800 px=99900 qty=0.001 RO');
    expect(plan([filled('99800', '0.007')], '100000')[0]).toBe('place SELL key=99800 level=99800 px=99900 qty=0.007 RO');
  });

  it('does not re-emit the SELL once the slot is PENDING or LOCKED (upstream 9.8)', () => {
    const s = filled('99900');
    const first = planGrid(new Map([[s.key, s]]), dec('100000'), ANCHOR, params(), rules);
    const sell = first.find((a) => a.kind === 'place' && a.side === 'SELL');
    if (!sell || sell.kind !== 'place') throw new Error('expected a sell');
    beginIntent(s, { clientOrderId: 'mm1S999000g1', side: 'SELL', price: sell.price, quantity: sell.quantity, reduceOnly: true });

    // PENDING: nothing for this slot
    const second = plan([s], '100000');
    expect(second.filter((a) => a.includes('key=99900'))).toEqual([]);
    expect(second).toEqual(FIVE_BUYS.slice(1));

    // LOCKED: still nothing, on any number of ticks, at any price within reach
    applyOrderState(s, { clientOrderId: 'mm1S999000g1', orderId: '7', status: 'NEW' });
    for (const p of ['100000', '99950', '100020', '99000']) {
      expect(plan([s], p).filter((a) => a.includes('key=99900'))).toEqual([]);
    }
  });

  it('does not emit a sell from another slot key for the same inventory (closing sell keyed to the bought slot)', () => {
    const out = plan([filled('99900')], '100000');
    expect(out.filter((a) => a.includes('SELL'))).toEqual(['place SELL key=99900 level=99900 px=100000 qty=0.002 RO']);
    // and no BUY or SELL keyed at level + I
    expect(out.filter((a) => a.includes('key=100000'))).toEqual([]);
  });

  it('places the SELL only when level ≤ P + SW·I', () => {
    // P = 100000, SW = 5 → reach 100500
    expect(plan([filled('100500')], '100000')[0]).toBe('place SELL key=100500 level=100500 px=100600 qty=0.002 RO');
    expect(plan([filled('100500.1')], '100000').filter((a) => a.includes('SELL'))).toEqual([]);
  });

  it('a filled slot below the price still gets its SELL (grid recentred upward)', () => {
    expect(plan([filled('98000')], '100000')[0]).toBe('place SELL key=98000 level=98000 px=98100 qty=0.002 RO');
  });

  it('skips a filled slot holding less than minQty', () => {
    const out = plan([filled('99900', '0.0005')], '100000');
    expect(out.filter((a) => a.includes('SELL'))).toEqual([]);
    // and (being filled) it gets no BUY either
    expect(out).toEqual(FIVE_BUYS.slice(1));
  });

  it('orders sells by distance from P, nearest first', () => {
    const out = plan([filled('99500'), filled('100300'), filled('99900')], '100000');
    expect(out.filter((a) => a.includes('SELL'))).toEqual([
      'place SELL key=99900 level=99900 px=100000 qty=0.002 RO',
      'place SELL key=100300 level=100300 px=100400 qty=0.002 RO',
      'place SELL key=99500 level=99500 px=99600 qty=0.002 RO',
    ]);
  });
});

describe('planGrid — cancels', () => {
  // C = 100000, BW = 5, hysteresis 1 → cancel below 99400
  it('cancels a LOCKED BUY resting below C − (BW + hysteresis)·I', () => {
    const out = plan([locked('99300', 'BUY', '99300', '555')], '100000');
    expect(out).toEqual(['cancel key=99300 oid=555 cid=mm1B993000g1 out_of_window', ...FIVE_BUYS]);
  });

  it('does not cancel a LOCKED BUY at exactly the cancel boundary or inside the hysteresis band', () => {
    expect(plan([locked('99400', 'BUY', '99400')], '100000')).toEqual(FIVE_BUYS);
    expect(plan([locked('99399.9', 'BUY', '99399.9', '9')], '100000')[0]).toBe('cancel key=99399.9 oid=9 cid=mm1B993999g1 out_of_window');
  });

  it('measures the cancel boundary from the centre C, not from P', () => {
    // P = 100049: C = 100000 → boundary 99400. From P it would be 99449 and 99420 would be cancelled.
    expect(plan([locked('99420', 'BUY', '99420')], '100049').filter((a) => a.startsWith('cancel'))).toEqual([]);
  });

  it('cancels after the price trails up', () => {
    // P = 100300: C = 100300, boundary 99700 → the buy at 99600 goes
    const out = plan([locked('99600', 'BUY', '99600', '77')], '100300');
    expect(out.filter((a) => a.startsWith('cancel'))).toEqual(['cancel key=99600 oid=77 cid=mm1B996000g1 out_of_window']);
  });

  it('never cancels a take-profit SELL, however far away', () => {
    const far = [locked('90000', 'SELL', '90100', '1'), locked('120000', 'SELL', '120100', '2'), locked('99900', 'SELL', '100000', '3')];
    expect(plan(far, '100000').filter((a) => a.startsWith('cancel'))).toEqual([]);
  });

  it('does not emit a cancel without a venue order id (upstream 9.8: DBOS cancels carried id 0)', () => {
    const out = planGrid(new Map([['99000', locked('99000', 'BUY', '99000', null)]]), dec('100000'), ANCHOR, params(), rules);
    expect(out.filter((a) => a.kind === 'cancel')).toEqual([]);
  });

  it('does not cancel a PENDING BUY (no answer yet)', () => {
    expect(plan([pending('90000', 'BUY', '90000')], '100000').filter((a) => a.startsWith('cancel'))).toEqual([]);
  });
});

describe('planGrid — maxActiveOrders budget', () => {
  it('counts PENDING and LOCKED slots as active', () => {
    // 3 active outside the buy levels, max 5 → 2 new buys
    const act = [locked('99000', 'BUY', '99400'), locked('100500', 'SELL', '100600'), pending('99400', 'BUY', '99400')];
    expect(plan(act, '100000', { maxActiveOrders: 5 })).toEqual(FIVE_BUYS.slice(0, 2));
  });

  it('places nothing when already at the cap (cancels still go out)', () => {
    const act = [locked('99000', 'BUY', '99000', '5'), pending('99400', 'BUY', '99400')];
    expect(plan(act, '100000', { maxActiveOrders: 2 })).toEqual(['cancel key=99000 oid=5 cid=mm1B990000g1 out_of_window']);
    expect(plan(act, '100000', { maxActiveOrders: 1 })).toEqual(['cancel key=99000 oid=5 cid=mm1B990000g1 out_of_window']);
  });

  it('take-profits come before new buys', () => {
    // two filled slots (at 99700, 99600) and max 3: both sells, then only the nearest free buy level
    expect(plan([filled('99700'), filled('99600')], '100000', { maxActiveOrders: 3 })).toEqual([
      'place SELL key=99700 level=99700 px=99800 qty=0.002 RO',
      'place SELL key=99600 level=99600 px=99700 qty=0.002 RO',
      'place BUY key=99900 level=99900 px=99900 qty=0.002 PO',
    ]);
  });

  it('when the budget is smaller than the sells, only the nearest sells are placed and no buys', () => {
    const out = plan([filled('99500'), filled('99700'), filled('100100')], '100000', { maxActiveOrders: 2 });
    expect(out).toEqual([
      'place SELL key=100100 level=100100 px=100200 qty=0.002 RO',
      'place SELL key=99700 level=99700 px=99800 qty=0.002 RO',
    ]);
  });

  it('respects the cap across many ticks worth of state (20 cap, 18 active)', () => {
    const act: Slot[] = [];
    for (let k = 0; k < 18; k++) act.push(locked(String(100600 + k * 100), 'SELL', String(100700 + k * 100), String(k + 1)));
    const out = plan(act, '100000');
    expect(out).toEqual(FIVE_BUYS.slice(0, 2));
  });

  it('never exceeds maxActiveOrders in total', () => {
    for (let max = 0; max <= 8; max++) {
      const slots = [filled('99700'), filled('99600'), locked('99800', 'BUY', '99800'), filled('100200')];
      const places = plan(slots, '100000', { maxActiveOrders: max }).filter((a) => a.startsWith('place'));
      // 1 active; 3 sells + 2 free buy levels (99900, 99500) available
      expect(places.length).toBe(Math.min(Math.max(max - 1, 0), 5));
    }
  });
});

describe('planGrid — lifecycle scenario', () => {
  it('buy fills → one sell → sell fills → the level is bought again', () => {
    const s = slot('99900');
    const map = new Map([[s.key, s]]);
    const run = (p: string) => view(planGrid(map, dec(p), ANCHOR, params({ buyWindow: 1 }), rules));

    expect(run('100000')).toEqual(['place BUY key=99900 level=99900 px=99900 qty=0.002 PO']);
    beginIntent(s, { clientOrderId: 'mm1B999000g1', side: 'BUY', price: dec('99900'), quantity: dec('0.002'), reduceOnly: false });
    expect(run('100000')).toEqual([]);
    applyOrderState(s, { clientOrderId: 'mm1B999000g1', orderId: '1', status: 'NEW' });
    expect(run('99950')).toEqual([]);
    applyFill(s, { side: 'BUY', price: dec('99900'), quantity: dec('0.002'), fee: dec('0.03996') });
    applyOrderState(s, { clientOrderId: 'mm1B999000g1', orderId: '1', status: 'FILLED', executedQty: dec('0.002') });

    // P = 99890: C = 99900 → buy level 99800 (not this slot); this slot gets its SELL at 100000
    expect(run('99890')).toEqual([
      'place SELL key=99900 level=99900 px=100000 qty=0.002 RO',
      'place BUY key=99800 level=99800 px=99800 qty=0.002 PO',
    ]);
    beginIntent(s, { clientOrderId: 'mm1S999000g2', side: 'SELL', price: dec('100000'), quantity: dec('0.002'), reduceOnly: true });
    applyOrderState(s, { clientOrderId: 'mm1S999000g2', orderId: '2', status: 'NEW' });
    expect(run('99890').filter((a) => a.includes('key=99900'))).toEqual([]);

    expect(applyFill(s, { side: 'SELL', price: dec('100000'), quantity: dec('0.002'), fee: dec('0.04') }).toString()).toBe('0.12004');
    applyOrderState(s, { clientOrderId: 'mm1S999000g2', orderId: '2', status: 'FILLED', executedQty: dec('0.002') });
    expect(run('100000')).toEqual(['place BUY key=99900 level=99900 px=99900 qty=0.002 PO']);
  });

  it('a partially filled BUY cancelled out of window becomes a take-profit sell of the partial qty', () => {
    const s = locked('99300', 'BUY', '99300', '9');
    applyOrderState(s, { clientOrderId: 'mm1B993000g1', orderId: '9', status: 'PARTIALLY_FILLED', executedQty: dec('0.001') });
    applyFill(s, { side: 'BUY', price: dec('99300'), quantity: dec('0.001'), fee: dec('0') });
    expect(plan([s], '100000')[0]).toBe('cancel key=99300 oid=9 cid=mm1B993000g1 out_of_window');
    applyOrderState(s, { clientOrderId: 'mm1B993000g1', orderId: '9', status: 'CANCELED' });
    expect(plan([s], '100000')[0]).toBe('place SELL key=99300 level=99300 px=99400 qty=0.001 RO');
  });
});

const mkSlot = (level: string, over: Partial<Slot>): Slot => Object.assign(slot(level), over);

describe('planGrid — neutral mode, skew, risk overrides', () => {
  it('neutral: opens post-only SELLs above as well as BUYs below, alternating nearest first', () => {
    const acts = planGrid(new Map(), dec('100000'), dec('100000'), params({ mode: 'neutral', buyWindow: 2, sellWindow: 2 }), rules);
    expect(acts.map((a) => (a.kind === 'place' ? `${a.side}@${a.price}` : 'x'))).toEqual(['BUY@99900', 'SELL@100100', 'BUY@99800', 'SELL@100200']);
    expect(acts.every((a) => a.kind === 'place' && a.postOnly && !a.reduceOnly)).toBe(true);
  });

  it('neutral: a short slot gets one exit BUY at level − I for its whole size', () => {
    const short = mkSlot('100100', { positionQty: dec('-0.002'), positionCost: dec('200.2') });
    const acts = planGrid(new Map([[short.key, short]]), dec('100000'), dec('100000'), params({ mode: 'neutral', buyWindow: 1, sellWindow: 1 }), rules);
    const exit = acts.find((a) => a.kind === 'place' && a.key === '100100');
    expect(exit).toMatchObject({ side: 'BUY', reduceOnly: false, postOnly: false, exit: true }); // neutral: plain limit (netting venue)
    expect(exit!.kind === 'place' && exit!.price.toString()).toBe('100000');
    expect(exit!.kind === 'place' && exit!.quantity.toString()).toBe('0.002');
  });

  it('long inventory skews the grid down: P′ = P × (1 − inv × factor)', () => {
    const held = mkSlot('90000', { positionQty: dec('1'), positionCost: dec('90000') });
    // P′ = 100000 × (1 − 1 × 0.01) = 99000 → buys from 98900 down
    const acts = planGrid(new Map([[held.key, held]]), dec('100000'), dec('100000'), params({ inventorySkewFactor: dec('0.01'), buyWindow: 2, sellWindow: 200 }), rules);
    const buys = acts.filter((a) => a.kind === 'place' && a.side === 'BUY').map((a) => (a.kind === 'place' ? a.price.toString() : ''));
    expect(buys).toEqual(['98900', '98800']);
  });

  it('allowOpening=false keeps exits but places no opening orders; sizeFactor halves opening size', () => {
    const held = mkSlot('99900', { positionQty: dec('0.002'), positionCost: dec('199.8') });
    const slots = new Map([[held.key, held]]);
    const closed = planGrid(slots, dec('100000'), dec('100000'), params(), rules, { allowOpening: false });
    expect(closed.map((a) => a.kind === 'place' && `${a.side}@${a.price}`)).toEqual(['SELL@100000']);
    const none = planGrid(slots, dec('100000'), dec('100000'), params(), rules, { allowOpening: false, allowClosing: false });
    expect(none).toEqual([]);
    const half = planGrid(new Map(), dec('100000'), dec('100000'), params({ orderNotional: dec('500'), buyWindow: 1 }), rules, { sizeFactor: dec('0.5') });
    expect(half[0].kind === 'place' && half[0].quantity.toString()).toBe('0.002');
  });

  it('a dynamic interval moves the levels and the exit distance', () => {
    const acts = planGrid(new Map(), dec('100000'), dec('100000'), params({ buyWindow: 2 }), rules, { interval: dec('250') });
    expect(acts.map((a) => a.kind === 'place' && a.price.toString())).toEqual(['99750', '99500']);
  });
});

describe('planGrid — remembered centre, levels and keys', () => {
  // planGrid remembers the last centre, window levels and interval products between passes; a pass
  // must give exactly what a fresh module (nothing remembered) gives, also at half-step ties and
  // when the interval, anchor or windows change between passes.
  const fresh = (): typeof planGrid => {
    let f!: typeof planGrid;
    jest.isolateModules(() => {
      f = (jest.requireActual('./planner') as { planGrid: typeof planGrid }).planGrid;
    });
    return f;
  };
  it('matches a fresh planner on a walk over cells, ties and parameter changes', () => {
    const slots = new Map([filled('99800'), locked('99500', 'BUY', '99500', '7'), locked('100100', 'BUY', '100100', '8')].map((s) => [s.key, s]));
    const prices = ['100000', '100049.9', '100050', '100050.1', '99950', '99949.9', '100150', '100000.1', '99700', '99650', '99649.9', '100000'];
    const cases: { price: string; over: Partial<GridParams>; anchor: string }[] = [];
    for (const p of prices) cases.push({ price: p, over: {}, anchor: '100000' });
    for (const p of prices) cases.push({ price: p, over: { priceInterval: dec('50') }, anchor: '100000' });
    for (const p of prices) cases.push({ price: p, over: { buyWindow: 3, sellWindow: 2, mode: 'neutral' }, anchor: '100025' });
    for (const p of prices) cases.push({ price: p, over: { safetyBufferRatio: dec('0.6') }, anchor: '100000' });
    for (const c of cases) {
      const args = [slots, dec(c.price), dec(c.anchor), params(c.over), rules] as const;
      expect(view(planGrid(...args))).toEqual(view(fresh()(...args)));
    }
  });
});
