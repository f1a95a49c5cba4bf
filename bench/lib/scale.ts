export type ScaleName = 'smoke' | 'full';

/** Counts and durations per scale. `smoke` runs in seconds and only checks the machinery works. */
export interface Scale {
  name: ScaleName;
  unary: { warmup: number; calls: number };
  throughput: { ordersPerCase: number; concurrency: number[]; batchSizes: number[]; batchInFlight: number; warmup: number };
  fanout: {
    rates: number[];
    subscribers: number[];
    seconds: number;
    drainTimeoutMs: number;
    ceiling: { start: number; max: number; subs: number; seconds: number; maxSteps: number };
  };
  mm: { decisions: number; maxTicks: number; planCalls: number };
  live: { clients: number[]; rate: number; seconds: number };
  replay: { candles: number | undefined; engineCandles: number | undefined };
  memory: { cycles: number; loadSeconds: number; loadRate: number; loadSubscribers: number };
  sustained: { rate: number; seconds: number };
  soak: { speed: number; maxCandles?: number; clients: number; warmupSec: number; sampleSec: number; maxSec: number; idleSec: number };
}

export function getScale(name = process.env.BENCH_SCALE ?? 'full'): Scale {
  if (name === 'smoke') {
    return {
      name: 'smoke',
      unary: { warmup: 50, calls: 200 },
      throughput: { ordersPerCase: 400, concurrency: [16], batchSizes: [10], batchInFlight: 4, warmup: 50 },
      fanout: { rates: [1000], subscribers: [1, 10], seconds: 0.5, drainTimeoutMs: 3000, ceiling: { start: 500, max: 1000, subs: 4, seconds: 0.5, maxSteps: 2 } },
      mm: { decisions: 20, maxTicks: 3000, planCalls: 500 },
      live: { clients: [20], rate: 10, seconds: 1 },
      replay: { candles: 400, engineCandles: 200 },
      memory: { cycles: 30, loadSeconds: 0.5, loadRate: 1000, loadSubscribers: 4 },
      sustained: { rate: 200, seconds: 2 },
      soak: { speed: 6000, maxCandles: 600, clients: 10, warmupSec: 2, sampleSec: 2, maxSec: 60, idleSec: 3 },
    };
  }
  if (name !== 'full') throw new Error(`BENCH_SCALE must be smoke or full, got "${name}"`);
  return {
    name: 'full',
    unary: { warmup: 2000, calls: 20_000 },
    throughput: { ordersPerCase: 20_000, concurrency: [16, 64], batchSizes: [5, 20], batchInFlight: 8, warmup: 1000 },
    fanout: { rates: [1000, 10_000], subscribers: [1, 10, 50], seconds: 3, drainTimeoutMs: 8000, ceiling: { start: 2500, max: 80_000, subs: 10, seconds: 2, maxSteps: 8 } },
    mm: { decisions: 2000, maxTicks: 1_500_000, planCalls: 20_000 },
    live: { clients: [100, 1000, 2000], rate: 10, seconds: 10 },
    replay: { candles: undefined, engineCandles: undefined },
    memory: { cycles: 1000, loadSeconds: 5, loadRate: 10_000, loadSubscribers: 10 },
    sustained: { rate: 1000, seconds: 60 },
    // 73,139 candles ≈ 4.39 M market s; at 20,000× ≈ 220 s of replay
    soak: { speed: Number(process.env.BENCH_SOAK_SPEED ?? 20_000), clients: 100, warmupSec: 30, sampleSec: 10, maxSec: 1800, idleSec: 20 },
  };
}
