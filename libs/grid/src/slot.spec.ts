import { type Dec, type Side, dec } from '@mm/domain';
import { type Slot, applyFill, applyOrderState, beginIntent, isFilled, newSlot } from './slot';

const mk = (level = '99900'): Slot => newSlot(dec(level), level);

const buyIntent = (cid = 'mm1B999000g1', price = '99900', qty = '0.002') => ({
  clientOrderId: cid,
  side: 'BUY' as Side,
  price: dec(price),
  quantity: dec(qty),
  reduceOnly: false,
});

const sellIntent = (cid = 'mm1S999000g2', price = '100000', qty = '0.002') => ({
  clientOrderId: cid,
  side: 'SELL' as Side,
  price: dec(price),
  quantity: dec(qty),
  reduceOnly: true,
});

const fill = (side: Side, price: string, quantity: string, fee: string) => ({
  side,
  price: dec(price),
  quantity: dec(quantity),
  fee: dec(fee),
});

const s = (d: Dec) => d.toString();

describe('newSlot', () => {
  it('starts FREE, empty, generation 0, no order', () => {
    const slot = mk();
    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
    expect(s(slot.positionQty)).toBe('0');
    expect(s(slot.positionCost)).toBe('0');
    expect(s(slot.entryFees)).toBe('0');
    expect(slot.generation).toBe(0);
    expect(slot.key).toBe('99900');
    expect(isFilled(slot)).toBe(false);
  });
});

