import { type ArgumentsHost, Catch, type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, type RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { status } from '@grpc/grpc-js';
import { type Observable, catchError, tap, throwError } from 'rxjs';
import { toGrpcError } from '@mm/contracts';
import { ConnectorMetrics } from '../http/connector.metrics';

/**
 * Every exception leaving a handler becomes a proper gRPC status: `VenueError` keeps its code
 * (field and reason in trailers), `RpcException({code, message})` keeps its code, anything else is
 * INTERNAL. Nest's default filter would turn domain errors into UNKNOWN "Internal server error".
 */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    if (exception instanceof RpcException) {
      const e = exception.getError() as { code?: number; message?: string } | string;
      if (typeof e === 'object' && typeof e.code === 'number') {
        return throwError(() => ({ code: e.code, details: e.message ?? '', message: e.message ?? '' }));
      }
      return throwError(() => ({ code: status.UNKNOWN, details: String(typeof e === 'string' ? e : e.message) }));
    }
    return throwError(() => toGrpcError(exception));
  }
}

/** Records `grpc_requests_total{method,code}` and `grpc_request_duration_seconds{method}` for unary calls. */
@Injectable()
export class GrpcMetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: ConnectorMetrics) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const method = ctx.getHandler().name;
    if (method.startsWith('subscribe')) return next.handle();
    const start = process.hrtime.bigint();
    const done = (code: number) => {
      this.metrics.requests.inc({ method, code: status[code] ?? String(code) });
      this.metrics.duration.observe({ method }, Number(process.hrtime.bigint() - start) / 1e9);
    };
    return next.handle().pipe(
      tap(() => done(status.OK)),
      catchError((err: unknown) => {
        done(toGrpcError(err).code);
        return throwError(() => err);
      }),
    );
  }
}
