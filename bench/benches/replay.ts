import { Dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import type { Bench } from '../lib/context';
import { btcCandles, createHarness } from '../lib/mm-harness';
import { row, side } from '../lib/results';
import { Samples, nowNs, round, summarize } from '../lib/stats';

const POINTS_PER_CANDLE = 60; // tickIntervalMs 1000

/**
 * Replay speed over the BTCUSDT 1-minute CSV. A market event = one intra-minute price point the sim
 * processes (matching resting orders against it); 60 per candle at the default 1 s tick interval.
 */
export const replayBench: Bench = {
  name: 'replay',
  title: 'Replay speed: sim + market maker over BTCUSDT 1m (2025-05-04 … 06-24)',
  async run(ctx) {
    const all = btcCandles();
    const simCandles = ctx.scale.replay.candles ? all.slice(0, ctx.scale.replay.candles) : all;
    const engCandles = ctx.scale.replay.engineCandles ? all.slice(0, ctx.scale.replay.engineCandles) : all;

    // baseline: the sim alone, one price observer, advanced a minute at a time
    const sim = new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles: simCandles }], manual: true, tickIntervalMs: 1000, initialBalance: new Dec(100000) });
    let seen = 0;
    sim.watchPrice('BTCUSDT', { next: () => void seen++ });
    const simSteps = new Samples(simCandles.length);
    let t0 = nowNs();
    while (!sim.status().finished) {
      const a = nowNs();
      sim.advance(60_000);
      simSteps.add(nowNs() - a);
    }
    const simSecs = (nowNs() - t0) / 1e9;
    const simEvents = sim.status().candlesReplayed * POINTS_PER_CANDLE;
    ctx.log(`replay sim only: ${simEvents} events in ${round(simSecs, 2)} s`);

    // product: the sim driving GridEngine with SQLite persistence
    const h = await createHarness(ctx.workDir, { candles: engCandles, measure: false });
    const steps = new Samples(engCandles.length);
    let engSecs = 0;
    let engEvents = 0;
    try {
      t0 = nowNs();
      while (!h.sim.status().finished) {
        const a = nowNs();
        h.sim.advance(60_000);
        await h.settle();
        steps.add(nowNs() - a);
      }
      engSecs = (nowNs() - t0) / 1e9;
      engEvents = h.sim.status().candlesReplayed * POINTS_PER_CANDLE;
      ctx.log(`replay sim + engine: ${engEvents} events in ${round(engSecs, 2)} s, ${h.requests.place} orders`);
      const fills = h.sim.allTrades().length;
      const p = side(summarize(steps.values(), 1e-6), engEvents / engSecs);
      const b = side(summarize(simSteps.values(), 1e-6), simEvents / simSecs);
      return {
        method: `In-process, after loading the CSV (${all.length} candles; not timed). Product: SimExchange (manual mode, 1 s path points) driving GridEngine with the real SQLite GridStore, advanced one market minute at a time with the engine queue drained after each minute (${engCandles.length} candles incl. 100 history). Baseline: the same sim with one price observer and no engine (${simCandles.length} candles). Market event = one intra-minute price point processed (matched against resting orders): ${POINTS_PER_CANDLE} per candle. Latency columns: wall time of one market minute (advance + engine).`,
        rows: [
          row('sim + GridEngine + SQLite vs sim alone', p, b, 'events/s', {
            candles: engCandles.length,
            ordersPlaced: h.requests.place,
            cancels: h.requests.cancel,
            fills,
            engineTicks: h.ticks,
          }),
        ],
        targets: [
          { what: 'replay, sim + market maker', target: '≥ 200,000 events/s', value: `${Math.round(p.throughput).toLocaleString('en-US')} events/s`, pass: p.throughput >= 200_000 },
          { what: 'replay, sim alone (informational)', target: '≥ 200,000 events/s', value: `${Math.round(b.throughput).toLocaleString('en-US')} events/s`, pass: b.throughput >= 200_000 },
        ],
        notes: [`ticks seen by the baseline observer: ${seen}`],
      };
    } finally {
      await h.close();
    }
  },
};
