import { Dec, dec } from '@mm/domain';
import type { GridAction } from '@mm/grid';
import { CountingMetrics } from './counting-metrics';
import { noopAlerts, quietLogger } from './ports';
import { RiskController, type RiskSettings } from './risk-controller';

const breaker = {
  maxConsecutiveLosses: 0, drawdownWindowMs: 3_600_000, maxDrawdownAbs: new Dec(0), maxDrawdownPct: new Dec(0),
  latencyWindowMs: 60_000, maxLatencyP99Ms: 0, minLatencySamples: 20, maxPriceAgeMs: 0, maxOrderStreamAgeMs: 0, cooldownMs: 0, halfOpenProbeMs: 60_000,
};
const zero = { maxPositionNotional: new Dec(0), maxTotalNotional: new Dec(0), maxOpenOrderNotional: new Dec(0) };
const buy = (price: string, qty: string): GridAction => ({ kind: 'place', key: price, level: dec(price), side: 'BUY', price: dec(price), quantity: dec(qty), reduceOnly: false, postOnly: true, exit: false });

function controller(over: Partial<RiskSettings>) {
  const metrics = new CountingMetrics();
  const rc = new RiskController({ symbol: 'BTCUSDT', breaker, monitor: null, exposure: zero, keepExitsOnTrip: true, ...over }, metrics, noopAlerts, quietLogger('Risk'), () => 0);
  return { rc, metrics };
}

describe('RiskController: exposure limits given as % of equity', () => {
  it('the position limit is equity × pct / 100 at screening time and follows the equity', () => {
    // 200 % of equity: 300 USDT equity → 600 USDT position notional.
    const { rc, metrics } = controller({ exposurePctOfEquity: { maxPositionNotional: dec('200') } });
    expect(rc.effectiveLimits().maxPositionNotional.gt(0)).toBe(true);
    rc.evaluate(0, 0, 0, dec('300'));
    expect(rc.effectiveLimits().maxPositionNotional.toString()).toBe('600');
    const positions = new Map([['BTCUSDT', { qty: dec('0.005'), markPrice: dec('100000') }]]);
    // 500 held + 100 = 600 passes (at the limit); the next 100 would be 700.
    const out = rc.screen([buy('99900', '0.001001001'), buy('99800', '0.001')], positions, new Dec(0));
    expect(out).toHaveLength(1);
    expect(metrics.counts['blocked:position_notional']).toBe(1);
    // Equity doubles: so does the limit.
    rc.evaluate(1000, 0, 0, dec('600'));
    expect(rc.effectiveLimits().maxPositionNotional.toString()).toBe('1200');
    expect(rc.screen([buy('99800', '0.001')], positions, new Dec(0))).toHaveLength(1);
  });
  it('before any equity reading a %-of-equity limit blocks opening; absolute limits without % are unchanged', () => {
    const { rc } = controller({ exposurePctOfEquity: { maxTotalNotional: dec('300') } });
    expect(rc.screen([buy('99800', '0.001')], new Map(), new Dec(0))).toHaveLength(0);
    const abs = controller({ exposure: { ...zero, maxPositionNotional: dec('5000') } }).rc;
    abs.evaluate(0, 0, 0, dec('300'));
    expect(abs.effectiveLimits().maxPositionNotional.toString()).toBe('5000');
  });
});

