import { Body, type CanActivate, Controller, type ExecutionContext, Get, HttpCode, Injectable, NotFoundException, Post, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { EngineService } from '../engine/engine.service';
import { MmAccess } from './access';

/**
 * Bearer-token check for the operator API: 404 when no token is configured, 401 without a token,
 * 403 for a wrong one (SHA-256 digests compared in constant time), 429 once the client IP has
 * failed `operator.max_failures_per_min` times in a minute.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  constructor(private readonly access: MmAccess) {}

  canActivate(ctx: ExecutionContext): boolean {
    const digest = this.access.operator;
    if (!digest) throw new NotFoundException('operator API disabled: set operator.token (OPERATOR_TOKEN or OPERATOR_TOKEN_FILE)');
    this.access.verify(ctx.switchToHttp().getRequest<Request>(), digest, 'operator');
    return true;
  }
}

/**
 * Operator API of the market maker (token-protected, `Authorization: Bearer <operator.token>`):
 * pause/resume quoting, trip/reset the circuit breaker, reconcile now, cancel all, list slots and intents.
 */
@Controller('operator')
@UseGuards(OperatorGuard)
export class OperatorController {
  constructor(private readonly svc: EngineService) {}

  @Post('pause')
  @HttpCode(200)
  async pause() {
    await this.svc.engine.setPaused(true);
    return { paused: true };
  }

  @Post('resume')
  @HttpCode(200)
  async resume() {
    await this.svc.engine.setPaused(false);
    return { paused: false };
  }

  @Post('breaker/trip')
  @HttpCode(200)
  async trip(@Body() body: { reason?: string } = {}) {
    await this.svc.engine.tripBreaker(String(body?.reason ?? 'operator').slice(0, 200));
    return this.svc.engine.risk.snapshot().breaker;
  }

  @Post('breaker/reset')
  @HttpCode(200)
  async reset() {
    await this.svc.engine.resetBreaker();
    return this.svc.engine.risk.snapshot().breaker;
  }

  @Post('reconcile')
  @HttpCode(200)
  reconcile() {
    return this.svc.engine.reconcileNow();
  }

  @Post('cancel-all')
  @HttpCode(200)
  async cancelAll() {
    await this.svc.engine.cancelAll();
    return { cancelled: true, paused: true };
  }

  @Get('slots')
  slots() {
    return this.svc.engine.listSlots();
  }

  @Get('intents')
  intents() {
    return this.svc.engine.listIntents();
  }
}
