import * as path from 'node:path';
import { Dec, VirtualScheduler, dec, roundToIncrement } from '@mm/domain';
import { SimExchange, loadSimDataSet } from '@mm/sim-exchange';
import { AccountView, type GridEngine, type GridEngineSettings, InMemoryStateStore, SharedPortfolioLimiter, buildGridEngine } from '@mm/trading';
import type { Bench } from '../lib/context';
import { SHARED } from '../lib/proc';
import { row, side } from '../lib/results';
import { round, summarize } from '../lib/stats';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT'];
const file = (sym: string, kind: string) => path.join(SHARED, 'data/market', `binance-usdm-${sym}-${kind}.csv`);

/** Grid of one symbol as `symbols: auto` scales it: interval = price × 0.002 rounded down to the tick; order notional = max(250, 2.5 × min notional) USDT. */
function settings(symbol: string, price: Dec, tick: Dec, minNotional: Dec): GridEngineSettings {
  const interval = Dec.max(tick, roundToIncrement(price.mul('0.002'), tick, 'down'));
  const orderNotional = Dec.max(dec('250'), minNotional.mul('2.5'));
  return {
    instanceId: 'mm1',
    params: { symbol, mode: 'long', inventorySkewFactor: dec('0'), priceInterval: interval, orderNotional, minOrderValue: dec('10'), buyWindow: 8, sellWindow: 8, safetyBufferRatio: dec('0.1'), maxActiveOrders: 50, cancelHysteresisLevels: 1 },
    makerFee: dec('0.0002'),
    takerFee: dec('0.0005'),
    reconcileIntervalMs: 60_000,
    pendingTimeoutMs: 600_000,
    stalePriceMs: 3_600_000,
    dynamicInterval: null,
    maxLeverage: 20,
    reconcileTolerancePct: dec('5'),
    cancelForeignOrders: false,
    marginLockMs: 10_000,
    cleaner: { maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false },
    clientIdSecret: `bench-multisymbol-${symbol}`,
    risk: {
      symbol,
      breaker: { maxConsecutiveLosses: 0, drawdownWindowMs: 3_600_000, maxDrawdownAbs: new Dec(0), maxDrawdownPct: new Dec(0), latencyWindowMs: 60_000, maxLatencyP99Ms: 0, minLatencySamples: 20, maxPriceAgeMs: 0, maxOrderStreamAgeMs: 0, cooldownMs: 0, halfOpenProbeMs: 60_000 },
      monitor: null,
      exposure: { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) },
      keepExitsOnTrip: true,
    },
    executor: { ratePerSec: 1000, burst: 1000, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 },
  };
}

interface RunResult {
  seconds: number;
  events: number;
  fills: Record<string, number>;
  /** Per symbol: venue position = engine inventory at the end. */
  agree: Record<string, boolean>;
  funding: Record<string, string>;
}

