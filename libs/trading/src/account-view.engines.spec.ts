import { type AccountSnapshot, type Candle, Dec, VirtualScheduler, dec } from '@mm/domain';
import { SimExchange, defaultSymbolRules } from '@mm/sim-exchange';
import { AccountView, type GridEngine, type GridEngineSettings, InMemoryStateStore, buildGridEngine } from './index';

/**
 * Two symbol engines of one account on one in-process sim sharing one AccountView on market time:
 * one account poll for both, funding attributed per symbol, and the account-level breakers
 * (drawdown, stale account reading) stopping opening on every engine.
 */
const T0 = 1_700_000_000_000;
const MIN = 60_000;
const path = (symbol: string, prices: string[]): Candle[] => prices.map((p, i) => ({ symbol, openTimeMs: T0 + i * MIN, open: dec(p), high: dec(p), low: dec(p), close: dec(p), volume: dec('10'), closed: true }));
const flat = (symbol: string, p: string, n: number) => path(symbol, Array.from({ length: n }, () => p));

function settings(symbol: string, interval: string, notional: string): GridEngineSettings {
  return {
    instanceId: 'mm1',
    params: { symbol, mode: 'long', inventorySkewFactor: dec('0'), priceInterval: dec(interval), orderNotional: dec(notional), minOrderValue: dec('10'), buyWindow: 3, sellWindow: 3, safetyBufferRatio: dec('0.1'), maxActiveOrders: 50, cancelHysteresisLevels: 1 },
    makerFee: dec('0.0002'),
    takerFee: dec('0.0005'),
    reconcileIntervalMs: 3_600_000,
    pendingTimeoutMs: 600_000,
    stalePriceMs: 3_600_000,
    dynamicInterval: null,
    maxLeverage: 20,
    reconcileTolerancePct: dec('5'),
    cancelForeignOrders: false,
    marginLockMs: 10_000,
    cleaner: { maxOpenOrders: 100, maxOrderAgeMs: 0, cancelPartiallyFilled: false },
    clientIdSecret: `account-view-spec-secret-${symbol}`,
    risk: {
      symbol,
      breaker: { maxConsecutiveLosses: 0, drawdownWindowMs: 3_600_000, maxDrawdownAbs: new Dec(0), maxDrawdownPct: new Dec(0), latencyWindowMs: 60_000, maxLatencyP99Ms: 0, minLatencySamples: 20, maxPriceAgeMs: 0, maxOrderStreamAgeMs: 0, cooldownMs: 0, halfOpenProbeMs: 60_000 },
      monitor: null,
      exposure: { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) },
      keepExitsOnTrip: true,
    },
    executor: { ratePerSec: 20, burst: 20, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 },
  };
}

interface Harness {
  sim: SimExchange;
  scheduler: VirtualScheduler;
  view: AccountView;
  btc: GridEngine;
  eth: GridEngine;
  /** getAccount calls the engines made (through their venue) and the view made. */
  calls: { engines: number; view: number };
  /** While true, the view's account poll fails (a lost account stream). */
  viewDown: { on: boolean };
  settle(): Promise<void>;
  /** Runs the sim's events up to market time `untilMs` (every event, then the schedulers). */
  runUntil(untilMs: number): Promise<void>;
}

