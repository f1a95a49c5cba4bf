import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Metadata, status } from '@grpc/grpc-js';
import { type Observable, throwError } from 'rxjs';
import { toGrpcError } from '@mm/contracts';
import { VenueError } from '@mm/domain';
import { RpcObserver, callOf } from './rpc-logging';

/** A gRPC status raised by the connector itself (guards, rate limit), with optional trailers. */
export class GrpcStatusException extends RpcException {
  constructor(
    readonly code: status,
    readonly details: string,
    readonly trailers: Record<string, string> = {},
  ) {
    super({ code, message: details });
  }
}

/** The error object grpc-js sends: status code, details and trailers. */
export interface GrpcErrorObject {
  code: status;
  details: string;
  message: string;
  metadata: Metadata;
}

const HTTP_TO_GRPC: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  409: status.ALREADY_EXISTS,
  429: status.RESOURCE_EXHAUSTED,
  501: status.UNIMPLEMENTED,
  503: status.UNAVAILABLE,
};

/**
 * Maps anything thrown inside the connector onto a gRPC status:
 * - `VenueError` → its code, field and reason as `x-error-field` / `x-error-reason` trailers;
 * - {@link GrpcStatusException} → its code and trailers;
 * - `RpcException({code, message})` → that code; `RpcException('text')` → INTERNAL;
 * - Nest `HttpException`s (e.g. the `ForbiddenException` of a guard returning false) → the matching code;
 * - a plain `{code, details}` object (the stream hub's cut-off) → that code;
 * - anything else → INTERNAL.
 * Never UNKNOWN: clients and metrics always see a meaningful code.
 */
export function grpcErrorOf(exception: unknown): GrpcErrorObject {
  if (exception instanceof VenueError) return toGrpcError(exception) as GrpcErrorObject;
  if (exception instanceof GrpcStatusException) {
    const md = new Metadata();
    for (const [k, v] of Object.entries(exception.trailers)) md.set(k, v);
    return { code: exception.code, details: exception.details, message: exception.details, metadata: md };
  }
  if (exception instanceof RpcException) {
    const e = exception.getError() as { code?: unknown; message?: unknown } | string;
    if (typeof e === 'object' && e !== null && typeof e.code === 'number' && status[e.code] !== undefined) {
      const message = typeof e.message === 'string' ? e.message : '';
      return { code: e.code, details: message, message, metadata: new Metadata() };
    }
    const message = typeof e === 'string' ? e : String((e as { message?: unknown })?.message ?? 'error');
    return { code: status.INTERNAL, details: `internal error: ${message}`, message, metadata: new Metadata() };
  }
  if (exception instanceof HttpException) {
    const code = HTTP_TO_GRPC[exception.getStatus()] ?? status.INTERNAL;
    return { code, details: exception.message, message: exception.message, metadata: new Metadata() };
  }
  if (exception && typeof exception === 'object' && !(exception instanceof Error)) {
    const e = exception as { code?: unknown; details?: unknown; metadata?: unknown };
    if (typeof e.code === 'number' && status[e.code] !== undefined && e.code !== status.OK && e.code !== status.UNKNOWN) {
      const details = typeof e.details === 'string' ? e.details : '';
      return { code: e.code, details, message: details, metadata: e.metadata instanceof Metadata ? e.metadata : new Metadata() };
    }
  }
  return toGrpcError(exception) as GrpcErrorObject;
}

/**
 * Every exception leaving a handler, guard or interceptor becomes a proper gRPC status (see
 * {@link grpcErrorOf}); Nest's default filter would turn domain errors into UNKNOWN "Internal server
 * error". Also writes the call's log line and metrics, and adds `x-request-id` to the trailers.
 */
@Catch()
export class GrpcExceptionFilter implements ExceptionFilter<unknown> {
  constructor(private readonly observer: RpcObserver) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() === 'http') {
      // HTTP routes (test hooks, health): plain JSON errors.
      const res = host.switchToHttp().getResponse<{ status(c: number): { json(b: unknown): void } }>();
      if (exception instanceof HttpException) res.status(exception.getStatus()).json({ statusCode: exception.getStatus(), message: exception.message });
      else res.status(500).json({ statusCode: 500, message: 'internal error' });
      return;
    }
    const err = grpcErrorOf(exception);
    const call = host.getType() === 'rpc' ? callOf(host) : undefined;
    if (call) {
      this.observer.errorTrailers(call, err.metadata);
      this.observer.finish(call, err.code, err.details);
    }
    return throwError(() => err);
  }
}
