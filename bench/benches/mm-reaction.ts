import { planGrid } from '@mm/grid';
import { Dec } from '@mm/domain';
import type { Bench } from '../lib/context';
import { btcCandles, createHarness, GRID } from '../lib/mm-harness';
import { row, side } from '../lib/results';
import { Samples, nowNs, round, summarize } from '../lib/stats';

export const mmBench: Bench = {
  name: 'mm-reaction',
  title: 'Market maker reaction: tick → order request, fill → slot persisted, planGrid',
  async run(ctx) {
    const sc = ctx.scale.mm;
    const candles = btcCandles().slice(0, 100 + Math.ceil(sc.ticks / 60) + 2);
    // a 50 USDT grid (vs 100 in config/market-maker.yaml; still covers round-trip fees) so that more ticks lead to orders
    const params = { ...GRID, priceInterval: new Dec(50), orderNotional: new Dec(250) };
    const h = await createHarness(ctx.workDir, { candles, params });
    try {
      const t0 = nowNs();
      for (let i = 0; i < sc.ticks && !h.sim.status().finished; i++) {
        h.sim.advance(1000); // one path point = one price tick to the engine
        await h.settle();
      }
      const secs = (nowNs() - t0) / 1e9;
      if (h.engine.state !== 'running') throw new Error(`engine ${h.engine.state}: ${h.engine.lastError}`);
      const engine = h.engine.planningState();
      // pure decision pass over the engine's final slots, at prices around the last one
      const plan = new Samples(sc.planCalls);
      const last = await h.sim.getLatestPrice('BTCUSDT');
      const prices = Array.from({ length: 64 }, (_, i) => last.plus((i - 32) * 25));
      let actions = 0;
      for (let i = 0; i < sc.planCalls; i++) {
        const a = nowNs();
        actions += planGrid(engine.slots, prices[i & 63], engine.anchorPrice!, params, engine.rules).length;
        plan.add(nowNs() - a);
      }
      const planS = summarize(plan.values(), 1e-6);
      const planSide = side(planS, 1000 / planS.mean);
      const dec = summarize(h.decision.values(), 1e-6);
      const quiet = summarize(h.decisionQuiet.values(), 1e-6);
      const fill = summarize(h.fillPersist.values(), 1e-6);
      const apply = summarize(h.apply.values(), 1e-6);
      const rows = [
        row('tick → first order request (all ticks that traded)', side(dec, h.ticks / secs), planSide, 'ticks/s', {
          ticks: h.ticks,
          places: h.requests.place,
          cancels: h.requests.cancel,
        }),
        row('tick → first order request (no fill earlier in the step)', side(quiet, h.ticks / secs), planSide, 'ticks/s'),
        row('fill event → slot + fill committed (SQLite)', side(fill, fill.n / secs), undefined, 'fills/s'),
        row('GridStore.apply (one SQLite transaction)', side(apply, apply.n / secs), undefined, 'tx/s'),
        row('planGrid alone (pure decision)', planSide, undefined, 'calls/s', { actionsPerCall: round(actions / sc.planCalls, 2) }),
      ];
      return {
        method: `In-process: GridEngine (dist) with a SimExchange in manual mode (BTCUSDT 1m CSV, 1 s path points) as its ExchangeVenue and a real SQLite GridStore (TypeORM, the app's migrations, WAL), grid as config/market-maker.yaml except a 50 USDT interval (more ticks trade); risk gates fed by wall-clock feeds off and the order-rate throttle lifted. The venue port is wrapped: hrtime when a price tick is handed to the engine, when the first placeOrder/cancelOrder of that tick leaves it (decision latency includes planGrid, the durable intent transaction and the engine queue), when a fill event arrives and when the transaction booking it commits. ${sc.ticks} ticks, each advance(1 s) followed by draining the engine queue. Baseline for the decision rows: planGrid alone on the engine's final slots at nearby prices (so the ratio is the engine + persistence overhead over the pure decision).`,
        rows,
        targets: [
          { what: 'decision latency p99 (tick → order request)', target: '< 1 ms', value: `${round(dec.p99)} ms (p50 ${round(dec.p50)}; n=${dec.n})`, pass: dec.p99 < 1 },
          { what: 'planGrid p99 (pure decision)', target: '< 1 ms (informational)', value: `${round(planS.p99)} ms`, pass: planS.p99 < 1 },
        ],
        notes: [`fills booked: ${fill.n}; store transactions: ${apply.n}; run ${round(secs, 1)} s`],
      };
    } finally {
      await h.close();
    }
  },
};
