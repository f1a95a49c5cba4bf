import { SYMBOL_RE } from './live.config';

/** WebSocket close codes of a refused `/ws` subscription (application range 4000–4999, plus 1013). */
export const CLOSE_BAD_PARAMETER = 4400;
export const CLOSE_UNKNOWN_SYMBOL = 4404;
/** RFC 6455 "Try Again Later": the symbol list is not known yet (connector not reached since start). */
export const CLOSE_TRY_AGAIN = 1013;

/** What one `/ws` connection asked for. */
export interface ClientParams {
  /** The symbol whose chart, orders, position and account totals it gets. */
  symbol: string;
  /** True = also `symbols` and `account_overview` messages (opt-in; the OpenSQT page never asks). */
  overview: boolean;
}

/** Why a `/ws` connection is closed right after the handshake (before any data is sent). */
export interface ParamRefusal {
  code: number;
  reason: string;
}

/** The symbol list as the gateway sees it. */
export interface SymbolLookup {
  readonly symbol: string;
  readonly symbols: readonly string[];
  readonly symbolsResolved: boolean;
  has(symbol: string): boolean;
}

const OVERVIEW_VALUES: Record<string, boolean> = { '': true, '1': true, true: true, '0': false, false: false };
/** Close reasons are limited to 123 bytes by RFC 6455. */
const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Reads the opt-in parameters of a `/ws` URL: `symbol` (exact spelling of a monitored symbol;
 * absent = the default symbol, so `/ws` behaves as before) and `overview` (`1`/`true`/empty = on,
 * `0`/`false` = off). Other parameters (`token`, cache busters) are ignored.
 * @returns the parameters, or the close code and reason: 4400 malformed or repeated parameter,
 *   4404 a symbol that is not monitored (the reason lists the monitored ones), 1013 a symbol asked
 *   for before the connector's symbol list is known.
 */
export function parseClientParams(rawUrl: string | undefined, feed: SymbolLookup): ClientParams | ParamRefusal {
  const q = new URL(rawUrl ?? '/ws', 'http://x').searchParams;
  const symbols = q.getAll('symbol');
  const overviews = q.getAll('overview');
  if (symbols.length > 1) return { code: CLOSE_BAD_PARAMETER, reason: 'symbol: given more than once' };
  if (overviews.length > 1) return { code: CLOSE_BAD_PARAMETER, reason: 'overview: given more than once' };
  const ov = overviews.length ? OVERVIEW_VALUES[overviews[0].toLowerCase()] : false;
  if (ov === undefined) return { code: CLOSE_BAD_PARAMETER, reason: 'overview: must be 1, true, 0 or false' };
  const asked = symbols[0];
  if (asked === undefined || asked === feed.symbol) return { symbol: feed.symbol, overview: ov };
  if (!SYMBOL_RE.test(asked)) return { code: CLOSE_BAD_PARAMETER, reason: 'symbol: must be a symbol like BTCUSDT' };
  if (feed.has(asked)) return { symbol: asked, overview: ov };
  if (!feed.symbolsResolved) return { code: CLOSE_TRY_AGAIN, reason: 'symbol list not known yet (connector not reached); retry' };
  return { code: CLOSE_UNKNOWN_SYMBOL, reason: clip(`unknown symbol ${asked}; monitored: ${feed.symbols.join(',')}`, 120) };
}
