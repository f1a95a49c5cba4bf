import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Dec, type ExchangeVenue, type OrderEvent, type OrderRequest, type PriceTick, type StreamObserver, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules, loadKlineCsv } from '@mm/sim-exchange';
import type { Candle } from '@mm/domain';
import type { GridParams } from '@mm/grid';
import type { GridEngine } from '@mm/trading';
import { buildEngineFromConfig } from '../../apps/market-maker/src/engine/engine.factory';
import { mmConfigSchema } from '../../apps/market-maker/src/mm.config';
import { MmMetrics } from '../../apps/market-maker/src/http/mm.metrics';
import { dataSourceOptions } from '../../apps/market-maker/src/persistence/data-source';
import { GridStore, type StateChange } from '../../apps/market-maker/src/persistence/grid.store';
import { type PgSynchronousCommit, openIntentJournal } from '../../apps/market-maker/src/persistence/intent-journal';
import { HARNESS_CONFIG, settleEngine } from '@mm/testing';
import { BTC_CSV } from './proc';
import { Samples, nowNs } from './stats';

let csvCache: Candle[] | undefined;
export function btcCandles(): Candle[] {
  csvCache ??= loadKlineCsv(BTC_CSV, 'BTCUSDT');
  return csvCache;
}

/** Grid parameters of config/market-maker.yaml. */
export const GRID: GridParams = {
  symbol: 'BTCUSDT',
  mode: 'long',
  inventorySkewFactor: dec('0'),
  priceInterval: dec('100'),
  orderNotional: dec('250'),
  minOrderValue: dec('10'),
  buyWindow: 10,
  sellWindow: 10,
  safetyBufferRatio: dec('0.1'),
  maxActiveOrders: 50,
  cancelHysteresisLevels: 1,
};

