import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { dec } from '@mm/domain';
import { assertPrefix } from '@mm/grid';
import { MM_CONFIG, type MmConfig } from '../mm.config';
import { RemoteExchange } from '../exchange/remote-exchange';
import { GridStore } from '../persistence/grid.store';
import { MmMetrics } from '../http/mm.metrics';
import { GridEngine } from './grid-engine';

/** Nest wrapper: builds the RemoteExchange and GridEngine from config and runs them for the app's lifetime. */
@Injectable()
export class EngineService implements OnApplicationShutdown {
  private readonly log = new Logger('EngineService');
  readonly exchange: RemoteExchange;
  readonly engine: GridEngine;
  connectorState: 'connecting' | 'connected' | 'unreachable' = 'connecting';
  readonly streams: Record<string, string> = {};

  constructor(
    @Inject(MM_CONFIG) private readonly config: MmConfig,
    private readonly dataSource: DataSource,
    metrics: MmMetrics,
  ) {
    const g = config.grid;
    assertPrefix(config.instance_id);
    this.exchange = new RemoteExchange({
      address: config.exchange.address,
      token: config.exchange.token || undefined,
      connectAttempts: config.exchange.connect_attempts,
      requestTimeoutMs: config.exchange.request_timeout_ms,
      onStreamState: (stream, state, detail) => {
        this.streams[stream] = state;
        if (state === 'reconnecting') this.log.warn(`${stream} stream reconnecting: ${detail ?? ''}`);
      },
    });
    this.engine = new GridEngine(
      this.exchange,
      new GridStore(dataSource, g.symbol),
      {
        instanceId: config.instance_id,
        params: {
          symbol: g.symbol,
          priceInterval: dec(g.price_interval),
          orderNotional: dec(g.order_notional),
          minOrderValue: dec(g.min_order_value),
          buyWindow: g.buy_window,
          sellWindow: g.sell_window,
          safetyBufferRatio: dec(g.safety_buffer_ratio),
          maxActiveOrders: g.max_active_orders,
          cancelHysteresisLevels: g.cancel_hysteresis_levels,
        },
        makerFee: dec(g.maker_fee),
        reconcileIntervalMs: config.engine.reconcile_interval_ms,
        pendingTimeoutMs: config.engine.pending_timeout_ms,
        stalePriceMs: config.engine.stale_price_ms,
      },
      metrics,
      (err) => this.die(err),
    );
  }

  /** Connects (with backoff; fails fast after the configured attempts) and starts the engine. */
  async run(): Promise<void> {
    try {
      await this.exchange.connect();
      this.connectorState = 'connected';
      this.log.log(`connected to exchange connector ${this.config.exchange.address} (${this.exchange.name}, ${this.exchange.marketType})`);
    } catch (e) {
      this.connectorState = 'unreachable';
      throw e;
    }
    await this.engine.start();
  }

  private die(err: Error): void {
    this.log.error(`fatal: ${err.message}; exiting so a restart recovers from the database and the venue`);
    setTimeout(() => process.exit(1), 100).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.engine.stop(this.config.engine.cancel_on_exit);
    await this.exchange.close();
  }
}
