import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type { ExchangeVenue } from '@mm/domain';
import { SimExchange, SimSpotExchange } from '@mm/sim-exchange';
import { VENUE } from '../venue/venue.provider';
import type { Response } from 'express';
import { type Server, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status as grpcStatus } from '@grpc/grpc-js';
import { type ServingStatus, service as healthServiceDefinition } from 'grpc-health-check';
import { EXCHANGE_SERVICE_FQN } from '@mm/contracts';

/** A stream whose last venue message is older than its staleness limit. Ages in ms. */
export interface StaleStream {
  /** Topic key, e.g. `price:BTCUSDT`. */
  key: string;
  /** Stream kind, e.g. `price`. */
  stream: string;
  ageMs: number;
  limitMs: number;
}

/** grpc.health.v1 service name of one stream topic: `opensqt.exchange.stream/<key>` (e.g. `…/price:BTCUSDT`). */
export const streamHealthService = (key: string): string => `opensqt.exchange.stream/${key}`;

/**
 * Serving status shared by `grpc.health.v1.Health` (service "" and the ExchangeService name) and
 * the HTTP `/health` endpoint. NOT_SERVING until the venue is ready, and while any stream is stale
 * (README "Stream staleness"); each open stream topic also has its own health service
 * (`streamHealthService(key)`): SERVING while fresh, NOT_SERVING while stale, UNKNOWN once closed.
 */
export class ConnectorHealth {
  readonly grpc: HealthService;
  private base: ServingStatus = 'NOT_SERVING';
  private baseReason = 'starting';
  private stale: StaleStream[] = [];
  private effective: ServingStatus = 'NOT_SERVING';

  constructor(limits: { maxWatchesPerConnection?: number; maxWatches?: number } = {}) {
    this.grpc = new HealthService({ '': 'NOT_SERVING', [EXCHANGE_SERVICE_FQN]: 'NOT_SERVING' }, limits.maxWatchesPerConnection ?? 4, limits.maxWatches ?? 256);
  }

  /** Sets the venue-level status (startup, shutdown). Stale streams still force NOT_SERVING. */
  set(status: ServingStatus, reason: string): void {
    this.base = status;
    this.baseReason = reason;
    this.apply();
  }

  /** Replaces the list of stale streams (called by the StreamHub on every change). */
  setStale(stale: StaleStream[]): void {
    this.stale = stale;
    this.apply();
  }

  /** Per-topic status for `streamHealthService(key)`. */
  setStream(key: string, status: ServingStatus): void {
    this.grpc.setStatus(streamHealthService(key), status);
  }

  private apply(): void {
    const next: ServingStatus = this.base === 'SERVING' && this.stale.length > 0 ? 'NOT_SERVING' : this.base;
    this.effective = next;
    this.grpc.setStatus('', next);
    this.grpc.setStatus(EXCHANGE_SERVICE_FQN, next);
  }

  get status(): { status: ServingStatus; reason: string; staleStreams: StaleStream[] } {
    const reason =
      this.base === 'SERVING' && this.stale.length > 0
        ? `stale streams: ${this.stale.map((s) => `${s.key} (${(s.ageMs / 1000).toFixed(1)}s > ${(s.limitMs / 1000).toFixed(1)}s)`).join(', ')}`
        : this.baseReason;
    return { status: this.effective, reason, staleStreams: this.stale };
  }
}

/**
 * grpc.health.v1.Health with bounded state: only service names the connector itself registered are
 * answered (Check and Watch of any other name end with NOT_FOUND and store nothing); Watch calls are
 * capped per connection (peer ip:port) and in total (RESOURCE_EXHAUSTED). List answers the known
 * services. Replaces grpc-health-check's HealthImplementation, which remembers every watched name.
 */
export class HealthService {
  private readonly statusMap = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(s: ServingStatus) => void>>();
  private readonly perPeer = new Map<string, number>();
  private watches = 0;

