/**
 * Simulated USDT-margined perpetual venue (pure TypeScript): replays 1-minute candles from CSV or a
 * seeded random walk on market time and implements the `ExchangeVenue` port.
 */
export {
  SimExchange,
  type SimExchangeOptions,
  type SimSymbolConfig,
  type SimStatus,
  type CandleSource,
  type KlineFillModel,
  type LockstepGate,
  type SimLiquidation,
} from './sim-exchange';
export {
  type MarginTier,
  type CrossLiquidationInput,
  BINANCE_BTCUSDT_TIERS,
  BINANCE_ETHUSDT_TIERS,
  DEFAULT_MARGIN_TIERS,
  marginTiersFor,
  tierFor,
  maintenanceMargin,
  crossLiquidationPrice,
} from './margin';
/** The sim's USDT cross-margin account (also used by the connector's paper venue). */
export { Account, type PositionState, USDT_DP, type AccountMargin, type PositionMargin, type SymbolMargin } from './account';
export {
  type MarketEvent,
  type MarketEventSource,
  ArrayEventSource,
  tradeEvents,
  bookEvents,
  mergeEvents,
  openTickData,
  resolveDataFormat,
} from './events';
export { candlePath, defaultSymbolRules, mulberry32 } from './market-data';
export {
  loadKlineCsv,
  loadFundingCsv,
  loadMarkPriceCsv,
  MARK_PRICE_COLUMNS,
  type MarkPricePoint,
  loadTradesCsv,
  loadBookTickerCsv,
  detectDataFormat,
  MarketDataError,
  DATA_FORMAT_COLUMNS,
  type DataFormat,
  type FundingPoint,
  type TradeTick,
  type BookTick,
} from './csv';
export { type SimState, type SimOrderState, parseSimState } from './snapshot';
export { openRecording, type RecordingLine, type RecordingOptions } from './recording';
export {
  loadSimData,
  loadSimDataSet,
  parseSymbolFiles,
  SymbolFileListError,
  type SimData,
  type SimDataSpec,
  type SimDataSetSpec,
  type SimSymbolData,
} from './load';
export {
  SimSpotExchange,
  type SimSpotOptions,
  type SimSpotSymbolConfig,
  type SpotBalance,
  SPOT_ASSET_DP,
  DEFAULT_SPOT_BASIS,
  deriveSpotCandles,
  defaultSpotRules,
} from './spot';