/** Counts getAccount calls on the sim (other calls pass through). */
function counting(sim: SimExchange, count: () => void, down: { on: boolean } = { on: false }): SimExchange {
  return new Proxy(sim, {
    get(t, k) {
      if (k === 'getAccount')
        return (): Promise<AccountSnapshot> => {
          count();
          return down.on ? Promise.reject(new Error('account stream lost (injected)')) : t.getAccount();
        };
      const v = (t as unknown as Record<string | symbol, unknown>)[k];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

async function harness(opts: { btc: Candle[]; eth: Candle[]; funding?: { btc?: { fundingTimeMs: number; rate: Dec }[]; eth?: { fundingTimeMs: number; rate: Dec }[] }; hand?: { btc?: string; eth?: string }; maxDrawdown?: string; maxStaleMs?: number }): Promise<Harness> {
  const sim = new SimExchange({
    symbols: [
      { rules: defaultSymbolRules('BTCUSDT'), candles: opts.btc, fundingRates: opts.funding?.btc },
      { rules: defaultSymbolRules('ETHUSDT'), candles: opts.eth, fundingRates: opts.funding?.eth },
    ],
    manual: true,
    historyCandles: 20,
    tickIntervalMs: 1000,
  });
  // positions opened by hand before the market maker starts (adopted as slots)
  if (opts.hand?.btc) await sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec(opts.hand.btc), clientOrderId: 'by-hand-btc' });
  if (opts.hand?.eth) await sim.placeOrder({ symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: dec(opts.hand.eth), clientOrderId: 'by-hand-eth' });
  const scheduler = new VirtualScheduler(sim.clock.now());
  const calls = { engines: 0, view: 0 };
  const viewDown = { on: false };
  const view = new AccountView(counting(sim, () => calls.view++, viewDown), scheduler, { pollIntervalMs: 5000, maxDrawdown: dec(opts.maxDrawdown ?? '0'), maxStaleMs: opts.maxStaleMs ?? 0 });
  await view.start();
  const engineVenue = counting(sim, () => calls.engines++);
  const btc = buildGridEngine({ venue: engineVenue, store: new InMemoryStateStore('BTCUSDT', () => scheduler.now()), scheduler, accountView: view }, settings('BTCUSDT', '100', '250'));
  const eth = buildGridEngine({ venue: engineVenue, store: new InMemoryStateStore('ETHUSDT', () => scheduler.now()), scheduler, accountView: view }, settings('ETHUSDT', '4', '100'));
  await btc.start();
  await btc.whenIdle();
  await eth.start();
  await eth.whenIdle();
  const settle = async () => {
    await btc.whenIdle();
    await eth.whenIdle();
  };
  const runUntil = async (untilMs: number) => {
    for (let next = sim.nextEventTimeMs(); Number.isFinite(next) && next <= untilMs; next = sim.nextEventTimeMs()) {
      await scheduler.advanceToAsync(next, settle);
      sim.stepNext();
      await settle();
    }
    await scheduler.advanceToAsync(untilMs, settle);
  };
  return { sim, scheduler, view, btc, eth, calls, viewDown, settle, runUntil };
}

const openingOrders = async (sim: SimExchange, symbol: string) => (await sim.getOpenOrders(symbol)).filter((o) => !o.reduceOnly).length;

describe('AccountView shared by two symbol engines (in-process sim, market time)', () => {
  it('one account poll feeds both engines; funding is attributed to the symbol that paid or received it; the account total is their sum', async () => {
    const btcFunding = { fundingTimeMs: T0 + 40 * MIN, rate: dec('0.001') };
    const ethFunding = { fundingTimeMs: T0 + 30 * MIN, rate: dec('-0.002') };
    const h = await harness({ btc: flat('BTCUSDT', '100000', 70), eth: flat('ETHUSDT', '2000', 70), funding: { btc: [btcFunding], eth: [ethFunding] }, hand: { btc: '0.01', eth: '0.5' } });
    const startCalls = h.calls.engines;
    const startView = { at: h.scheduler.now(), calls: h.calls.view };
    const eq0 = { btc: new Dec(h.btc.snapshot().equity!), eth: new Dec(h.eth.snapshot().equity!) };
    await h.runUntil(T0 + 65 * MIN);
    // independent: funding = −size × mark × rate (mark = the flat last price), per symbol
    const expBtc = dec('0.01').mul('100000').mul(btcFunding.rate).neg(); // −1
    const expEth = dec('0.5').mul('2000').mul(ethFunding.rate).neg(); // +2
    expect(h.btc.snapshot().fills).toBe(0);
    expect(h.eth.snapshot().fills).toBe(0);
    expect(new Dec(h.btc.snapshot().fundingPnl).toString()).toBe(expBtc.toString());
    expect(new Dec(h.eth.snapshot().fundingPnl).toString()).toBe(expEth.toString());
    // per-symbol equity moved by its own funding only (no trade, flat price)
    expect(new Dec(h.btc.snapshot().equity!).minus(eq0.btc).toString()).toBe(expBtc.toString());
    expect(new Dec(h.eth.snapshot().equity!).minus(eq0.eth).toString()).toBe(expEth.toString());
    // account: all of it, and the venue agrees
    expect(h.view.accountFunding()!.toString()).toBe(expBtc.plus(expEth).toString());
    expect(h.sim.fundingPnl().toString()).toBe(expBtc.plus(expEth).toString());
    const snap = h.view.snapshot(h.scheduler.now());
    expect(snap.fundingBySymbol).toEqual({ BTCUSDT: expBtc.toString(), ETHUSDT: expEth.toString() });
    expect(snap.equity).toBe((await h.sim.getAccount()).totalMarginBalance.toString());
    // one poll per period for both engines: the engines made no account call after their start
    expect(h.calls.engines).toBe(startCalls);
    const periods = Math.floor((h.scheduler.now() - startView.at) / 5000);
    expect(periods).toBeGreaterThan(100);
    // at most one poll per period for both engines (polls come from the engines' risk checks)
    expect(h.calls.view - startView.calls).toBeLessThanOrEqual(periods + 1);
    expect(h.calls.view - startView.calls).toBeGreaterThan(periods / 2);
    await h.btc.stop(false);
    await h.eth.stop(false);
    h.view.stop();
  }, 120_000);

  it('account drawdown (margin balance vs its peak) stops opening on every engine, and stays open after the price recovers', async () => {
    // (the sim starts after 20 history candles) BTC crashes 100 000 → 80 000 at minute 30 and
    // recovers at minute 45; ETH is flat. A 0.05 BTC long loses 1 000 of a 10 000 account (10 %) ≥ the 5 % limit.
    const btcPrices = Array.from({ length: 70 }, (_, i) => (i >= 30 && i < 45 ? '80000' : '100000'));
    const h = await harness({ btc: path('BTCUSDT', btcPrices), eth: flat('ETHUSDT', '2000', 70), hand: { btc: '0.05' }, maxDrawdown: '0.05' });
    await h.runUntil(T0 + 25 * MIN);
    expect(await openingOrders(h.sim, 'ETHUSDT')).toBeGreaterThan(0);
    expect(h.view.drawdown.open).toBe(false);
    await h.runUntil(T0 + 35 * MIN);
    expect(h.view.drawdown.open).toBe(true);
    expect(h.view.drawdownFraction()!.gte('0.05')).toBe(true);
    // ETH has no loss of its own, yet its opening orders are cancelled and none is placed
    expect(await openingOrders(h.sim, 'ETHUSDT')).toBe(0);
    expect(await openingOrders(h.sim, 'BTCUSDT')).toBe(0);
    expect(h.eth.snapshot().risk.accountBlock).toMatch(/account drawdown breaker/);
    expect(h.btc.snapshot().risk.accountBlock).toMatch(/account drawdown breaker/);
    // a loss breaker: still open after the price is back
    await h.runUntil(T0 + 55 * MIN);
    expect(h.view.drawdownFraction()!.lt('0.01')).toBe(true);
    expect(h.view.drawdown.open).toBe(true);
    expect(await openingOrders(h.sim, 'ETHUSDT')).toBe(0);
    // operator reset: opening resumes on both
    h.view.reset();
    await h.runUntil(T0 + 60 * MIN);
    expect(h.eth.snapshot().risk.accountBlock).toBeNull();
    expect(await openingOrders(h.sim, 'ETHUSDT')).toBeGreaterThan(0);
    await h.btc.stop(false);
    await h.eth.stop(false);
    h.view.stop();
  }, 120_000);

  it('a stale account reading stops opening on every engine and clears by itself with the next good reading', async () => {
    const h = await harness({ btc: flat('BTCUSDT', '100000', 60), eth: flat('ETHUSDT', '2000', 60), maxStaleMs: 30_000 });
    await h.runUntil(T0 + 25 * MIN);
    expect(await openingOrders(h.sim, 'BTCUSDT')).toBeGreaterThan(0);
    expect(await openingOrders(h.sim, 'ETHUSDT')).toBeGreaterThan(0);
    h.viewDown.on = true;
    await h.runUntil(T0 + 27 * MIN);
    expect(h.view.pollFailures).toBeGreaterThan(0);
    expect(h.btc.snapshot().risk.accountBlock).toMatch(/account reading stale/);
    expect(await openingOrders(h.sim, 'BTCUSDT')).toBe(0);
    expect(await openingOrders(h.sim, 'ETHUSDT')).toBe(0);
    h.viewDown.on = false;
    await h.runUntil(T0 + 29 * MIN);
    expect(h.btc.snapshot().risk.accountBlock).toBeNull();
    expect(h.eth.snapshot().risk.accountBlock).toBeNull();
    expect(await openingOrders(h.sim, 'BTCUSDT')).toBeGreaterThan(0);
    expect(await openingOrders(h.sim, 'ETHUSDT')).toBeGreaterThan(0);
    await h.btc.stop(false);
    await h.eth.stop(false);
    h.view.stop();
  }, 120_000);

  it('per symbol: venue-method (average-cost) realized PnL matches the venue, beside the strategy (per-slot, net of fees) PnL', async () => {
    // BTC swings 100 000 ↔ 99 750 every minute (buys fill low, take-profits high); ETH is flat (no fill)
    const btcPrices = Array.from({ length: 70 }, (_, i) => (i % 2 ? '99750' : '100000'));
    const h = await harness({ btc: path('BTCUSDT', btcPrices), eth: flat('ETHUSDT', '2000', 70), hand: { btc: '0.01' } });
    await h.runUntil(T0 + 65 * MIN);
    const s = h.btc.snapshot();
    expect(s.fills).toBeGreaterThan(4);
    const venue = await h.sim.getAccount();
    // only BTC traded: the account's realized PnL (fees excluded) is BTC's
    expect(h.eth.snapshot().fills).toBe(0);
    expect(new Dec(s.venueRealizedPnl).toDecimalPlaces(8).toString()).toBe(venue.realizedPnl.toString());
    expect(new Dec(s.venueRealizedPnl).gt(0)).toBe(true);
    expect(new Dec(s.feesPaid).gt(0)).toBe(true);
    expect(s.realizedPnl).not.toBe(s.venueRealizedPnl); // strategy PnL: per slot, net of every fee
    expect(h.eth.snapshot().venueRealizedPnl).toBe('0');
    await h.btc.stop(false);
    await h.eth.stop(false);
    h.view.stop();
  }, 120_000);
});