describe('slot state machine', () => {
  it('FREE → PENDING on beginIntent, recording the intent as PENDING_NEW', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    expect(slot.status).toBe('PENDING');
    expect(slot.order).toMatchObject({ clientOrderId: 'mm1B999000g1', orderId: null, side: 'BUY', status: 'PENDING_NEW', reduceOnly: false });
    expect(s(slot.order!.executedQty)).toBe('0');
    expect(s(slot.order!.price)).toBe('99900');
    expect(s(slot.order!.quantity)).toBe('0.002');
  });

  it('PENDING → LOCKED on NEW, → FREE on FILLED', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW', executedQty: dec('0') })).toBe(true);
    expect(slot.status).toBe('LOCKED');
    expect(slot.order?.orderId).toBe('42');
    expect(slot.order?.status).toBe('NEW');

    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'FILLED', executedQty: dec('0.002') })).toBe(true);
    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
  });

  it('PENDING → FREE directly when the placement answer is already FILLED (instant fill)', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'FILLED', executedQty: dec('0.002') })).toBe(true);
    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
  });

  it('an orderId alone while still PENDING_NEW keeps the slot PENDING', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'PENDING_NEW' })).toBe(true);
    expect(slot.status).toBe('PENDING');
    expect(slot.order?.orderId).toBe('42');
    // the same thing again is no change
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'PENDING_NEW' })).toBe(false);
  });

  it('beginIntent on a PENDING slot throws and leaves the first intent intact', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    expect(() => beginIntent(slot, buyIntent('mm1B999000g2'))).toThrow(/PENDING/);
    expect(slot.order?.clientOrderId).toBe('mm1B999000g1');
    expect(slot.status).toBe('PENDING');
  });

  it('beginIntent on a LOCKED slot throws', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW' });
    expect(() => beginIntent(slot, sellIntent())).toThrow(/LOCKED/);
    expect(slot.order?.clientOrderId).toBe('mm1B999000g1');
  });

  it('beginIntent works again once the slot is FREE', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'FILLED', executedQty: dec('0.002') });
    beginIntent(slot, sellIntent());
    expect(slot.status).toBe('PENDING');
    expect(slot.order?.side).toBe('SELL');
    expect(slot.order?.reduceOnly).toBe(true);
  });

  it('ignores events for another client order id', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g0', orderId: '41', status: 'FILLED', executedQty: dec('0.002') })).toBe(false);
    expect(slot.status).toBe('PENDING');
    expect(slot.order?.clientOrderId).toBe('mm1B999000g1');
    expect(slot.order?.orderId).toBeNull();
    expect(s(slot.order!.executedQty)).toBe('0');
  });

  it('ignores events when the slot has no order', () => {
    const slot = mk();
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW' })).toBe(false);
    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
  });

  it('a late NEW after FILLED does not resurrect the order', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'FILLED', executedQty: dec('0.002') });
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW', executedQty: dec('0') })).toBe(false);
    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
  });

  it('a late event for the previous order does not touch the next intent', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'FILLED', executedQty: dec('0.002') });
    beginIntent(slot, sellIntent());
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW' })).toBe(false);
    expect(slot.status).toBe('PENDING');
    expect(slot.order?.clientOrderId).toBe('mm1S999000g2');
  });

  it('executedQty is monotonic and status never regresses', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW' });
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', status: 'PARTIALLY_FILLED', executedQty: dec('0.001') })).toBe(true);
    expect(s(slot.order!.executedQty)).toBe('0.001');
    expect(slot.order?.status).toBe('PARTIALLY_FILLED');

    // stale NEW with 0 executed
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW', executedQty: dec('0') })).toBe(false);
    expect(s(slot.order!.executedQty)).toBe('0.001');
    expect(slot.order?.status).toBe('PARTIALLY_FILLED');
    expect(slot.status).toBe('LOCKED');

    // a duplicate partial fill is no change
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', status: 'PARTIALLY_FILLED', executedQty: dec('0.001') })).toBe(false);

    // out-of-order partials: 0.0015 then a late 0.0012
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', status: 'PARTIALLY_FILLED', executedQty: dec('0.0015') });
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', status: 'PARTIALLY_FILLED', executedQty: dec('0.0012') });
    expect(s(slot.order!.executedQty)).toBe('0.0015');
  });

  it.each(['REJECTED', 'EXPIRED', 'NOT_PLACED', 'CANCELED'] as const)('%s frees a PENDING slot (upstream 9.9 left it LOCKED)', (st) => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', status: st })).toBe(true);
    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
  });

  it.each(['REJECTED', 'EXPIRED', 'CANCELED'] as const)('%s frees a LOCKED slot', (st) => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW' });
    expect(slot.status).toBe('LOCKED');
    expect(applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: st })).toBe(true);
    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
  });

  it('state events do not change inventory (fills are booked by applyFill)', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'FILLED', executedQty: dec('0.002') });
    expect(s(slot.positionQty)).toBe('0');
  });

  it('a partially filled then CANCELED BUY keeps the bought qty (upstream 9.9)', () => {
    const slot = mk();
    beginIntent(slot, buyIntent());
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'NEW' });
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'PARTIALLY_FILLED', executedQty: dec('0.001') });
    expect(applyFill(slot, fill('BUY', '99900', '0.001', '0.01998')).toString()).toBe('0');
    applyOrderState(slot, { clientOrderId: 'mm1B999000g1', orderId: '42', status: 'CANCELED', executedQty: dec('0.001') });

    expect(slot.status).toBe('FREE');
    expect(slot.order).toBeNull();
    expect(isFilled(slot)).toBe(true);
    expect(s(slot.positionQty)).toBe('0.001');
    expect(s(slot.positionCost)).toBe('99.9');
    expect(s(slot.entryFees)).toBe('0.01998');
  });

  it('a partially filled then CANCELED SELL keeps the unsold remainder', () => {
    const slot = mk();
    applyFill(slot, fill('BUY', '99900', '0.002', '0.04'));
    beginIntent(slot, sellIntent());
    applyOrderState(slot, { clientOrderId: 'mm1S999000g2', orderId: '43', status: 'NEW' });
    // 0.0005 of 0.002 sold → share 1/4: cost 49.95, entry fee 0.01
    expect(applyFill(slot, fill('SELL', '100000', '0.0005', '0.01')).toString()).toBe('0.03'); // 50 − 49.95 − 0.01 − 0.01
    applyOrderState(slot, { clientOrderId: 'mm1S999000g2', orderId: '43', status: 'CANCELED', executedQty: dec('0.0005') });
    expect(slot.status).toBe('FREE');
    expect(s(slot.positionQty)).toBe('0.0015');
    expect(s(slot.positionCost)).toBe('149.85');
    expect(s(slot.entryFees)).toBe('0.03');
  });
});

