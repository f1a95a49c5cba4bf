import { dec } from '@mm/domain';
import { type CleanerConfig, type CleanerOrder, planCleanup } from './order-cleaner';

const cfg = (over: Partial<CleanerConfig> = {}): CleanerConfig => ({ maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false, ...over });

let seq = 0;
const o = (side: 'BUY' | 'SELL', price: string, over: Partial<CleanerOrder> = {}): CleanerOrder => ({
  orderId: `${side[0]}${price}`,
  side,
  price: dec(price),
  status: 'NEW',
  createdAtMs: 1_000 + seq++,
  reduceOnly: false,
  ...over,
});
const buys = (...p: string[]) => p.map((x) => o('BUY', x));
const sells = (...p: string[]) => p.map((x) => o('SELL', x));

describe('planCleanup — excess over maxOpenOrders', () => {
  it('does nothing at or under the cap', () => {
    expect(planCleanup([...buys('100', '99'), ...sells('101')], cfg({ maxOpenOrders: 3 }), 0)).toEqual({ cancel: [], uncancellableExcess: 0 });
    expect(planCleanup([], cfg({ maxOpenOrders: 0 }), 0)).toEqual({ cancel: [], uncancellableExcess: 0 });
  });

  it('cancels from the side with more orders, buys lowest price first', () => {
    const orders = [...buys('100', '99', '98', '97', '96'), ...sells('101', '102')];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 5 }), 0).cancel).toEqual(['B96', 'B97']);
  });

  it('sells highest price first', () => {
    const orders = [...buys('100', '99'), ...sells('101', '102', '103', '104', '105')];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 5 }), 0).cancel).toEqual(['S105', 'S104']);
  });

  it('tie: one buy when the excess is 1, one of each when it is 2', () => {
    const orders = [...buys('100', '99'), ...sells('101', '102')];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 3 }), 0).cancel).toEqual(['B99']);
    expect(planCleanup(orders, cfg({ maxOpenOrders: 2 }), 0).cancel).toEqual(['B99', 'S102']);
  });

  it('ties alternate with the previous pick', () => {
    // 4 buys vs 3 sells → buy; then 3 vs 3 tie after a buy → sell
    const orders = [...buys('100', '99', '98', '97'), ...sells('101', '102', '103')];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 5 }), 0).cancel).toEqual(['B97', 'S103']);
    // all the way down: B97 S103 B98 S102 B99 S101 B100
    expect(planCleanup(orders, cfg({ maxOpenOrders: 0 }), 0).cancel).toEqual(['B97', 'S103', 'B98', 'S102', 'B99', 'S101', 'B100']);
  });

  it('equal prices: newest first, then orderId', () => {
    const orders: CleanerOrder[] = [
      o('BUY', '99', { orderId: 'old', createdAtMs: 1 }),
      o('BUY', '99', { orderId: 'new', createdAtMs: 5 }),
      o('BUY', '99', { orderId: 'b', createdAtMs: 3 }),
      o('BUY', '99', { orderId: 'a', createdAtMs: 3 }),
    ];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 0 }), 0).cancel).toEqual(['new', 'a', 'b', 'old']);
  });

  it('partially filled orders count toward the cap but are not cancelled (default)', () => {
    const orders = [
      ...['100', '99', '98'].map((p) => o('BUY', p, { status: 'PARTIALLY_FILLED' })),
      ...buys('97', '96'),
    ];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 3 }), 0)).toEqual({ cancel: ['B96', 'B97'], uncancellableExcess: 0 });
    expect(planCleanup(orders, cfg({ maxOpenOrders: 1 }), 0)).toEqual({ cancel: ['B96', 'B97'], uncancellableExcess: 2 });
  });

  it('side counts use cancellable orders only', () => {
    // 3 partial buys + 1 NEW buy vs 2 NEW sells: sells are the larger cancellable side
    const orders = [...['100', '99', '98'].map((p) => o('BUY', p, { status: 'PARTIALLY_FILLED' })), ...buys('97'), ...sells('101', '102')];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 5 }), 0).cancel).toEqual(['S102']);
  });

  it('upstream bug 10: only partially filled orders left → terminates and reports the excess', () => {
    const orders = ['100', '99', '98', '97'].map((p) => o('BUY', p, { status: 'PARTIALLY_FILLED' }));
    expect(planCleanup(orders, cfg({ maxOpenOrders: 0 }), 0)).toEqual({ cancel: [], uncancellableExcess: 4 });
    expect(planCleanup(orders, cfg({ maxOpenOrders: 0, cancelPartiallyFilled: true }), 0)).toEqual({
      cancel: ['B97', 'B98', 'B99', 'B100'],
      uncancellableExcess: 0,
    });
  });

  it('reduce-only take-profits go last, even from the larger side', () => {
    const tps = ['105', '104', '103'].map((p) => o('SELL', p, { reduceOnly: true }));
    const orders = [...buys('99', '98'), ...tps];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 4 }), 0).cancel).toEqual(['B98']);
    expect(planCleanup(orders, cfg({ maxOpenOrders: 2 }), 0).cancel).toEqual(['B98', 'B99', 'S105']);
  });

  it('counts duplicate order ids once', () => {
    const b = buys('99', '98');
    expect(planCleanup([...b, ...b], cfg({ maxOpenOrders: 2 }), 0)).toEqual({ cancel: [], uncancellableExcess: 0 });
  });
});

