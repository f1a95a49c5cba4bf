import { type Fill, type Order, dec } from '@mm/domain';
import {
  quoteAssetOf,
  snapshotMessages,
  toAccountOverview,
  toLiveAccount,
  toLiveCandle,
  toLiveOrder,
  toLivePosition,
  toLiveTrade,
} from './messages';

const order: Order = {
  orderId: '18446744073709551',
  clientOrderId: 'g-1',
  symbol: 'ETHUSDT',
  side: 'SELL',
  type: 'LIMIT',
  timeInForce: 'GTC',
  price: dec('2990.00'),
  quantity: dec('0.010'),
  executedQty: dec('0'),
  avgPrice: dec('0'),
  status: 'PARTIALLY_FILLED',
  reduceOnly: false,
  postOnly: true,
  createdAtMs: 1,
  updateTimeMs: 2,
  trades: [],
};
const fill: Fill = {
  tradeId: 't9',
  orderId: '7',
  clientOrderId: 'g-7',
  symbol: 'ETHUSDT',
  side: 'BUY',
  price: dec('2990.5'),
  quantity: dec('0.004'),
  fee: dec('0.0012'),
  feeAsset: 'USDT',
  timestampMs: 1732203590999,
  realizedPnl: dec('-0.25'),
  maker: true,
};

