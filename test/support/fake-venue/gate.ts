/**
 * Gate v4 USDT futures dialect (REST `/api/v4/futures/usdt/*`, WebSocket `/v4/ws/usdt`), shapes per
 * https://www.gate.io/docs/developers/apiv4/ and ccxt's gate.js. Markets: recorded
 * `futures/usdt/contracts` (2023). Sizes are signed contract counts (`quanto_multiplier` 0.0001 BTC).
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded, errorMapper } from './server';

const s = (d: Decimal) => d.toFixed();
const sec = (ms: number) => ms / 1000;
const signed = (o: { side: string }, q: Decimal) => s(o.side === 'buy' ? q : q.neg());

function orderJson(o: FOrder) {
  const finished = o.status !== 'new' && o.status !== 'partially_filled';
  return {
    id: Number(o.id),
    user: 1,
    contract: o.instId,
    create_time: sec(o.createdAt),
    create_time_ms: o.createdAt,
    update_time: sec(o.updatedAt),
    finish_time: finished ? sec(o.updatedAt) : undefined,
    finish_time_ms: finished ? o.updatedAt : undefined,
    finish_as: finished ? (o.status === 'filled' ? 'filled' : o.status === 'expired' ? 'ioc' : 'cancelled') : '_new',
    status: finished ? 'finished' : 'open',
    size: Number(signed(o, o.qty)),
    iceberg: 0,
    price: o.type === 'market' ? '0' : s(o.price),
    fill_price: s(o.avg),
    left: Number(signed(o, o.qty.minus(o.filled))),
    text: o.clientId.startsWith('t-') ? o.clientId : `t-${o.clientId}`,
    tkfr: '0.0005',
    mkfr: '0.0002',
    refu: 0,
    tif: o.type === 'market' ? 'ioc' : o.tif === 'GTX' ? 'poc' : o.tif.toLowerCase(),
    is_reduce_only: o.reduceOnly,
    is_close: false,
    is_liq: false,
  };
}

function tradeJson(t: FTrade) {
  return {
    id: Number(t.id),
    create_time: sec(t.time),
    contract: t.instId,
    order_id: t.orderId,
    size: Number(signed(t, t.qty)),
    price: s(t.price),
    role: t.maker ? 'maker' : 'taker',
    text: t.clientId.startsWith('t-') ? t.clientId : `t-${t.clientId}`,
    fee: s(t.fee),
    point_fee: '0',
  };
}

const err = (status: number, label: string, message: string) => ({ status, body: { label, message } });

export function gateDialect(opts: { price?: string } = {}): FakeDialect {
  const contracts = recorded('cryptofeed_GATEIO_FUTURES_0.json.gz')[0].body as Record<string, unknown>[];
  const wanted = new Set(['BTC_USDT']);
  const listed = contracts.filter((c) => wanted.has(String(c.name)) || c.name === 'ETH_USDT');
  return {
    venue: 'gate',
    instruments(): FInstrument[] {
      return contracts
        .filter((c) => wanted.has(String(c.name)))
        .map((c) => ({ id: String(c.name), base: String(c.name).split('_')[0], quote: 'USDT', contractSize: new Decimal(String(c.quanto_multiplier)), tick: new Decimal(String(c.order_price_round)), price: new Decimal(opts.price ?? '30000') }));
    },
    apiKeyOf: (req) => req.headers.key as string | undefined,
    authError: () => err(401, 'INVALID_KEY', 'Invalid key provided'),
    error: errorMapper({
      not_found: err(404, 'ORDER_NOT_FOUND', 'Order not found'),
      not_open: err(404, 'ORDER_NOT_FOUND', 'Order not found'),
      duplicate: err(400, 'INVALID_PARAM_VALUE', 'duplicated text'),
      insufficient: err(400, 'INSUFFICIENT_AVAILABLE', 'balance not enough'),
      post_only: err(400, 'ORDER_POC_IMMEDIATE', 'order would match immediately'),
      other: (m) => err(400, 'INVALID_PARAM_VALUE', m),
      internal: (m) => err(500, 'SERVER_ERROR', m),
    }),
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      const p = req.path;
      const base = '/api/v4/futures/usdt';
      const contractJson = (c: Record<string, unknown>) => {
        const i = e.instruments.get(String(c.name));
        return i
          ? { ...c, last_price: s(i.price), mark_price: s(i.price), index_price: s(i.price), funding_rate: s(e.fundingRate), funding_rate_indicative: '0.00015', funding_next_apply: sec(e.nextFundingTime()), funding_interval: 28800 }
          : c;
      };
      if (req.method === 'GET' && p === `${base}/contracts`) return { body: listed.map(contractJson) };
      if (req.method === 'GET' && p.startsWith(`${base}/contracts/`)) {
        const c = contracts.find((x) => x.name === p.split('/').pop());
        return c ? { body: contractJson(c) } : err(400, 'CONTRACT_NOT_FOUND', 'contract not found');
      }
      const orderPath = new RegExp(`^${base}/orders/([^/]+)$`).exec(p);
      switch (`${req.method} ${p}`) {
        case 'GET /api/v4/account/detail':
          return { body: { user_id: 1, ip_whitelist: [], currency_pairs: [], key: { mode: 1 }, tier: 0 } };
        case `GET ${base}/accounts`:
          return {
            body: {
              user: 1,
              currency: 'USDT',
              total: s(e.wallet),
              unrealised_pnl: s(e.totalUnrealized()),
              position_margin: '0',
              order_margin: '0',
              available: s(e.available()),
              point: '0',
              bonus: '0',
              in_dual_mode: false,
              enable_credit: false,
              position_initial_margin: '0',
              maintenance_margin: '0',
              cross_available: s(e.available()),
              history: {},
            },
          };
        case `GET ${base}/positions`:
          return {
            body: [...e.instruments.values()].map((i) => {
              const pos = e.position(i.id);
              return {
                user: 1,
                contract: i.id,
                size: Number(s(pos.size)),
                leverage: '0',
                cross_leverage_limit: String(e.leverage),
                risk_limit: '1000000',
                leverage_max: '100',
                maintenance_rate: '0.005',
                value: s(pos.size.abs().mul(i.contractSize).mul(i.price)),
                margin: '0',
                entry_price: s(pos.entry),
                liq_price: '0',
                mark_price: s(i.price),
                unrealised_pnl: s(e.unrealized(i.id)),
                realised_pnl: '0',
                history_pnl: '0',
                last_close_pnl: '0',
                realised_point: '0',
                history_point: '0',
                adl_ranking: 5,
                pending_orders: e.open(i.id).length,
                close_order: null,
                mode: 'single',
                update_time: sec(e.now()),
              };
            }),
          };
        case `GET ${base}/tickers`:
          return { body: [...e.instruments.values()].filter((i) => !q('contract') || q('contract') === i.id).map((i) => tickerJson(i)) };
        case `GET ${base}/candlesticks`: {
          const i = e.inst(q('contract')!);
          const limit = Number(q('limit') ?? 100);
          const last = Math.floor(e.now() / 60_000) * 60;
          const rows = [];
          for (let k = limit - 1; k >= 0; k--) {
            const px = i.price.minus(i.tick.mul(k % 5));
            rows.push({ t: last - k * 60, v: 150, c: s(px), h: s(px.plus(i.tick)), l: s(px.minus(i.tick)), o: s(px), sum: s(px.mul('0.015')) });
          }
          return { body: rows };
        }
        case `GET ${base}/funding_rate`: {
          const limit = Number(q('limit') ?? 100);
          const h8 = 8 * 3600;
          const last = Math.floor(e.now() / 1000 / h8) * h8;
          const rows = [];
          for (let k = 0; k < limit; k++) rows.push({ t: last - k * h8, r: k % 2 ? '0.0001' : '0.00012' });
          return { body: rows };
        }
        case `POST ${base}/orders`: {
          const size = new Decimal(String(q('size')));
          const priceStr = String(q('price') ?? '0');
          const tif = String(q('tif') ?? 'gtc');
          const market = priceStr === '0' || tif === 'ioc' && priceStr === '0';
          const text = q('text');
          const o = e.place({
            instId: String(q('contract')),
            side: size.isPositive() ? 'buy' : 'sell',
            type: market ? 'market' : 'limit',
            qty: size.abs(),
            price: market ? undefined : new Decimal(priceStr),
            clientId: text,
            tif: tif === 'poc' ? 'GTX' : tif === 'ioc' ? (market ? 'GTC' : 'IOC') : tif === 'fok' ? 'FOK' : 'GTC',
            reduceOnly: String(q('reduce_only')) === 'true',
          });
          return { status: 201, body: orderJson(o) };
        }
        case `GET ${base}/orders`:
          return { body: e.open(q('contract')).map(orderJson) };
        case `GET ${base}/my_trades`:
        case `GET ${base}/my_trades_timerange`:
          return { body: e.trades.filter((t) => !q('contract') || t.instId === q('contract')).map(tradeJson) };
        default:
          break;
      }
      if (orderPath) {
        const ref = decodeURIComponent(orderPath[1]);
        const o = ref.startsWith('t-') ? e.findByClientId(ref) ?? e.findByClientId(ref.slice(2)) : e.orders.get(ref);
        if (req.method === 'GET') {
          if (!o) throw new FakeError('not_found', 'no order');
          return { body: orderJson(o) };
        }
        if (req.method === 'DELETE') {
          if (!o) throw new FakeError('not_found', 'no order');
          return { body: orderJson(e.cancel(o.id)) };
        }
      }
      return undefined;
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      const subs = (sock.state.subs = new Set<string>()) as Set<string>;
      const now = () => Math.floor(e.now() / 1000);
      const onTicker = (i: FInstrument) => {
        if (subs.has(`futures.tickers:${i.id}`)) sock.send({ time: now(), time_ms: e.now(), channel: 'futures.tickers', event: 'update', result: [tickerJson(i)] });
        for (const sub of subs) {
          const m = /^futures\.candlesticks:(\w+):(.+)$/.exec(sub);
          if (m && m[2] === i.id) {
            const t = Math.floor(e.now() / 60_000) * 60;
            sock.send({ time: now(), time_ms: e.now(), channel: 'futures.candlesticks', event: 'update', result: [{ t, v: 150, c: s(i.price), h: s(i.price.plus(i.tick)), l: s(i.price.minus(i.tick)), o: s(i.price), n: `${m[1]}_${i.id}`, a: '0.015' }] });
          }
        }
      };
      const onOrder = (o: FOrder) => {
        if (subs.has('futures.orders')) sock.send({ time: now(), time_ms: e.now(), channel: 'futures.orders', event: 'update', result: [orderJson(o)] });
      };
      e.listenUntilClose(sock.ws, { ticker: onTicker, order: onOrder });
    },
    onMessage(sock: FakeSocket, msg: unknown, ctx: FakeContext) {
      const m = msg as { time?: number; id?: number; channel?: string; event?: string; payload?: string[]; auth?: { KEY?: string } };
      const subs = sock.state.subs as Set<string>;
      if (m.channel === 'futures.ping') return sock.reply({ time: m.time, channel: 'futures.pong', event: '', result: null });
      if (m.event === 'subscribe' || m.event === 'unsubscribe') {
        if (m.channel === 'futures.orders' && m.auth?.KEY !== ctx.apiKey) {
          return sock.reply({ time: m.time, id: m.id, channel: m.channel, event: m.event, error: { code: 2, message: 'invalid key' }, result: { status: 'fail' } });
        }
        const key = m.channel === 'futures.orders' ? 'futures.orders' : m.channel === 'futures.candlesticks' ? `${m.channel}:${m.payload?.[0]}:${m.payload?.[1]}` : `${m.channel}:${m.payload?.[0]}`;
        if (m.event === 'subscribe') subs.add(key);
        else subs.delete(key);
        sock.reply({ time: m.time, time_ms: Date.now(), id: m.id, channel: m.channel, event: m.event, result: { status: 'success' } });
      }
    },
  };
}

function tickerJson(i: FInstrument) {
  return {
    contract: i.id,
    last: s(i.price),
    change_percentage: '0.01',
    total_size: '1234567',
    volume_24h: '1234567',
    volume_24h_base: '123.4567',
    volume_24h_quote: s(i.price.mul('123.4567')),
    volume_24h_settle: s(i.price.mul('123.4567')),
    mark_price: s(i.price),
    funding_rate: '0.0001',
    funding_rate_indicative: '0.00015',
    index_price: s(i.price),
    highest_bid: s(i.price),
    lowest_ask: s(i.price.plus(i.tick)),
    high_24h: s(i.price.plus(i.tick.mul(20))),
    low_24h: s(i.price.minus(i.tick.mul(20))),
  };
}
