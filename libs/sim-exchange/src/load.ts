import type { Candle, Dec, SymbolRules } from '@mm/domain';
import { type DataFormat, type FundingPoint, type MarkPricePoint, MarketDataError, loadFundingCsv, loadKlineCsv, loadMarkPriceCsv } from './csv';
import { defaultSymbolRules } from './market-data';
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
  /** Mark-price kline CSV (`open_time_ms,open,high,low,close`, e.g. 8 h), see `loadMarkPriceCsv`. */
  markPrice?: string;
  /** Keep at most this many candles (klines only). */
  maxCandles?: number;
}

/** Loaded, validated market data: spread it into a `SimSymbolConfig` (`{ rules, ...loaded }`). */
export interface SimData {
  format: 'klines' | 'trades' | 'book';
  candles?: Candle[];
  events?: MarketEventSource;
  fundingRates?: FundingPoint[];
  markPrices?: MarkPricePoint[];
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
  if (spec.markPrice) out.markPrices = loadMarkPriceCsv(spec.markPrice);
  return out;
}

/** A malformed `SYMBOL=path[,SYMBOL=path…]` list; `message` names the setting. */
export class SymbolFileListError extends Error {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(`${setting}: ${problem}`);
    this.name = 'SymbolFileListError';
  }
}

const SYMBOL_RE = /^[A-Z0-9]{3,20}$/;

/**
 * Parses a per-symbol file setting (`SIM_DATA`, `SIM_FUNDING`, `SIM_MARK_PRICE`): either
 * `SYMBOL=path[,SYMBOL=path…]` (the value contains `=`), or one plain path, which belongs to
 * `defaultSymbol`. Empty/undefined → no files. Order is kept.
 * @throws SymbolFileListError naming `setting` for a bad item, symbol or duplicate.
 */
export function parseSymbolFiles(value: string | undefined, defaultSymbol: string, setting: string): Map<string, string> {
  const out = new Map<string, string>();
  const v = value?.trim() ?? '';
  if (v === '') return out;
  if (!v.includes('=')) {
    out.set(defaultSymbol, v);
    return out;
  }
  for (const raw of v.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const sym = eq < 0 ? '' : item.slice(0, eq).trim();
    const path = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (!SYMBOL_RE.test(sym) || path === '')
      throw new SymbolFileListError(setting, `"${item}" is not SYMBOL=path (upper-case symbol like BTCUSDT, then a file path)`);
    if (out.has(sym)) throw new SymbolFileListError(setting, `${sym} is given twice`);
    out.set(sym, path);
  }
  if (out.size === 0) throw new SymbolFileListError(setting, 'no SYMBOL=path item');
  return out;
}

/** Settings of a multi-symbol sim (see {@link loadSimDataSet}); file values as in {@link parseSymbolFiles}. */
export interface SimDataSetSpec {
  /** `SIM_DATA`: price data per symbol; absent → one random-walk symbol `defaultSymbol`. */
  data?: string;
  /** `SIM_FUNDING`. */
  funding?: string;
  /** `SIM_MARK_PRICE`. */
  markPrice?: string;
  /** `SIM_SYMBOL`: owner of plain paths and of a random walk. */
  defaultSymbol: string;
  format?: DataFormat | 'auto';
  maxCandles?: number;
}

/** One symbol of a loaded set: its rules (see `defaultSymbolRules`, scaled to the first price) and data. */
export interface SimSymbolData {
  symbol: string;
  rules: SymbolRules;
  data: SimData;
}

/**
 * Loads every symbol of a multi-symbol sim: each `SIM_DATA` symbol with its own funding and
 * mark-price file (when listed) and its own rules; without `SIM_DATA`, the random-walk symbol
 * `defaultSymbol` (funding/mark files may name only it).
 * @throws SymbolFileListError for a malformed list or a funding/mark file of a symbol that has no data;
 *   MarketDataError (file, line, problem) for a bad file.
 */
export function loadSimDataSet(spec: SimDataSetSpec): SimSymbolData[] {
  const data = parseSymbolFiles(spec.data, spec.defaultSymbol, 'SIM_DATA');
  const funding = parseSymbolFiles(spec.funding, spec.defaultSymbol, 'SIM_FUNDING');
  const mark = parseSymbolFiles(spec.markPrice, spec.defaultSymbol, 'SIM_MARK_PRICE');
  const symbols = data.size ? [...data.keys()] : [spec.defaultSymbol];
  for (const [setting, m] of [['SIM_FUNDING', funding], ['SIM_MARK_PRICE', mark]] as const)
    for (const sym of m.keys())
      if (!symbols.includes(sym)) throw new SymbolFileListError(setting, `${sym} has no price data (symbols: ${symbols.join(', ')})`);
  return symbols.map((symbol) => {
    const file = data.get(symbol);
    let d: SimData;
    if (file) d = loadSimData({ symbol, data: file, format: spec.format, funding: funding.get(symbol), markPrice: mark.get(symbol), maxCandles: spec.maxCandles });
    else {
      d = { format: 'klines' };
      const f = funding.get(symbol);
      const m = mark.get(symbol);
      if (f) d.fundingRates = loadFundingCsv(f);
      if (m) d.markPrices = loadMarkPriceCsv(m);
    }
    const ref: Dec | undefined = d.candles?.[0]?.open;
    return { symbol, rules: defaultSymbolRules(symbol, ref), data: d };
  });
}
