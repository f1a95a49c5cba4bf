import { SPOT_MARGIN, marginAsset, spotMarginMapping, supportedVenues } from './ccxt-margin';

describe('spot margin mapping (ccxt-margin.ts)', () => {
  it('Binance: auto-borrow on SELL, auto-repay on BUY, routed by marginMode, margin user stream', () => {
    const m = spotMarginMapping('binance', 'cross');
    expect(m.order.SELL).toEqual({ sideEffectType: 'MARGIN_BUY' });
    expect(m.order.BUY).toEqual({ sideEffectType: 'AUTO_REPAY' });
    expect(m.route.cross).toEqual({ marginMode: 'cross' });
    expect(m.route.isolated).toEqual({ marginMode: 'isolated' });
    expect(m.watchOrders.cross).toEqual({ type: 'margin' });
  });

  it('venues without a mapping fail with "spot margin not supported on <venue>"', () => {
    for (const v of ['okx', 'bybit', 'gate', 'bitget'] as const) {
      expect(SPOT_MARGIN[v]).toBeUndefined();
      expect(() => spotMarginMapping(v, 'cross')).toThrow(`spot margin not supported on ${v}`);
    }
    expect(supportedVenues()).toEqual(['binance']);
  });

  it('Binance cross account: borrowed and interest read separately from userAssets (ccxt folds them into one debt)', () => {
    const info = {
      userAssets: [
        { asset: 'BTC', borrowed: '0.01000000', free: '0.00000000', interest: '0.00000003', locked: '0.00000000', netAsset: '-0.01000003' },
        { asset: 'USDT', borrowed: '0.00000000', free: '10650.12000000', interest: '0.00000000', locked: '5.00000000', netAsset: '10655.12000000' },
      ],
    };
    const rows = SPOT_MARGIN.binance!.balances(info, 'cross');
    const btc = marginAsset(rows, 'BTC');
    expect([btc.borrowed.toFixed(), btc.interest.toFixed(), btc.net.toFixed()]).toEqual(['0.01', '0.00000003', '-0.01000003']);
    const usdt = marginAsset(rows, 'USDT');
    expect([usdt.free.toFixed(), usdt.locked.toFixed(), usdt.net.toFixed()]).toEqual(['10650.12', '5', '10655.12']);
    expect(marginAsset(rows, 'ETH').net.isZero()).toBe(true);
  });

  it('Binance isolated account: base and quote rows of each pair', () => {
    const info = {
      assets: [
        {
          symbol: 'BTCUSDT',
          baseAsset: { asset: 'BTC', borrowed: '0.5', free: '0.1', interest: '0.001', locked: '0', netAsset: '-0.401' },
          quoteAsset: { asset: 'USDT', borrowed: '0', free: '100', interest: '0', locked: '0', netAsset: '100' },
        },
      ],
    };
    const rows = SPOT_MARGIN.binance!.balances(info, 'isolated');
    expect(rows.map((r) => [r.asset, r.net.toFixed()])).toEqual([
      ['BTC', '-0.401'],
      ['USDT', '100'],
    ]);
  });
});
