import { dec } from '@mm/domain';
import { BREAKER_MAX_WINDOW_SAMPLES, type BreakerChangeEvent, type BreakerConfig, CircuitBreaker } from './circuit-breaker';

/** Everything off unless overridden. */
const cfg = (over: Partial<BreakerConfig> = {}): BreakerConfig => ({
  maxConsecutiveLosses: 0,
  drawdownWindowMs: 60_000,
  maxDrawdownAbs: dec('0'),
  maxDrawdownPct: dec('0'),
  latencyWindowMs: 10_000,
  maxLatencyP99Ms: 0,
  minLatencySamples: 1,
  maxPriceAgeMs: 0,
  maxOrderStreamAgeMs: 0,
  cooldownMs: 60_000,
  halfOpenProbeMs: 30_000,
  ...over,
});

const events = (b: CircuitBreaker): BreakerChangeEvent[] => {
  const out: BreakerChangeEvent[] = [];
  b.onChange((e) => out.push(e));
  return out;
};

describe('CircuitBreaker — trips', () => {
  it('starts CLOSED with full size', () => {
    const b = new CircuitBreaker(cfg());
    expect(b.state).toBe('CLOSED');
    expect(b.reason).toBeNull();
    expect(b.trippedAtMs).toBeNull();
    expect(b.detail).toBe('');
    expect(b.allowsOpening).toBe(true);
    expect(b.sizeFactor.toString()).toBe('1');
  });

  it('consecutive_losses: trips on the Nth loss in a row; a win (including 0) resets the streak', () => {
    const b = new CircuitBreaker(cfg({ maxConsecutiveLosses: 3 }));
    const ev = events(b);
    b.recordRoundTrip(dec('-1'), 1);
    b.recordRoundTrip(dec('-2'), 2);
    b.recordRoundTrip(dec('0'), 3); // break-even resets
    b.recordRoundTrip(dec('-1'), 4);
    b.recordRoundTrip(dec('-1'), 5);
    expect(b.state).toBe('CLOSED');
    b.recordRoundTrip(dec('-0.01'), 6);
    expect(b.state).toBe('OPEN');
    expect(b.reason).toBe('consecutive_losses');
    expect(b.trippedAtMs).toBe(6);
    expect(b.detail).toBe('3 consecutive losing round trips (limit 3), last -0.01');
    expect(b.allowsOpening).toBe(false);
    expect(b.sizeFactor.toString()).toBe('0');
    expect(ev).toEqual([{ from: 'CLOSED', to: 'OPEN', reason: 'consecutive_losses', detail: b.detail, atMs: 6 }]);
  });

  it('consecutive_losses off at 0', () => {
    const b = new CircuitBreaker(cfg());
    for (let i = 0; i < 100; i++) b.recordRoundTrip(dec('-5'), i);
    expect(b.state).toBe('CLOSED');
  });

  it('drawdown_abs: at the limit holds, one cent beyond trips', () => {
    const b = new CircuitBreaker(cfg({ maxDrawdownAbs: dec('100') }));
    b.recordEquity(dec('10000'), 0);
    b.recordEquity(dec('9950'), 1_000);
    b.recordEquity(dec('9900'), 2_000); // dd 100 = limit
    expect(b.state).toBe('CLOSED');
    b.recordEquity(dec('9899.99'), 3_000);
    expect(b.state).toBe('OPEN');
    expect(b.reason).toBe('drawdown_abs');
    expect(b.detail).toBe('drawdown 100.01 from peak 10000 to 9899.99 exceeds 100');
  });

  it('drawdown peak is rolling: a peak older than the window is evicted', () => {
    const b = new CircuitBreaker(cfg({ maxDrawdownAbs: dec('100'), drawdownWindowMs: 60_000 }));
    b.recordEquity(dec('10000'), 0);
    b.recordEquity(dec('9950'), 30_000);
    b.recordEquity(dec('9890'), 60_000); // peak 10000 at t=0 still inside [0, 60000]: dd 110
    expect(b.state).toBe('OPEN');

    const c = new CircuitBreaker(cfg({ maxDrawdownAbs: dec('100'), drawdownWindowMs: 60_000 }));
    c.recordEquity(dec('10000'), 0);
    c.recordEquity(dec('9950'), 30_000);
    c.recordEquity(dec('9890'), 60_001); // window (1, 60001]: peak 9950, dd 60
    expect(c.state).toBe('CLOSED');
    c.recordEquity(dec('9849.99'), 60_002); // dd from 9950 = 100.01
    expect(c.state).toBe('OPEN');
    expect(c.detail).toBe('drawdown 100.01 from peak 9950 to 9849.99 exceeds 100');
  });

  it('drawdown_pct: fraction of the window peak', () => {
    const b = new CircuitBreaker(cfg({ maxDrawdownPct: dec('0.05') }));
    b.recordEquity(dec('2000'), 0);
    b.recordEquity(dec('1900'), 1); // exactly 5 %
    expect(b.state).toBe('CLOSED');
    b.recordEquity(dec('1899.9'), 2); // 100.1 / 2000 = 0.05005
    expect(b.state).toBe('OPEN');
    expect(b.reason).toBe('drawdown_pct');
    expect(b.detail).toBe('drawdown 0.05005 (100.1 from peak 2000) exceeds 0.05');
  });

  it('drawdown_pct ignores a non-positive peak', () => {
    const b = new CircuitBreaker(cfg({ maxDrawdownPct: dec('0.05') }));
    b.recordEquity(dec('0'), 0);
    b.recordEquity(dec('-10'), 1);
    expect(b.state).toBe('CLOSED');
  });

  it('latency: nearest-rank p99 over the window; one outlier in 100 is tolerated, two are not', () => {
    const b = new CircuitBreaker(cfg({ maxLatencyP99Ms: 500, minLatencySamples: 100 }));
    for (let i = 0; i < 99; i++) b.recordLatency(100, 1_000);
    b.recordLatency(1_000, 1_000); // n=100: p99 = sorted[98] = 100
    expect(b.state).toBe('CLOSED');
    b.recordLatency(1_000, 1_001); // n=101: p99 = sorted[99] = 1000
    expect(b.state).toBe('OPEN');
    expect(b.reason).toBe('latency');
    expect(b.detail).toBe('p99 latency 1000 ms over 101 samples exceeds 500 ms');
  });

  it('latency: needs minLatencySamples inside the window; old samples are evicted', () => {
    const b = new CircuitBreaker(cfg({ maxLatencyP99Ms: 500, minLatencySamples: 3, latencyWindowMs: 10_000 }));
    b.recordLatency(900, 0);
    b.recordLatency(900, 0);
    b.recordLatency(900, 10_001); // the two at t=0 fall out: 1 sample
    b.recordLatency(900, 10_002);
    expect(b.state).toBe('CLOSED');
    b.recordLatency(900, 10_003);
    expect(b.state).toBe('OPEN');
  });

  it('latency exactly at the limit does not trip', () => {
    const b = new CircuitBreaker(cfg({ maxLatencyP99Ms: 500 }));
    for (let i = 0; i < 10; i++) b.recordLatency(500, i);
    expect(b.state).toBe('CLOSED');
  });

  it('stale_price and stale_orders (price checked first)', () => {
    const c = cfg({ maxPriceAgeMs: 5_000, maxOrderStreamAgeMs: 3_000 });
    const a = new CircuitBreaker(c);
    a.checkFeeds(5_000, 3_000, 1);
    expect(a.state).toBe('CLOSED');
    a.checkFeeds(5_001, 0, 2);
    expect([a.state, a.reason, a.detail]).toEqual(['OPEN', 'stale_price', 'last price is 5001 ms old (limit 5000 ms)']);

    const o = new CircuitBreaker(c);
    o.checkFeeds(0, 3_001, 2);
    expect([o.state, o.reason, o.detail]).toEqual(['OPEN', 'stale_orders', 'order stream down for 3001 ms (limit 3000 ms)']);

    const both = new CircuitBreaker(c);
    both.checkFeeds(9_999, 9_999, 3);
    expect(both.reason).toBe('stale_price');

    const off = new CircuitBreaker(cfg());
    off.checkFeeds(1e9, 1e9, 4);
    expect(off.state).toBe('CLOSED');
  });

  it('reconciliation trip', () => {
    const b = new CircuitBreaker(cfg());
    b.tripReconciliation('BTCUSDT position divergence 7.5 % (local 0.02, venue 0.0215)', 42);
    expect([b.state, b.reason, b.trippedAtMs]).toEqual(['OPEN', 'reconciliation', 42]);
    expect(b.detail).toContain('7.5 %');
  });

  it('tripping while OPEN keeps the first reason, detail and time, and emits nothing', () => {
    const b = new CircuitBreaker(cfg({ maxPriceAgeMs: 1_000 }));
    const ev = events(b);
    b.tripReconciliation('first', 10);
    b.checkFeeds(5_000, 0, 20);
    b.trip('latency', 'second', 30);
    expect([b.reason, b.detail, b.trippedAtMs]).toEqual(['reconciliation', 'first', 10]);
    expect(ev).toHaveLength(1);
  });
});

