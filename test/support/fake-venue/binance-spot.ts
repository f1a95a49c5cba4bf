/**
 * Binance spot dialect (REST `/api/v3/*`, public WebSocket `/ws` streams, user data through the
 * WebSocket API `/ws-api/v3` `userDataStream.subscribe.signature` as ccxt.pro 4.5 uses it), shapes per
 * https://developers.binance.com/docs/binance-spot-api-docs. Markets: the recorded spot
 * `/api/v3/exchangeInfo` (`cryptofeed_BINANCE_0`). The engine runs in spot mode (base + quote balances).
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded } from './server';
import { binanceBase, tickerJson } from './binance';

const s = (d: Decimal) => d.toFixed();
const STATUS: Record<FOrder['status'], string> = { new: 'NEW', partially_filled: 'PARTIALLY_FILLED', filled: 'FILLED', canceled: 'CANCELED', expired: 'EXPIRED', rejected: 'REJECTED' };

function orderJson(o: FOrder) {
  return {
    symbol: o.instId,
    orderId: Number(o.id),
    orderListId: -1,
    clientOrderId: o.clientId,
    price: s(o.price),
    origQty: s(o.qty),
    executedQty: s(o.filled),
    cummulativeQuoteQty: s(o.avg.mul(o.filled)),
    status: STATUS[o.status],
    timeInForce: o.tif === 'GTX' ? 'GTC' : o.tif,
    type: o.type === 'market' ? 'MARKET' : o.tif === 'GTX' ? 'LIMIT_MAKER' : 'LIMIT',
    side: o.side.toUpperCase(),
    stopPrice: '0.00000000',
    icebergQty: '0.00000000',
    time: o.createdAt,
    updateTime: o.updatedAt,
    isWorking: true,
    workingTime: o.createdAt,
    origQuoteOrderQty: '0.00000000',
    selfTradePreventionMode: 'EXPIRE_MAKER',
  };
}

function tradeJson(t: FTrade) {
  return {
    symbol: t.instId,
    id: Number(t.id),
    orderId: Number(t.orderId),
    orderListId: -1,
    price: s(t.price),
    qty: s(t.qty),
    quoteQty: s(t.price.mul(t.qty)),
    commission: s(t.fee),
    commissionAsset: t.feeAsset,
    time: t.time,
    isBuyer: t.side === 'buy',
    isMaker: t.maker,
    isBestMatch: true,
  };
}

/** Spot 24 h ticker: the USD-M one plus the spot-only book and previous-close fields. */
function ticker24(i: FInstrument, now: number) {
  return {
    ...tickerJson(i, now),
    priceChangePercent: '0.01',
    lastQty: '0.01',
    prevClosePrice: s(i.price.minus(i.tick.mul(10))),
    bidPrice: s(i.price),
    bidQty: '1',
    askPrice: s(i.price.plus(i.tick)),
    askQty: '1',
  };
}

