import type { Candle, Dec } from '@mm/domain';
import { type BookTick, type DataFormat, type TradeTick, MarketDataError, detectDataFormat, loadBookTickerCsv, loadTradesCsv } from './csv';

/**
 * One market-data event on market time (`timeMs`, Unix ms) for one symbol. Prices in quote units,
 * quantities in base units, rates as fractions.
 *
 * - `trade`: a public trade (tape). Fills resting orders it prints through (see `SimExchange`).
 * - `book`: a top-of-book update (best bid/ask). Drives bid/ask for crossing checks; price = mid floored to the tick.
 * - `price`: a last/mark price without size (e.g. a recorded `SubscribePrice` message); fills like a kline path point.
 * - `kline`: a candle update; `candle.closed` ones are appended to the sim's history (recordings).
 * - `funding`: the venue's current funding rate; `nextFundingTimeMs` is when it settles.
 */
export type MarketEvent =
  | { kind: 'trade'; timeMs: number; symbol: string; price: Dec; qty: Dec; isBuyerMaker: boolean }
  | { kind: 'book'; timeMs: number; symbol: string; bidPrice: Dec; bidQty: Dec; askPrice: Dec; askQty: Dec }
  | { kind: 'price'; timeMs: number; symbol: string; price: Dec }
  | { kind: 'kline'; timeMs: number; symbol: string; candle: Candle }
  | { kind: 'funding'; timeMs: number; symbol: string; rate: Dec; nextFundingTimeMs: number };

/**
 * A pull-based, time-ordered stream of market events: a driver (the sim, a backtest runner)
 * `peek()`s the next event's time and `next()`s it one at a time. Times never decrease.
 */
export interface MarketEventSource {
  /** The next event without consuming it; undefined at the end. */
  peek(): MarketEvent | undefined;
  /** Consumes and returns the next event; undefined at the end. */
  next(): MarketEvent | undefined;
  /**
   * true: the source carries its own candles (`kline` events, as in a recording); false: the sim
   * builds 1-minute candles from the event prices (trades, book mids).
   */
  readonly providesKlines: boolean;
}

/** A source over an in-memory array of events (must be in time order). */
export class ArrayEventSource implements MarketEventSource {
  private i = 0;
  constructor(
    private readonly events: readonly MarketEvent[],
    readonly providesKlines = false,
  ) {}
  peek(): MarketEvent | undefined {
    return this.events[this.i];
  }
  next(): MarketEvent | undefined {
    return this.events[this.i++];
  }
  /** Events left. */
  get remaining(): number {
    return this.events.length - this.i;
  }
}

/** Trade events of `symbol` from loaded trades (see `loadTradesCsv`). */
export function tradeEvents(trades: readonly TradeTick[], symbol: string): MarketEventSource {
  return new ArrayEventSource(trades.map((t) => ({ kind: 'trade', timeMs: t.timeMs, symbol, price: t.price, qty: t.qty, isBuyerMaker: t.isBuyerMaker })));
}

/** Book events of `symbol` from loaded top-of-book updates (see `loadBookTickerCsv`). */
export function bookEvents(book: readonly BookTick[], symbol: string): MarketEventSource {
  return new ArrayEventSource(book.map((b) => ({ kind: 'book', timeMs: b.timeMs, symbol, bidPrice: b.bidPrice, bidQty: b.bidQty, askPrice: b.askPrice, askQty: b.askQty })));
}

/**
 * Merges sources into one time-ordered source. At equal times the earlier argument goes first
 * (pass book before trades so the book is current when a trade prints).
 */
export function mergeEvents(...sources: MarketEventSource[]): MarketEventSource {
  const pick = (): MarketEventSource | undefined => {
    let best: MarketEventSource | undefined;
    let t = Infinity;
    for (const s of sources) {
      const e = s.peek();
      if (e && e.timeMs < t) {
        t = e.timeMs;
        best = s;
      }
    }
    return best;
  };
  return {
    providesKlines: sources.some((s) => s.providesKlines),
    peek: () => pick()?.peek(),
    next: () => pick()?.next(),
  };
}

/**
 * Opens a tick-level market-data file as an event source: `trades` (`trade_time_ms,price,qty,is_buyer_maker`)
 * or `book` (`event_time_ms,bid_price,bid_qty,ask_price,ask_qty`). Without `format` it is detected from the header.
 * @throws MarketDataError naming the file and line (bad rows, empty file, undetectable or unsupported format).
 */
export function openTickData(path: string, symbol: string, format?: 'trades' | 'book'): MarketEventSource {
  const f: DataFormat | undefined = format ?? detectDataFormat(path);
  if (f === 'trades') return tradeEvents(loadTradesCsv(path), symbol);
  if (f === 'book') return bookEvents(loadBookTickerCsv(path), symbol);
  throw new MarketDataError(
    path,
    1,
    f === undefined
      ? 'cannot tell the data format from the header (expected trade_time_ms,price,qty,is_buyer_maker or event_time_ms,bid_price,bid_qty,ask_price,ask_qty); set the format explicitly'
      : `${f} data is not tick data (expected trades or book)`,
  );
}

/** Which kind of file this is, from the header; `auto` detection errors name the file. */
export function resolveDataFormat(path: string, format: DataFormat | 'auto' = 'auto'): DataFormat {
  if (format !== 'auto') return format;
  // no header: a kline file (the historical default; headerless tick files must name their format)
  return detectDataFormat(path) ?? 'klines';
}