describe('CircuitBreaker — recovery', () => {
  it('OPEN → HALF_OPEN after the cooldown → CLOSED after a clean probe', () => {
    const b = new CircuitBreaker(cfg({ cooldownMs: 60_000, halfOpenProbeMs: 30_000 }));
    const ev = events(b);
    b.tripReconciliation('x', 1_000);
    expect(b.tick(60_999)).toBe(false);
    expect(b.state).toBe('OPEN');
    expect(b.tick(61_000)).toBe(true);
    expect(b.state).toBe('HALF_OPEN');
    expect(b.reason).toBe('reconciliation');
    expect(b.allowsOpening).toBe(true);
    expect(b.sizeFactor.toString()).toBe('0.5');
    expect(b.tick(90_999)).toBe(false);
    expect(b.tick(91_000)).toBe(true);
    expect(b.state).toBe('CLOSED');
    expect([b.reason, b.trippedAtMs, b.detail]).toEqual([null, null, '']);
    expect(b.sizeFactor.toString()).toBe('1');
    expect(ev.map((e) => `${e.from}>${e.to}@${e.atMs}:${e.reason}`)).toEqual([
      'CLOSED>OPEN@1000:reconciliation',
      'OPEN>HALF_OPEN@61000:reconciliation',
      'HALF_OPEN>CLOSED@91000:null',
    ]);
  });

  it('a losing round trip during the probe re-opens and restarts the cooldown', () => {
    const b = new CircuitBreaker(cfg({ maxConsecutiveLosses: 3 }));
    for (const t of [1, 2, 3]) b.recordRoundTrip(dec('-1'), t);
    b.tick(60_003);
    expect(b.state).toBe('HALF_OPEN');
    b.recordRoundTrip(dec('-0.5'), 70_000);
    expect([b.state, b.reason, b.trippedAtMs]).toEqual(['OPEN', 'consecutive_losses', 70_000]);
    expect(b.detail).toBe('losing round trip -0.5 during the half-open probe');
    expect(b.tick(129_999)).toBe(false);
    expect(b.tick(130_000)).toBe(true);
    expect(b.state).toBe('HALF_OPEN');
  });

  it('entering HALF_OPEN rebases the windows: the old peak does not re-trip, a new drawdown does', () => {
    const b = new CircuitBreaker(cfg({ maxDrawdownAbs: dec('100'), drawdownWindowMs: 3_600_000 }));
    b.recordEquity(dec('10000'), 0);
    b.recordEquity(dec('9850'), 1_000);
    expect(b.reason).toBe('drawdown_abs');
    b.tick(61_000);
    expect(b.state).toBe('HALF_OPEN');
    b.recordEquity(dec('9850'), 62_000); // still 150 below the old peak, but that peak is history
    expect(b.state).toBe('HALF_OPEN');
    b.recordEquity(dec('9749.99'), 63_000); // 100.01 below the new baseline
    expect(b.state).toBe('OPEN');
    expect(b.detail).toBe('drawdown 100.01 from peak 9850 to 9749.99 exceeds 100');
  });

  it('a stale feed during the probe re-opens', () => {
    const b = new CircuitBreaker(cfg({ maxPriceAgeMs: 1_000 }));
    b.checkFeeds(2_000, 0, 0);
    b.tick(60_000);
    b.checkFeeds(500, 0, 60_001);
    expect(b.state).toBe('HALF_OPEN');
    b.checkFeeds(1_500, 0, 60_002);
    expect([b.state, b.reason]).toEqual(['OPEN', 'stale_price']);
  });

  it('cooldownMs 0 = manual reset only', () => {
    const b = new CircuitBreaker(cfg({ cooldownMs: 0 }));
    b.tripReconciliation('x', 0);
    expect(b.tick(1e12)).toBe(false);
    expect(b.state).toBe('OPEN');
    b.reset(1e12 + 1);
    expect(b.state).toBe('CLOSED');
  });

  it('halfOpenProbeMs 0: OPEN → HALF_OPEN → CLOSED in one tick, both transitions emitted', () => {
    const b = new CircuitBreaker(cfg({ cooldownMs: 1_000, halfOpenProbeMs: 0 }));
    const ev = events(b);
    b.trip('latency', 'x', 0);
    expect(b.tick(1_000)).toBe(true);
    expect(b.state).toBe('CLOSED');
    expect(ev.map((e) => e.to)).toEqual(['OPEN', 'HALF_OPEN', 'CLOSED']);
  });

  it('manual trip holds OPEN past the cooldown until reset', () => {
    const b = new CircuitBreaker(cfg({ cooldownMs: 1_000 }));
    const ev = events(b);
    b.trip('manual', 'operator: exchange maintenance', 0);
    expect([b.reason, b.detail]).toEqual(['manual', 'operator: exchange maintenance']);
    expect(b.tick(1_000_000)).toBe(false);
    expect(b.state).toBe('OPEN');
    b.reset(1_000_001);
    expect(b.state).toBe('CLOSED');
    expect(ev.map((e) => `${e.from}>${e.to}:${e.reason}:${e.detail}`)).toEqual([
      'CLOSED>OPEN:manual:operator: exchange maintenance',
      'OPEN>CLOSED:null:manual reset',
    ]);
  });

  it('manual trip while OPEN for another reason keeps that reason but holds', () => {
    const b = new CircuitBreaker(cfg({ cooldownMs: 1_000 }));
    b.trip('latency', 'slow', 0);
    b.trip('manual', 'hold it', 1);
    expect(b.reason).toBe('latency');
    expect(b.detail).toBe('slow; manual hold: hold it');
    expect(b.tick(10_000)).toBe(false);
    expect(b.state).toBe('OPEN');
    b.reset(10_001);
    b.trip('latency', 'slow again', 10_002); // the hold was cleared by reset
    expect(b.tick(11_002)).toBe(true);
    expect(b.state).toBe('HALF_OPEN');
  });

  it('manual trip during HALF_OPEN re-opens and holds', () => {
    const b = new CircuitBreaker(cfg({ cooldownMs: 1_000 }));
    b.trip('latency', 'x', 0);
    b.tick(1_000);
    b.trip('manual', 'stop', 1_001);
    expect([b.state, b.reason]).toEqual(['OPEN', 'manual']);
    expect(b.tick(1e9)).toBe(false);
  });

  it('reset clears the loss streak and windows; reset while CLOSED emits nothing', () => {
    const b = new CircuitBreaker(cfg({ maxConsecutiveLosses: 3, maxDrawdownAbs: dec('100') }));
    const ev = events(b);
    b.recordRoundTrip(dec('-1'), 1);
    b.recordRoundTrip(dec('-1'), 2);
    b.recordEquity(dec('1000'), 3);
    b.reset(4);
    expect(ev).toHaveLength(0);
    b.recordRoundTrip(dec('-1'), 5); // streak 1, not 3
    b.recordEquity(dec('850'), 6); // no peak 1000 any more
    expect(b.state).toBe('CLOSED');
    b.recordRoundTrip(dec('-1'), 7);
    b.recordRoundTrip(dec('-1'), 8);
    expect(b.state).toBe('OPEN');
  });

  it('time going backwards is treated as the latest time seen', () => {
    const b = new CircuitBreaker(cfg({ cooldownMs: 1_000 }));
    b.trip('latency', 'x', 5_000);
    expect(b.tick(100)).toBe(false);
    expect(b.tick(5_999)).toBe(false);
    expect(b.tick(6_000)).toBe(true);
  });
});

