/**
 * Conformance suite for any `opensqt.market_maker.v1.ExchangeService` implementation (any language):
 * the behaviour the OpenSQT engine relies on, checked over the wire. Call `runConformanceSuite`
 * from a jest spec file; it declares its own `describe`/`it` blocks. See README.md here.
 */
import * as grpc from '@grpc/grpc-js';
import Decimal from 'decimal.js';
import { ConformanceClient, type ConformanceTls, type ResponseSink, grpcFailure, healthCheck } from './client';

const D = Decimal.clone({ precision: 60 });
type Dec = InstanceType<typeof D>;

/** Options of {@link runConformanceSuite}. */
export interface ConformanceOptions {
  /** `host:port` of the connector under test. */
  address: string;
  /** Token of a `trader` client (omit for a connector without access control). */
  traderToken?: string;
  /** Token of a `monitor` client; enables the role checks. */
  monitorToken?: string;
  /** Instrument to trade, as the connector names it (e.g. `BTCUSDT`). */
  symbol: string;
  /**
   * Whether the suite can make an order fill with a marketable LIMIT order (buy above the last price,
   * then a reduce-only sell back). Off for venues where fills cannot be forced.
   */
  canFill?: boolean;
  /** TLS to the connector (insecure when absent). */
  tls?: ConformanceTls;
  /** Receives every response and error the suite's clients get (e.g. to scan them for secrets). */
  onResponse?: ResponseSink;
  /** How far below the last price resting buys are placed, as a fraction (default 0.1 = 10 %). */
  restingOffset?: number;
  /** Per-event timeout for stream expectations, ms (default 10 000). */
  eventTimeoutMs?: number;
  /** Name shown in the jest output (default: the address). */
  name?: string;
  /**
   * Spot market (`GetType` SPOT): no positions, funding rate 0 with next_funding_time 0
   * (REQ-FUND-004), balances in base and quote, and the fill test sells back without reduce-only.
   */
  spot?: boolean;
  /** Skip the cancel-by-client-order-id checks (for connectors built before the contract gained `client_order_id` on CancelOrder). */
  noCancelByClientOrderId?: boolean;
}

/** Symbol rules as the suite derives order sizes from them. */
interface Rules {
  tick: Dec;
  step: Dec;
  minQty: Dec;
  minNotional: Dec;
}

interface OrderUpdate {
  orderId: string;
  clientOrderId: string;
  status: string;
  executedQty?: { value: string };
  quantity?: { value: string };
  lastTrade?: { price?: { value: string }; quantity?: { value: string } };
}

const ORDER_RPCS = ['PlaceOrder', 'BatchPlaceOrders', 'CancelOrder', 'BatchCancelOrders', 'CancelAllOrders'] as const;
const TERMINAL = new Set(['ORDER_STATUS_FILLED', 'ORDER_STATUS_CANCELED', 'ORDER_STATUS_EXPIRED', 'ORDER_STATUS_REJECTED']);

function floorTo(v: Dec, inc: Dec): Dec {
  return v.div(inc).floor().mul(inc);
}
function ceilTo(v: Dec, inc: Dec): Dec {
  return v.div(inc).ceil().mul(inc);
}
const decOf = (w: { value?: string } | undefined | null): Dec => new D(w?.value || '0');

