import { Registry } from 'prom-client';
import { dec } from '@mm/domain';
import { MmMetrics } from './mm.metrics';

describe('MmMetrics', () => {
  it('the engine observes ms; the histogram stores seconds with buckets past the 10 s venue timeout', async () => {
    const registry = new Registry();
    const m = MmMetrics.standalone(registry);
    m.exchangeLatency.observe({ operation: 'PlaceOrder' }, 250);
    m.exchangeLatency.observe({ operation: 'PlaceOrder' }, 12_000);
    const text = await registry.metrics();
    expect(text).toContain('market_maker_exchange_latency_seconds_sum{operation="PlaceOrder"} 12.25');
    expect(text).toContain('market_maker_exchange_latency_seconds_bucket{le="0.25",operation="PlaceOrder"} 1');
    expect(text).toContain('market_maker_exchange_latency_seconds_bucket{le="10",operation="PlaceOrder"} 1');
    expect(text).toContain('market_maker_exchange_latency_seconds_bucket{le="30",operation="PlaceOrder"} 2');
  });

  it('follows Prometheus conventions: _total only on counters, _info on build info, no ms units', async () => {
    const registry = new Registry();
    MmMetrics.standalone(registry).initSymbol('BTCUSDT', '1.2.3');
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.length).toBeGreaterThanOrEqual(21);
    for (const { name, type } of metrics) {
      expect({ name, total: name.endsWith('_total') }).toEqual({ name, total: String(type) === 'counter' });
      expect(name).not.toMatch(/_ms$|_ms_/);
    }
    // account-level series (issue 9): gauges in quote units / ratios / seconds
    const gauges = metrics.filter((x) => String(x.type) === 'gauge').map((x) => x.name);
    expect(gauges).toEqual(expect.arrayContaining(['market_maker_account_equity', 'market_maker_account_margin_ratio', 'market_maker_account_funding_pnl', 'market_maker_account_symbol_funding_pnl', 'market_maker_account_drawdown_ratio', 'market_maker_account_opening_blocked', 'market_maker_account_reading_age_seconds', 'market_maker_funding_pnl']));
    const text = await registry.metrics();
    expect(text).toMatch(/market_maker_build_info\{version="1\.2\.3",node_version="v\d+[^"]*"\} 1/);
    expect(text).toContain('# TYPE market_maker_pnl_realized gauge');
    // Zero series exist before the first event, so dashboards and alerts see them.
    expect(text).toContain('market_maker_orders_filled_total{symbol="BTCUSDT",side="SELL"} 0');
    expect(text).toContain('market_maker_alerts_total{outcome="failed"} 0');
  });

  it('the per-tick mark state reaches its gauges at a scrape, with the latest values per symbol', async () => {
    const registry = new Registry();
    const m = MmMetrics.standalone(registry);
    m.markState('BTCUSDT', dec('-12.5'), 0.25);
    m.markState('ETHUSDT', dec('3'), 1);
    m.markState('BTCUSDT', dec('7.125'), 0.5);
    const text = await registry.metrics();
    expect(text).toContain('market_maker_pnl_unrealized{symbol="BTCUSDT"} 7.125');
    expect(text).toContain('market_maker_pnl_unrealized{symbol="ETHUSDT"} 3');
    expect(text).toContain('market_maker_feed_age_seconds{symbol="BTCUSDT"} 0.5');
    expect(text).toContain('market_maker_feed_age_seconds{symbol="ETHUSDT"} 1');
    m.markState('ETHUSDT', dec('-1'), 2);
    expect(await registry.metrics()).toContain('market_maker_pnl_unrealized{symbol="ETHUSDT"} -1');
  });
});
