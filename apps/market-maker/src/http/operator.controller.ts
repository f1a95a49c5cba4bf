import { timingSafeEqual } from 'node:crypto';
import { Body, type CanActivate, Controller, type ExecutionContext, ForbiddenException, Get, HttpCode, Inject, Injectable, NotFoundException, Post, UnauthorizedException, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { MM_CONFIG, type MmConfig } from '../mm.config';
import { EngineService } from '../engine/engine.service';

/** Bearer-token check for the operator API: 404 when no token is configured, 401 without a token, 403 for a wrong one. */
@Injectable()
export class OperatorGuard implements CanActivate {
  constructor(@Inject(MM_CONFIG) private readonly config: MmConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const expected = this.config.operator.token;
    if (!expected) throw new NotFoundException('operator API disabled: set operator.token (OPERATOR_TOKEN)');
    const header = ctx.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(header);
    if (!m) throw new UnauthorizedException('missing bearer token');
    const a = Buffer.from(m[1]);
    const b = Buffer.from(expected);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new ForbiddenException('invalid operator token');
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
