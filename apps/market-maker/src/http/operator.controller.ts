import { BadRequestException, Body, type CanActivate, ConflictException, Controller, type ExecutionContext, Get, HttpCode, Injectable, NotFoundException, Param, Post, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { EngineService, OrchestratorError } from '../engine/engine.service';
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
 * pause/resume quoting, trip/reset the circuit breaker, reconcile now, cancel all, list slots and intents
 * (all of the default symbol), and the symbol orchestrator: list, add (with grid overrides, validated),
 * pause, resume and remove (`position: keep | flatten`) symbol engines at runtime.
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
    // the account drawdown breaker (a loss breaker shared by every symbol) closes with the same reset
    if (this.svc.accountView.drawdown.open) this.svc.accountView.reset();
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

  /** Every symbol the orchestrator knows (active, paused, restarting, removed) with its grid. */
  @Get('symbols')
  symbols() {
    return this.svc.listSymbols();
  }

  /** Adds a symbol engine: body `{ symbol, …grid overrides }` (snake_case `grid` keys; unknown keys are 400 naming them). */
  @Post('symbols')
  @HttpCode(201)
  addSymbol(@Body() body: unknown) {
    return orchestrated(() => this.svc.addSymbol(body));
  }

  @Post('symbols/:symbol/pause')
  @HttpCode(200)
  pauseSymbol(@Param('symbol') symbol: string) {
    return orchestrated(() => this.svc.setSymbolPaused(symbol, true));
  }

  @Post('symbols/:symbol/resume')
  @HttpCode(200)
  resumeSymbol(@Param('symbol') symbol: string) {
    return orchestrated(() => this.svc.setSymbolPaused(symbol, false));
  }

  /** Removes a symbol engine: cancels its orders; body `{ position: "keep" | "flatten" }` (required; flatten = a reduce-only order). */
  @Post('symbols/:symbol/remove')
  @HttpCode(200)
  removeSymbol(@Param('symbol') symbol: string, @Body() body: { position?: unknown } = {}) {
    return orchestrated(() => this.svc.removeSymbol(symbol, body?.position));
  }

  /**
   * Funding arbitrage: exit the pair's position (both legs, journaled, deterministic client order ids)
   * and pause its entries until `arb/:symbol/resume`. 404 for a symbol that is not an arbitrage pair,
   * 409 when the arbitrage is not running.
   */
  @Post('arb/:symbol/exit')
  @HttpCode(202)
  arbExit(@Param('symbol') symbol: string, @Body() body: { reason?: string } = {}) {
    const strategy = this.arbStrategy(symbol);
    strategy.requestExit(symbol, String(body?.reason ?? 'operator exit').slice(0, 200));
    return strategy.status().find((s) => s.symbol === symbol);
  }

  /** Funding arbitrage: allow entries on the pair again after an operator exit. */
  @Post('arb/:symbol/resume')
  @HttpCode(200)
  arbResume(@Param('symbol') symbol: string) {
    const strategy = this.arbStrategy(symbol);
    strategy.resumeEntries(symbol);
    return strategy.status().find((s) => s.symbol === symbol);
  }

  private arbStrategy(symbol: string) {
    const strategy = this.svc.arb.strategy;
    if (!strategy) throw new ConflictException('funding arbitrage is not running (funding_arb.enabled)');
    if (!strategy.status().some((s) => s.symbol === symbol)) throw new NotFoundException(`${symbol} is not a funding_arb pair`);
    return strategy;
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

/** Maps the orchestrator's request errors onto HTTP 400 / 404 / 409. */
async function orchestrated<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof OrchestratorError)) throw e;
    if (e.code === 404) throw new NotFoundException(e.message);
    if (e.code === 409) throw new ConflictException(e.message);
    throw new BadRequestException(e.message);
  }
}
