import { dec } from '@mm/domain';
import { accountFromWire, accountToWire } from './codec';

describe('funding on the wire (Account.funding_pnl, Position.funding_pnl)', () => {
  it('round-trips the account and per-position funding; absent stays absent', () => {
    const pos = { symbol: 'ETHUSDT', size: dec('0.5'), entryPrice: dec('2000'), markPrice: dec('2010'), unrealizedPnl: dec('5'), leverage: 10, marginType: 'cross' as const, liquidationPrice: dec('0') };
    const a = { asset: 'USDT', totalWalletBalance: dec('100'), totalMarginBalance: dec('105'), availableBalance: dec('50'), positions: [{ ...pos, fundingPnl: dec('-0.21960000') }, { ...pos, symbol: 'BTCUSDT' }], leverage: 10, realizedPnl: dec('0'), fundingPnl: dec('-0.2196') };
    const back = accountFromWire(accountToWire(a));
    expect(back.fundingPnl!.toString()).toBe('-0.2196');
    expect(back.positions[0].fundingPnl!.toString()).toBe('-0.2196');
    expect('fundingPnl' in back.positions[1]).toBe(false);
    const none = accountFromWire(accountToWire({ ...a, fundingPnl: undefined, positions: [] }));
    expect('fundingPnl' in none).toBe(false);
  });
});
