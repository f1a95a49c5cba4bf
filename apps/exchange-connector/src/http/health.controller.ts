import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type { ExchangeVenue } from '@mm/domain';
import { SimExchange } from '@mm/sim-exchange';
import { VENUE } from '../venue/venue.provider';
import type { Response } from 'express';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { EXCHANGE_SERVICE_FQN } from '@mm/contracts';

/**
 * Serving status shared by `grpc.health.v1.Health` (service "" and the ExchangeService name) and
 * the HTTP `/health` endpoint. NOT_SERVING until the venue is ready.
 */
export class ConnectorHealth {
  readonly grpc = new HealthImplementation({ '': 'NOT_SERVING', [EXCHANGE_SERVICE_FQN]: 'NOT_SERVING' });
  private current: ServingStatus = 'NOT_SERVING';
  private reason = 'starting';

  set(status: ServingStatus, reason: string): void {
    this.current = status;
    this.reason = reason;
    this.grpc.setStatus('', status);
    this.grpc.setStatus(EXCHANGE_SERVICE_FQN, status);
  }

  get status(): { status: ServingStatus; reason: string } {
    return { status: this.current, reason: this.reason };
  }
}

@Controller()
export class HealthController {
  constructor(
    private readonly health: ConnectorHealth,
    @Inject(VENUE) private readonly venue: ExchangeVenue,
  ) {}

  /** 200 `{status:"SERVING"}` when serving, else 503 with the reason. */
  @Get('health')
  @HttpCode(200)
  get(@Res({ passthrough: true }) res: Response): { status: ServingStatus; reason: string; time: number } {
    const s = this.health.status;
    if (s.status !== 'SERVING') res.status(503);
    return { ...s, time: Math.floor(Date.now() / 1000) };
  }

  /** Venue name and serving state; for the sim also replay progress (market time, Unix ms). */
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