describe('CircuitBreaker — upstream bug 12 (state not observable after auto-reset)', () => {
  it('emits every transition, so a gauge driven by onChange returns to 0', () => {
    const b = new CircuitBreaker(cfg({ maxConsecutiveLosses: 2, cooldownMs: 1_000, halfOpenProbeMs: 500 }));
    let gauge = 0;
    const transitions: string[] = [];
    b.onChange((e) => {
      gauge = e.to === 'OPEN' ? 1 : 0;
      transitions.push(`${e.from}>${e.to}`);
    });
    // Fed through the public API (upstream: nothing ever called RecordTrade)
    b.recordRoundTrip(dec('-3'), 0);
    b.recordRoundTrip(dec('-3'), 1);
    expect(gauge).toBe(1);
    b.tick(1_001);
    b.tick(1_501);
    expect(gauge).toBe(0);
    expect(b.state).toBe('CLOSED');
    b.trip('manual', 'm', 2_000);
    expect(gauge).toBe(1);
    b.reset(2_001);
    expect(gauge).toBe(0);
    expect(transitions).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>CLOSED', 'CLOSED>OPEN', 'OPEN>CLOSED']);
  });

  it('unsubscribe stops delivery; a throwing listener does not starve the others', () => {
    const b = new CircuitBreaker(cfg());
    const seen: string[] = [];
    b.onChange(() => {
      throw new Error('listener bug');
    });
    const off = b.onChange((e) => seen.push(e.to));
    expect(() => b.trip('latency', 'x', 0)).toThrow('listener bug');
    expect(b.state).toBe('OPEN');
    expect(seen).toEqual(['OPEN']);
    off();
    expect(() => b.reset(1)).toThrow('listener bug');
    expect(seen).toEqual(['OPEN']);
  });
});

