import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Metadata, status, type ServerWritableStream } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import type { StreamObserver, Unsubscribe } from '@mm/domain';
import type { ConnectorConfig } from '../connector.config';
import { ConnectorMetrics } from '../http/connector.metrics';
import type { ConnectorHealth, StaleStream } from '../http/health.controller';

/**
 * Opens the single upstream venue subscription of a topic; `emit` receives wire messages and
 * `alive` is called when the source proves liveness without a message (e.g. a poll with no change).
 */
export type TopicSource = (emit: (msg: object) => void, alive: () => void) => Unsubscribe;

interface Topic {
  key: string;
  /** Metric label: the stream kind (`price`, `orders`, …), never the symbol-specific key. */
  stream: string;
  subscribers: Set<Subscriber>;
  close: Unsubscribe;
  /** Unix ms of the last venue message (or liveness signal); the open time before the first. */
  lastMessageAt: number;
  stale: boolean;
}

/** Stream kinds with a staleness limit. */
export const STREAM_KINDS = ['price', 'klines', 'orders', 'account', 'positions', 'funding'] as const;

/** StreamHub settings. `staleAfterMs[kind]` 0/absent = that kind never goes stale. */
export interface StreamHubOptions {
  maxBuffer: number;
  staleAfterMs: Partial<Record<string, number>>;
  staleCheckMs: number;
  /** `exchange` label of the metrics. */
  exchange: string;
}

/**
 * Resolves the hub settings from the connector config: explicit `streams.staleAfterMs.<kind>` wins;
 * otherwise nothing goes stale on the sim, and on ccxt venues price 30 s, klines 120 s,
 * account/positions 3 × `ccxt.accountPollMs`, funding 3 × `ccxt.fundingPollMs`, orders never
 * (a quiet account legitimately has no order events).
 */