describe('live messages', () => {
  it('maps a candle: open time in seconds, decimals as strings', () => {
    expect(
      toLiveCandle({ symbol: 'ETHUSDT', openTimeMs: 1732200000000, open: dec('3000.00'), high: dec('3004.55'), low: dec('2998'), close: dec('3002.55'), volume: dec('10.000'), closed: false }),
    ).toEqual({ time: 1732200000, open: '3000', high: '3004.55', low: '2998', close: '3002.55', volume: '10' });
  });

  it('maps an order with a string id and Binance enums', () => {
    expect(toLiveOrder(order)).toEqual({
      id: '18446744073709551', clientOrderId: 'g-1', price: '2990', side: 'SELL', status: 'PARTIALLY_FILLED', type: 'LIMIT', symbol: 'ETHUSDT', quantity: '0.01', executedQty: '0',
    });
  });

  it('maps a fill to a trade_event: lower-case side, fill price/qty, time in seconds', () => {
    expect(toLiveTrade(fill)).toEqual({
      side: 'buy', price: '2990.5', amount: '0.004', symbol: 'ETHUSDT', time: 1732203590, orderId: '7', tradeId: 't9', fee: '0.0012', feeAsset: 'USDT', realizedPnL: '-0.25',
    });
    expect(toLiveTrade({ ...fill, side: 'SELL', timestampMs: 0 }, 1_700_000_000_500)).toMatchObject({ side: 'sell', time: 1_700_000_000 });
  });

  it('maps account and position with running totals', () => {
    const account = {
      asset: 'USDT', totalWalletBalance: dec('12345.67'), totalMarginBalance: dec('12400.00'), availableBalance: dec('10000.50'), positions: [], leverage: 5, realizedPnl: dec('0'),
    };
    expect(toLiveAccount(account, 'ETHUSDT', dec('1.5'), dec('0.02'))).toEqual({
      asset: 'USDT', free: '10000.5', balance: '12345.67', marginBalance: '12400', symbol: 'ETHUSDT', realizedPnL: '1.5', fees: '0.02',
    });
    expect(toLiveAccount({ ...account, asset: '' }, 'BTCUSDC', dec(0), dec(0)).asset).toBe('USDC');
    const position = {
      symbol: 'ETHUSDT', size: dec('-0.5'), entryPrice: dec('2995.00'), markPrice: dec('2977.5'), unrealizedPnl: dec('8.75'), leverage: 10, marginType: 'cross' as const, liquidationPrice: dec('0'),
    };
    expect(toLivePosition(position, dec('3'))).toEqual({
      symbol: 'ETHUSDT', amount: '-0.5', entryPrice: '2995', unrealizedPnL: '8.75', realizedPnL: '3', markPrice: '2977.5', liquidationPrice: '0', leverage: 10,
    });
  });

  it('derives the settlement asset from the symbol', () => {
    expect(quoteAssetOf('BTCUSDT')).toBe('USDT');
    expect(quoteAssetOf('ETHUSDC')).toBe('USDC');
    expect(quoteAssetOf('BTC/USDC:USDC')).toBe('USDC'); // ccxt form: settlement suffix ignored
  });

  it('orders the snapshot history, account, orders, position and skips unknown parts', () => {
    const base = { symbol: 'ETHUSDT', candles: [], orders: [order], realizedPnl: dec(0), fees: dec(0) };
    expect(snapshotMessages(base).map((m) => m.type)).toEqual(['history', 'orders']);
    expect(snapshotMessages(base)[1]).toEqual({ type: 'orders', data: [toLiveOrder(order)] });
  });

  it('builds the account overview: equity, margin ratio, per-symbol notional and liquidation distance, 8-decimal money', () => {
    const pos = (symbol: string, size: string, entry: string, mark: string, upnl: string, liq: string, leverage: number) => ({
      symbol, size: dec(size), entryPrice: dec(entry), markPrice: dec(mark), unrealizedPnl: dec(upnl), leverage, marginType: 'cross' as const, liquidationPrice: dec(liq),
    });
    const account = {
      asset: 'USDT',
      totalWalletBalance: dec('9590.36859335999999999999999999999999999999999999999999999988'),
      totalMarginBalance: dec('9600.12'),
      availableBalance: dec('8000'),
      positions: [],
      leverage: 10,
      realizedPnl: dec(0),
      totalMaintenanceMargin: dec('4.8'),
    };
    const o = toAccountOverview(
      {
        account,
        symbols: [
          { symbol: 'BTCUSDT', position: pos('BTCUSDT', '0.013', '100000', '104000', '52', '0', 20), lastPrice: dec('104010.1'), realizedPnl: dec('1.5'), fees: dec('0.65') },
          { symbol: 'ETHUSDT', position: pos('ETHUSDT', '-0.37', '2500', '2400', '37', '3000', 10), realizedPnl: dec('-0.25'), fees: dec('0.4625') },
          { symbol: 'SOLUSDT', lastPrice: dec('150.12'), realizedPnl: dec(0), fees: dec(0) },
        ],
      },
      'USDT',
    );
    expect(o).toEqual({
      asset: 'USDT',
      walletBalance: '9590.36859336',
      equity: '9600.12',
      available: '8000',
      unrealizedPnL: '9.75140664',
      maintenanceMargin: '4.8',
      marginRatio: '0.0005', // 4.8 / 9600.12 = 0.000499993… → 6 decimals
      realizedPnL: '1.25',
      fees: '1.1125',
      positions: [
        { symbol: 'BTCUSDT', amount: '0.013', entryPrice: '100000', markPrice: '104000', unrealizedPnL: '52', notional: '1352', liquidationPrice: '0', liquidationDistancePct: null, leverage: 20, realizedPnL: '1.5', fees: '0.65', lastPrice: '104010.1' },
        // |2400 − 3000| / 2400 = 25 %
        { symbol: 'ETHUSDT', amount: '-0.37', entryPrice: '2500', markPrice: '2400', unrealizedPnL: '37', notional: '888', liquidationPrice: '3000', liquidationDistancePct: '25', leverage: 10, realizedPnL: '-0.25', fees: '0.4625', lastPrice: null },
        // no position yet: flat, mark = last price
        { symbol: 'SOLUSDT', amount: '0', entryPrice: '0', markPrice: '150.12', unrealizedPnL: '0', notional: '0', liquidationPrice: '0', liquidationDistancePct: null, leverage: 0, realizedPnL: '0', fees: '0', lastPrice: '150.12' },
      ],
    });
    // no maintenance margin reported, or equity ≤ 0 → no margin ratio
    expect(toAccountOverview({ account: { ...account, totalMaintenanceMargin: undefined }, symbols: [] }, 'USDT').marginRatio).toBeNull();
    expect(toAccountOverview({ account: { ...account, totalMarginBalance: dec('-5') }, symbols: [] }, 'USDT').marginRatio).toBeNull();
    // before the first account snapshot
    expect(toAccountOverview({ symbols: [] }, 'USDC')).toMatchObject({ asset: 'USDC', equity: '0', marginRatio: null, positions: [] });
  });
});
