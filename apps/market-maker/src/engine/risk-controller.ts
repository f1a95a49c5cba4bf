import { Logger } from '@nestjs/common';
import { type Candle, Dec, ZERO } from '@mm/domain';
import type { GridAction, PlanOptions } from '@mm/grid';
import { type BreakerChangeEvent, CircuitBreaker, type ExposureLimits, RiskMonitor, type TripReason, checkExposure } from '@mm/risk';
import type { MmConfig } from '../mm.config';
import type { MmMetrics } from '../http/mm.metrics';

/** Where alerts go (the AlertService; a no-op in tests). Must never block or throw. */
export interface AlertSink {
  notify(e: {
    kind: 'breaker_tripped' | 'breaker_reset' | 'limit_hit' | 'strategy_crashed' | 'venue_disconnected' | 'venue_reconnected' | 'risk_triggered' | 'reconciliation_divergence';
    level: 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
    title: string;
    message: string;
    fields?: Record<string, string>;
    dedupeKey?: string;
  }): unknown;
}

/** What the engine must do after a risk state change. */
export type RiskReaction = 'cancel_opening' | 'cancel_all' | null;

/**
 * The engine's risk gate for one symbol: the circuit breaker (losses, drawdown, latency, stale feeds,
 * reconciliation, manual), the market-crash guard (volume spike with close below its average), the
 * operator's pause, a margin lock, and pre-trade exposure limits. It decides what a planning pass may
 * do (`planOptions`) and screens each planned order (`screen`); on a trip it tells the engine what to
 * cancel. Every transition is logged, counted in metrics and sent as an alert.
 */
export class RiskController {
  private readonly log = new Logger('Risk');
  readonly breaker: CircuitBreaker;
  readonly monitor: RiskMonitor | null;
  /** Symbols whose 1m candles feed the crash guard and ATR (the traded symbol first). */
  readonly monitorSymbols: string[];
  private readonly limits: ExposureLimits;
  paused = false;
  marginLockUntilMs = 0;
  blocked: Record<string, number> = {};
  private reaction: RiskReaction = null;

  constructor(
    private readonly cfg: MmConfig,
    private readonly metrics: MmMetrics,
    private readonly alerts: AlertSink,
  ) {
    const b = cfg.risk.breaker;
    this.breaker = new CircuitBreaker({
      maxConsecutiveLosses: b.max_consecutive_losses,
      drawdownWindowMs: b.drawdown_window_ms,
      maxDrawdownAbs: new Dec(b.max_drawdown_abs),
      maxDrawdownPct: new Dec(b.max_drawdown_pct),
      latencyWindowMs: b.latency_window_ms,
      maxLatencyP99Ms: b.max_latency_p99_ms,
      minLatencySamples: b.min_latency_samples,
      maxPriceAgeMs: b.max_price_age_ms,
      maxOrderStreamAgeMs: b.max_order_stream_down_ms,
      cooldownMs: b.cooldown_ms,
      halfOpenProbeMs: b.half_open_probe_ms,
    });
    this.breaker.onChange((e) => this.onBreaker(e));
    const m = cfg.risk.monitor;
    this.monitorSymbols = [...new Set([cfg.grid.symbol, ...m.symbols])];
    this.monitor = m.enabled
      ? new RiskMonitor({
          symbols: this.monitorSymbols,
          averageWindow: m.average_window,
          volumeMultiplier: new Dec(m.volume_multiplier),
          policy: m.policy,
          recoveryThreshold: m.recovery_threshold,
        })
      : null;
    this.monitor?.onChange((e) => {
      this.metrics.riskTriggered.set({ symbol: cfg.grid.symbol }, e.triggered ? 1 : 0);
      this.log.warn(`crash guard ${e.triggered ? 'TRIGGERED' : 'cleared'}: ${e.detail}`);
      this.alerts.notify({ kind: 'risk_triggered', level: e.triggered ? 'CRITICAL' : 'INFO', title: e.triggered ? 'Crash guard triggered' : 'Crash guard cleared', message: e.detail, fields: { symbols: e.symbols.join(',') } });
      if (e.triggered) this.reaction = 'cancel_opening';
    });
    const x = cfg.risk.exposure;
    this.limits = { maxPositionNotional: new Dec(x.max_position_notional), maxTotalNotional: new Dec(x.max_total_notional), maxOpenOrderNotional: new Dec(x.max_open_order_notional) };
  }

