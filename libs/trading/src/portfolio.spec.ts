import { dec } from '@mm/domain';
import { SharedPortfolioLimiter } from './portfolio';

describe('SharedPortfolioLimiter (portfolio caps across symbols)', () => {
  it('refuses the ETH order that would push the worst-case total over the cap BTC nearly uses, and counts why', () => {
    const p = new SharedPortfolioLimiter({ maxTotalNotional: dec('1000'), maxTotalOpenOrderNotional: dec('0') });
    // BTC: 0.009 × 100 000 = 900 position + 50 pending → 950 of the cap used
    p.report('BTCUSDT', { positionQty: dec('0.009'), markPrice: dec('100000'), openOpeningNotional: dec('50') });
    p.report('ETHUSDT', { positionQty: dec('0'), markPrice: dec('2000'), openOpeningNotional: dec('0') });
    const v = p.admit('ETHUSDT', { side: 'BUY', price: dec('2000'), quantity: dec('0.03') }); // 60 → 1010 > 1000
    expect(v).toMatchObject({ ok: false, reason: 'portfolio_total_notional' });
    expect(!v.ok && v.detail).toContain('other symbols 950.00');
    // exactly at the cap passes, and is then counted as pending for the next order of the batch
    expect(p.admit('ETHUSDT', { side: 'BUY', price: dec('2000'), quantity: dec('0.025') })).toEqual({ ok: true });
    expect(p.admit('ETHUSDT', { side: 'BUY', price: dec('2000'), quantity: dec('0.001') })).toMatchObject({ ok: false });
    const s = p.snapshot();
    expect(s.blocked).toEqual({ portfolio_total_notional: 2 });
    expect(s.blockedBySymbol.ETHUSDT).toEqual({ portfolio_total_notional: 2 });
    expect(s.symbols.ETHUSDT.openOpeningNotional).toBe('50.00');
    expect(s.lastBlock?.symbol).toBe('ETHUSDT');
  });

  it('credits an order against the position (a sell on a long) and caps open-order notional across symbols', () => {
    const p = new SharedPortfolioLimiter({ maxTotalNotional: dec('1000'), maxTotalOpenOrderNotional: dec('300') });
    p.report('BTCUSDT', { positionQty: dec('0.009'), markPrice: dec('100000'), openOpeningNotional: dec('0') });
    // a 100 sell on the 900 long: |900 − 100| = 800 ≤ 1000
    expect(p.admit('BTCUSDT', { side: 'SELL', price: dec('100000'), quantity: dec('0.001') })).toEqual({ ok: true });
    p.report('ETHUSDT', { positionQty: dec('0'), markPrice: dec('2000'), openOpeningNotional: dec('150') });
    // open: 100 (BTC, admitted above) + 150 (ETH) + 60 = 310 > 300; total: 60 + 150 + 900 + 100 = 1210 > 1000 first
    expect(p.admit('ETHUSDT', { side: 'BUY', price: dec('2000'), quantity: dec('0.03') })).toMatchObject({ ok: false, reason: 'portfolio_total_notional' });
    p.report('BTCUSDT', { positionQty: dec('0'), markPrice: dec('100000'), openOpeningNotional: dec('100') });
    expect(p.admit('ETHUSDT', { side: 'BUY', price: dec('2000'), quantity: dec('0.03') })).toMatchObject({ ok: false, reason: 'portfolio_open_order_notional' });
    expect(p.admit('ETHUSDT', { side: 'BUY', price: dec('2000'), quantity: dec('0.025') })).toEqual({ ok: true });
    p.forget('BTCUSDT');
    expect(p.snapshot().symbols.BTCUSDT).toBeUndefined();
  });

  it('with both caps 0 admits everything; a negative cap is refused', () => {
    const p = new SharedPortfolioLimiter({ maxTotalNotional: dec('0'), maxTotalOpenOrderNotional: dec('0') });
    p.report('BTCUSDT', { positionQty: dec('100'), markPrice: dec('100000'), openOpeningNotional: dec('1e9') });
    expect(p.admit('ETHUSDT', { side: 'BUY', price: dec('2000'), quantity: dec('1000') })).toEqual({ ok: true });
    expect(() => new SharedPortfolioLimiter({ maxTotalNotional: dec('-1'), maxTotalOpenOrderNotional: dec('0') })).toThrow(/maxTotalNotional/);
  });
});