describe('CircuitBreaker — bounded windows', () => {
  it('caps the latency window at BREAKER_MAX_WINDOW_SAMPLES', () => {
    const b = new CircuitBreaker(cfg({ latencyWindowMs: 1e12 }));
    for (let i = 0; i < BREAKER_MAX_WINDOW_SAMPLES + 500; i++) b.recordLatency(1, i);
    expect((b as unknown as { latency: unknown[] }).latency).toHaveLength(BREAKER_MAX_WINDOW_SAMPLES);
  });

  it('caps the equity window but keeps the current peak exact', () => {
    const b = new CircuitBreaker(cfg({ drawdownWindowMs: 1e12, maxDrawdownAbs: dec('1000000') }));
    const n = BREAKER_MAX_WINDOW_SAMPLES + 500;
    for (let i = 0; i < n; i++) b.recordEquity(dec(1_000_000 - i), i); // strictly falling: every sample is a candidate
    const dq = (b as unknown as { equity: { v: { toString(): string } }[] }).equity;
    expect(dq.length).toBeLessThanOrEqual(BREAKER_MAX_WINDOW_SAMPLES);
    expect(dq[0]!.v.toString()).toBe('1000000');
  });

  it('evicts expired samples on tick', () => {
    const b = new CircuitBreaker(cfg({ latencyWindowMs: 1_000, drawdownWindowMs: 1_000 }));
    for (let i = 0; i < 50; i++) b.recordLatency(5, i);
    b.recordEquity(dec('10'), 0);
    b.recordEquity(dec('9'), 1);
    b.tick(5_000);
    expect((b as unknown as { latency: unknown[] }).latency).toHaveLength(0);
    expect((b as unknown as { equity: unknown[] }).equity).toHaveLength(1); // the latest equity stays as the baseline
  });
});

