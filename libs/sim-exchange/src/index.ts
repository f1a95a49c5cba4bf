/**
 * Simulated USDT-margined perpetual venue (pure TypeScript): replays 1-minute candles from CSV or a
 * seeded random walk on market time and implements the `ExchangeVenue` port.
 */
export { SimExchange, type SimExchangeOptions, type SimSymbolConfig, type SimStatus, type CandleSource } from './sim-exchange';
export { candlePath, defaultSymbolRules, mulberry32 } from './market-data';
export { loadKlineCsv, loadFundingCsv, type FundingPoint } from './csv';
export { type SimState, type SimOrderState, parseSimState } from './snapshot';
/** The sim's USDT cross-margin account (also used by the connector's paper venue). */
export { Account, type PositionState } from './account';
