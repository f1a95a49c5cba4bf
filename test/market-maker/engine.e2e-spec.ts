/**
 * The grid engine as the app builds it, on the simulated venue (manual market time) and a real SQLite
 * file: crash recovery, exactly-once orders, breakers, exposure limits, neutral mode, and the upstream
 * bugs of shared/reference/upstream-behaviour.md §9 that ours must not have.
 */
import { Dec, VenueError, type ExchangeVenue, type OrderRequest, dec, failedPrecondition, invalidArgument } from '@mm/domain';
import type { SimExchange } from '@mm/sim-exchange';
import { type EngineHarness, flat, startEngine } from '../support/engine-harness';

jest.setTimeout(60_000);

/** Flat at 100000, then a dip to 99640 that fills the 99900/99800/99700 buys, then flat at 99650. */
const DIP: [string, string, string, string][] = [...flat('100000', 23), ['100000', '100000', '99640', '99650'], ...flat('99650', 200)];
/** Dip, then a rally to 100050 that fills the take-profit sells at 100000/99900/99800. */
const DIP_AND_RALLY: [string, string, string, string][] = [...flat('100000', 23), ['100000', '100000', '99640', '99650'], ...flat('99650', 3), ['99650', '100050', '99650', '100050'], ...flat('100050', 200)];

const open = async (sim: SimExchange, side?: 'BUY' | 'SELL') => (await sim.getOpenOrders('BTCUSDT')).filter((o) => !side || o.side === side);
const position = async (sim: SimExchange) => (await sim.getPositions('BTCUSDT'))[0]?.size.toString() ?? '0';
const status = (h: EngineHarness) => h.engine.snapshot();
const rows = (h: EngineHarness, sql: string) => h.ds.query(sql);

