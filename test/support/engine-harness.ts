import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import type { Candle, ExchangeVenue } from '@mm/domain';
import { HARNESS_CONFIG, candlesFromRows, flatRows, settleEngine } from '@mm/testing';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { buildEngineFromConfig } from '../../apps/market-maker/src/engine/engine.factory';
import type { GridEngine } from '@mm/trading';
import type { AlertSink } from '@mm/trading';
import { MmMetrics } from '../../apps/market-maker/src/http/mm.metrics';
import { mmConfigSchema } from '../../apps/market-maker/src/mm.config';
import { dataSourceOptions } from '../../apps/market-maker/src/persistence/data-source';
import { GridStore } from '../../apps/market-maker/src/persistence/grid.store';
import { openIntentJournal } from '../../apps/market-maker/src/persistence/intent-journal';

type Raw = Record<string, unknown>;
function merge(a: Raw, b: Raw): Raw {
  const out: Raw = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof a[k] === 'object' ? merge(a[k] as Raw, v as Raw) : v;
  }
  return out;
}

/** Test config: the shipped grid, wall-clock risk gates off unless a test turns them on. */
export const BASE_CONFIG: Raw = {
  instance_id: 'mm1',
  grid: { symbol: 'BTCUSDT', price_interval: '100', order_notional: '250', min_order_value: '10', buy_window: 5, sell_window: 5, max_active_orders: 50 },
  ...HARNESS_CONFIG,
  executor: { rate_per_sec: 10_000, burst: 10_000 },
};

/** 1-minute candles from [open, high, low, close] tuples, one minute apart from `t0`. */
export function candles(t0: number, rows: [string, string, string, string][]): Candle[] {
  return candlesFromRows('BTCUSDT', t0, rows);
}

/** `n` flat candles at `p`. */
export const flat = flatRows;

export interface EngineHarness {
  sim: SimExchange;
  engine: GridEngine;
  ds: DataSource;
  dir: string;
  alerts: { kind: string; title: string }[];
  registry: Registry;
  fatal: () => Error | undefined;
  /** Advances market time and waits until the engine has processed everything that caused. */
  step(marketMs: number): Promise<void>;
  settle(): Promise<void>;
  stop(cancelAll?: boolean): Promise<void>;
}

/**
 * A GridEngine as the app builds it (buildGridEngine), on a manual-time SimExchange and a real SQLite
 * file. Pass `sim` and `dir` of an earlier harness to model a restart on the same venue and database.
 */
export async function startEngine(opts: { rows?: [string, string, string, string][]; config?: Raw; sim?: SimExchange; dir?: string; wrap?: (sim: SimExchange, ds: DataSource) => ExchangeVenue } = {}): Promise<EngineHarness> {
  const sim =
    opts.sim ??
    new SimExchange({
      symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: candles(1_700_000_000_000, opts.rows ?? flat('100000', 200)) }],
      manual: true,
      historyCandles: 20,
      tickIntervalMs: 1000,
    });
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-engine-'));
  const ds = new DataSource(dataSourceOptions({ sqlitePath: path.join(dir, 'mm.sqlite') }));
  await ds.initialize();
  const config = mmConfigSchema.parse(merge(BASE_CONFIG, opts.config ?? {}));
  const alerts: { kind: string; title: string }[] = [];
  const sink: AlertSink = { notify: (e) => alerts.push({ kind: e.kind, title: e.title }) };
  const registry = new Registry();
  let fatal: Error | undefined;
  // the app's store: TypeORM reads, the intent journal for the hot write
  const journal = openIntentJournal(ds.options as { type: string });
  const engine = buildEngineFromConfig(opts.wrap ? opts.wrap(sim, ds) : sim, new GridStore(ds, 'BTCUSDT', journal), config, MmMetrics.standalone(registry), sink, (e) => {
    fatal = e;
  }, {});
  await engine.start();
  const settle = () => settleEngine(engine, undefined, 50);
  await settle();
  return {
    sim,
    engine,
    ds,
    dir,
    alerts,
    registry,
    fatal: () => fatal,
    settle,
    async step(ms: number) {
      // Small steps, so the engine answers each price like it would live.
      for (let t = 0; t < ms; t += 1000) {
        sim.advance(Math.min(1000, ms - t));
        await settle();
      }
    },
    async stop(cancelAll = false) {
      await engine.stop(cancelAll);
      await journal?.close();
      await ds.destroy();
    },
  };
}
