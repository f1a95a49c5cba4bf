import { dec } from '@mm/domain';
import { positionFromWire, positionToWire } from './codec';

describe('spot margin on the wire (Position.borrowed, Position.borrow_interest)', () => {
  const pos = { symbol: 'BTCUSDT', size: dec('-0.01000003'), entryPrice: dec('0'), markPrice: dec('0'), unrealizedPnl: dec('0'), leverage: 1, marginType: 'cross' as const, liquidationPrice: dec('0') };

  it('round-trips borrowed principal and interest (zero included); absent stays absent', () => {
    const w = positionToWire({ ...pos, borrowed: dec('0.01'), borrowInterest: dec('0.00000003') });
    expect([w.borrowed?.value, w.borrowInterest?.value]).toEqual(['0.01', '0.00000003']);
    const back = positionFromWire(w);
    expect([back.size.toFixed(), back.borrowed!.toFixed()]).toEqual(['-0.01000003', '0.01']);
    expect(back.borrowInterest!.eq('0.00000003')).toBe(true);
    const repaid = positionFromWire(positionToWire({ ...pos, borrowed: dec('0'), borrowInterest: dec('0') }));
    expect([repaid.borrowed?.toFixed(), repaid.borrowInterest?.toFixed()]).toEqual(['0', '0']);
    const plain = positionFromWire(positionToWire(pos));
    expect('borrowed' in plain || 'borrowInterest' in plain).toBe(false);
  });
});