describe('applyFill', () => {
  it('BUY adds qty, cost and fee and realizes nothing', () => {
    const slot = mk();
    expect(applyFill(slot, fill('BUY', '99900', '0.002', '0.03996')).toString()).toBe('0');
    expect(s(slot.positionQty)).toBe('0.002');
    expect(s(slot.positionCost)).toBe('199.8');
    expect(s(slot.entryFees)).toBe('0.03996');
    expect(isFilled(slot)).toBe(true);
  });

  it('BUY then full SELL: realized = (sell − buy)·qty − buyFee − sellFee exactly', () => {
    const slot = mk();
    applyFill(slot, fill('BUY', '99900', '0.002', '0.03996'));
    // (100000 − 99900)·0.002 − 0.03996 − 0.04 = 0.2 − 0.07996 = 0.12004
    expect(applyFill(slot, fill('SELL', '100000', '0.002', '0.04')).toString()).toBe('0.12004');
    expect(s(slot.positionQty)).toBe('0');
    expect(s(slot.positionCost)).toBe('0');
    expect(s(slot.entryFees)).toBe('0');
    expect(isFilled(slot)).toBe(false);
  });

  it('a losing round trip is negative', () => {
    const slot = mk();
    applyFill(slot, fill('BUY', '99900.1', '0.003', '0.06'));
    // (99800 − 99900.1)·0.003 − 0.06 − 0.05 = −0.3003 − 0.11 = −0.4103
    expect(applyFill(slot, fill('SELL', '99800', '0.003', '0.05')).toString()).toBe('-0.4103');
  });

  it('two buys at different prices then one full sell is exact', () => {
    const slot = mk();
    applyFill(slot, fill('BUY', '99900', '0.002', '0.04'));
    applyFill(slot, fill('BUY', '99800.3', '0.003', '0.06'));
    expect(s(slot.positionQty)).toBe('0.005');
    // 199.8 + 299.4009
    expect(s(slot.positionCost)).toBe('499.2009');
    expect(s(slot.entryFees)).toBe('0.1');
    // 0.005·100000 − 499.2009 − 0.1 − 0.1 = 500 − 499.4009 = 0.5991
    expect(applyFill(slot, fill('SELL', '100000', '0.005', '0.1')).toString()).toBe('0.5991');
    expect(s(slot.positionQty)).toBe('0');
    expect(s(slot.positionCost)).toBe('0');
    expect(s(slot.entryFees)).toBe('0');
  });

  it('a partial sell realizes its proportional share of cost and entry fees', () => {
    const slot = mk();
    applyFill(slot, fill('BUY', '99900', '0.004', '0.08'));
    // sell 1/4: 100 − 99.9 − 0.02 − 0.02 = 0.06
    expect(applyFill(slot, fill('SELL', '100000', '0.001', '0.02')).toString()).toBe('0.06');
    expect(s(slot.positionQty)).toBe('0.003');
    expect(s(slot.positionCost)).toBe('299.7');
    expect(s(slot.entryFees)).toBe('0.06');
    // the rest: 0.003·100100 − 299.7 − 0.06 − 0.06 = 300.3 − 299.82 = 0.48
    expect(applyFill(slot, fill('SELL', '100100', '0.003', '0.06')).toString()).toBe('0.48');
    expect(s(slot.positionQty)).toBe('0');
    expect(s(slot.positionCost)).toBe('0');
    expect(s(slot.entryFees)).toBe('0');
  });

  it('partial sells with a non-terminating share still sum to the exact round-trip PnL', () => {
    const slot = mk();
    applyFill(slot, fill('BUY', '99900.1', '0.001', '0.02'));
    applyFill(slot, fill('BUY', '99800', '0.002', '0.04'));
    // cost 99.9001 + 199.6 = 299.5001, entry fees 0.06; sell thirds
    const r1 = applyFill(slot, fill('SELL', '100000', '0.001', '0.02'));
    const r2 = applyFill(slot, fill('SELL', '100000', '0.001', '0.02'));
    const r3 = applyFill(slot, fill('SELL', '100100', '0.001', '0.02'));
    // 100 + 100 + 100.1 − 299.5001 − 0.06 − 0.06 = 0.4799
    expect(r1.plus(r2).plus(r3).toDecimalPlaces(40).toString()).toBe('0.4799');
    expect(s(slot.positionQty)).toBe('0');
    expect(s(slot.positionCost)).toBe('0');
  });

  it('selling more than held closes the held part and opens a short with the rest', () => {
    const slot = mk();
    applyFill(slot, fill('BUY', '99900', '0.002', '0.04'));
    // closes 0.002: 200 − 199.8 − 0.04 − 0.06 (whole sell fee) = 0.1; 0.001 short opened at 100000
    expect(applyFill(slot, fill('SELL', '100000', '0.003', '0.06')).toString()).toBe('0.1');
    expect(s(slot.positionQty)).toBe('-0.001');
    expect(s(slot.positionCost)).toBe('100');
    expect(s(slot.entryFees)).toBe('0');
  });

  it('a SELL with no inventory opens a short (neutral mode; upstream bug 9.7 lost it)', () => {
    const slot = mk();
    expect(applyFill(slot, fill('SELL', '100000', '0.001', '0.02')).toString()).toBe('0');
    expect(s(slot.positionQty)).toBe('-0.001');
    expect(s(slot.positionCost)).toBe('100');
    expect(s(slot.entryFees)).toBe('0.02');
  });

  it('a short closed by a BUY realizes cost − buy notional − both fees, exactly', () => {
    const slot = mk();
    applyFill(slot, fill('SELL', '100100', '0.002', '0.04004'));
    // 200.2 − 200 − 0.04004 − 0.04 = 0.11996
    expect(applyFill(slot, fill('BUY', '100000', '0.002', '0.04')).toString()).toBe('0.11996');
    expect(s(slot.positionQty)).toBe('0');
    expect(s(slot.positionCost)).toBe('0');
  });
});
