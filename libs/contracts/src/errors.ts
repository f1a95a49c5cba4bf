import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { VenueError, type VenueErrorCode, type VenueErrorReason } from '@mm/domain';

/** Trailer keys carrying the machine-readable part of an error. */
export const ERROR_FIELD_KEY = 'x-error-field';
export const ERROR_REASON_KEY = 'x-error-reason';

const CODE_TO_STATUS: Record<VenueErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};
const STATUS_TO_CODE = new Map<number, VenueErrorCode>(
  Object.entries(CODE_TO_STATUS).map(([k, v]) => [v, k as VenueErrorCode]),
);

/** A grpc-js error object (`{code, details, metadata}`) for a domain error; unknown errors → INTERNAL. */
export function toGrpcError(err: unknown): Partial<ServiceError> & { code: status; details: string; message: string } {
  const metadata = new Metadata();
  if (err instanceof VenueError) {
    if (err.field) metadata.set(ERROR_FIELD_KEY, err.field);
    if (err.reason) metadata.set(ERROR_REASON_KEY, err.reason);
    return { code: CODE_TO_STATUS[err.code], details: err.message, message: err.message, metadata };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, details: `internal error: ${message}`, message, metadata };
}

/** A grpc-js client error → `VenueError`, keeping field/reason from the trailers. DEADLINE_EXCEEDED and
 * CANCELLED count as UNAVAILABLE (the outcome is unknown; callers must look the order up). */
export function fromGrpcError(err: unknown): VenueError {
  if (err instanceof VenueError) return err;
  const e = err as Partial<ServiceError>;
  const code =
    e.code === status.DEADLINE_EXCEEDED || e.code === status.CANCELLED
      ? 'UNAVAILABLE'
      : (STATUS_TO_CODE.get(e.code ?? -1) ?? 'INTERNAL');
  const field = e.metadata?.get(ERROR_FIELD_KEY)?.[0]?.toString();
  const reason = e.metadata?.get(ERROR_REASON_KEY)?.[0]?.toString() as VenueErrorReason | undefined;
  return new VenueError(code, e.details || e.message || 'grpc error', { field, reason });
}
