import { VenueError, type VenueErrorCode, type VenueErrorReason } from '@mm/domain';

/**
 * One row of the ccxt → gRPC mapping: a ccxt error class name (matched anywhere on the error's
 * prototype chain) and the `VenueError` code it becomes. Rows are ordered most specific first,
 * because ccxt's classes nest: `OrderNotFound` and `DuplicateOrderId` extend `InvalidOrder`,
 * `PermissionDenied` extends `AuthenticationError`, `RateLimitExceeded`/`DDoSProtection`/
 * `RequestTimeout`/`ExchangeNotAvailable` extend `NetworkError`
 * (see node_modules/ccxt/js/src/base/errorHierarchy.js).
 */
export const CCXT_ERROR_MAP: readonly { ccxt: string; code: VenueErrorCode; reason?: VenueErrorReason }[] = [
  { ccxt: 'OrderNotFound', code: 'NOT_FOUND', reason: 'ORDER_NOT_FOUND' },
  { ccxt: 'OrderNotCached', code: 'NOT_FOUND', reason: 'ORDER_NOT_FOUND' },
  { ccxt: 'DuplicateOrderId', code: 'ALREADY_EXISTS', reason: 'DUPLICATE_CLIENT_ORDER_ID' },
  { ccxt: 'OrderImmediatelyFillable', code: 'INVALID_ARGUMENT', reason: 'POST_ONLY_WOULD_TAKE' },
  { ccxt: 'BadSymbol', code: 'INVALID_ARGUMENT', reason: 'UNKNOWN_SYMBOL' },
  { ccxt: 'InvalidOrder', code: 'INVALID_ARGUMENT' },
  { ccxt: 'BadRequest', code: 'INVALID_ARGUMENT' },
  { ccxt: 'ArgumentsRequired', code: 'INVALID_ARGUMENT' },
  { ccxt: 'InsufficientFunds', code: 'FAILED_PRECONDITION', reason: 'INSUFFICIENT_MARGIN' },
  { ccxt: 'PermissionDenied', code: 'PERMISSION_DENIED' },
  { ccxt: 'AccountSuspended', code: 'PERMISSION_DENIED' },
  { ccxt: 'AuthenticationError', code: 'UNAUTHENTICATED' },
  { ccxt: 'RateLimitExceeded', code: 'RESOURCE_EXHAUSTED' },
  { ccxt: 'DDoSProtection', code: 'RESOURCE_EXHAUSTED' },
  { ccxt: 'RequestTimeout', code: 'UNAVAILABLE' },
  { ccxt: 'ExchangeNotAvailable', code: 'UNAVAILABLE' },
  { ccxt: 'NetworkError', code: 'UNAVAILABLE' },
];

/** Names of every class on `err`'s prototype chain, most derived first (`['OrderNotFound', 'InvalidOrder', …]`). */
export function errorClassChain(err: unknown): string[] {
  const names: string[] = [];
  if (err === null || typeof err !== 'object') return names;
  for (let p = Object.getPrototypeOf(err); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const n = (p as { constructor?: { name?: string } }).constructor?.name;
    if (n && !names.includes(n)) names.push(n);
  }
  // ccxt also sets `name` on instances; include it for errors that crossed a realm/serialisation.
  const own = (err as { name?: unknown }).name;
  if (typeof own === 'string' && !names.includes(own)) names.unshift(own);
  return names;
}

/**
 * Extracts the venue's own error code from a ccxt message such as
 * `binance {"code":-2011,"msg":"Unknown order sent."}` or `okx {"code":"51000",…}`.
 * Returns undefined when the message has no JSON body with a code.
 */
export function venueCodeOf(message: string): string | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    const body = JSON.parse(message.slice(start)) as Record<string, unknown>;
    const data = Array.isArray(body.data) ? (body.data[0] as Record<string, unknown> | undefined) : undefined;
    const code = data?.sCode ?? body.code ?? body.retCode ?? body.label ?? body.ret_code;
    return code === undefined || code === null || code === '' ? undefined : String(code);
  } catch {
    const m = /"(?:code|retCode|label|sCode)"\s*:\s*"?(-?[\w.]+)"?/.exec(message);
    return m?.[1];
  }
}

/**
 * Maps any error thrown by a ccxt call to a `VenueError` (and so to one gRPC status):
 *
 * | ccxt class | code |
 * |---|---|
 * | OrderNotFound | NOT_FOUND (ORDER_NOT_FOUND) |
 * | DuplicateOrderId | ALREADY_EXISTS (DUPLICATE_CLIENT_ORDER_ID) |
 * | InvalidOrder, BadRequest, BadSymbol, ArgumentsRequired | INVALID_ARGUMENT |
 * | InsufficientFunds | FAILED_PRECONDITION (INSUFFICIENT_MARGIN) |
 * | PermissionDenied | PERMISSION_DENIED |
 * | AuthenticationError | UNAUTHENTICATED |
 * | RateLimitExceeded, DDoSProtection | RESOURCE_EXHAUSTED |
 * | NetworkError, RequestTimeout, ExchangeNotAvailable | UNAVAILABLE |
 * | anything else | INTERNAL |
 *
 * The message is `<venue> <CcxtClass>[ code <venueCode>]: <ccxt message>` so the venue's code and
 * text reach the client in the gRPC details. A `VenueError` passes through unchanged. Pure: does
 * not load ccxt (classes are recognised by name along the prototype chain).
 *
 * @param venue exchange id for the message, e.g. `binance`.
 * @param field optional request field to attach to INVALID_ARGUMENT errors.
 */
export function parseCcxtError(err: unknown, venue: string, field?: string): VenueError {
  if (err instanceof VenueError) return err;
  const chain = errorClassChain(err);
  const message = err instanceof Error ? err.message : String(err);
  const row = CCXT_ERROR_MAP.find((r) => chain.includes(r.ccxt));
  const cls = chain.find((n) => CCXT_ERROR_MAP.some((r) => r.ccxt === n)) ?? chain[0] ?? 'Error';
  const vcode = venueCodeOf(message);
  const text = `${venue} ${cls}${vcode !== undefined ? ` code ${vcode}` : ''}: ${message}`;
  if (!row) return new VenueError('INTERNAL', text);
  if (row.code === 'INVALID_ARGUMENT') {
    const f = field ?? (row.reason === 'UNKNOWN_SYMBOL' ? 'symbol' : row.reason === 'POST_ONLY_WOULD_TAKE' ? 'post_only' : undefined);
    return new VenueError(row.code, f ? `${f}: ${text}` : text, { field: f, reason: row.reason });
  }
  return new VenueError(row.code, text, { reason: row.reason });
}
