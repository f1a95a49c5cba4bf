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