export function binanceSpotDialect(opts: { price?: string } = {}): FakeDialect {
  const info = recorded('cryptofeed_BINANCE_0.json.gz')[0].body as { symbols: Record<string, unknown>[] };
  const wanted = new Set(['BTCUSDT']);
  return {
    ...binanceBase(info, wanted, opts.price, {
      duplicate: [-2010, 'Duplicate order sent.'],
      insufficient: [-2010, 'Account has insufficient balance for requested action.'],
      post_only: [-2010, 'Order would immediately match and take.'],
    }),
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      switch (`${req.method} ${req.path}`) {
        case 'GET /api/v3/exchangeInfo':
          return { body: { ...info, symbols: info.symbols.filter((m) => wanted.has(String(m.symbol)) || m.symbol === 'ETHUSDT') } };
        case 'GET /sapi/v1/margin/allPairs': // ccxt's loadMarkets reads the margin pairs too
        case 'GET /sapi/v1/margin/isolated/allPairs':
          return { body: [] };
        case 'GET /api/v3/time':
          return { body: { serverTime: e.now() } };
        case 'GET /api/v3/account': {
          const assets = new Set([e.walletAsset, ...[...e.instruments.values()].map((i) => i.base)]);
          return {
            body: {
              makerCommission: 10,
              takerCommission: 10,
              canTrade: true,
              canWithdraw: false,
              canDeposit: true,
              updateTime: e.now(),
              accountType: 'SPOT',
              balances: [...assets].map((a) => ({ asset: a, free: s(e.spotFree(a)), locked: s(e.spotBalance(a).minus(e.spotFree(a))) })),
              permissions: ['SPOT'],
            },
          };
        }
        case 'GET /sapi/v1/account/apiRestrictions':
          return { body: { ipRestrict: false, createTime: 1698645219000, enableReading: true, enableWithdrawals: e.keyPermissions.withdraw, enableSpotAndMarginTrading: e.keyPermissions.trade, enableFutures: false, enableMargin: false, enableInternalTransfer: false, permitsUniversalTransfer: false, enableVanillaOptions: false } };
        case 'GET /api/v3/ticker/24hr': {
          const sym = q('symbol');
          const rows = [...e.instruments.values()].filter((i) => !sym || i.id === sym).map((i) => ticker24(i, e.now()));
          return { body: sym ? rows[0] : rows };
        }
        case 'GET /api/v3/ticker/price':
          return { body: { symbol: q('symbol'), price: s(e.inst(q('symbol')!).price) } };
        case 'GET /api/v3/klines': {
          const i = e.inst(q('symbol')!);
          const limit = Number(q('limit') ?? 500);
          const last = Math.floor(e.now() / 60_000) * 60_000;
          const rows = [];
          for (let k = limit - 1; k >= 0; k--) {
            const px = i.price.minus(i.tick.mul(k % 5));
            const t = last - k * 60_000;
            rows.push([t, s(px), s(px.plus(i.tick)), s(px.minus(i.tick)), s(px), '1.5', t + 59_999, s(px.mul('1.5')), 3, '0.7', '0', '0']);
          }
          return { body: rows };
        }
        case 'POST /api/v3/order': {
          const t = String(q('type'));
          const type = t === 'MARKET' ? 'market' : 'limit';
          const o = e.place({
            instId: q('symbol')!,
            side: String(q('side')).toLowerCase() as 'buy' | 'sell',
            type,
            qty: new Decimal(q('quantity')!),
            price: type === 'limit' ? new Decimal(q('price')!) : undefined,
            clientId: q('newClientOrderId'),
            tif: t === 'LIMIT_MAKER' ? 'GTX' : ((q('timeInForce') as FOrder['tif']) ?? 'GTC'),
          });
          return { body: { ...orderJson(o), transactTime: o.createdAt, fills: [] } };
        }
        case 'DELETE /api/v3/order': {
          const id = q('orderId') ?? e.findByClientId(q('origClientOrderId') ?? '')?.id ?? '';
          if (!e.orders.get(id)) throw new FakeError('not_open', 'unknown order');
          return { body: { ...orderJson(e.cancel(id)), origClientOrderId: e.orders.get(id)!.clientId } };
        }
        case 'GET /api/v3/order': {
          const o = q('orderId') ? e.orders.get(q('orderId')!) : e.findByClientId(q('origClientOrderId') ?? '');
          if (!o) throw new FakeError('not_found', 'no order');
          return { body: orderJson(o) };
        }
        case 'GET /api/v3/openOrders':
          return { body: e.open(q('symbol')).map(orderJson) };
        case 'GET /api/v3/myTrades': {
          const since = Number(q('startTime') ?? 0);
          return { body: e.trades.filter((t) => (!q('symbol') || t.instId === q('symbol')) && t.time >= since && (!q('orderId') || t.orderId === q('orderId'))).map(tradeJson) };
        }
        default:
          return undefined;
      }
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      if (sock.path.startsWith('/ws-api')) {
        // WebSocket API: the user data stream is pushed after userDataStream.subscribe.signature.
        const onOrder = (o: FOrder, t?: FTrade) => {
          if (sock.state.subscriptionId === undefined) return;
          sock.send({
            subscriptionId: sock.state.subscriptionId,
            event: {
              e: 'executionReport',
              E: e.now(),
              s: o.instId,
              c: o.clientId,
              S: o.side.toUpperCase(),
              o: o.type === 'market' ? 'MARKET' : o.tif === 'GTX' ? 'LIMIT_MAKER' : 'LIMIT',
              f: o.tif === 'GTX' ? 'GTC' : o.tif,
              q: s(o.qty),
              p: s(o.price),
              P: '0.00000000',
              F: '0.00000000',
              g: -1,
              C: o.status === 'canceled' ? o.clientId : '',
              x: t ? 'TRADE' : o.status === 'new' ? 'NEW' : STATUS[o.status],
              X: STATUS[o.status],
              r: 'NONE',
              i: Number(o.id),
              l: t ? s(t.qty) : '0.00000000',
              z: s(o.filled),
              L: t ? s(t.price) : '0.00000000',
              n: t ? s(t.fee) : '0',
              N: t ? t.feeAsset : null,
              T: o.updatedAt,
              t: t ? Number(t.id) : -1,
              I: 1,
              w: o.status === 'new' || o.status === 'partially_filled',
              m: t ? t.maker : false,
              M: false,
              O: o.createdAt,
              Z: s(o.avg.mul(o.filled)),
              Y: t ? s(t.price.mul(t.qty)) : '0',
              Q: '0.00000000',
              W: o.createdAt,
              V: 'EXPIRE_MAKER',
            },
          });
        };
        e.listenUntilClose(sock.ws, { order: onOrder });
        return;
      }
      const onTicker = (i: FInstrument) => {
        const subs = (sock.state.subs as Set<string> | undefined) ?? new Set();
        const lower = i.id.toLowerCase();
        const t = ticker24(i, e.now());
        if (subs.has(`${lower}@ticker`))
          sock.send({ stream: `${lower}@ticker`, data: { e: '24hrTicker', E: e.now(), s: i.id, p: t.priceChange, P: t.priceChangePercent, w: t.weightedAvgPrice, x: t.prevClosePrice, c: t.lastPrice, Q: t.lastQty, b: t.bidPrice, B: t.bidQty, a: t.askPrice, A: t.askQty, o: t.openPrice, h: t.highPrice, l: t.lowPrice, v: t.volume, q: t.quoteVolume, O: t.openTime, C: t.closeTime, F: 1, L: 100, n: 100 } });
      };
      e.listenUntilClose(sock.ws, { ticker: onTicker });
    },
    onMessage(sock: FakeSocket, msg: unknown, ctx: FakeContext) {
      const m = msg as { method?: string; params?: unknown; id?: string | number };
      if (m.method === 'userDataStream.subscribe.signature') {
        const key = (m.params as { apiKey?: string } | undefined)?.apiKey;
        if (key !== ctx.apiKey) return sock.reply({ id: m.id, status: 401, error: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' } });
        sock.state.subscriptionId = 0;
        return sock.reply({ id: m.id, status: 200, result: { subscriptionId: 0 } });
      }
      if (m.method === 'SUBSCRIBE' || m.method === 'UNSUBSCRIBE') {
        const subs = ((sock.state.subs as Set<string>) ??= new Set());
        for (const p of (m.params as string[]) ?? []) (m.method === 'SUBSCRIBE' ? subs.add(p) : subs.delete(p));
        sock.reply({ result: null, id: m.id });
      }
    },
  };
}
