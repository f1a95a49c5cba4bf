import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { appVersion } from '@mm/platform';
import { MM_CONFIG, type MmConfig } from '../mm.config';
import { EngineService } from '../engine/engine.service';
import { MmMetrics } from '../http/mm.metrics';
import type { AlertStats } from '../alerts/alert.service';

/** How often the app-level gauges are refreshed, ms. */
const GAUGE_INTERVAL_MS = 1000;

/**
 * App-layer view of the engine: refreshes the gauges the engine does not write (equity, breaker
 * state and reason, dead-man state, alert delivery) and logs a one-line summary every
 * `log.summary_interval_ms` (default 60 s):
 *
 *   summary BTCUSDT: PnL realized +1.23 unrealized -0.40 USDT, inventory 0.004, open orders 18, fills 12, breaker CLOSED, dead-man armed
 */
@Injectable()
export class MmTelemetryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Summary');
  private gaugeTimer?: NodeJS.Timeout;
  private summaryTimer?: NodeJS.Timeout;
  private lastAlerts: AlertStats | undefined;
  private lastBreakerKey = '';

  constructor(
    @Inject(MM_CONFIG) private readonly config: MmConfig,
    private readonly engine: EngineService,
    private readonly metrics: MmMetrics,
  ) {}

  onApplicationBootstrap(): void {
    for (const symbol of this.engine.runners.keys()) this.metrics.initSymbol(symbol, appVersion());
    this.refresh();
    this.gaugeTimer = setInterval(() => this.refresh(), GAUGE_INTERVAL_MS);
    this.gaugeTimer.unref();
    const every = this.config.log.summary_interval_ms;
    if (every > 0) {
      this.summaryTimer = setInterval(() => {
        for (const r of this.engine.runners.values()) this.log.log(this.summaryLine(r.engine.snapshot()));
      }, every);
      this.summaryTimer.unref();
    }
  }

  onApplicationShutdown(): void {
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    if (this.summaryTimer) clearInterval(this.summaryTimer);
  }

  /** The summary line of one symbol engine (default: the default symbol's; exact decimals from the engine snapshot). */
  summaryLine(s = this.engine.engine.snapshot()): string {
    const signed = (v: string) => (v.startsWith('-') ? v : `+${v}`);
    const b = s.risk.breaker;
    const breaker = b.state === 'CLOSED' ? 'CLOSED' : `${b.state} (${b.reason}${b.detail ? `: ${b.detail}` : ''})`;
    const dm = this.engine.deadManEnabled ? (this.engine.deadMan.armed ? 'armed' : 'NOT armed') : 'off';
    const paused = s.risk.paused ? ', PAUSED' : '';
    return (
      `summary ${s.symbol}: PnL realized ${signed(s.realizedPnl)} unrealized ${signed(s.unrealizedPnl)} (quote), ` +
      `inventory ${s.inventory}, open orders ${s.slots.pending + s.slots.locked}, fills ${s.fills}, breaker ${breaker}, dead-man ${dm}${paused}, state ${s.state}`
    );
  }

  private refresh(): void {
    const symbol = this.config.grid.symbol;
    // every symbol engine: equity and breaker state labelled by symbol
    const keys: string[] = [];
    for (const r of this.engine.runners.values()) {
      const s = r.engine.snapshot();
      this.metrics.equity.set({ symbol: r.symbol }, Number(s.realizedPnl) + Number(s.unrealizedPnl) + Number(s.fundingPnl));
      const b = s.risk.breaker;
      keys.push(`${r.symbol}|${b.state}|${b.state === 'CLOSED' ? 'none' : String(b.reason ?? 'unknown')}`);
    }
    this.engine.refreshAccountMetrics();
    const key = keys.join(';');
    if (key !== this.lastBreakerKey) {
      this.metrics.breakerState.reset();
      for (const k of keys) {
        const [sym, state, reason] = k.split('|');
        this.metrics.breakerState.set({ symbol: sym, state, reason }, 1);
      }
      this.lastBreakerKey = key;
    }
    const dm = this.engine.deadMan;
    this.metrics.deadManArmed.set({ symbol }, dm.armed ? 1 : 0);
    this.metrics.deadManRemaining.set({ symbol }, dm.armed && dm.deadlineMs > 0 ? Math.max(0, dm.deadlineMs - Date.now()) / 1000 : 0);
    const a = this.engine.alerts.stats();
    const prev = this.lastAlerts;
    const delta = (k: keyof AlertStats) => Math.max(0, a[k] - (prev?.[k] ?? 0));
    this.metrics.alerts.inc({ outcome: 'sent' }, delta('sent'));
    this.metrics.alerts.inc({ outcome: 'failed' }, delta('failed'));
    this.metrics.alerts.inc({ outcome: 'dropped' }, delta('dropped'));
    this.metrics.alerts.inc({ outcome: 'deduped' }, delta('deduped'));
    this.metrics.alerts.inc({ outcome: 'rate_limited' }, delta('rateLimited'));
    this.lastAlerts = a;
  }
}
