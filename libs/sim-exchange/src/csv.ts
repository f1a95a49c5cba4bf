import { readFileSync } from 'node:fs';
import { Dec, type Candle } from '@mm/domain';

/** A settled funding rate: `fundingTimeMs` Unix ms, `rate` a fraction per 8 h period (0.0001 = 0.01 %). */
export interface FundingPoint {
  fundingTimeMs: number;
  rate: Dec;
}

/** One exchange trade (public tape): `price` quote units, `qty` base units, `timeMs` Unix ms. */
export interface TradeTick {
  timeMs: number;
  price: Dec;
  qty: Dec;
  /** true: the buyer was the maker, i.e. the aggressor SOLD (the trade hit the bid). */
  isBuyerMaker: boolean;
}

/** One top-of-book update: best bid/ask price (quote units) and size (base units) at `timeMs` (Unix ms). */
export interface BookTick {
  timeMs: number;
  bidPrice: Dec;
  bidQty: Dec;
  askPrice: Dec;
  askQty: Dec;
}

/**
 * Bad market data: names the file, the 1-based line and the problem. `message` is the single
 * line `<file>:<line>: <problem>` (line 0 = the file as a whole, e.g. it cannot be read).
 */
export class MarketDataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'MarketDataError';
  }
}

/** Data formats a market-data file can have (see README "Market data files"). */
export type DataFormat = 'klines' | 'trades' | 'book' | 'funding';

/** Column layouts: the canonical header of each format (other columns may come before/after/between). */
export const DATA_FORMAT_COLUMNS: Record<DataFormat, readonly string[]> = {
  klines: ['open_time_ms', 'open', 'high', 'low', 'close', 'volume_base'],
  trades: ['trade_time_ms', 'price', 'qty', 'is_buyer_maker'],
  book: ['event_time_ms', 'bid_price', 'bid_qty', 'ask_price', 'ask_qty'],
  funding: ['funding_time_ms', 'funding_rate'],
};

/** Unix ms timestamps below this are rejected; values in [1e9, 1e11) read as Unix seconds (2001…5138). */
const SECONDS_LO = 1e9;
const SECONDS_HI = 1e11;
const DECIMAL_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

interface Line {
  no: number;
  fields: string[];
}

interface Table {
  /** Column index of each requested column name. */
  col: Record<string, number>;
  /** Expected number of fields per row. */
  width: number;
  rows: Line[];
}