export function streamHubOptions(c: ConnectorConfig): StreamHubOptions {
  const sim = c.exchange === 'sim';
  const defaults: Record<string, number> = sim
    ? {}
    : c.exchange === 'paper' // account, positions and orders are local (event-driven); market data is the venue's
      ? { price: 30_000, klines: 120_000, orders: 0, account: 0, positions: 0, funding: 3 * c.ccxt.fundingPollMs }
      : { price: 30_000, klines: 120_000, orders: 0, account: 3 * c.ccxt.accountPollMs, positions: 3 * c.ccxt.accountPollMs, funding: 3 * c.ccxt.fundingPollMs };
  const set = c.streams.staleAfterMs as Partial<Record<string, number>>;
  const staleAfterMs: Record<string, number> = {};
  for (const k of STREAM_KINDS) staleAfterMs[k] = set[k] ?? defaults[k] ?? 0;
  return { maxBuffer: c.streams.maxBuffer, staleAfterMs, staleCheckMs: c.streams.staleCheckMs, exchange: c.exchange };
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
export class StreamHub implements OnModuleDestroy {
  private readonly log = new Logger('StreamHub');
  private readonly topics = new Map<string, Topic>();
  private maxBuffer = 10_000;
  private staleAfterMs: Partial<Record<string, number>> = {};
  private exchange = '';
  private checker?: ReturnType<typeof setInterval>;
  private lastStale = '';
  private recorder?: { record(stream: string, msg: object): void; close(): void };

  constructor(
    private readonly metrics: ConnectorMetrics,
    private readonly health?: ConnectorHealth,
  ) {}

  /**
   * Applies settings; with any staleness limit > 0 starts the age check every `staleCheckMs`
   * (updates `exchange_stream_age_seconds`, per-topic health, and the service health).
   */
  configure(opts: { maxBuffer: number } & Partial<StreamHubOptions>): void {
    this.maxBuffer = opts.maxBuffer;
    if (opts.staleAfterMs) this.staleAfterMs = opts.staleAfterMs;
    if (opts.exchange !== undefined) this.exchange = opts.exchange;
    if (this.checker) clearInterval(this.checker);
    this.checker = undefined;
    if (opts.staleCheckMs) {
      this.checker = setInterval(() => this.checkStaleness(), opts.staleCheckMs);
      this.checker.unref?.();
    }
  }

  onModuleDestroy(): void {
    if (this.checker) clearInterval(this.checker);
    this.recorder?.close();
  }

  /**
   * Every message published to subscribers is also handed to `recorder` (RECORD_FILE: it keeps the
   * market-data streams; see `MarketRecorder`). One hook for every venue.
   */
  setRecorder(recorder: { record(stream: string, msg: object): void; close(): void }): void {
    this.recorder = recorder;
  }

  /** Topics whose last venue message is older than their kind's limit. */
  staleStreams(now = Date.now()): StaleStream[] {
    const out: StaleStream[] = [];
    for (const t of this.topics.values()) {
      const limit = this.staleAfterMs[t.stream] ?? 0;
      const age = now - t.lastMessageAt;
      if (limit > 0 && age > limit) out.push({ key: t.key, stream: t.stream, ageMs: age, limitMs: limit });
    }
    return out;
  }

  /** Age check: flips topics stale/fresh, updates metrics and health. */
  checkStaleness(now = Date.now()): void {
    const maxAge = new Map<string, number>();
    for (const t of this.topics.values()) {
      const age = now - t.lastMessageAt;
      maxAge.set(t.stream, Math.max(maxAge.get(t.stream) ?? 0, age));
      const limit = this.staleAfterMs[t.stream] ?? 0;
      const stale = limit > 0 && age > limit;
      if (stale !== t.stale) {
        t.stale = stale;
        if (stale) this.log.warn(`stream ${t.key} is stale: no venue message for ${(age / 1000).toFixed(1)} s (limit ${limit / 1000} s)`);
        else this.log.log(`stream ${t.key} recovered`);
        this.health?.setStream(t.key, stale ? 'NOT_SERVING' : 'SERVING');
        this.metrics.streamConnected.set({ exchange: this.exchange, stream: t.stream }, stale ? 0 : 1);
      }
    }
    for (const k of STREAM_KINDS) this.metrics.streamAge.set({ stream: k }, (maxAge.get(k) ?? 0) / 1000);
    const stale = this.staleStreams(now);
    const sig = stale.map((s) => s.key).join(',');
    if (sig !== this.lastStale || stale.length > 0) {
      this.lastStale = sig;
      this.health?.setStale(stale);
    }
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
      const created: Topic = { key, stream, subscribers: new Set(), close: () => undefined, lastMessageAt: Date.now(), stale: false };
      this.topics.set(key, created);
      created.close = source(
        (msg) => this.publish(created, msg),
        () => {
          created.lastMessageAt = Date.now();
        },
      );
      this.metrics.streamConnected.set({ exchange: this.exchange, stream }, 1);
      this.health?.setStream(key, 'SERVING');
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
        this.metrics.streamConnected.set({ exchange: this.exchange, stream: topic.stream }, 0);
        this.health?.setStream(topic.key, 'UNKNOWN');
        if (topic.stale) this.health?.setStale(this.staleStreams());
      }
    }
    sub.topics = [];
    sub.queue = [];
  }

  private publish(topic: Topic, msg: object): void {
    topic.lastMessageAt = Date.now();
    this.metrics.streamMessages.inc({ stream: topic.stream });
    this.recorder?.record(topic.stream, msg);
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

/**
 * Adapts a venue `watch*` call to a `TopicSource` with a domain→wire encoder. The observer also
 * carries `alive()` (see `LivenessObserver` in venue/ccxt), which polled venue streams call on
 * every successful poll so that "no change" is not mistaken for "stale".
 */
export function topicSource<T>(
  watch: (observer: StreamObserver<T>) => Unsubscribe,
  encode: (value: T) => object,
): TopicSource {
  return (emit, alive) => watch({ next: (v) => emit(encode(v)), alive } as StreamObserver<T>);
}