/** Wraps a venue, letting a test intercept placeOrder. */
function wrapPlace(sim: SimExchange, place: (req: OrderRequest, real: (r: OrderRequest) => Promise<import('@mm/domain').Order>) => Promise<import('@mm/domain').Order>): ExchangeVenue {
  return new Proxy(sim, {
    get(target, prop, receiver) {
      if (prop === 'placeOrder') return (req: OrderRequest) => place(req, (r) => target.placeOrder(r));
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as unknown as ExchangeVenue;
}

describe('crash recovery and exactly-once orders', () => {
  it('books fills that happened while it was down as fills, and keeps its anchor (upstream 9.11, 9.16)', async () => {
    const h1 = await startEngine({ rows: DIP });
    await h1.step(60_000);
    expect((await open(h1.sim, 'BUY')).map((o) => o.price.toString()).sort()).toEqual(['99500', '99600', '99700', '99800', '99900']);
    const anchor = status(h1).anchorPrice;
    await h1.stop(false); // like a crash: orders stay on the venue
    h1.sim.advance(3 * 60_000); // the dip happens while nobody listens
    expect(await position(h1.sim)).toBe('0.006');

    const h2 = await startEngine({ sim: h1.sim, dir: h1.dir });
    expect(status(h2).anchorPrice).toBe(anchor);
    expect(status(h2).inventory).toBe('0.006');
    const fills = await rows(h2, `SELECT side, price, quantity FROM fill ORDER BY price DESC`);
    expect(fills.map((f: any) => `${f.side} ${f.quantity}@${f.price}`)).toEqual(['BUY 0.002@99900', 'BUY 0.002@99800', 'BUY 0.002@99700']);
    // Treated as fills, not cancels: the three slots now hold inventory and get their take-profits.
    await h2.step(1000);
    expect((await open(h2.sim, 'SELL')).map((o) => o.price.toString()).sort()).toEqual(['100000', '99800', '99900']);
    expect(h2.sim.status().duplicateClientOrderIds).toBe(0);
    await h2.stop();
  });

  it('writes the intent before the order leaves (upstream 9.16: persist before mutate)', async () => {
    const seen: string[] = [];
    const h = await startEngine({
      wrap: (sim, ds) =>
        wrapPlace(sim, async (req, real) => {
          const row = await ds.query(`SELECT status FROM order_intent WHERE client_order_id = ?`, [req.clientOrderId]);
          seen.push(`${req.clientOrderId}:${row[0]?.status ?? 'MISSING'}`);
          return real(req);
        }),
    });
    await h.step(2000);
    expect(seen.length).toBe(5);
    for (const s of seen) expect(s).toMatch(/^mm1B\d+g1:PENDING_NEW$/);
    await h.stop();
  });

  it('an order whose answer was lost is looked up by client order id, never sent twice (upstream 9.9)', async () => {
    let lose = true;
    const h = await startEngine({
      config: { executor: { max_attempts: 1 } },
      wrap: (sim) => {
        const venue = wrapPlace(sim, async (req, real) => {
          const o = await real(req); // the venue got it…
          if (lose) throw new VenueError('UNAVAILABLE', 'connection reset'); // …but the answer is lost
          return o;
        });
        // …and so are the order-stream events of that moment.
        return new Proxy(venue, {
          get(target, prop, receiver) {
            if (prop !== 'watchOrders') return Reflect.get(target, prop, receiver);
            return (o: import('@mm/domain').StreamObserver<import('@mm/domain').OrderEvent>) =>
              sim.watchOrders({ ...o, next: (e) => (lose ? undefined : o.next(e)) });
          },
        });
      },
    });
    await h.step(2000);
    expect(status(h).slots.pending).toBe(5);
    expect((await open(h.sim, 'BUY')).length).toBe(5);
    lose = false;
    await h.engine.reconcileNow();
    expect(status(h).slots.pending).toBe(0);
    expect(status(h).slots.locked).toBe(5);
    await h.step(3000);
    expect((await open(h.sim, 'BUY')).length).toBe(5);
    expect(h.sim.allOrders().length).toBe(5);
    expect(h.sim.status().duplicateClientOrderIds).toBe(0);
    await h.stop();
  });

  it('transient errors are retried with the same client order id (idempotent), others are not', async () => {
    const calls = new Map<string, number>();
    const h = await startEngine({
      config: { executor: { max_attempts: 3, initial_backoff_ms: 5 } },
      wrap: (sim) =>
        wrapPlace(sim, async (req, real) => {
          const n = (calls.get(req.clientOrderId!) ?? 0) + 1;
          calls.set(req.clientOrderId!, n);
          if (req.price!.eq('99900') && n === 1) throw new VenueError('UNAVAILABLE', 'try again');
          if (req.price!.eq('99800')) throw invalidArgument('price', 'rejected for the test');
          return real(req);
        }),
    });
    await h.step(1000);
    const byPrice = [...calls.entries()].map(([cid, n]) => `${cid}:${n}`);
    expect(byPrice).toContain('mm1B999000g1:2'); // retried once, then accepted
    expect(byPrice).toContain('mm1B998000g1:1'); // INVALID_ARGUMENT: never retried
    expect((await open(h.sim, 'BUY')).map((o) => o.price.toString()).sort()).toEqual(['99500', '99600', '99700', '99900']);
    const rejected = await rows(h, `SELECT status, error FROM order_intent WHERE client_order_id = 'mm1B998000g1'`);
    expect(rejected[0].status).toBe('REJECTED');
    await h.stop();
  });

  it('a rejected or expired order frees its slot and the level is tried again with the next generation (upstream 9.9)', async () => {
    let rejectOnce = true;
    const h = await startEngine({
      wrap: (sim) =>
        wrapPlace(sim, async (req, real) => {
          if (rejectOnce && req.price!.eq('99900')) {
            rejectOnce = false;
            throw invalidArgument('post_only', 'order would immediately match and take', 'POST_ONLY_WOULD_TAKE');
          }
          return real(req);
        }),
    });
    await h.step(2000);
    const cids = (await open(h.sim, 'BUY')).map((o) => o.clientOrderId);
    expect(cids).toContain('mm1B999000g2');
    const slot = h.engine.listSlots().find((s) => s.level === '99900')!;
    expect(slot.status).toBe('LOCKED');
    expect(slot.generation).toBe(2);
    await h.stop();
  });

  it('adopts its own order found on the venue but not in its database, and cancels foreign ones only when told to', async () => {
    const h1 = await startEngine();
    await h1.step(1000);
    await h1.stop(false);
    // Lose the database; the venue still has our five buys, plus a foreign order.
    await h1.sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: dec('0.002'), price: dec('90000'), clientOrderId: 'someone-else' });
    const h2 = await startEngine({ sim: h1.sim, config: { engine: { cancel_foreign_orders: true } } });
    const rec = h2.engine.lastReconciliation!;
    expect(rec.adopted).toBe(5);
    expect(rec.foreignCancelled).toBe(1);
    expect(status(h2).slots.locked).toBe(5);
    expect((await open(h2.sim)).map((o) => o.clientOrderId).sort()).toEqual(['mm1B995000g1', 'mm1B996000g1', 'mm1B997000g1', 'mm1B998000g1', 'mm1B999000g1']);
    await h2.step(2000);
    expect(h2.sim.allOrders().length).toBe(6); // nothing placed twice
    await h2.stop();
  });
});

describe('circuit breakers', () => {
  it('manual trip cancels opening orders, keeps take-profit exits, stops quoting; reset resumes', async () => {
    const h = await startEngine({ rows: DIP });
    await h.step(5 * 60_000);
    expect((await open(h.sim, 'SELL')).length).toBe(3);
    await h.engine.tripBreaker('test');
    expect(await open(h.sim, 'BUY')).toEqual([]);
    expect((await open(h.sim, 'SELL')).length).toBe(3);
    await h.step(60_000);
    expect(await open(h.sim, 'BUY')).toEqual([]);
    expect(status(h).risk.breaker).toMatchObject({ state: 'OPEN', reason: 'manual' });
    expect(h.alerts.some((a) => a.kind === 'breaker_tripped')).toBe(true);
    await h.engine.resetBreaker();
    await h.step(2000);
    expect((await open(h.sim, 'BUY')).length).toBeGreaterThan(0);
    await h.stop();
  });

  it('drawdown (absolute) trips when the inventory loses more than the limit', async () => {
    // On the dip, the 99900 and 99800 buys fill; at ~99700 their unrealized loss (0.4 + 0.2) plus fees
    // exceeds 0.5 USDT: the breaker opens and cancels the 99700 buy before the price gets there.
    const h = await startEngine({ rows: DIP, config: { risk: { breaker: { max_drawdown_abs: '0.5', drawdown_window_ms: 600_000 } } } });
    await h.step(5 * 60_000);
    expect(status(h).risk.breaker).toMatchObject({ state: 'OPEN', reason: 'drawdown_abs' });
    expect(await open(h.sim, 'BUY')).toEqual([]);
    expect(status(h).inventory).toBe('0.004');
    expect((await open(h.sim, 'SELL')).map((o) => o.price.toString()).sort()).toEqual(['100000', '99900']);
    await h.stop();
  });

  it('exchange latency p99 over its window trips the breaker', async () => {
    const h = await startEngine({
      config: { risk: { breaker: { max_latency_p99_ms: 20, min_latency_samples: 3, latency_window_ms: 60_000 } } },
      wrap: (sim) => wrapPlace(sim, async (req, real) => new Promise((r) => setTimeout(() => r(real(req)), 40))),
    });
    await h.step(1000);
    expect(status(h).risk.breaker).toMatchObject({ state: 'OPEN', reason: 'latency' });
    expect(await open(h.sim, 'BUY')).toEqual([]);
    await h.stop();
  });

  it('a silent price feed trips the breaker even though no tick arrives', async () => {
    const h = await startEngine({ config: { risk: { breaker: { max_price_age_ms: 300 } } } });
    await h.step(1000);
    expect((await open(h.sim, 'BUY')).length).toBe(5);
    await new Promise((r) => setTimeout(r, 1600)); // no market time passes: the feed is silent
    await h.settle();
    expect(status(h).risk.breaker).toMatchObject({ state: 'OPEN', reason: 'stale_price' });
    expect(await open(h.sim, 'BUY')).toEqual([]);
    await h.stop();
  });

  it('an order stream down for too long trips the breaker', async () => {
    const h = await startEngine({ config: { risk: { breaker: { max_order_stream_down_ms: 300 } } } });
    await h.step(1000);
    h.engine.streamState('orders', 'reconnecting');
    await new Promise((r) => setTimeout(r, 1600));
    await h.settle();
    expect(status(h).risk.breaker).toMatchObject({ state: 'OPEN', reason: 'stale_orders' });
    expect(await open(h.sim, 'BUY')).toEqual([]);
    await h.stop();
  });

  it('position divergence: a small one is corrected deterministically, a large one trips the breaker (upstream 9.11)', async () => {
    const h = await startEngine({ rows: DIP, config: { risk: { reconcile_tolerance_pct: '30' } } });
    await h.step(5 * 60_000);
    expect(status(h).inventory).toBe('0.006');
    // Someone else buys 0.002 on our account: 0.002 / 0.008 = 25 % < 30 %.
    await h.sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.002') });
    expect((await h.engine.reconcileNow())!.action).toBe('awaiting_confirmation');
    expect((await h.engine.reconcileNow())!.action).toBe('corrected');
    expect(status(h).inventory).toBe('0.008');
    expect(await position(h.sim)).toBe('0.008');
    // Then 0.01 more: 0.01 / 0.018 = 56 % → breaker.
    await h.sim.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.01') });
    await h.engine.reconcileNow();
    expect((await h.engine.reconcileNow())!.action).toBe('breaker_tripped');
    expect(status(h).risk.breaker).toMatchObject({ state: 'OPEN', reason: 'reconciliation' });
    expect(status(h).inventory).toBe('0.008');
    await h.stop();
  });
});

describe('exposure limits and strategy modes', () => {
  it('blocks the opening order that would exceed the position notional limit, counting live orders', async () => {
    // 0.002 × ~99.9k ≈ 200 per order: two fit under 450, the third would not.
    const h = await startEngine({ config: { risk: { exposure: { max_position_notional: '450' } } } });
    await h.step(1000);
    expect((await open(h.sim, 'BUY')).map((o) => o.price.toString()).sort()).toEqual(['99800', '99900']);
    expect(status(h).risk.blocked.position_notional).toBeGreaterThanOrEqual(3);
    const metrics = await h.registry.metrics();
    expect(metrics).toMatch(/market_maker_orders_blocked_total\{symbol="BTCUSDT",reason="position_notional"\} [3-9]/);
    expect(h.alerts.some((a) => a.kind === 'limit_hit')).toBe(true);
    await h.stop();
  });

  it('round trips book exact realized PnL, and the metrics carry real values (upstream 9.19)', async () => {
    const h = await startEngine({ rows: DIP_AND_RALLY });
    await h.step(10 * 60_000);
    // Three round trips of 0.002, 100 apart: 0.2 each minus maker fees (0.02 % of both legs):
    // 0.2 − 0.03996 − 0.04 + 0.2 − 0.03992 − 0.03996 + 0.2 − 0.03988 − 0.03992 = 0.36036.
    const fills = await rows(h, `SELECT side, price, quantity, fee FROM fill ORDER BY trade_id`);
    let expected = new Dec(0);
    for (const f of fills) expected = f.side === 'SELL' ? expected.plus(new Dec(f.price).mul(f.quantity)).minus(f.fee) : expected.minus(new Dec(f.price).mul(f.quantity)).minus(f.fee);
    expect(fills.filter((f: any) => f.side === 'SELL').length).toBe(3);
    expect(status(h).realizedPnl).toBe(expected.toString());
    expect(status(h).realizedPnl).toBe('0.36036');
    expect(status(h).inventory).toBe('0');
    const metrics = await h.registry.metrics();
    expect(metrics).toMatch(/market_maker_pnl_realized\{symbol="BTCUSDT"\} 0\.36036/);
    expect(metrics).toMatch(/market_maker_orders_filled_total\{symbol="BTCUSDT",side="SELL"\} 3/);
    await h.stop();
  });

  it('neutral mode tracks short inventory and closes it (upstream 9.7)', async () => {
    // Up to 100360 (fills the 100100/100200/100300 opening sells), then back down to 99950 (buys them back).
    const path: [string, string, string, string][] = [...flat('100000', 23), ['100000', '100360', '100000', '100350'], ...flat('100350', 3), ['100350', '100350', '99950', '99950'], ...flat('99950', 100)];
    const h = await startEngine({ rows: path, config: { grid: { mode: 'neutral', buy_window: 3, sell_window: 3 } } });
    await h.step(60_000);
    expect((await open(h.sim, 'SELL')).map((o) => o.price.toString()).sort()).toEqual(['100100', '100200', '100300']);
    await h.step(4 * 60_000);
    expect(status(h).inventory).toBe('-0.006');
    expect(await position(h.sim)).toBe('-0.006');
    // Each short slot's exit: a BUY one interval below, keyed to the slot (level in the id, generation 2).
    const exits = (await open(h.sim, 'BUY')).filter((o) => /g2$/.test(o.clientOrderId)).map((o) => `${o.clientOrderId}@${o.price}`);
    expect(exits.sort()).toEqual(['mm1B1001000g2@100000', 'mm1B1002000g2@100100', 'mm1B1003000g2@100200']);
    await h.step(5 * 60_000);
    // The three shorts are bought back; on the way down to 99950 the grid also opened a long at 100000.
    const slots = h.engine.listSlots();
    for (const level of ['100100', '100200', '100300']) expect(slots.find((s) => s.level === level)!.positionQty).toBe('0');
    expect(slots.find((s) => s.level === '100000')!.positionQty).toBe('0.002');
    expect(status(h).inventory).toBe('0.002');
    expect(await position(h.sim)).toBe('0.002');
    const all = await rows(h, `SELECT client_order_id, side, price, quantity, realized_pnl FROM fill`);
    const closes = all.filter((f: any) => f.side === 'BUY' && f.realized_pnl !== '0').map((f: any) => `${f.client_order_id}:${f.realized_pnl}`);
    // short at s, bought back at s − 100: 0.2 − 0.0002·0.002·(s + s − 100)
    expect(closes.sort()).toEqual(['mm1B1001000g2:0.11996', 'mm1B1002000g2:0.11988', 'mm1B1003000g2:0.1198']);
    expect(status(h).realizedPnl).toBe('0.35964');
    expect(h.sim.status().duplicateClientOrderIds).toBe(0);
    await h.stop();
  });

  it('an insufficient-margin rejection locks opening orders for margin_lock_ms (upstream 9.13: the lock was never set)', async () => {
    let broke = true;
    const h = await startEngine({
      config: { risk: { margin_lock_ms: 1500 } },
      wrap: (sim) => wrapPlace(sim, async (req, real) => (broke ? Promise.reject(failedPrecondition('insufficient margin', 'INSUFFICIENT_MARGIN')) : real(req))),
    });
    broke = false;
    expect(status(h).risk.marginLocked).toBe(true);
    await h.step(3000);
    expect(await open(h.sim, 'BUY')).toEqual([]); // locked, although the venue would accept now
    await new Promise((r) => setTimeout(r, 1600));
    await h.step(1000);
    expect((await open(h.sim, 'BUY')).length).toBe(5);
    expect(await h.registry.metrics()).toMatch(/market_maker_orders_rejected_total\{symbol="BTCUSDT",reason="margin"\} 5/);
    await h.stop();
  });

  it('refuses to start when the interval does not cover round-trip fees (startup safety)', async () => {
    await expect(startEngine({ config: { grid: { price_interval: '30' } } })).rejects.toThrow(/price_interval/);
  });

  it('refuses to start when the interval is off the tick grid or the order size gives no valid order', async () => {
    await expect(startEngine({ config: { grid: { price_interval: '100.05' } } })).rejects.toThrow(/grid\.price_interval 100\.05 is not a multiple of the tick size 0\.1/);
    await expect(startEngine({ config: { grid: { order_notional: '50' } } })).rejects.toThrow(/grid\.order_notional 50 USDT .* gives no valid order/);
  });
});