describe('RiskController.screen: the remembered screening', () => {
  const L = { ...zero, maxPositionNotional: dec('600') };
  function logged() {
    const lines: string[] = [];
    const metrics = new CountingMetrics();
    const log = { ...quietLogger('Risk'), warn: (m: string) => lines.push(m) };
    const rc = new RiskController({ symbol: 'BTCUSDT', breaker, monitor: null, exposure: L, keepExitsOnTrip: true }, metrics, noopAlerts, log, () => 0);
    return { rc, metrics, lines };
  }
  const at = (mark: string) => new Map([['BTCUSDT', { qty: dec('0.005'), markPrice: dec(mark) }]]);
  const plan = [buy('99900', '0.001'), buy('99800', '0.001')];

  it('gives the outcome of a fresh screening at every mark, counts every refusal and logs a refusal once', () => {
    const { rc, metrics, lines } = logged();
    // 0.005 × 100000 = 500 held: +99.9 passes (599.9), the second (+99.8 → 699.7) is refused
    expect(rc.screen(plan, at('100000'), new Dec(0))).toEqual([plan[0]]);
    // the mark moves a little: same outcome (remembered), the refusal counted again, not logged again
    expect(rc.screen(plan, at('100001'), new Dec(0))).toEqual([plan[0]]);
    expect(metrics.counts['blocked:position_notional']).toBe(2);
    expect(lines).toHaveLength(1);
    // S = 0.005 × 100020 = 500.1: the first order would make 600.0 — exactly at the limit, passes
    expect(rc.screen(plan, at('100020'), new Dec(0))).toEqual([plan[0]]);
    // 500.105 + 99.9 = 600.005 > 600: the first is refused now, so the second fits (599.905) — the
    // remembered range must not hide that
    expect(rc.screen(plan, at('100021'), new Dec(0))).toEqual([plan[1]]);
    expect(lines).toHaveLength(2); // the first order is refused for the first time
    // and the mark falls far: 0.005 × 60000 = 300, both pass (300 + 99.9 + 99.8 = 499.7)
    expect(rc.screen(plan, at('60000'), new Dec(0))).toEqual(plan);
    // each outcome equals a controller screening afresh
    for (const mark of ['100000', '100001', '100020', '100021', '60000', '79960', '79961']) {
      const fresh = logged().rc.screen(plan, at(mark), new Dec(0));
      expect(rc.screen(plan, at(mark), new Dec(0))).toEqual(fresh);
    }
  });

  it('screensToNothing: true only when the remembered screening refuses everything at this mark', () => {
    const { rc, metrics } = logged();
    expect(rc.screensToNothing(plan, at('130000'), new Dec(0))).toBe(false); // nothing remembered yet
    expect(rc.screen(plan, at('130000'), new Dec(0))).toEqual([]); // 650 held
    const before = metrics.counts['blocked:position_notional'];
    expect(rc.screensToNothing(plan, at('129000'), new Dec(0))).toBe(true); // 645 held: still refused
    expect(metrics.counts['blocked:position_notional']).toBe(before + 2);
    expect(rc.screensToNothing(plan, at('100000'), new Dec(0))).toBe(false); // 500 held: one would pass
    expect(rc.screensToNothing([...plan], at('129000'), new Dec(0))).toBe(false); // another plan: unknown
    expect(rc.screensToNothing(plan, at('129000'), new Dec(1))).toBe(false); // another opening notional
    expect(metrics.counts['blocked:position_notional']).toBe(before + 2);
  });

  it('re-plans (new arrays of the same level objects) at random marks and pending notionals equal fresh screenings', () => {
    const L2 = { maxPositionNotional: dec('700'), maxTotalNotional: dec('900'), maxOpenOrderNotional: dec('400') };
    const levels = ['99900', '99800', '99700', '99600', '100100', '100200'].map((p, i) => (i < 4 ? buy(p, '0.001') : { ...buy(p, '0.001'), side: 'SELL' as const }));
    const { rc } = controller({ exposure: L2 });
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    // the same objects again and again, as the engine passes them (the memos compare identity)
    const pendings = [new Dec(0), dec('150'), dec('399.9')];
    const qtys = [dec('0.005'), dec('0.004'), dec('-0.003')];
    let passed = 0;
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      const mark = new Dec(90000 + Math.floor(rand() * 60000));
      const qty = qtys[Math.floor(rand() * qtys.length)];
      const pending = pendings[Math.floor(rand() * pendings.length)];
      const plan = levels.filter(() => rand() < 0.8);
      const positions = new Map([['BTCUSDT', { qty, markPrice: mark }]]);
      const fresh = controller({ exposure: L2 }).rc.screen(plan, positions, pending);
      const got = rc.screen(plan, positions, pending);
      expect(got).toEqual(fresh);
      passed += got.length;
      refused += plan.length - got.length;
    }
    // both outcomes occur often enough for the comparison to mean something
    expect(passed).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });
});
