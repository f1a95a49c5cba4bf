/**
 * Preloaded into the real connector (`dist/apps/exchange-connector/src/main.js`) for the fan-out
 * benchmark, with BENCH_BURST=1. Replaces the sim venue's own price feed by a wall-clock-stamped
 * burst source: `SimExchange#watchPrice` observers (the connector's StreamHub opens one per topic)
 * are kept here, and an IPC `{type:'burst', n, rate}` emits `n` PriceTicks at `rate`/s to them,
 * with `timestampMs` = emit wall time (sub-ms, performance.timeOrigin + now). Everything after the
 * venue — StreamHub, codec, Nest gRPC transport, grpc-js — is the product code unchanged.
 *
 * This stands in for the planned test hook `POST /test/burst?n=&rate=` (SIM_TEST_BURST=1).
 */
import { Dec, type PriceTick, type StreamObserver } from '@mm/domain';
import { SimExchange } from '@mm/sim-exchange';
import { runBurst } from '../lib/burst';

const observers = new Set<StreamObserver<PriceTick>>();

if (process.env.BENCH_BURST === '1') {
  SimExchange.prototype.watchPrice = function watchPrice(this: SimExchange, symbol: string, observer: StreamObserver<PriceTick>) {
    const entry: StreamObserver<PriceTick> = { next: (v) => observer.next(v) };
    observers.add(entry);
    return () => void observers.delete(entry);
  };
  // fixed set of price Decimals (the sim caches its Decimals too)
  const prices = Array.from({ length: 1024 }, (_, i) => new Dec(100000).plus(new Dec(i).div(10)));
  process.on('message', (m: { type?: string; id?: number; n?: number; rate?: number; symbol?: string }) => {
    if (m?.type === 'observers') process.send?.({ id: m.id, observers: observers.size });
    if (m?.type !== 'burst') return;
    const symbol = m.symbol ?? 'BTCUSDT';
    void runBurst(m.n ?? 0, m.rate ?? 1000, (seq) => {
      const tick: PriceTick = { symbol, price: prices[seq & 1023], timestampMs: performance.timeOrigin + performance.now() };
      for (const o of observers) o.next(tick);
    }).then((r) => process.send?.({ id: m.id, ...r, observers: observers.size }));
  });
}
