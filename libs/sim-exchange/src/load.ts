import type { Candle } from '@mm/domain';
import { type DataFormat, type FundingPoint, MarketDataError, loadFundingCsv, loadKlineCsv } from './csv';
import { type MarketEventSource, openTickData, resolveDataFormat } from './events';

/** What to load for one simulated symbol (see {@link loadSimData}). */
export interface SimDataSpec {
  symbol: string;
  /** Price data: klines, trades or top-of-book CSV. */
  data: string;
  /** `auto` (default): from the header; a headerless file is klines. */
  format?: DataFormat | 'auto';
  /** Funding CSV (klines only). */
  funding?: string;
  /** Keep at most this many candles (klines only). */
  maxCandles?: number;
}

/** Loaded, validated market data: spread it into a `SimSymbolConfig` (`{ rules, ...loaded }`). */
export interface SimData {
  format: 'klines' | 'trades' | 'book';
  candles?: Candle[];
  events?: MarketEventSource;
  fundingRates?: FundingPoint[];
}

/**
 * Loads and validates the market data of one sim symbol, the same way for the connector
 * (`SIM_DATA`/`SIM_FUNDING`/`SIM_DATA_FORMAT`) and an in-process backtest.
 * @throws MarketDataError (file, line, problem) for a bad/empty/missing file, a funding file given as
 *   price data, or funding with tick-level data.
 */
export function loadSimData(spec: SimDataSpec): SimData {
  const format = resolveDataFormat(spec.data, spec.format ?? 'auto');
  if (format === 'funding') throw new MarketDataError(spec.data, 1, 'this is a funding file (funding_time_ms,funding_rate), not price data');
  if (format !== 'klines' && spec.funding)
    throw new MarketDataError(spec.funding, 0, 'funding works with kline data only (a tick-level replay carries no funding)');
  const out: SimData = { format };
  if (format === 'klines') out.candles = loadKlineCsv(spec.data, spec.symbol).slice(0, spec.maxCandles);
  else out.events = openTickData(spec.data, spec.symbol, format);
  if (spec.funding) out.fundingRates = loadFundingCsv(spec.funding);
  return out;
}
