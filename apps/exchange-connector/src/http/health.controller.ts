import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type { ExchangeVenue } from '@mm/domain';
import { SimExchange } from '@mm/sim-exchange';
import { VENUE } from '../venue/venue.provider';
import type { Response } from 'express';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
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
  readonly grpc = new HealthImplementation({ '': 'NOT_SERVING', [EXCHANGE_SERVICE_FQN]: 'NOT_SERVING' });
  private base: ServingStatus = 'NOT_SERVING';
  private baseReason = 'starting';
  private stale: StaleStream[] = [];
  private effective: ServingStatus = 'NOT_SERVING';

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
      sim: this.venue instanceof SimExchange ? this.venue.status() : undefined,
    };
  }
}
