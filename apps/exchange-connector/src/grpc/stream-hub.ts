import { Injectable, Logger } from '@nestjs/common';
import { Metadata, status, type ServerWritableStream } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import type { StreamObserver, Unsubscribe } from '@mm/domain';
import { ConnectorMetrics } from '../http/connector.metrics';

/** Opens the single upstream venue subscription of a topic; `emit` receives wire messages. */
export type TopicSource = (emit: (msg: object) => void) => Unsubscribe;

interface Topic {
  key: string;
  /** Metric label: the stream kind (`price`, `orders`, …), never the symbol-specific key. */
  stream: string;
  subscribers: Set<Subscriber>;
  close: Unsubscribe;
}

interface Subscriber {
  call: ServerWritableStream<unknown, object>;
  /** Messages waiting for `drain` (grpc-js accepted earlier writes but signalled back-pressure). */
  queue: object[];
  writable: boolean;
  topics: Topic[];
  done: (err?: { code: status; details: string }) => void;
}

/**
 * Fan-out of venue streams to gRPC subscribers.
 *
 * One upstream venue subscription per topic key (for example `price:BTCUSDT`), opened by the first
 * subscriber and closed when the last leaves. Each message is handed to every subscriber's grpc-js
 * call directly; when `call.write` signals back-pressure, further messages wait in that
 * subscriber's own queue until `drain`, so a slow subscriber never delays the others. A queue over
 * `maxBuffer` messages ends that subscriber with RESOURCE_EXHAUSTED and counts a drop.
 *
 * (Nest's Observable writer buffers without bound and drains with `Array#shift`; writing to the call
 * ourselves is what keeps long streams at grpc-js speed — see stack notes.)
 */
@Injectable()
export class StreamHub {
  private readonly log = new Logger('StreamHub');
  private readonly topics = new Map<string, Topic>();
  private maxBuffer = 10_000;

  constructor(private readonly metrics: ConnectorMetrics) {}

  configure(opts: { maxBuffer: number }): void {
    this.maxBuffer = opts.maxBuffer;
  }

  /** Number of subscribers of a topic key (0 when the topic is closed). */
  subscriberCount(key: string): number {
    return this.topics.get(key)?.subscribers.size ?? 0;
  }

  /**
   * Attaches a gRPC server-stream call to one or more topics. Returns the Observable Nest awaits:
   * it completes when the client cancels and errors when the subscriber is cut off or the source fails.
   */
  attach(
    call: ServerWritableStream<unknown, object>,
    topics: { key: string; stream: string; source: TopicSource }[],
  ): Observable<never> {
    return new Observable<never>((observer) => {
      const sub: Subscriber = {
        call,
        queue: [],
        writable: true,
        topics: [],
        done: (err) => {
          this.detach(sub);
          if (err) observer.error(err);
          else observer.complete();
        },
      };
      const onDrain = () => this.flush(sub);
      call.on('drain', onDrain);
      call.once('cancelled', () => sub.done());
      call.once('close', () => sub.done());
      for (const t of topics) this.join(sub, t.key, t.stream, t.source);
      // Headers tell the client the subscription is attached: it reconciles after this point without a gap.
      call.sendMetadata(new Metadata());
      return () => {
        call.off('drain', onDrain);
        this.detach(sub);
      };
    });
  }

  private join(sub: Subscriber, key: string, stream: string, source: TopicSource): void {
    let topic = this.topics.get(key);
    if (!topic) {
      const created: Topic = { key, stream, subscribers: new Set(), close: () => undefined };
      this.topics.set(key, created);
      created.close = source((msg) => this.publish(created, msg));
      this.metrics.streamConnected.set({ stream }, 1);
      topic = created;
    }
    topic.subscribers.add(sub);
    sub.topics.push(topic);
    this.metrics.streamSubscribers.inc({ stream });
  }

  private detach(sub: Subscriber): void {
    for (const topic of sub.topics) {
      if (!topic.subscribers.delete(sub)) continue;
      this.metrics.streamSubscribers.dec({ stream: topic.stream });
      if (topic.subscribers.size === 0) {
        this.topics.delete(topic.key);
        topic.close();
        this.metrics.streamConnected.set({ stream: topic.stream }, 0);
      }
    }
    sub.topics = [];
    sub.queue = [];
  }

  private publish(topic: Topic, msg: object): void {
    this.metrics.streamMessages.inc({ stream: topic.stream });
    for (const sub of topic.subscribers) {
      if (sub.writable && sub.queue.length === 0) {
        sub.writable = sub.call.write(msg);
      } else if (sub.queue.length >= this.maxBuffer) {
        this.metrics.streamDropped.inc({ stream: topic.stream });
        this.log.warn(`cutting off slow subscriber of ${topic.key}: ${sub.queue.length} messages queued`);
        sub.done({ code: status.RESOURCE_EXHAUSTED, details: `subscriber too slow: ${this.maxBuffer} messages queued` });
      } else {
        sub.queue.push(msg);
      }
    }
  }

  private flush(sub: Subscriber): void {
    sub.writable = true;
    let i = 0;
    while (i < sub.queue.length && sub.writable) sub.writable = sub.call.write(sub.queue[i++]);
    sub.queue = i === sub.queue.length ? [] : sub.queue.slice(i);
  }
}

/** Adapts a venue `watch*` call to a `TopicSource` with a domain→wire encoder. */
export function topicSource<T>(
  watch: (observer: StreamObserver<T>) => Unsubscribe,
  encode: (value: T) => object,
): TopicSource {
  return (emit) => watch({ next: (v) => emit(encode(v)) });
}
