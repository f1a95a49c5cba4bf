/**
 * Gate v4 spot dialect (REST `/api/v4/spot/*`, WebSocket `/ws/v4/` channels `spot.tickers` and the
 * signed `spot.orders`), shapes per https://www.gate.io/docs/developers/apiv4/ and ccxt's gate.js.
 * Markets: the recorded `spot/currency_pairs`. The engine runs in spot mode (base + quote balances).
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded, errorMapper } from './server';

const s = (d: Decimal) => d.toFixed();
const sec = (ms: number) => String(Math.floor(ms / 1000));
const text = (cid: string) => (cid.startsWith('t-') ? cid : `t-${cid}`);

function orderJson(o: FOrder) {
  const finished = o.status !== 'new' && o.status !== 'partially_filled';
  return {
    id: o.id,
    text: text(o.clientId),
    amend_text: '-',
    create_time: sec(o.createdAt),
    update_time: sec(o.updatedAt),
    create_time_ms: o.createdAt,
    update_time_ms: o.updatedAt,
    status: finished ? (o.status === 'filled' ? 'closed' : 'cancelled') : 'open',
    finish_as: finished ? (o.status === 'filled' ? 'filled' : o.status === 'expired' ? 'ioc' : 'cancelled') : 'open',
    currency_pair: o.instId,
    type: o.type,
    account: 'spot',
    side: o.side,
    amount: s(o.qty),
    price: o.type === 'market' ? '0' : s(o.price),
    time_in_force: o.type === 'market' ? 'ioc' : o.tif === 'GTX' ? 'poc' : o.tif.toLowerCase(),
    iceberg: '0',
    left: s(o.qty.minus(o.filled)),
    filled_amount: s(o.filled),
    fill_price: s(o.avg.mul(o.filled)),
    filled_total: s(o.avg.mul(o.filled)),
    avg_deal_price: o.filled.isZero() ? '0' : s(o.avg),
    fee: '0',
    fee_currency: 'USDT',
    point_fee: '0',
    gt_fee: '0',
    gt_discount: false,
    rebated_fee: '0',
    rebated_fee_currency: 'BTC',
  };
}

function tradeJson(t: FTrade) {
  return {
    id: t.id,
    create_time: sec(t.time),
    create_time_ms: `${t.time}.000`,
    currency_pair: t.instId,
    side: t.side,
    role: t.maker ? 'maker' : 'taker',
    amount: s(t.qty),
    price: s(t.price),
    order_id: t.orderId,
    fee: s(t.fee),
    fee_currency: t.feeAsset,
    point_fee: '0',
    gt_fee: '0',
    text: text(t.clientId),
  };
}

function tickerJson(i: FInstrument) {
  return {
    currency_pair: i.id,
    last: s(i.price),
    lowest_ask: s(i.price.plus(i.tick)),
    highest_bid: s(i.price),
    change_percentage: '0.01',
    base_volume: '123.4567',
    quote_volume: s(i.price.mul('123.4567')),
    high_24h: s(i.price.plus(i.tick.mul(20))),
    low_24h: s(i.price.minus(i.tick.mul(20))),
  };
}

const err = (status: number, label: string, message: string) => ({ status, body: { label, message } });

export function gateSpotDialect(opts: { price?: string } = {}): FakeDialect {
  const pairs = recorded('cryptofeed_GATEIO_0.json.gz')[0].body as Record<string, unknown>[];
  const wanted = new Set(['BTC_USDT']);
  const listed = pairs.filter((p) => wanted.has(String(p.id)) || p.id === 'ETH_USDT');
  return {
    venue: 'gate',
    instruments(): FInstrument[] {
      return pairs
        .filter((p) => wanted.has(String(p.id)))
        .map((p) => ({ id: String(p.id), base: String(p.base), quote: String(p.quote), contractSize: new Decimal(1), tick: new Decimal(1).div(new Decimal(10).pow(Number(p.precision))), price: new Decimal(opts.price ?? '30000') }));
    },
    apiKeyOf: (req) => req.headers.key as string | undefined,
    authError: () => err(401, 'INVALID_KEY', 'Invalid key provided'),
    error: errorMapper({
      not_found: err(404, 'ORDER_NOT_FOUND', 'Order not found'),
      not_open: err(404, 'ORDER_NOT_FOUND', 'Order not found'),
      duplicate: err(400, 'INVALID_PARAM_VALUE', 'duplicated text'),
      insufficient: err(400, 'BALANCE_NOT_ENOUGH', 'Not enough balance'),
      post_only: err(400, 'POC_FILL_IMMEDIATELY', 'Order would match and take immediately so it is cancelled'),
      other: (m) => err(400, 'INVALID_PARAM_VALUE', m),
      internal: (m) => err(500, 'SERVER_ERROR', m),
    }),
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      const p = req.path;
      const orderPath = /^\/api\/v4\/spot\/orders\/([^/]+)$/.exec(p);
      switch (`${req.method} ${p}`) {
        case 'GET /api/v4/spot/currency_pairs':
          return { body: listed };
        case 'GET /api/v4/margin/currency_pairs':
        case 'GET /api/v4/margin/uni/currency_pairs':
          return { body: [] };
        case 'GET /api/v4/account/detail':
          return { body: { user_id: 1, ip_whitelist: [], currency_pairs: [], key: { mode: 1 }, tier: 0 } };
        case 'GET /api/v4/spot/accounts': {
          const assets = new Set([e.walletAsset, ...[...e.instruments.values()].map((i) => i.base)]);
          return { body: [...assets].map((a) => ({ currency: a, available: s(e.spotFree(a)), locked: s(e.spotBalance(a).minus(e.spotFree(a))), update_id: 1 })) };
        }
        case 'GET /api/v4/spot/tickers':
          return { body: [...e.instruments.values()].filter((i) => !q('currency_pair') || q('currency_pair') === i.id).map(tickerJson) };
        case 'GET /api/v4/spot/candlesticks': {
          const i = e.inst(q('currency_pair')!);
          const limit = Number(q('limit') ?? 100);
          const last = Math.floor(e.now() / 60_000) * 60;
          const rows = [];
          for (let k = limit - 1; k >= 0; k--) {
            const px = i.price.minus(i.tick.mul(k % 5));
            rows.push([String(last - k * 60), s(px.mul('1.5')), s(px), s(px.plus(i.tick)), s(px.minus(i.tick)), s(px), '1.5', 'true']);
          }
          return { body: rows };
        }
        case 'POST /api/v4/spot/orders': {
          if (q('account') && q('account') !== 'spot') return err(400, 'INVALID_PARAM_VALUE', 'account must be spot');
          const type = String(q('type') ?? 'limit') as 'limit' | 'market';
          const tif = String(q('time_in_force') ?? 'gtc');
          const o = e.place({
            instId: String(q('currency_pair')),
            side: String(q('side')) as 'buy' | 'sell',
            type,
            qty: new Decimal(String(q('amount'))),
            price: type === 'limit' ? new Decimal(String(q('price'))) : undefined,
            clientId: q('text'),
            tif: tif === 'poc' ? 'GTX' : tif === 'ioc' && type === 'limit' ? 'IOC' : tif === 'fok' ? 'FOK' : 'GTC',
          });
          return { status: 201, body: orderJson(o) };
        }
        case 'GET /api/v4/spot/orders':
          return { body: q('status') === 'finished' ? [...e.orders.values()].filter((o) => o.status !== 'new' && o.status !== 'partially_filled' && (!q('currency_pair') || o.instId === q('currency_pair'))).map(orderJson) : e.open(q('currency_pair')).map(orderJson) };
        case 'GET /api/v4/spot/open_orders':
          return { body: [...new Set(e.open().map((o) => o.instId))].map((pair) => ({ currency_pair: pair, total: e.open(pair).length, orders: e.open(pair).map(orderJson) })) };
        case 'GET /api/v4/spot/my_trades':
          return { body: e.trades.filter((t) => (!q('currency_pair') || t.instId === q('currency_pair')) && (!q('order_id') || t.orderId === q('order_id'))).map(tradeJson) };
        default:
          break;
      }
      if (orderPath) {
        const ref = decodeURIComponent(orderPath[1]);
        const o = ref.startsWith('t-') ? (e.findByClientId(ref) ?? e.findByClientId(ref.slice(2))) : e.orders.get(ref);
        if (!o) throw new FakeError('not_found', 'no order');
        if (req.method === 'GET') return { body: orderJson(o) };
        if (req.method === 'DELETE') return { body: orderJson(e.cancel(o.id)) };
      }
      return undefined;
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      const subs = (sock.state.subs = new Set<string>()) as Set<string>;
      const now = () => Math.floor(e.now() / 1000);
      const onTicker = (i: FInstrument) => {
        if (subs.has(`spot.tickers:${i.id}`)) sock.send({ time: now(), time_ms: e.now(), channel: 'spot.tickers', event: 'update', result: tickerJson(i) });
      };
      const onOrder = (o: FOrder, t?: FTrade) => {
        if (subs.has(`spot.orders:${o.instId}`) || subs.has('spot.orders:!all'))
          sock.send({ time: now(), time_ms: e.now(), channel: 'spot.orders', event: 'update', result: [{ ...orderJson(o), event: t ? 'update' : o.status === 'new' ? 'put' : 'finish', user: 1 }] });
      };
      e.listenUntilClose(sock.ws, { ticker: onTicker, order: onOrder });
    },
    onMessage(sock: FakeSocket, msg: unknown, ctx: FakeContext) {
      const m = msg as { time?: number; id?: number; channel?: string; event?: string; payload?: string[]; auth?: { KEY?: string } };
      const subs = sock.state.subs as Set<string>;
      if (m.channel === 'spot.ping') return sock.reply({ time: m.time, channel: 'spot.pong', event: '', result: null });
      if (m.event === 'subscribe' || m.event === 'unsubscribe') {
        if (m.channel === 'spot.orders' && m.auth?.KEY !== ctx.apiKey) {
          return sock.reply({ time: m.time, id: m.id, channel: m.channel, event: m.event, error: { code: 2, message: 'invalid key' }, result: { status: 'fail' } });
        }
        for (const arg of m.payload ?? []) {
          const key = `${m.channel}:${arg}`;
          if (m.event === 'subscribe') subs.add(key);
          else subs.delete(key);
        }
        sock.reply({ time: m.time, time_ms: Date.now(), id: m.id, channel: m.channel, event: m.event, result: { status: 'success' } });
      }
    },
  };
}