describe('planCleanup — age rule', () => {
  const now = 100_000;
  const age = (id: string, createdAtMs: number, over: Partial<CleanerOrder> = {}) => o('BUY', '90', { orderId: id, createdAtMs, ...over });

  it('cancels opening orders strictly older than maxOrderAgeMs, oldest first', () => {
    const orders = [age('a60000', 40_000), age('a100000', 0), age('a60001', 39_999), age('young', 99_000)];
    expect(planCleanup(orders, cfg({ maxOrderAgeMs: 60_000 }), now)).toEqual({ cancel: ['a100000', 'a60001'], uncancellableExcess: 0 });
  });

  it('is off at 0', () => {
    expect(planCleanup([age('x', 0)], cfg({ maxOrderAgeMs: 0 }), 1e12).cancel).toEqual([]);
  });

  it('spares take-profits and (by default) partially filled orders', () => {
    const orders = [age('tp', 0, { side: 'SELL', reduceOnly: true }), age('pf', 0, { status: 'PARTIALLY_FILLED' }), age('new', 0)];
    expect(planCleanup(orders, cfg({ maxOrderAgeMs: 1 }), now).cancel).toEqual(['new']);
    expect(planCleanup(orders, cfg({ maxOrderAgeMs: 1, cancelPartiallyFilled: true }), now).cancel).toEqual(['new', 'pf']); // same age: by orderId
  });

  it('runs after the excess rule and does not repeat an id', () => {
    const orders = [o('BUY', '99', { orderId: 'x99', createdAtMs: 0 }), o('BUY', '98', { orderId: 'x98', createdAtMs: 0 }), o('BUY', '97', { orderId: 'x97', createdAtMs: 99_999 })];
    expect(planCleanup(orders, cfg({ maxOpenOrders: 2, maxOrderAgeMs: 60_000 }), now).cancel).toEqual(['x97', 'x98', 'x99']);
  });
});

describe('planCleanup — validation', () => {
  it('rejects a bad cap or age', () => {
    expect(() => planCleanup([], cfg({ maxOpenOrders: -1 }), 0)).toThrow(/cleaner\.max_open_orders/);
    expect(() => planCleanup([], cfg({ maxOpenOrders: 1.5 }), 0)).toThrow(/cleaner\.max_open_orders/);
    expect(() => planCleanup([], cfg({ maxOrderAgeMs: -1 }), 0)).toThrow(/cleaner\.max_order_age_ms/);
  });
});
