import { Dec } from '@mm/domain';
import { LotBook } from './lots';

const d = (s: string) => new Dec(s);

describe('LotBook: round trips per slot, FIFO within a slot, exact decimals', () => {
  it('a buy and its take-profit make one LONG trip: gross (exit − entry) × qty, both fees', () => {
    const b = new LotBook('BTCUSDT');
    b.fill('955000', 'BUY', d('95500'), d('0.003'), d('0.0573'), 1000);
    expect(b.trips).toHaveLength(0);
    expect(b.unrealized(d('95400')).toFixed()).toBe('-0.3');
    b.fill('955000', 'SELL', d('95600'), d('0.003'), d('0.05736'), 5000);
    expect(b.trips).toHaveLength(1);
    expect(b.trips[0]).toMatchObject({ direction: 'LONG', openTimeMs: 1000, closeTimeMs: 5000 });
    expect(b.trips[0].pnl.toFixed()).toBe('0.3');
    expect(b.trips[0].fees.toFixed()).toBe('0.11466');
    expect(b.realized.toFixed()).toBe('0.3');
    expect(b.position.isZero()).toBe(true);
    expect(b.unrealized(d('1')).isZero()).toBe(true);
  });

  it('slots are separate positions; partial closes split the entry fee so Σ trip fees + open fees = Σ fees', () => {
    const b = new LotBook('BTCUSDT');
    b.fill('A', 'BUY', d('100'), d('3'), d('0.3'), 1);
    b.fill('B', 'SELL', d('110'), d('1'), d('0.11'), 2); // another slot: opens a short there
    b.fill('A', 'SELL', d('101'), d('1'), d('0.101'), 3);
    b.fill('A', 'SELL', d('102'), d('2'), d('0.204'), 4);
    b.fill('B', 'BUY', d('105'), d('1'), d('0.105'), 5);
    expect(b.trips.map((t) => [t.direction, t.qty.toFixed(), t.pnl.toFixed(), t.fees.toFixed()])).toEqual([
      ['LONG', '1', '1', '0.201'],
      ['LONG', '2', '4', '0.404'],
      ['SHORT', '1', '5', '0.215'],
    ]);
    const tripFees = b.trips.reduce((a, t) => a.plus(t.fees), new Dec(0));
    expect(tripFees.eq(b.fees)).toBe(true);
    expect(b.realized.toFixed()).toBe('10');
  });

  it('realized + unrealized equals Σ sells − Σ buys + position × mark, whatever the matching', () => {
    const b = new LotBook('X');
    const fills: [string, 'BUY' | 'SELL', string, string][] = [
      ['1', 'BUY', '10', '2'],
      ['2', 'BUY', '9', '1'],
      ['1', 'SELL', '11', '1'],
      ['2', 'SELL', '8.5', '3'],
      ['1', 'SELL', '12', '2'],
    ];
    let cash = new Dec(0);
    for (const [slot, side, p, q] of fills) {
      b.fill(slot, side, d(p), d(q), d('0'), 0);
      cash = side === 'BUY' ? cash.minus(d(p).mul(q)) : cash.plus(d(p).mul(q));
    }
    const mark = d('9.7');
    expect(b.realized.plus(b.unrealized(mark)).eq(cash.plus(b.position.mul(mark)))).toBe(true);
    expect(b.position.toFixed()).toBe('-3');
  });
});
