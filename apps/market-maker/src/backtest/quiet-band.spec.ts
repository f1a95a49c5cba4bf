import { type BacktestOrderRequest, type BacktestOptions, renderReportJson, buildReport, runBacktest } from '@mm/backtest';
import { loadSimData } from '@mm/sim-exchange';
import { BTC_CSV } from '@mm/testing';
import { loadBacktestConfig } from './backtest-config';

/**
 * The engine's quiet-band fast path (`GridEngineSettings.quietBand`, on by default) must not change
 * what the engine does: on real data (the shared Binance USD-M BTCUSDT file) the engine with the fast
 * path and the engine with it off send the same order requests — same client order ids, sides,
 * prices, quantities and flags, at the same market times, cancellations included — and the backtest
 * reports are byte-identical. Each case also checks that the fast path actually skipped planning
 * passes (so the comparison is not between two identical slow runs).
 */

const data = loadSimData({ symbol: 'BTCUSDT', data: BTC_CSV });

async function run(overrides: Record<string, string>, quietBand: boolean, extra: Partial<BacktestOptions> = {}) {
  const cfg = loadBacktestConfig(undefined, overrides);
  const requests: BacktestOrderRequest[] = [];
  const r = await runBacktest({
    settings: { ...cfg.settings, quietBand },
    candles: data.candles,
    fromMs: Date.parse('2025-05-05T00:00:00Z'),
    toMs: Date.parse('2025-05-06T12:00:00Z'),
    onOrderRequest: (q) => requests.push(q),
    ...extra,
  });
  return { r, requests, json: renderReportJson(buildReport(r)) };
}

async function expectSame(overrides: Record<string, string>, extra: Partial<BacktestOptions> = {}) {
  const fast = await run(overrides, true, extra);
  const slow = await run(overrides, false, extra);
  expect(slow.r.quietSkips).toBe(0);
  expect(slow.r.planReuses).toBe(0);
  expect(fast.r.quietSkips).toBeGreaterThan(1000);
  expect(fast.requests.filter((q) => q.kind === 'place').length).toBeGreaterThan(20);
  expect(fast.requests).toEqual(slow.requests);
  expect(fast.json).toBe(slow.json);
  return fast;
}

describe('engine quiet band: identical order requests with and without the fast path (36 h of BTCUSDT)', () => {
  it('default config (long grid, breakers, crash guard, exposure limits), coalesced feed', async () => {
    const f = await expectSame({});
    // cancellations happen too (window moves, breaker reactions): both kinds are compared
    expect(f.requests.some((q) => q.kind === 'cancel')).toBe(true);
  }, 180_000);

  it('every price to the engine (engineFeed every), tight interval and a low position limit (screened plans)', async () => {
    const f = await expectSame({ 'grid.price_interval': '50', 'risk.exposure.max_position_notional': '1500' }, { engineFeed: 'every' });
    // the position limit held opening buys back, and the band's plan was reused for them
    expect(f.r.planReuses).toBeGreaterThan(100);
  }, 180_000);

  it('neutral mode (short entries and exits), wider window', async () => {
    const f = await expectSame({ 'grid.mode': 'neutral', 'grid.price_interval': '150', 'grid.sell_window': '12' });
    expect(f.requests.some((q) => q.kind === 'place' && q.side === 'SELL' && !q.reduceOnly)).toBe(true);
  }, 180_000);
});