function readLines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MarketDataError(path, 0, code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? (e as Error).message})`);
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) if (lines[i].endsWith('\r')) lines[i] = lines[i].slice(0, -1);
  return lines;
}

/** A header line starts with a column name; a data row starts with a timestamp (digits). */
function isHeader(fields: string[]): boolean {
  return /^[A-Za-z_]/.test(fields[0] ?? '');
}

/**
 * Splits a CSV file into rows and locates the columns of `format`. With a header line, columns are
 * found by name (extra columns anywhere are ignored; the header must name every column of the
 * format). Without one, the first columns are the format's, in order. Every row must have the same
 * number of fields as the header (or as the first row when there is no header). Blank lines are skipped.
 * @throws MarketDataError for an empty or header-only file, missing columns, or a row of the wrong width.
 */
function table(path: string, format: DataFormat | 'markprice', lines = readLines(path)): Table {
  const names = format === 'markprice' ? MARK_PRICE_COLUMNS : DATA_FORMAT_COLUMNS[format];
  let first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new MarketDataError(path, 1, `file is empty (expected ${format} rows: ${names.join(',')})`);
  const head = lines[first].split(',').map((s) => s.trim());
  const col: Record<string, number> = {};
  let width: number;
  if (isHeader(head)) {
    for (const n of names) {
      const i = head.indexOf(n);
      if (i < 0) throw new MarketDataError(path, first + 1, `header has no column "${n}" (expected ${format} columns ${names.join(',')}; got ${head.join(',')})`);
      col[n] = i;
    }
    width = head.length;
    first++;
  } else {
    names.forEach((n, i) => (col[n] = i));
    width = head.length;
    if (width < names.length)
      throw new MarketDataError(path, first + 1, `expected ${names.length} columns (${names.join(',')}), got ${width}`);
  }
  const rows: Line[] = [];
  for (let i = first; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const fields = line.split(',');
    if (fields.length !== width)
      throw new MarketDataError(path, i + 1, `expected ${width} columns, got ${fields.length}`);
    rows.push({ no: i + 1, fields });
  }
  if (rows.length === 0) throw new MarketDataError(path, first, `no data rows (only a header)`);
  return { col, width, rows };
}

/** Reads the file's header and tells its format; undefined when there is no recognisable header. */
export function detectDataFormat(path: string): DataFormat | undefined {
  const lines = readLines(path);
  const first = lines.find((l) => l.trim() !== '');
  if (first === undefined) throw new MarketDataError(path, 1, 'file is empty');
  const head = first.split(',').map((s) => s.trim());
  if (!isHeader(head)) return undefined;
  for (const f of ['klines', 'trades', 'book', 'funding'] as const) {
    if (DATA_FORMAT_COLUMNS[f].every((n) => head.includes(n))) return f;
  }
  return undefined;
}

/** Parses a Unix-ms timestamp field. */
function timeMs(path: string, no: number, name: string, s: string): number {
  const v = s.trim();
  if (!/^\d+$/.test(v)) throw new MarketDataError(path, no, `${name} "${s}" is not a whole number of Unix milliseconds`);
  const t = Number(v);
  if (!Number.isSafeInteger(t)) throw new MarketDataError(path, no, `${name} ${v} is out of range`);
  if (t >= SECONDS_LO && t < SECONDS_HI)
    throw new MarketDataError(path, no, `${name} ${v} looks like Unix seconds; expected Unix milliseconds (${v}000)`);
  return t;
}

/** Parses a decimal field; `positive` requires > 0, `nonNegative` ≥ 0. */
function decimal(path: string, no: number, name: string, s: string, rule: 'positive' | 'nonNegative' | 'any', cache?: Map<string, Dec>): Dec {
  const v = s.trim();
  let d = cache?.get(v);
  if (d === undefined) {
    if (!DECIMAL_RE.test(v)) throw new MarketDataError(path, no, `${name} "${s}" is not a number`);
    d = new Dec(v);
    if (!d.isFinite()) throw new MarketDataError(path, no, `${name} "${s}" is not a finite number`);
    if (cache) {
      if (cache.size > 200_000) cache.clear();
      cache.set(v, d);
    }
  }
  if (rule === 'positive' && !d.gt(0)) throw new MarketDataError(path, no, `${name} must be > 0, got ${v}`);
  if (rule === 'nonNegative' && d.isNegative()) throw new MarketDataError(path, no, `${name} must be ≥ 0, got ${v}`);
  return d;
}

function bool(path: string, no: number, name: string, s: string): boolean {
  const v = s.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new MarketDataError(path, no, `${name} "${s}" must be true/false`);
}

/**
 * Time-order check. `strict`: each time must be greater than the previous (klines, funding);
 * otherwise equal times are allowed (several trades/book updates in one ms).
 */
function ordered(path: string, no: number, name: string, t: number, prev: { t: number; no: number }, strict: boolean): void {
  if (prev.no > 0) {
    if (t === prev.t && strict) throw new MarketDataError(path, no, `duplicate ${name} ${t} (same as line ${prev.no})`);
    if (t < prev.t) throw new MarketDataError(path, no, `${name} ${t} is before ${prev.t} on line ${prev.no} (rows must be in time order)`);
  }
  prev.t = t;
  prev.no = no;
}

/**
 * Loads 1-minute klines from a CSV file `open_time_ms,open,high,low,close,volume_base` (header
 * optional; with a header, columns are found by name and extra columns are ignored). Prices (quote
 * units) and volume (base units) keep the file's decimal strings exactly. Every candle is `closed: true`.
 *
 * Checks each row: the column count, open time in Unix ms (not seconds) and ≥ 1 minute after the
 * previous row, prices > 0 and numeric, low ≤ open, close ≤ high, volume ≥ 0.
 * @throws MarketDataError naming the file, the 1-based line and the problem (also for an empty or header-only file).
 */
export function loadKlineCsv(path: string, symbol: string): Candle[] {
  const { col, rows } = table(path, 'klines');
  const out: Candle[] = [];
  // prices repeat a lot (close → next open); Decimals are immutable, so identical strings share one
  const cache = new Map<string, Dec>();
  const [ct, co, ch, cl, cc, cv] = DATA_FORMAT_COLUMNS.klines.map((n) => col[n]);
  const prev = { t: 0, no: 0 };
  for (const { no, fields: f } of rows) {
    const t = timeMs(path, no, 'open_time_ms', f[ct]);
    if (prev.no > 0 && t > prev.t && t < prev.t + 60_000)
      throw new MarketDataError(path, no, `open_time_ms ${t} is less than 1 minute after ${prev.t} on line ${prev.no} (expected 1-minute klines)`);
    ordered(path, no, 'open_time_ms', t, prev, true);
    const open = decimal(path, no, 'open', f[co], 'positive', cache);
    const high = decimal(path, no, 'high', f[ch], 'positive', cache);
    const low = decimal(path, no, 'low', f[cl], 'positive', cache);
    const close = decimal(path, no, 'close', f[cc], 'positive', cache);
    const volume = decimal(path, no, 'volume_base', f[cv], 'nonNegative');
    if (high.lt(low)) throw new MarketDataError(path, no, `high ${high} is below low ${low}`);
    if (open.lt(low) || open.gt(high)) throw new MarketDataError(path, no, `open ${open} is outside [low ${low}, high ${high}]`);
    if (close.lt(low) || close.gt(high)) throw new MarketDataError(path, no, `close ${close} is outside [low ${low}, high ${high}]`);
    out.push({ symbol, openTimeMs: t, open, high, low, close, volume, closed: true });
  }
  return out;
}

/**
 * Loads settled funding rates from a CSV file `funding_time_ms,funding_rate` (header optional).
 * Times in Unix ms, strictly ascending; rates are fractions (may be negative).
 * @throws MarketDataError naming the file, the 1-based line and the problem.
 */
export function loadFundingCsv(path: string): FundingPoint[] {
  const { col, rows } = table(path, 'funding');
  const out: FundingPoint[] = [];
  const prev = { t: 0, no: 0 };
  for (const { no, fields: f } of rows) {
    const t = timeMs(path, no, 'funding_time_ms', f[col.funding_time_ms]);
    ordered(path, no, 'funding_time_ms', t, prev, true);
    out.push({ fundingTimeMs: t, rate: decimal(path, no, 'funding_rate', f[col.funding_rate], 'any') });
  }
  return out;
}

/** Columns of a mark-price kline file (Binance `markPriceKlines`, e.g. 8 h): no volume. */
export const MARK_PRICE_COLUMNS: readonly string[] = ['open_time_ms', 'open', 'high', 'low', 'close'];

/** A mark price (quote units) at `timeMs` (Unix ms). */
export interface MarkPricePoint {
  timeMs: number;
  price: Dec;
}

/**
 * Loads a mark-price kline file `open_time_ms,open,high,low,close` (e.g. Binance USD-M
 * `/fapi/v1/markPriceKlines`, 8 h interval) into mark samples: each row gives its `close` at the
 * row's close time (open time + the interval, inferred from the first two rows, default 8 h) and its
 * `open` at its open time unless an earlier row's close already sits there. Rows ascend strictly by open time.
 * @throws MarketDataError naming the file, the 1-based line and the problem.
 */
export function loadMarkPriceCsv(path: string): MarkPricePoint[] {
  const { col, rows } = table(path, 'markprice');
  const prev = { t: 0, no: 0 };
  const parsed: { t: number; open: Dec; close: Dec }[] = [];
  for (const { no, fields: f } of rows) {
    const t = timeMs(path, no, 'open_time_ms', f[col.open_time_ms]);
    ordered(path, no, 'open_time_ms', t, prev, true);
    parsed.push({ t, open: decimal(path, no, 'open', f[col.open], 'positive'), close: decimal(path, no, 'close', f[col.close], 'positive') });
  }
  if (parsed.length === 0) throw new MarketDataError(path, 1, 'no mark-price rows');
  const interval = parsed.length > 1 ? parsed[1].t - parsed[0].t : 8 * 3_600_000;
  const byTime = new Map<number, Dec>();
  for (const r of parsed) if (!byTime.has(r.t)) byTime.set(r.t, r.open);
  for (const r of parsed) byTime.set(r.t + interval, r.close);
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([timeMs, price]) => ({ timeMs, price }));
}

/**
 * Loads a public-trades file `trade_time_ms,price,qty,is_buyer_maker` (e.g. Binance `aggTrades`/
 * `trades` dumps; with a header, columns are found by name and extra columns are ignored). Times in
 * Unix ms, non-decreasing (several trades may share a ms); price and qty > 0.
 * @throws MarketDataError naming the file, the 1-based line and the problem.
 */
export function loadTradesCsv(path: string): TradeTick[] {
  const { col, rows } = table(path, 'trades');
  const cache = new Map<string, Dec>();
  const out: TradeTick[] = [];
  const prev = { t: 0, no: 0 };
  for (const { no, fields: f } of rows) {
    const t = timeMs(path, no, 'trade_time_ms', f[col.trade_time_ms]);
    ordered(path, no, 'trade_time_ms', t, prev, false);
    out.push({
      timeMs: t,
      price: decimal(path, no, 'price', f[col.price], 'positive', cache),
      qty: decimal(path, no, 'qty', f[col.qty], 'positive'),
      isBuyerMaker: bool(path, no, 'is_buyer_maker', f[col.is_buyer_maker]),
    });
  }
  return out;
}

/**
 * Loads a top-of-book file `event_time_ms,bid_price,bid_qty,ask_price,ask_qty` (e.g. Binance
 * `bookTicker`; with a header, columns are found by name). Times in Unix ms, non-decreasing; prices
 * > 0 with bid < ask; sizes ≥ 0.
 * @throws MarketDataError naming the file, the 1-based line and the problem.
 */
export function loadBookTickerCsv(path: string): BookTick[] {
  const { col, rows } = table(path, 'book');
  const cache = new Map<string, Dec>();
  const out: BookTick[] = [];
  const prev = { t: 0, no: 0 };
  for (const { no, fields: f } of rows) {
    const t = timeMs(path, no, 'event_time_ms', f[col.event_time_ms]);
    ordered(path, no, 'event_time_ms', t, prev, false);
    const bidPrice = decimal(path, no, 'bid_price', f[col.bid_price], 'positive', cache);
    const askPrice = decimal(path, no, 'ask_price', f[col.ask_price], 'positive', cache);
    if (!bidPrice.lt(askPrice)) throw new MarketDataError(path, no, `crossed book: bid_price ${bidPrice} ≥ ask_price ${askPrice}`);
    out.push({
      timeMs: t,
      bidPrice,
      bidQty: decimal(path, no, 'bid_qty', f[col.bid_qty], 'nonNegative'),
      askPrice,
      askQty: decimal(path, no, 'ask_qty', f[col.ask_qty], 'nonNegative'),
    });
  }
  return out;
}
