import { Dec, type Candle } from '@mm/domain';
import { SimExchange, defaultSymbolRules, type LockstepGate } from './index';

const T0 = 1_746_372_780_000;
const candles: Candle[] = Array.from({ length: 300 }, (_, i) => ({
  symbol: 'BTCUSDT',
  openTimeMs: T0 + i * 60_000,
  open: new Dec(100000),
  high: new Dec(100100),
  low: new Dec(99900),
  close: new Dec(100000),
  volume: new Dec(1),
  closed: true,
}));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SimExchange timer mode under a LockstepGate', () => {
  const make = () => new SimExchange({ symbols: [{ rules: defaultSymbolRules('BTCUSDT'), candles }], speed: 100_000, historyCandles: 1 });

  it('stands still while not running, then never emits past the acknowledged instant (strict) and follows acks', async () => {
    const s = make();
    const seen: number[] = [];
    s.watchPrice('BTCUSDT', { next: (p) => seen.push(p.timestampMs) });
    let run = false;
    let acked = 0;
    const gate: LockstepGate = { running: () => run, lockstep: true, ackedMs: () => acked };
    s.setGate(gate);
    const t0 = s.status().marketTimeMs;
    s.start();
    await sleep(150);
    expect(s.status().marketTimeMs).toBe(t0);
    expect(seen).toHaveLength(0);
    run = true;
    await sleep(100);
    // one instant emitted, then waiting for its acknowledgement
    expect(seen).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      acked = Math.max(...seen);
      await sleep(60);
      expect(Math.max(...seen)).toBe(acked + 1000);
    }
    expect(seen).toHaveLength(6);
    // acknowledging far ahead releases it (100 000× for ~200 ms covers the data)
    acked = Infinity;
    await sleep(400);
    expect(s.status().finished).toBe(true);
    await s.close();
  });

  it('a window lets the replay run that far past the acknowledged time', async () => {
    const s = make();
    const seen: number[] = [];
    s.watchPrice('BTCUSDT', { next: (p) => seen.push(p.timestampMs) });
    let acked = 0;
    s.setGate({ running: () => true, lockstep: true, ackedMs: () => acked, windowMs: 60_000 });
    s.start();
    await sleep(100);
    acked = seen[0];
    await sleep(200);
    expect(Math.max(...seen)).toBe(acked + 60_000);
    await s.close();
  });
});
