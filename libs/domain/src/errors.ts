/**
 * Venue error tree, modelled on ccxt's (`ExchangeError` vs `NetworkError`): callers decide by class
 * or `code`, never by message text. Each code maps 1:1 onto a gRPC status code of the same name.
 */
export type VenueErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** Machine-readable reasons the engine reacts to (sent to clients as `x-error-reason`). */
export type VenueErrorReason =
  | 'POST_ONLY_WOULD_TAKE'
  | 'REDUCE_ONLY_REJECTED'
  | 'INSUFFICIENT_MARGIN'
  | 'DUPLICATE_CLIENT_ORDER_ID'
  | 'ORDER_NOT_FOUND'
  | 'UNKNOWN_SYMBOL'
  | 'FILTER_VIOLATION'
  | 'ORDER_NOT_OPEN';

export class VenueError extends Error {
  constructor(
    readonly code: VenueErrorCode,
    message: string,
    readonly options: { field?: string; reason?: VenueErrorReason; retryable?: boolean } = {},
  ) {
    super(message);
    this.name = 'VenueError';
  }
  /** The request field at fault, for INVALID_ARGUMENT. */
  get field(): string | undefined {
    return this.options.field;
  }
  get reason(): VenueErrorReason | undefined {
    return this.options.reason;
  }
  /** Transient errors that may succeed when retried unchanged. */
  get retryable(): boolean {
    return this.options.retryable ?? (this.code === 'UNAVAILABLE' || this.code === 'RESOURCE_EXHAUSTED');
  }
}

/** A request field failed validation. The message starts with the field name. */
export function invalidArgument(field: string, problem: string, reason?: VenueErrorReason): VenueError {
  return new VenueError('INVALID_ARGUMENT', `${field}: ${problem}`, { field, reason });
}

export function notFound(message: string, reason: VenueErrorReason = 'ORDER_NOT_FOUND'): VenueError {
  return new VenueError('NOT_FOUND', message, { reason });
}

export function failedPrecondition(message: string, reason?: VenueErrorReason): VenueError {
  return new VenueError('FAILED_PRECONDITION', message, { reason });
}

export function isVenueError(e: unknown, code?: VenueErrorCode): e is VenueError {
  return e instanceof VenueError && (code === undefined || e.code === code);
}
