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
} from './sim-exchange';
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
export { loadSimData, type SimData, type SimDataSpec } from './load';
