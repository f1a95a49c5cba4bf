import { type AccountSnapshot, Dec, dec } from '@mm/domain';
import { MarginGuard, type MarginGuardSettings, accountMarginRatio } from './margin-guard';

const cfg: MarginGuardSettings = {
  stopOpeningMarginRatio: dec('0.5'), reduceMarginRatio: dec('0.7'), stopOpeningLiquidationDistance: dec('0.15'), reduceLiquidationDistance: dec('0.08'),
  checkIntervalMs: 1000, recoveryMs: 60_000, reduceFraction: dec('0.25'), exitSlippage: dec('0.005'),
};
const account = (mm: string, balance: string, mark: string, liq: string): AccountSnapshot => ({
  asset: 'USDT', totalWalletBalance: dec(balance), totalMarginBalance: dec(balance), availableBalance: dec('0'), leverage: 20, realizedPnl: dec('0'),
  totalMaintenanceMargin: dec(mm),
  positions: [{ symbol: 'BTCUSDT', size: dec('0.01'), entryPrice: dec('100000'), markPrice: dec(mark), unrealizedPnl: dec('0'), leverage: 20, marginType: 'cross', liquidationPrice: dec(liq) }],
});

describe('MarginGuard', () => {
  it('margin ratio: the venue figure, else maintenance ÷ margin balance (Infinity at ≤ 0 balance)', () => {
    expect(accountMarginRatio(account('10', '100', '1', '0'))!.toString()).toBe('0.1');
    expect(accountMarginRatio({ ...account('10', '100', '1', '0'), marginRatio: dec('0.3') })!.toString()).toBe('0.3');
    expect(accountMarginRatio(account('10', '0', '1', '0'))!.isFinite()).toBe(false);
    expect(accountMarginRatio({ ...account('10', '100', '1', '0'), totalMaintenanceMargin: undefined })).toBeNull();
  });
  it('stop-opening, then reduce, by either measure; closes only after recoveryMs healthy', () => {
    const g = new MarginGuard(cfg, 'BTCUSDT');
    expect(g.read(account('10', '100', '100000', '50000'), 0)).toMatchObject({ open: false, reduce: false });
    // Liquidation distance (100000 − 88000) / 100000 = 0.12 ≤ 0.15: stop opening.
    expect(g.read(account('10', '100', '100000', '88000'), 1000)).toMatchObject({ open: true, opened: true, reduce: false });
    expect(g.last!.liquidationDistance!.toString()).toBe('0.12');
    // Margin ratio 0.75 ≥ 0.7: reduce.
    const v = g.read(account('75', '100', '100000', '50000'), 2000);
    expect(v).toMatchObject({ open: true, opened: false, reduce: true });
    expect(v.detail).toContain('margin ratio 0.75 ≥ reduce limit 0.7');
    // Distance 0.05 ≤ 0.08: reduce.
    expect(g.read(account('10', '100', '100000', '95000'), 3000).reduce).toBe(true);
    // Healthy from 4000: still open at 63 999, closed at 64 000.
    expect(g.read(account('10', '100', '100000', '50000'), 4000)).toMatchObject({ open: true, reduce: false });
    expect(g.read(account('10', '100', '100000', '50000'), 63_999).open).toBe(true);
    expect(g.read(account('10', '100', '100000', '50000'), 64_000)).toMatchObject({ open: false, closed: true });
    expect(g.snapshot()).toMatchObject({ open: false, marginRatio: '0.1', liquidationDistance: '0.5' });
  });
  it('a flat position or no liquidation price gives no distance', () => {
    const g = new MarginGuard(cfg, 'BTCUSDT');
    const a = account('0', '100', '100000', '0');
    g.read(a, 0);
    expect(g.last!.liquidationDistance).toBeNull();
    g.read({ ...a, positions: [{ ...a.positions[0]!, size: new Dec(0), liquidationPrice: dec('99000') }] }, 1);
    expect(g.last!.liquidationDistance).toBeNull();
  });
});