/** `symbols` engines on one in-process sim (one account, shared portfolio limiter and account view), `candles` minutes, market time. */
async function runEngines(symbols: string[], candles: number): Promise<RunResult> {
  const set = loadSimDataSet({
    data: symbols.map((s) => `${s}=${file(s, '1m-20250504-20250624')}`).join(','),
    funding: symbols.map((s) => `${s}=${file(s, 'funding-rate-8h')}`).join(','),
    markPrice: symbols.map((s) => `${s}=${file(s, 'markprice-8h')}`).join(','),
    defaultSymbol: symbols[0],
    maxCandles: candles,
  });
  const sim = new SimExchange({
    symbols: set.map((d) => ({ rules: d.rules, candles: d.data.candles, fundingRates: d.data.fundingRates, markPrices: d.data.markPrices })),
    manual: true,
    historyCandles: 100,
    tickIntervalMs: 15_000,
    initialBalance: new Dec(50_000),
  });
  const scheduler = new VirtualScheduler(sim.clock.now());
  const view = new AccountView(sim, scheduler, { pollIntervalMs: 60_000, maxDrawdown: dec('0'), maxStaleMs: 0 });
  await view.start();
  const portfolio = new SharedPortfolioLimiter({ maxTotalNotional: new Dec(40_000), maxTotalOpenOrderNotional: new Dec(0) });
  const engines: { symbol: string; engine: GridEngine }[] = [];
  for (const d of set) {
    const price = await sim.getLatestPrice(d.symbol);
    const e = buildGridEngine({ venue: sim, store: new InMemoryStateStore(d.symbol, () => scheduler.now()), scheduler, accountView: view, portfolio }, settings(d.symbol, price, d.rules.tickSize, d.rules.minNotional));
    await e.start();
    await e.whenIdle();
    engines.push({ symbol: d.symbol, engine: e });
  }
  const settle = async () => {
    for (const { engine } of engines) await engine.whenIdle();
  };
  let events = 0;
  const t0 = process.hrtime.bigint();
  for (let next = sim.nextEventTimeMs(); Number.isFinite(next); next = sim.nextEventTimeMs()) {
    await scheduler.advanceToAsync(next, settle);
    sim.stepNext();
    events++;
    await settle();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const out: RunResult = { seconds, events, fills: {}, agree: {}, funding: {} };
  const trades = sim.allTrades();
  for (const { symbol, engine } of engines) {
    const s = engine.snapshot();
    out.fills[symbol] = trades.filter((t) => t.symbol === symbol).length;
    const pos = (await sim.getPositions(symbol)).find((p) => p.symbol === symbol)?.size ?? new Dec(0);
    out.agree[symbol] = pos.eq(s.inventory);
    out.funding[symbol] = String(s.fundingPnl ?? '0');
    await engine.stop(false);
  }
  view.stop();
  return out;
}

/**
 * Four symbols on one account (opt-in: `npm run bench -- --only multisymbol`): BTC, ETH, SOL and
 * BNB USD-M 1m klines with their funding and mark-price files, one in-process sim (one cross-margin
 * account), one GridEngine per symbol sharing the portfolio limiter and the account view, on market
 * time. Baseline: the BTC engine alone over the same minutes. Reports events/s of both, the cost per
 * symbol, and per symbol fills, venue position = inventory, and funding.
 */
export const multisymbolBench: Bench = {
  name: 'multisymbol',
  title: 'Four symbols on one account: BTC, ETH, SOL, BNB engines on one in-process sim vs BTC alone',
  optIn: true,
  async run(ctx) {
    const candles = ctx.scale.name === 'smoke' ? 400 : 100 + 3 * 1440; // 3 market days (+ 100 history)
    const one = await runEngines(['BTCUSDT'], candles);
    ctx.log(`multisymbol: BTC alone ${one.events} events in ${round(one.seconds, 2)} s`);
    const four = await runEngines(SYMBOLS, candles);
    ctx.log(`multisymbol: 4 symbols ${four.events} events in ${round(four.seconds, 2)} s; fills ${JSON.stringify(four.fills)}`);
    const p = side(summarize([four.seconds * 1000]), four.events / four.seconds);
    const b = side(summarize([one.seconds * 1000]), one.events / one.seconds);
    const allAgree = Object.values(four.agree).every(Boolean) && Object.values(one.agree).every(Boolean);
    return {
      method: `In-process: SimExchange (manual, 15 s path points) with ${SYMBOLS.join(', ')} from ../shared/data/market (1m klines, funding, mark price; ${candles} minutes each incl. 100 history), one account of 50 000 USDT; one GridEngine per symbol (interval = price × 0.002 rounded down to the tick, order notional max(250, 2.5 × min notional) USDT, 8 + 8 window), a SharedPortfolioLimiter (40 000 USDT total) and an AccountView (60 s market polls), all on one VirtualScheduler (market time). Baseline: the BTC engine alone over the same minutes. Event = one sim step (a path point of any symbol, or a funding instant). Latency column: the whole run's wall time (ms).`,
      rows: [
        row('4 symbols vs BTC alone', p, b, 'events/s', {
          events: four.events,
          baselineEvents: one.events,
          fills: Object.entries(four.fills).map(([k, v]) => `${k}:${v}`).join(' '),
          positionsAgree: String(allAgree),
          funding: Object.entries(four.funding).map(([k, v]) => `${k}:${v}`).join(' '),
        }),
      ],
      targets: [
        { what: 'four symbols: venue position = engine inventory for every symbol', target: 'all', value: JSON.stringify(four.agree), pass: allAgree },
        { what: 'four symbols: every engine fills (informational)', target: '> 0 each', value: JSON.stringify(four.fills), pass: Object.values(four.fills).every((n) => n > 0) },
        { what: 'four symbols: wall time per market day (informational)', target: '—', value: `${round(four.seconds / ((candles - 100) / 1440), 2)} s (BTC alone ${round(one.seconds / ((candles - 100) / 1440), 2)} s)`, pass: true },
      ],
      notes: [`funding booked per symbol over the run (quote): ${Object.entries(four.funding).map(([k, v]) => `${k} ${v}`).join(', ')}`],
    };
  },
};