export interface Harness {
  sim: SimExchange;
  engine: GridEngine;
  store: GridStore;
  dataSource: DataSource;
  /** Tick delivered to the engine → first order request (place or cancel) leaving it, ns. */
  decision: Samples;
  /** The same, for ticks delivered with no fill earlier in the same market step. */
  decisionQuiet: Samples;
  /** Fill event delivered → the transaction booking it committed, ns. */
  fillPersist: Samples;
  /** GridStore.apply (one SQLite transaction), ns. */
  apply: Samples;
  requests: { place: number; cancel: number };
  /** Ticks delivered to the engine. */
  ticks: number;
  /** Runs queued engine work until the queue is empty. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * GridEngine from dist on a SimExchange (manual mode, BTCUSDT 1m CSV) as its ExchangeVenue and a
 * real SQLite GridStore (TypeORM, the app's migrations), instrumented at the venue port and the
 * store: hrtime when a tick / fill reaches the engine, when an order request leaves it, and when
 * a store transaction commits. `measure` false skips the per-event bookkeeping (replay speed).
 */
export async function createHarness(
  workDir: string,
  opts: {
    candles: Candle[];
    measure?: boolean;
    params?: GridParams;
    /** postgres:// URL of an empty database (migrations run here); default: a fresh SQLite file in workDir. */
    databaseUrl?: string;
    /** Hot write through the app's intent journal (default, as in the app) or TypeORM transactions (false). */
    journal?: boolean;
    /** PostgreSQL journal: synchronous_commit policy (default `intents`, as in the app). */
    pgSynchronousCommit?: PgSynchronousCommit;
  },
): Promise<Harness> {
  Logger.overrideLogger(false);
  const measure = opts.measure ?? true;
  const sim = new SimExchange({
    symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: opts.candles }],
    manual: true,
    tickIntervalMs: 1000,
    initialBalance: new Dec(100000),
  });
  const file = path.join(workDir, `mm-${process.pid}-${Date.now()}.sqlite`);
  const dataSource = new DataSource(dataSourceOptions({ sqlitePath: file, databaseUrl: opts.databaseUrl }));
  await dataSource.initialize();
  const journal = opts.journal === false ? undefined : openIntentJournal(dataSource.options as { type: string }, { pgSynchronousCommit: opts.pgSynchronousCommit });
  await journal?.connect();
  const store = new GridStore(dataSource, 'BTCUSDT', journal);

  const h = {
    decision: new Samples(),
    decisionQuiet: new Samples(),
    fillPersist: new Samples(),
    apply: new Samples(),
    requests: { place: 0, cancel: 0 },
    ticks: 0,
  } as Harness;
  const fillAt = new Map<string, number>();
  let tickAt = 0;
  let tickPending = false;
  let tickQuiet = true;
  let fillSinceTick = false;
  let fatal: Error | undefined;
  const leaving = () => {
    if (!measure || !tickPending) return;
    const d = nowNs() - tickAt;
    h.decision.add(d);
    if (tickQuiet) h.decisionQuiet.add(d);
    tickPending = false;
  };
  const venue = new Proxy(sim, {
    get(target, prop) {
      switch (prop) {
        case 'watchOrders':
          return (o: StreamObserver<OrderEvent>) => {
            const u = target.watchOrders({
              next: (e) => {
                if (measure && e.lastTrade) {
                  fillAt.set(e.lastTrade.tradeId, nowNs());
                  fillSinceTick = true;
                }
                o.next(e);
              },
            });
            queueMicrotask(() => o.subscribed?.(false));
            return u;
          };
        case 'watchPrice':
          return (symbol: string, o: StreamObserver<PriceTick>) => {
            const u = target.watchPrice(symbol, {
              next: (t) => {
                h.ticks++;
                if (measure) {
                  tickAt = nowNs();
                  tickPending = true;
                  tickQuiet = !fillSinceTick;
                  fillSinceTick = false;
                }
                o.next(t);
              },
            });
            queueMicrotask(() => o.subscribed?.(false));
            return u;
          };
        case 'placeOrder':
          return (r: OrderRequest) => {
            leaving();
            h.requests.place++;
            return target.placeOrder(r);
          };
        case 'cancelOrder':
          return (s: string, id: string) => {
            leaving();
            h.requests.cancel++;
            return target.cancelOrder(s, id);
          };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as unknown as ExchangeVenue;

  const apply = store.apply.bind(store);
  // keeps a synchronous journal synchronous (no await added on the measured path)
  // a journal that writes bookings behind the engine (PostgreSQL) tells when they committed
  const whenWritten = (journal as { whenWritten?: () => Promise<void> } | undefined)?.whenWritten?.bind(journal);
  store.apply = (change: StateChange) => {
    const t0 = nowNs();
    const r = apply(change);
    if (r instanceof Promise) return r.then(() => applied(t0, change));
    if (whenWritten) void whenWritten().then(() => applied(t0, change), () => undefined);
    else applied(t0, change);
  };
  const applied = (t0: number, change: StateChange) => {
    if (!measure) return;
    const t1 = nowNs();
    h.apply.add(t1 - t0);
    for (const f of change.fills ?? []) {
      const at = fillAt.get(f.tradeId);
      if (at !== undefined) {
        h.fillPersist.add(t1 - at);
        fillAt.delete(f.tradeId);
      }
    }
  };

  const gp = opts.params ?? GRID;
  // Risk gates that depend on wall-clock feeds are off: the bench drives market time itself.
  const config = mmConfigSchema.parse({
    instance_id: 'bench',
    grid: {
      symbol: gp.symbol,
      mode: gp.mode,
      inventory_skew_factor: gp.inventorySkewFactor.toString(),
      price_interval: gp.priceInterval.toString(),
      order_notional: gp.orderNotional.toString(),
      min_order_value: gp.minOrderValue.toString(),
      buy_window: gp.buyWindow,
      sell_window: gp.sellWindow,
      safety_buffer_ratio: gp.safetyBufferRatio.toString(),
      max_active_orders: gp.maxActiveOrders,
      cancel_hysteresis_levels: gp.cancelHysteresisLevels,
    },
    ...HARNESS_CONFIG,
    executor: { rate_per_sec: 1e9, burst: 1e9 },
  });
  const engine = buildEngineFromConfig(venue, store, config, MmMetrics.standalone(), { notify: () => undefined }, (err) => {
    fatal = err;
  });
  await engine.start();
  Object.assign(h, {
    sim,
    engine,
    store,
    dataSource,
    settle: () =>
      settleEngine(engine, () => {
        if (fatal) throw new Error(`engine failed: ${fatal.message}`);
      }),
    async close() {
      await engine.stop(false);
      await journal?.close();
      await dataSource.destroy();
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}-wal`, { force: true });
      fs.rmSync(`${file}-shm`, { force: true });
    },
  });
  await h.settle();
  return h;
}