  private onBreaker(e: BreakerChangeEvent): void {
    const symbol = this.cfg.grid.symbol;
    this.metrics.breakerOpen.set({ symbol }, e.to === 'OPEN' ? 1 : e.to === 'HALF_OPEN' ? 0.5 : 0);
    if (e.to === 'OPEN') {
      this.metrics.breakerTrips.inc({ symbol, reason: e.reason ?? 'unknown' });
      this.log.error(`circuit breaker OPEN (${e.reason}): ${e.detail}`);
      this.alerts.notify({ kind: 'breaker_tripped', level: 'CRITICAL', title: `Circuit breaker tripped: ${e.reason}`, message: e.detail, fields: { symbol }, dedupeKey: `breaker:${e.reason}` });
      this.reaction = this.cfg.risk.keep_exits_on_trip ? 'cancel_opening' : 'cancel_all';
    } else {
      this.log.warn(`circuit breaker ${e.from} → ${e.to}`);
      if (e.to === 'CLOSED') this.alerts.notify({ kind: 'breaker_reset', level: 'INFO', title: 'Circuit breaker closed', message: `${e.from} → CLOSED`, fields: { symbol } });
    }
  }

  /** The cancellation a transition asked for, once. */
  takeReaction(): RiskReaction {
    const r = this.reaction;
    this.reaction = null;
    return r;
  }

  onCandle(c: Candle): void {
    this.monitor?.onCandle(c);
  }

  /** Feeds time-based inputs to the breaker. `orderStreamDownMs` is 0 while the stream is up. */
  evaluate(nowMs: number, priceAgeMs: number, orderStreamDownMs: number, equity: Dec | null): void {
    if (equity) this.breaker.recordEquity(equity, nowMs);
    this.breaker.checkFeeds(priceAgeMs, orderStreamDownMs, nowMs);
    this.breaker.tick(nowMs);
  }

  trip(reason: TripReason, detail: string, nowMs: number): void {
    this.breaker.trip(reason, detail, nowMs);
  }

  /** What the next planning pass may do. */
  planOptions(nowMs: number, interval: Dec): PlanOptions {
    const opening = !this.paused && this.breaker.allowsOpening && !this.monitor?.triggered && nowMs >= this.marginLockUntilMs;
    const closing = !this.paused && (this.breaker.state !== 'OPEN' || this.cfg.risk.keep_exits_on_trip);
    return { interval, allowOpening: opening, allowClosing: closing, sizeFactor: this.breaker.sizeFactor };
  }

  /**
   * Drops planned opening orders that would breach an exposure limit (exits always pass).
   * @param positions signed base quantity and mark per symbol; `openOpening` Σ live opening notional.
   */
  screen(actions: GridAction[], positions: Map<string, { qty: Dec; markPrice: Dec }>, openOpening: Dec): GridAction[] {
    const symbol = this.cfg.grid.symbol;
    const pendingOpen = new Map([[symbol, openOpening]]);
    const out: GridAction[] = [];
    for (const a of actions) {
      if (a.kind !== 'place' || a.exit) {
        out.push(a);
        continue;
      }
      const v = checkExposure(this.limits, { positions, openOpeningOrders: pendingOpen }, { symbol, side: a.side, price: a.price, quantity: a.quantity, reduceOnly: false });
      if (v.ok) {
        out.push(a);
        pendingOpen.set(symbol, (pendingOpen.get(symbol) ?? ZERO).plus(a.price.mul(a.quantity)));
      } else {
        this.blocked[v.reason] = (this.blocked[v.reason] ?? 0) + 1;
        this.metrics.ordersBlocked.inc({ symbol, reason: v.reason });
        this.log.warn(`order blocked by ${v.reason}: ${a.side} ${a.quantity} @ ${a.price} (${v.detail})`);
        this.alerts.notify({ kind: 'limit_hit', level: 'WARNING', title: `Exposure limit: ${v.reason}`, message: v.detail, fields: { symbol }, dedupeKey: `limit:${v.reason}` });
      }
    }
    return out;
  }

  snapshot() {
    return {
      breaker: { state: this.breaker.state, reason: this.breaker.reason, detail: this.breaker.detail || undefined, trippedAtMs: this.breaker.trippedAtMs },
      crashGuard: { enabled: !!this.monitor, triggered: this.monitor?.triggered ?? false },
      paused: this.paused,
      marginLocked: Date.now() < this.marginLockUntilMs,
      blocked: this.blocked,
    };
  }
}
