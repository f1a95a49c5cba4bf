import { closeSync, openSync, readSync } from 'node:fs';
import { type pb, candleFromWire, fundingFromWire, priceFromWire } from '@mm/contracts';
import { MarketDataError } from './csv';
import type { MarketEvent, MarketEventSource } from './events';

/** One line of a connector recording (`RECORD_FILE`; README "Recording"). */
export interface RecordingLine {
  /** Connector wall clock when published, Unix ms. */
  t: number;
  stream: 'price' | 'klines' | 'funding';
  symbol: string;
  /** The wire message (`PriceChange`, `Candle`, `FundingUpdate`) in its proto3 JSON-ish form. */
  data: unknown;
}

/** Options of {@link openRecording}. */
export interface RecordingOptions {
  /** Only events of this symbol; all symbols when absent. */
  symbol?: string;
  /** Bytes read per chunk, default 1 MiB. */
  chunkBytes?: number;
}

/**
 * Reads a connector recording (JSON Lines written by `RECORD_FILE`) as a pull-based
 * {@link MarketEventSource}, streaming the file in chunks (memory stays bounded by the longest line
 * plus one chunk). Events: `price` (PriceChange), `kline` (Candle; closed ones extend history) and
 * `funding` (FundingUpdate; settles at its `next_funding_time`). `providesKlines` is true.
 *
 * **Market time** of an event is the message's own timestamp — price: `timestamp`; funding:
 * `timestamp`; kline: open time + 60 s when closed, open time when forming — made non-decreasing by
 * carrying the latest time forward (a message stamped earlier than one before it gets the earlier
 * message's time). The recording's `t` (receive time) is only used when a message has no timestamp.
 * @throws MarketDataError (file, 1-based line, problem) for a line that is not valid JSON, lacks
 *   `t`/`stream`/`data`, names an unknown stream, or carries an undecodable message; thrown when that
 *   line is reached (`peek`/`next`), or at open for an empty or unreadable file.
 */
export function openRecording(path: string, opts: RecordingOptions = {}): MarketEventSource & { close(): void } {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MarketDataError(path, 0, code === 'ENOENT' ? 'file not found' : `cannot read file (${code})`);
  }
  const chunk = Buffer.alloc(opts.chunkBytes ?? 1 << 20);
  let rest = '';
  let lines: string[] = [];
  let li = 0;
  let lineNo = 0;
  let eof = false;
  let lastTime = -Infinity;
  let pending: MarketEvent | undefined;
  let seen = 0;

  const readLine = (): string | undefined => {
    while (li >= lines.length) {
      if (eof) return undefined;
      const n = readSync(fd!, chunk, 0, chunk.length, null);
      if (n === 0) {
        eof = true;
        closeFd();
        lines = rest === '' ? [] : [rest];
        rest = '';
      } else {
        const text = rest + chunk.toString('utf8', 0, n);
        const parts = text.split('\n');
        rest = parts.pop()!;
        lines = parts;
      }
      li = 0;
    }
    lineNo++;
    return lines[li++];
  };

  const closeFd = (): void => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };

  const parse = (): MarketEvent | undefined => {
    for (;;) {
      let raw = readLine();
      if (raw === undefined) {
        if (seen === 0) throw new MarketDataError(path, Math.max(1, lineNo), 'recording has no market-data lines');
        return undefined;
      }
      if (raw.endsWith('\r')) raw = raw.slice(0, -1);
      if (raw.trim() === '') continue;
      const bad = (problem: string) => new MarketDataError(path, lineNo, problem);
      let rec: RecordingLine;
      try {
        rec = JSON.parse(raw) as RecordingLine;
      } catch (e) {
        throw bad(`not valid JSON (${(e as Error).message})`);
      }
      if (!rec || typeof rec !== 'object' || typeof rec.t !== 'number' || typeof rec.stream !== 'string' || typeof rec.data !== 'object' || !rec.data)
        throw bad('expected {"t":<ms>,"stream":"price|klines|funding","symbol":"…","data":{…}}');
      if (opts.symbol !== undefined && rec.symbol !== opts.symbol) continue;
      let ev: MarketEvent;
      try {
        ev = decode(rec);
      } catch (e) {
        throw bad(`${rec.stream} message: ${(e as Error).message}`);
      }
      if (ev.timeMs < lastTime) ev.timeMs = lastTime;
      lastTime = ev.timeMs;
      seen++;
      return ev;
    }
  };

  const fill = (): MarketEvent | undefined => {
    if (pending === undefined && (fd !== undefined || li < lines.length || rest !== '')) pending = parse();
    return pending;
  };

  return {
    providesKlines: true,
    peek: () => fill(),
    next: () => {
      const e = fill();
      pending = undefined;
      return e;
    },
    close: closeFd,
  };
}

function decode(rec: RecordingLine): MarketEvent {
  const fallback = (ms: number) => (ms > 0 ? ms : rec.t);
  switch (rec.stream) {
    case 'price': {
      const p = priceFromWire(rec.data as pb.PriceChange);
      if (!p.price.gt(0)) throw new Error(`price must be > 0, got ${p.price}`);
      return { kind: 'price', timeMs: fallback(p.timestampMs), symbol: p.symbol || rec.symbol, price: p.price };
    }
    case 'klines': {
      const c = candleFromWire(rec.data as pb.Candle);
      if (!(c.openTimeMs > 0)) throw new Error('timestamp (open time) is required');
      if (c.high.lt(c.low)) throw new Error(`high ${c.high} is below low ${c.low}`);
      return { kind: 'kline', timeMs: c.closed ? c.openTimeMs + 60_000 : c.openTimeMs, symbol: c.symbol || rec.symbol, candle: c };
    }
    case 'funding': {
      const f = fundingFromWire(rec.data as pb.FundingUpdate);
      return { kind: 'funding', timeMs: fallback(f.timestampMs), symbol: f.symbol || rec.symbol, rate: f.rate, nextFundingTimeMs: f.nextFundingTimeMs };
    }
    default:
      throw new Error(`unknown stream "${String(rec.stream)}" (expected price, klines or funding)`);
  }
}
