import { type SymbolRules, dec } from '@mm/domain';
import type { GridParams } from '../grid-math';

/** BTCUSDT-like venue rules (Binance USD-M filters: tick 0.1, step 0.001, min notional 100). */
export const btcRules = (over: Partial<SymbolRules> = {}): SymbolRules => ({
  symbol: 'BTCUSDT',
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  tickSize: dec('0.1'),
  stepSize: dec('0.001'),
  minQty: dec('0.001'),
  minNotional: dec('100'),
  pricePrecision: 1,
  quantityPrecision: 3,
  ...over,
});

/** Long grid, I = 100, 250 USDT per order, 5 levels each side, 20 active orders, 1 level of hysteresis. */
export const gridParams = (over: Partial<GridParams> = {}): GridParams => ({
  symbol: 'BTCUSDT',
  mode: 'long',
  inventorySkewFactor: dec('0'),
  priceInterval: dec('100'),
  orderNotional: dec('250'),
  minOrderValue: dec('0'),
  buyWindow: 5,
  sellWindow: 5,
  safetyBufferRatio: dec('0.1'),
  maxActiveOrders: 20,
  cancelHysteresisLevels: 1,
  ...over,
});