describe('CircuitBreaker — config validation', () => {
  it.each<[Partial<BreakerConfig>, RegExp]>([
    [{ maxConsecutiveLosses: -1 }, /breaker\.max_consecutive_losses/],
    [{ maxConsecutiveLosses: 1.5 }, /breaker\.max_consecutive_losses/],
    [{ cooldownMs: -1 }, /breaker\.cooldown_ms/],
    [{ halfOpenProbeMs: Number.NaN }, /breaker\.half_open_probe_ms/],
    [{ minLatencySamples: 0 }, /breaker\.min_latency_samples/],
    [{ maxDrawdownAbs: dec('-1') }, /breaker\.max_drawdown_abs/],
    [{ maxDrawdownPct: dec('1') }, /breaker\.max_drawdown_pct/],
    [{ maxDrawdownPct: dec('0.1'), drawdownWindowMs: 0 }, /breaker\.drawdown_window_ms/],
    [{ maxLatencyP99Ms: 100, latencyWindowMs: 0 }, /breaker\.latency_window_ms/],
  ])('rejects %p', (over, re) => {
    expect(() => new CircuitBreaker(cfg(over))).toThrow(re);
  });
});

describe('CircuitBreaker — conditions close by themselves, losses hold', () => {
  it('stale_price with cooldownMs 0 closes once the price has been fresh for conditionRecoveryMs (old behaviour: never)', () => {
    const b = new CircuitBreaker(cfg({ maxPriceAgeMs: 5_000, cooldownMs: 0, conditionRecoveryMs: 60_000 }));
    const ev = events(b);
    b.checkFeeds(6_000, 0, 10_000);
    expect([b.state, b.reason]).toEqual(['OPEN', 'stale_price']);
    // Still stale for a while: no healthy time accrues.
    for (let t = 11_000; t <= 100_000; t += 1_000) {
      b.checkFeeds(t - 4_000, 0, t);
      b.tick(t);
    }
    expect(b.state).toBe('OPEN');
    // Fresh from 101 s; a stale blip at 130 s restarts the healthy time.
    b.checkFeeds(100, 0, 101_000);
    b.tick(101_000);
    b.checkFeeds(5_001, 0, 130_000);
    b.checkFeeds(100, 0, 131_000);
    b.tick(190_999);
    expect(b.state).toBe('OPEN');
    expect(b.tick(191_000)).toBe(true);
    expect(b.state).toBe('CLOSED');
    expect(ev.map((e) => `${e.from}>${e.to}@${e.atMs}`)).toEqual(['CLOSED>OPEN@10000', 'OPEN>CLOSED@191000']);
    expect(ev[1].detail).toMatch(/stale_price healthy since 131000 .*condition recovery 60000 ms/);
  });

  it('every condition seen failing must be healthy: stale_orders while OPEN for stale_price delays the close', () => {
    const b = new CircuitBreaker(cfg({ maxPriceAgeMs: 5_000, maxOrderStreamAgeMs: 5_000, cooldownMs: 0, conditionRecoveryMs: 10_000 }));
    b.checkFeeds(6_000, 6_000, 0);
    b.checkFeeds(0, 20_000, 1_000);
    b.tick(20_000);
    expect(b.state).toBe('OPEN');
    b.checkFeeds(0, 0, 25_000);
    b.tick(34_999);
    expect(b.state).toBe('OPEN');
    b.tick(35_000);
    expect(b.state).toBe('CLOSED');
  });

  it('latency closes once the window p99 is back under the limit; reconciliation once the reconciler reports agreement', () => {
    const l = new CircuitBreaker(cfg({ maxLatencyP99Ms: 100, latencyWindowMs: 10_000, minLatencySamples: 1, cooldownMs: 0, conditionRecoveryMs: 5_000 }));
    l.recordLatency(500, 0);
    expect(l.reason).toBe('latency');
    l.tick(9_000);
    expect(l.state).toBe('OPEN'); // the 500 ms sample is still in the window
    l.tick(10_001); // evicted: healthy from here
    l.tick(15_000);
    expect(l.state).toBe('OPEN');
    l.tick(15_001);
    expect(l.state).toBe('CLOSED');

    const r = new CircuitBreaker(cfg({ cooldownMs: 0, conditionRecoveryMs: 5_000 }));
    r.tripReconciliation('venue 0 vs local 0.018', 0);
    r.tick(100_000);
    expect(r.state).toBe('OPEN'); // nobody said it is resolved
    r.conditionHealthy('reconciliation', 100_000);
    r.tick(105_000);
    expect(r.state).toBe('CLOSED');
  });

  it.each([
    ['consecutive losses', (b: CircuitBreaker, t: number) => b.recordRoundTrip(dec('-1'), t)],
    ['drawdown', (b: CircuitBreaker, t: number) => (b.recordEquity(dec('100'), t), b.recordEquity(dec('80'), t))],
    ['manual', (b: CircuitBreaker, t: number) => b.trip('manual', 'operator', t)],
  ])('%s: stays OPEN however long the feeds are healthy, also when it arrives on top of a stale-feed trip', (_n, lose) => {
    for (const onTop of [false, true]) {
      const b = new CircuitBreaker(cfg({ maxConsecutiveLosses: 1, maxDrawdownAbs: dec('10'), maxPriceAgeMs: 5_000, cooldownMs: 0, conditionRecoveryMs: 1_000 }));
      if (onTop) b.checkFeeds(6_000, 0, 0);
      lose(b, 1);
      expect(b.state).toBe('OPEN');
      for (let t = 2; t < 1e6; t += 10_000) {
        b.checkFeeds(0, 0, t);
        b.tick(t);
      }
      expect(b.state).toBe('OPEN');
      b.reset(2e6);
      expect(b.state).toBe('CLOSED');
    }
  });

  it('conditionRecoveryMs 0 turns the auto-close off; a negative value is rejected naming the key', () => {
    const b = new CircuitBreaker(cfg({ maxPriceAgeMs: 5_000, cooldownMs: 0, conditionRecoveryMs: 0 }));
    b.checkFeeds(6_000, 0, 0);
    b.checkFeeds(0, 0, 1);
    b.tick(1e9);
    expect(b.state).toBe('OPEN');
    expect(() => new CircuitBreaker(cfg({ conditionRecoveryMs: -1 }))).toThrow(/breaker\.condition_recovery_ms/);
  });
});
