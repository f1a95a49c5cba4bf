import { readFileSync } from 'node:fs';
import { Dec, type Candle } from '@mm/domain';

/** A settled funding rate: `fundingTimeMs` Unix ms, `rate` a fraction per 8 h period (0.0001 = 0.01 %). */
export interface FundingPoint {
  fundingTimeMs: number;
  rate: Dec;
}

function rows(path: string, header: string, columns: number, each: (f: string[], lineNo: number) => void): void {
  const lines = readFileSync(path, 'utf8').split('\n');
  let i = 0;
  if (lines.length > 0 && lines[0].startsWith(header.split(',')[0])) i = 1;
  for (; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') continue;
    const f = line.split(',');
    if (f.length < columns) throw new Error(`${path}:${i + 1}: expected ${columns} columns (${header}), got "${line}"`);
    try {
      each(f, i + 1);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: ${(e as Error).message}`);
    }
  }
}

function timeMs(s: string): number {
  const t = Number(s);
  if (!Number.isSafeInteger(t)) throw new Error(`invalid time "${s}"`);
  return t;
}

/**
 * Loads 1-minute klines from a CSV file `open_time_ms,open,high,low,close,volume_base` (header
 * line optional; extra columns ignored). Prices (quote units) and volume (base units) keep the
 * file's decimal strings exactly. Every candle is `closed: true`.
 * @throws Error naming file and line for a malformed row.
 */
export function loadKlineCsv(path: string, symbol: string): Candle[] {
  const out: Candle[] = [];
  // prices repeat a lot (close → next open); Decimals are immutable, so identical strings share one
  const cache = new Map<string, Dec>();
  const price = (s: string): Dec => {
    let d = cache.get(s);
    if (d === undefined) {
      d = new Dec(s);
      if (cache.size > 200_000) cache.clear();
      cache.set(s, d);
    }
    return d;
  };
  rows(path, 'open_time_ms,open,high,low,close,volume_base', 6, (f) => {
    out.push({
      symbol,
      openTimeMs: timeMs(f[0]),
      open: price(f[1]),
      high: price(f[2]),
      low: price(f[3]),
      close: price(f[4]),
      volume: new Dec(f[5]),
      closed: true,
    });
  });
  return out;
}

/**
 * Loads settled funding rates from a CSV file `funding_time_ms,funding_rate` (header optional).
 * @throws Error naming file and line for a malformed row.
 */
export function loadFundingCsv(path: string): FundingPoint[] {
  const out: FundingPoint[] = [];
  rows(path, 'funding_time_ms,funding_rate', 2, (f) => {
    out.push({ fundingTimeMs: timeMs(f[0]), rate: new Dec(f[1]) });
  });
  return out;
}
