import { ServerGrpc } from '@nestjs/microservices';
import { type Observable, isObservable } from 'rxjs';

type UnaryCallback = (err: unknown, value?: unknown) => void;
type UnaryCall = { request: unknown; metadata: unknown };

/**
 * Nest's gRPC transport (`ServerGrpc`) with a leaner unary path. Nest's own unary wrapper copies
 * the whole grpc-js call object (`{ ...call, operationId }`) for its processing hooks, wraps the
 * handler's promise in an rxjs `from → mergeMap → of` chain and answers from an `async` subscriber —
 * per call: a large object copy, a handful of rxjs subscribers and three extra promise turns, which
 * showed as tail latency against raw grpc-js (issue 14). This one calls the same Nest handler
 * (guards, pipes, the exception filter and interceptors all still run inside it) and answers when
 * its promise settles; a handler that yields an Observable (an exception filter's `throwError`, a
 * handler returning one) is subscribed to exactly as Nest does: each value answers, an error fails
 * the call.
 *
 * Not carried over: Nest's `onProcessingStartHook`/`onProcessingEndHook` (instrumentation hooks,
 * unused here). Streaming methods are Nest's own.
 */
export class LeanServerGrpc extends ServerGrpc {
  /**
   * Before a service is registered with grpc-js (Nest registers the definition it passes here),
   * every server-streaming method serializes each message object once (see
   * {@link serializeOncePerMessage}): the stream hub writes the same object to every subscriber of a
   * topic, and grpc-js would encode it again for each one.
   */
  override createService(grpcService: { service?: Record<string, StreamingMethod> }, name: string): Promise<{}> {
    if (grpcService?.service) serializeOncePerMessage(grpcService.service);
    return super.createService(grpcService, name);
  }

  override createUnaryServiceMethod(methodHandler: Function): Function {
    return (call: UnaryCall, callback: UnaryCallback): void => {
      let out: unknown;
      try {
        out = methodHandler(call.request, call.metadata, call);
      } catch (e) {
        callback(e);
        return;
      }
      if (out instanceof Promise) out.then((v) => answer(v, callback), (e: unknown) => callback(e));
      else answer(out, callback);
    };
  }
}

function answer(v: unknown, callback: UnaryCallback): void {
  if (!isObservable(v)) {
    callback(null, v);
    return;
  }
  (v as Observable<unknown>).subscribe({
    next: (data) => {
      if (data instanceof Promise) data.then((d) => callback(null, d), (e: unknown) => callback(e));
      else callback(null, data);
    },
    error: (err: unknown) => callback(err),
  });
}

type StreamingMethod = { responseStream?: boolean; responseSerialize?: (v: unknown) => Buffer; [patched]?: true };
const patched = Symbol('serializeOncePerMessage');

/**
 * Makes each server-streaming method's serializer remember the bytes per message object (weakly):
 * one protobuf encoding per published message however many subscribers receive it. grpc-js copies
 * the bytes into its own frame (`serializeMessage`), so sharing them is safe. Unary methods are left
 * alone (each answer is its own object). Idempotent.
 */
export function serializeOncePerMessage(service: Record<string, StreamingMethod>): void {
  for (const m of Object.values(service)) {
    if (!m.responseStream || !m.responseSerialize || m[patched]) continue;
    const encode = m.responseSerialize;
    const bytes = new WeakMap<object, Buffer>();
    m.responseSerialize = (v: unknown): Buffer => {
      if (typeof v !== 'object' || v === null) return encode(v);
      let b = bytes.get(v);
      if (b === undefined) bytes.set(v, (b = encode(v)));
      return b;
    };
    m[patched] = true;
  }
}