  constructor(
    initial: Record<string, ServingStatus>,
    readonly maxWatchesPerConnection: number,
    readonly maxWatches: number,
  ) {
    for (const [k, v] of Object.entries(initial)) this.statusMap.set(k, v);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statusMap.set(service, status);
    for (const w of this.watchers.get(service) ?? []) w(status);
  }

  /** Open Watch calls (for tests and /status). */
  get openWatches(): number {
    return this.watches;
  }

  /** Number of known service names. */
  get knownServices(): number {
    return this.statusMap.size;
  }

  addToServer(server: Server): void {
    server.addService(healthServiceDefinition, {
      check: (call: ServerUnaryCall<{ service: string }, unknown>, cb: sendUnaryData<unknown>) => {
        const st = this.statusMap.get(call.request.service);
        if (st) cb(null, { status: st });
        else cb({ code: grpcStatus.NOT_FOUND, details: 'unknown service' });
      },
      watch: (call: ServerWritableStream<{ service: string }, unknown>) => {
        const name = call.request.service;
        const current = this.statusMap.get(name);
        if (!current) {
          call.emit('error', { code: grpcStatus.NOT_FOUND, details: 'unknown service' });
          return;
        }
        const peer = call.getPeer();
        const n = this.perPeer.get(peer) ?? 0;
        if (n >= this.maxWatchesPerConnection || this.watches >= this.maxWatches) {
          call.emit('error', { code: grpcStatus.RESOURCE_EXHAUSTED, details: n >= this.maxWatchesPerConnection ? `at most ${this.maxWatchesPerConnection} Watch calls per connection` : `at most ${this.maxWatches} Watch calls in total` });
          return;
        }
        this.perPeer.set(peer, n + 1);
        this.watches++;
        const w = (s: ServingStatus) => void call.write({ status: s });
        let set = this.watchers.get(name);
        if (!set) this.watchers.set(name, (set = new Set()));
        set.add(w);
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          this.watches--;
          const left = (this.perPeer.get(peer) ?? 1) - 1;
          if (left <= 0) this.perPeer.delete(peer);
          else this.perPeer.set(peer, left);
          const ws = this.watchers.get(name);
          ws?.delete(w);
          if (ws && ws.size === 0) this.watchers.delete(name);
        };
        call.on('cancelled', end);
        call.on('close', end);
        call.write({ status: current });
      },
      list: (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
        const statuses: Record<string, { status: ServingStatus }> = {};
        for (const [k, v] of this.statusMap) statuses[k] = { status: v };
        cb(null, { statuses });
      },
    });
  }
}

@Controller()
export class HealthController {
  constructor(
    private readonly health: ConnectorHealth,
    @Inject(VENUE) private readonly venue: ExchangeVenue,
  ) {}

  /** 200 `{status:"SERVING"}` when serving, else 503 with the reason (which names stale streams). */
  /** Kubernetes liveness: 200 while the process answers (a venue outage is /health's business, not a restart's). */
  @Get('live')
  live(): { status: 'alive'; uptimeSeconds: number } {
    return { status: 'alive', uptimeSeconds: Math.round(process.uptime()) };
  }

  @Get('health')
  @HttpCode(200)
  get(@Res({ passthrough: true }) res: Response): { status: ServingStatus; reason: string; staleStreams: StaleStream[]; time: number } {
    const s = this.health.status;
    if (s.status !== 'SERVING') res.status(503);
    return { ...s, time: Math.floor(Date.now() / 1000) };
  }

  /**
   * Venue name, serving state and `staleStreams` (`[{key, stream, ageMs, limitMs}]`, empty when all
   * are fresh); for the sim also replay progress (market time, Unix ms).
   */
  @Get('status')
  status() {
    return {
      venue: this.venue.name,
      marketType: this.venue.marketType,
      ...this.health.status,
      sim: this.venue instanceof SimExchange || this.venue instanceof SimSpotExchange ? this.venue.status() : undefined,
    };
  }
}