/** Collects order-stream updates and waits for specific ones. */
class OrderFeed {
  readonly updates: OrderUpdate[] = [];
  private waiters: Array<() => void> = [];
  push(u: OrderUpdate): void {
    this.updates.push(u);
    for (const w of this.waiters.splice(0)) w();
  }
  of(cid: string): OrderUpdate[] {
    return this.updates.filter((u) => u.clientOrderId === cid);
  }
  async until(what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw ${JSON.stringify(this.updates.slice(-5).map((u) => [u.clientOrderId, u.status]))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/**
 * Declares the conformance tests (jest `describe`/`it`) against the connector at `opts.address`.
 * Order sizes come from the symbol's rules (min quantity, min notional, step) and prices from
 * GetLatestPrice and the tick size, so any venue and symbol works. Orders are placed with client
 * order ids `cf<run><n>` and cancelled again; with `canFill` one small position is opened and closed.
 */
export function runConformanceSuite(opts: ConformanceOptions): void {
  const timeout = opts.eventTimeoutMs ?? 10_000;
  const offset = new D(opts.restingOffset ?? 0.1);
  const run = `cf${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  let seq = 0;
  const cid = () => `${run}${++seq}`;

  describe(`ExchangeService conformance: ${opts.name ?? opts.address} (${opts.symbol})`, () => {
    let trader: ConformanceClient;
    let rules: Rules;
    const placed = new Set<string>();

    const lastPrice = async (): Promise<Dec> => decOf((await trader.call('GetLatestPrice', { symbol: opts.symbol })).price);
    /** Smallest valid quantity at `price`: ≥ minQty, notional ≥ 1.1 × minNotional, on the step grid. */
    const qtyFor = (price: Dec): Dec => {
      const byNotional = rules.minNotional.gt(0) ? ceilTo(rules.minNotional.mul('1.1').div(price), rules.step) : new D(0);
      const q = D.max(ceilTo(rules.minQty, rules.step), byNotional, rules.step);
      return q;
    };
    /** A buy far below the market (rests). */
    const restingBuy = async (clientOrderId = cid()) => {
      const price = floorTo((await lastPrice()).mul(new D(1).minus(offset)), rules.tick);
      return {
        symbol: opts.symbol,
        side: 'ORDER_SIDE_BUY',
        type: 'ORDER_TYPE_LIMIT',
        timeInForce: 'TIME_IN_FORCE_GTC',
        quantity: { value: qtyFor(price).toString() },
        price: { value: price.toString() },
        clientOrderId,
      };
    };
    const place = async (req: object) => {
      const o = await trader.call('PlaceOrder', req);
      placed.add(o.orderId);
      return o;
    };
    const expectInvalid = async (p: Promise<unknown>, fields: string[]) => {
      const e = await grpcFailure(p);
      expect(grpc.status[e.code]).toBe('INVALID_ARGUMENT');
      const field = e.metadata.get('x-error-field')[0]?.toString();
      expect(fields).toContain(field);
      expect(e.details.startsWith(`${field}:`)).toBe(true);
      return e;
    };

    beforeAll(async () => {
      trader = new ConformanceClient(opts.address, opts.traderToken, opts.tls, opts.onResponse);
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await trader.call('GetName', {}, 3000);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`connector at ${opts.address} not answering: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      const info = await trader.call('GetSymbolInfo', { symbol: opts.symbol });
      rules = { tick: decOf(info.tickSize), step: decOf(info.stepSize), minQty: decOf(info.minQuantity), minNotional: decOf(info.minNotional) };
    });

    afterAll(async () => {
      // Leave nothing of ours open (other clients' orders are not touched).
      for (const id of placed) {
        try {
          const o = await trader.call('GetOrder', { symbol: opts.symbol, orderId: id });
          if (!TERMINAL.has(o.status)) await trader.call('CancelOrder', { symbol: opts.symbol, orderId: id });
        } catch {
          /* best effort */
        }
      }
      trader?.close();
    });

    it('serves grpc.health.v1 without a token', async () => {
      expect(await healthCheck(opts.address, '', opts.tls)).toBe('SERVING');
      expect(await healthCheck(opts.address, 'opensqt.market_maker.v1.ExchangeService', opts.tls)).toBe('SERVING');
    });

    it('describes itself and lists the symbol', async () => {
      expect((await trader.call('GetName')).name).toMatch(/\S/);
      expect(['EXCHANGE_TYPE_FUTURES', 'EXCHANGE_TYPE_SPOT']).toContain((await trader.call('GetType')).type);
      expect((await trader.call('GetSymbols')).symbols).toContain(opts.symbol);
    });

    it('publishes consistent symbol rules and a last price on the tick grid', async () => {
      const info = await trader.call('GetSymbolInfo', { symbol: opts.symbol });
      expect(info.symbol).toBe(opts.symbol);
      expect(rules.tick.gt(0)).toBe(true);
      expect(rules.step.gt(0)).toBe(true);
      expect(rules.minQty.gte(0)).toBe(true);
      expect(rules.minNotional.gte(0)).toBe(true);
      expect(info.baseAsset).toMatch(/\S/);
      expect(info.quoteAsset).toMatch(/\S/);
      // Precision never claims fewer decimals than the increments have.
      expect(info.pricePrecision).toBeGreaterThanOrEqual(rules.tick.decimalPlaces());
      expect(info.quantityPrecision).toBeGreaterThanOrEqual(rules.step.decimalPlaces());
      const price = await lastPrice();
      expect(price.gt(0)).toBe(true);
      expect(price.mod(rules.tick).isZero()).toBe(true);
    });

    it('enforces the rounding rules instead of silently rounding', async () => {
      const ok = await restingBuy();
      const price = new D(ok.price.value);
      const qty = new D(ok.quantity.value);
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), price: { value: price.plus(rules.tick.div(2)).toString() } }), ['price']);
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), quantity: { value: qty.plus(rules.step.div(2)).toString() } }), ['quantity']);
      if (rules.minNotional.gt(rules.step.mul(price))) {
        await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), quantity: { value: rules.step.toString() } }), ['quantity', 'price']);
      }
      // On-grid values come back exactly as sent.
      const o = await place(ok);
      expect(new D(o.price.value).eq(price)).toBe(true);
      expect(new D(o.quantity.value).eq(qty)).toBe(true);
      await trader.call('CancelOrder', { symbol: opts.symbol, orderId: o.orderId });
    });

    it('place → get (by id and client id) → open orders → cancel → get CANCELED', async () => {
      const req = await restingBuy();
      const o = await place(req);
      expect(o.orderId).toMatch(/^[1-9]\d*$/);
      expect(o.clientOrderId).toBe(req.clientOrderId);
      expect(o.symbol).toBe(opts.symbol);
      expect(o.side).toBe('ORDER_SIDE_BUY');
      expect(['ORDER_STATUS_NEW']).toContain(o.status);
      const byId = await trader.call('GetOrder', { symbol: opts.symbol, orderId: o.orderId });
      expect(byId.clientOrderId).toBe(req.clientOrderId);
      const byCid = await trader.call('GetOrder', { symbol: opts.symbol, clientOrderId: req.clientOrderId });
      expect(byCid.orderId).toBe(o.orderId);
      const open = await trader.call('GetOpenOrders', { symbol: opts.symbol });
      expect(open.orders.map((x: { orderId: string }) => x.orderId)).toContain(o.orderId);
      await trader.call('CancelOrder', { symbol: opts.symbol, orderId: o.orderId });
      expect((await trader.call('GetOrder', { symbol: opts.symbol, orderId: o.orderId })).status).toBe('ORDER_STATUS_CANCELED');
      const again = await grpcFailure(trader.call('CancelOrder', { symbol: opts.symbol, orderId: o.orderId }));
      expect(['FAILED_PRECONDITION', 'NOT_FOUND']).toContain(grpc.status[again.code]);
      const after = await trader.call('GetOpenOrders', { symbol: opts.symbol });
      expect(after.orders.map((x: { orderId: string }) => x.orderId)).not.toContain(o.orderId);
    });

    (opts.noCancelByClientOrderId ? it.skip : it)('cancels by client order id (CancelOrder and BatchCancelOrders client_order_ids)', async () => {
      const a = await place(await restingBuy());
      const b = await place(await restingBuy());
      expect(a.orderId).toMatch(/^[1-9]\d{0,18}$/);
      await trader.call('CancelOrder', { symbol: opts.symbol, orderId: '0', clientOrderId: a.clientOrderId });
      expect((await trader.call('GetOrder', { symbol: opts.symbol, orderId: a.orderId })).status).toBe('ORDER_STATUS_CANCELED');
      const again = await grpcFailure(trader.call('CancelOrder', { symbol: opts.symbol, clientOrderId: a.clientOrderId }));
      expect(['FAILED_PRECONDITION', 'NOT_FOUND']).toContain(grpc.status[again.code]);
      const unknown = `${run}nosuch`;
      const res = await trader.call('BatchCancelOrders', { symbol: opts.symbol, clientOrderIds: [b.clientOrderId, unknown] });
      expect(res.errors.map((e: { index: number; clientOrderId: string; code: number }) => [e.index, e.clientOrderId, grpc.status[e.code]])).toEqual([[1, unknown, 'NOT_FOUND']]);
      const gotB = await trader.call('GetOrder', { symbol: opts.symbol, clientOrderId: b.clientOrderId });
      expect([gotB.orderId, gotB.status]).toEqual([b.orderId, 'ORDER_STATUS_CANCELED']);
      await expectInvalid(trader.call('CancelOrder', { symbol: opts.symbol, clientOrderId: 'bad id' }), ['client_order_id']);
      await expectInvalid(trader.call('CancelOrder', { symbol: opts.symbol }), ['order_id']);
    });

    (opts.spot ? it : it.skip)('spot: no positions, zero funding, balances in base and quote', async () => {
      expect((await trader.call('GetType')).type).toBe('EXCHANGE_TYPE_SPOT');
      expect((await trader.call('GetPositions', { symbol: opts.symbol })).positions).toEqual([]);
      const f = await trader.call('GetFundingRate', { symbol: opts.symbol });
      expect(decOf(f.rate).isZero()).toBe(true);
      expect(String(f.nextFundingTime)).toBe('0');
      const info = await trader.call('GetSymbolInfo', { symbol: opts.symbol });
      const quote = decOf((await trader.call('GetBalance', { asset: info.quoteAsset })).balance);
      expect(quote.gt(0)).toBe(true);
      const base = decOf((await trader.call('GetBalance', { asset: info.baseAsset })).balance);
      expect(base.gte(0)).toBe(true);
      expect((await trader.call('GetAccount')).positions ?? []).toEqual([]);
    });

    it('treats a repeated client order id as the same order (idempotent placement)', async () => {
      const req = await restingBuy();
      const a = await place(req);
      const b = await place(req);
      expect(b.orderId).toBe(a.orderId);
      const open = await trader.call('GetOpenOrders', { symbol: opts.symbol });
      expect(open.orders.filter((x: { clientOrderId: string }) => x.clientOrderId === req.clientOrderId).length).toBe(1);
      await trader.call('CancelOrder', { symbol: opts.symbol, orderId: a.orderId });
    });

    it('streams NEW then CANCELED for our orders, identically to two subscribers', async () => {
      const feeds = [new OrderFeed(), new OrderFeed()];
      const readers = [0, 1].map(() => new ConformanceClient(opts.address, opts.monitorToken ?? opts.traderToken, opts.tls, opts.onResponse));
      const streams = readers.map((r, i) => r.stream<OrderUpdate>('SubscribeOrders', {}, (u) => feeds[i].push(u)));
      try {
        await Promise.all(streams.map((s) => new Promise<void>((resolve) => {
          s.once('metadata', () => resolve());
          setTimeout(resolve, 1500); // servers may send headers only with the first message
        })));
        const req = await restingBuy();
        const o = await place(req);
        await trader.call('CancelOrder', { symbol: opts.symbol, orderId: o.orderId });
        for (const f of feeds) await f.until(`CANCELED of ${req.clientOrderId}`, () => f.of(req.clientOrderId).some((u) => u.status === 'ORDER_STATUS_CANCELED'), timeout);
        const seqs = feeds.map((f) => f.of(req.clientOrderId).map((u) => `${u.orderId}:${u.status}`));
        expect(seqs[0][0]).toBe(`${o.orderId}:ORDER_STATUS_NEW`);
        expect(seqs[0][seqs[0].length - 1]).toBe(`${o.orderId}:ORDER_STATUS_CANCELED`);
        expect(seqs[1]).toEqual(seqs[0]);
      } finally {
        streams.forEach((s) => s.cancel());
        readers.forEach((r) => r.close());
      }
    });

    (opts.canFill ? it : it.skip)('streams NEW then FILLED for a marketable order, and the fill shows in the order', async () => {
      const feed = new OrderFeed();
      const reader = new ConformanceClient(opts.address, opts.traderToken, opts.tls, opts.onResponse);
      const s = reader.stream<OrderUpdate>('SubscribeOrders', {}, (u) => feed.push(u));
      try {
        await new Promise<void>((resolve) => {
          s.once('metadata', () => resolve());
          setTimeout(resolve, 1500);
        });
        const last = await lastPrice();
        const price = ceilTo(last.mul('1.01'), rules.tick);
        const qty = qtyFor(price);
        const buy = { symbol: opts.symbol, side: 'ORDER_SIDE_BUY', type: 'ORDER_TYPE_LIMIT', timeInForce: 'TIME_IN_FORCE_GTC', quantity: { value: qty.toString() }, price: { value: price.toString() }, clientOrderId: cid() };
        const o = await place(buy);
        await feed.until(`FILLED of ${buy.clientOrderId}`, () => feed.of(buy.clientOrderId).some((u) => u.status === 'ORDER_STATUS_FILLED'), timeout);
        const events = feed.of(buy.clientOrderId);
        expect(events[0].status).toBe('ORDER_STATUS_NEW');
        const filled = events.find((u) => u.status === 'ORDER_STATUS_FILLED')!;
        expect(decOf(filled.executedQty).eq(qty)).toBe(true);
        expect(events.filter((u) => u.lastTrade).length).toBeGreaterThanOrEqual(1);
        const fillPrice = decOf(filled.lastTrade?.price);
        expect(fillPrice.gt(0) && fillPrice.lte(price)).toBe(true);
        const got = await trader.call('GetOrder', { symbol: opts.symbol, orderId: o.orderId });
        expect(got.status).toBe('ORDER_STATUS_FILLED');
        expect(decOf(got.executedQty).eq(qty)).toBe(true);
        // Close the position again: a marketable reduce-only sell (spot: a plain sell of what was bought).
        const sellPrice = floorTo((await lastPrice()).mul('0.99'), rules.tick);
        const sell = { ...buy, side: 'ORDER_SIDE_SELL', price: { value: sellPrice.toString() }, reduceOnly: !opts.spot, clientOrderId: cid() };
        await place(sell);
        await feed.until(`FILLED of ${sell.clientOrderId}`, () => feed.of(sell.clientOrderId).some((u) => u.status === 'ORDER_STATUS_FILLED'), timeout);
      } finally {
        s.cancel();
        reader.close();
      }
    });

    it('rejects bad input with INVALID_ARGUMENT naming the field', async () => {
      const ok = await restingBuy();
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), symbol: '' }), ['symbol']);
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), quantity: { value: '-1' } }), ['quantity']);
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), quantity: { value: '' } }), ['quantity']);
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), price: { value: 'abc' } }), ['price']);
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: cid(), side: 'ORDER_SIDE_UNSPECIFIED' }), ['side']);
      await expectInvalid(trader.call('PlaceOrder', { ...ok, clientOrderId: 'bad id with spaces' }), ['client_order_id']);
      await expectInvalid(trader.call('GetOrder', { symbol: opts.symbol }), ['order_id', 'client_order_id']);
      await expectInvalid(trader.call('GetHistoricalKlines', { symbol: opts.symbol, interval: '1m', limit: 100000 }), ['limit']);
      await expectInvalid(trader.call('BatchPlaceOrders', { orders: [] }), ['orders']);
      const e = await grpcFailure(new Promise((resolve, reject) => {
        const s = trader.stream('SubscribePrice', { symbols: [] }, () => undefined, reject);
        s.on('end', resolve);
      }));
      expect(grpc.status[e.code]).toBe('INVALID_ARGUMENT');
      expect(e.metadata.get('x-error-field')[0]).toBe('symbols');
    });

    it('answers NOT_FOUND for unknown orders and an unknown symbol', async () => {
      const unknownId = '987654321987';
      expect(grpc.status[(await grpcFailure(trader.call('GetOrder', { symbol: opts.symbol, orderId: unknownId }))).code]).toBe('NOT_FOUND');
      expect(grpc.status[(await grpcFailure(trader.call('GetOrder', { symbol: opts.symbol, clientOrderId: `${run}none` }))).code]).toBe('NOT_FOUND');
      expect(grpc.status[(await grpcFailure(trader.call('CancelOrder', { symbol: opts.symbol, orderId: unknownId }))).code]).toBe('NOT_FOUND');
      const sym = await grpcFailure(trader.call('GetSymbolInfo', { symbol: 'NOSUCHSYMBOL' }));
      expect(['NOT_FOUND', 'INVALID_ARGUMENT']).toContain(grpc.status[sym.code]);
    });

    (opts.traderToken ? it : it.skip)('requires a known token (UNAUTHENTICATED otherwise)', async () => {
      for (const token of [undefined, `${opts.traderToken}x`, 'not-a-configured-token-at-all']) {
        const c = new ConformanceClient(opts.address, token, opts.tls, opts.onResponse);
        try {
          for (const m of ['GetName', 'PlaceOrder']) {
            const req = m === 'PlaceOrder' ? await restingBuy() : {};
            expect(grpc.status[(await grpcFailure(c.call(m, req))).code]).toBe('UNAUTHENTICATED');
          }
        } finally {
          c.close();
        }
      }
    });

    (opts.monitorToken ? it : it.skip)('lets a monitor query and stream but not place or cancel (PERMISSION_DENIED)', async () => {
      const monitor = new ConformanceClient(opts.address, opts.monitorToken, opts.tls, opts.onResponse);
      try {
        expect((await monitor.call('GetName')).name).toMatch(/\S/);
        await monitor.call('GetOpenOrders', { symbol: opts.symbol });
        await monitor.call('GetAccount');
        const resting = await restingBuy();
        const own = await place(resting);
        const requests: Record<(typeof ORDER_RPCS)[number], object> = {
          PlaceOrder: { ...resting, clientOrderId: cid() },
          BatchPlaceOrders: { orders: [{ ...resting, clientOrderId: cid() }] },
          CancelOrder: { symbol: opts.symbol, orderId: own.orderId },
          BatchCancelOrders: { symbol: opts.symbol, orderIds: [own.orderId] },
          CancelAllOrders: { symbol: opts.symbol },
        };
        for (const m of ORDER_RPCS) {
          const e = await grpcFailure(monitor.call(m, requests[m]));
          expect(`${m}: ${grpc.status[e.code]}`).toBe(`${m}: PERMISSION_DENIED`);
        }
        // Nothing happened: our order is still open, nothing was placed for the monitor.
        expect((await trader.call('GetOrder', { symbol: opts.symbol, orderId: own.orderId })).status).toBe('ORDER_STATUS_NEW');
        const open = await trader.call('GetOpenOrders', { symbol: opts.symbol });
        expect(open.orders.filter((x: { clientOrderId: string }) => x.clientOrderId.startsWith(run)).map((x: { orderId: string }) => x.orderId)).toEqual([own.orderId]);
        await trader.call('CancelOrder', { symbol: opts.symbol, orderId: own.orderId });
      } finally {
        monitor.close();
      }
    });
  });
}
