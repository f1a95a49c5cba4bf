/**
 * Bitget v2 spot dialect (REST `/api/v2/spot/*`, WebSocket `/v2/ws/{public,private}` with
 * `instType: SPOT`), shapes per https://www.bitget.com/api-doc/spot/intro and ccxt's bitget.js.
 * Markets: the recorded v1 `/api/spot/v1/public/products` list (2022; v1 is retired) reshaped into
 * v2 `spot/public/symbols`. The engine runs in spot mode (base + quote balances).
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded, errorMapper } from './server';

const s = (d: Decimal) => d.toFixed();
const STATUS: Record<FOrder['status'], string> = { new: 'live', partially_filled: 'partially_filled', filled: 'filled', canceled: 'cancelled', expired: 'cancelled', rejected: 'cancelled' };
const ok = (data: unknown) => ({ body: { code: '00000', msg: 'success', requestTime: Date.now(), data } });
const fail = (code: string, msg: string, status = 400) => ({ status, body: { code, msg, requestTime: Date.now(), data: null } });

/** v1 spot product → v2 `spot/public/symbols` entry. */
function v2Symbol(m: Record<string, string>) {
  return {
    symbol: m.symbolName,
    baseCoin: m.baseCoin,
    quoteCoin: m.quoteCoin,
    minTradeAmount: m.minTradeAmount,
    maxTradeAmount: m.maxTradeAmount === '0' ? '900000000000000000000' : m.maxTradeAmount,
    takerFeeRate: m.takerFeeRate,
    makerFeeRate: m.makerFeeRate,
    pricePrecision: m.priceScale,
    quantityPrecision: m.quantityScale,
    quotePrecision: m.priceScale,
    minTradeUSDT: '1',
    status: m.status,
    buyLimitPriceRatio: '0.05',
    sellLimitPriceRatio: '0.05',
    areaSymbol: 'no',
    orderQuantity: '200',
    openTime: '1532454360000',
    offTime: '',
  };
}

function orderJson(o: FOrder) {
  return {
    userId: '1',
    symbol: o.instId,
    orderId: o.id,
    clientOid: o.clientId,
    size: s(o.qty),
    price: o.type === 'market' ? '0' : s(o.price),
    orderType: o.type,
    side: o.side,
    status: STATUS[o.status],
    force: o.tif === 'GTX' ? 'post_only' : o.tif.toLowerCase(),
    // Real Bitget spot order queries (per ccxt's parseOrder and its recorded samples): `priceAvg`
    // carries the limit price and `basePrice` the average fill price.
    basePrice: s(o.avg),
    priceAvg: o.type === 'market' ? '0' : s(o.price),
    baseVolume: s(o.filled),
    quoteVolume: s(o.avg.mul(o.filled)),
    enterPointSource: 'API',
    orderSource: 'normal',
    cTime: String(o.createdAt),
    uTime: String(o.updatedAt),
  };
}

function fillJson(t: FTrade) {
  return {
    userId: '1',
    symbol: t.instId,
    orderId: t.orderId,
    tradeId: t.id,
    orderType: 'limit',
    side: t.side,
    priceAvg: s(t.price),
    size: s(t.qty),
    amount: s(t.price.mul(t.qty)),
    feeDetail: { deduction: 'no', feeCoin: t.feeAsset, totalDeductionFee: '0', totalFee: s(t.fee.neg()) },
    tradeScope: t.maker ? 'maker' : 'taker',
    cTime: String(t.time),
    uTime: String(t.time),
  };
}

function tickerJson(i: FInstrument, now: number) {
  return {
    symbol: i.id,
    high24h: s(i.price.plus(i.tick.mul(20))),
    open: s(i.price.minus(i.tick.mul(10))),
    low24h: s(i.price.minus(i.tick.mul(20))),
    lastPr: s(i.price),
    quoteVolume: s(i.price.mul('123.4567')),
    baseVolume: '123.4567',
    usdtVolume: s(i.price.mul('123.4567')),
    bidPr: s(i.price),
    askPr: s(i.price.plus(i.tick)),
    bidSz: '1',
    askSz: '1',
    openUtc: s(i.price),
    ts: String(now),
    changeUtc24h: '0.001',
    change24h: '0.001',
  };
}

export function bitgetSpotDialect(opts: { price?: string } = {}): FakeDialect {
  const v1 = recorded('cryptofeed_BITGET_0.json.gz').find((r) => r.url.includes('/spot/v1/public/products'))!.body as { data: Record<string, string>[] };
  const wanted = new Set(['BTCUSDT']);
  const symbols = v1.data.map(v2Symbol).filter((m) => wanted.has(m.symbol) || m.symbol === 'ETHUSDT');
  return {
    venue: 'bitget',
    instruments(): FInstrument[] {
      return symbols
        .filter((m) => wanted.has(m.symbol))
        .map((m) => ({ id: m.symbol, base: m.baseCoin, quote: m.quoteCoin, contractSize: new Decimal(1), tick: new Decimal(10).pow(-Number(m.pricePrecision)), price: new Decimal(opts.price ?? '30000') }));
    },
    apiKeyOf: (req) => req.headers['access-key'] as string | undefined,
    authError: () => fail('40006', 'Invalid ACCESS_KEY', 401),
    error: errorMapper({
      not_found: fail('43001', 'The order does not exist'),
      not_open: fail('43001', 'The order does not exist'),
      duplicate: fail('43118', 'Duplicate clientOid'),
      insufficient: fail('43012', 'Insufficient balance'),
      post_only: fail('43011', 'The parameter does not meet the specification: post only order would take'),
      other: (m) => fail('40000', m),
      internal: (m) => fail('40000', m),
    }),
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      switch (`${req.method} ${req.path}`) {
        case 'GET /api/v2/spot/public/symbols':
          return ok(symbols);
        case 'GET /api/v2/margin/currencies': // ccxt's loadMarkets reads the margin pairs too
          return ok([]);
        case 'GET /api/v2/public/time':
          return ok({ serverTime: String(e.now()) });
        case 'GET /api/v2/spot/account/assets': {
          const assets = new Set([e.walletAsset, ...[...e.instruments.values()].map((i) => i.base)]);
          return ok([...assets].map((a) => ({ coin: a, available: s(e.spotFree(a)), frozen: s(e.spotBalance(a).minus(e.spotFree(a))), locked: '0', limitAvailable: '0', uTime: String(e.now()) })));
        }
        case 'GET /api/v2/spot/market/tickers':
          return ok([...e.instruments.values()].filter((i) => !q('symbol') || q('symbol') === i.id).map((i) => tickerJson(i, e.now())));
        case 'GET /api/v2/spot/market/candles':
        case 'GET /api/v2/spot/market/history-candles': {
          const i = e.inst(q('symbol')!);
          const limit = Number(q('limit') ?? 100);
          const last = Math.floor(e.now() / 60_000) * 60_000;
          const rows = [];
          for (let k = limit - 1; k >= 0; k--) {
            const px = i.price.minus(i.tick.mul(k % 5));
            rows.push([String(last - k * 60_000), s(px), s(px.plus(i.tick)), s(px.minus(i.tick)), s(px), '1.5', s(px.mul('1.5')), s(px.mul('1.5'))]);
          }
          return ok(rows);
        }
        case 'POST /api/v2/spot/trade/place-order': {
          const type = String(q('orderType')) as 'limit' | 'market';
          const force = String(q('force') ?? 'gtc');
          const o = e.place({
            instId: q('symbol')!,
            side: String(q('side')) as 'buy' | 'sell',
            type,
            qty: new Decimal(String(q('size'))),
            price: type === 'limit' ? new Decimal(String(q('price'))) : undefined,
            clientId: q('clientOid'),
            tif: force === 'post_only' ? 'GTX' : force === 'ioc' ? 'IOC' : force === 'fok' ? 'FOK' : 'GTC',
          });
          return ok({ orderId: o.id, clientOid: o.clientId });
        }
        case 'POST /api/v2/spot/trade/cancel-order': {
          const id = q('orderId') ?? e.findByClientId(q('clientOid') ?? '')?.id ?? '';
          if (!e.orders.get(id)) throw new FakeError('not_open', 'no order');
          const o = e.cancel(id);
          return ok({ orderId: o.id, clientOid: o.clientId });
        }
        case 'GET /api/v2/spot/trade/orderInfo': {
          const o = q('orderId') ? e.orders.get(q('orderId')!) : e.findByClientId(q('clientOid') ?? '');
          return ok(o ? [orderJson(o)] : []);
        }
        case 'GET /api/v2/spot/trade/unfilled-orders':
          return ok(e.open(q('symbol')).map(orderJson));
        case 'GET /api/v2/spot/trade/history-orders':
          return ok([...e.orders.values()].filter((o) => o.status !== 'new' && o.status !== 'partially_filled' && (!q('symbol') || o.instId === q('symbol'))).map(orderJson));
        case 'GET /api/v2/spot/trade/fills':
          return ok(e.trades.filter((t) => (!q('symbol') || t.instId === q('symbol')) && (!q('orderId') || t.orderId === q('orderId'))).reverse().map(fillJson));
        default:
          return undefined;
      }
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      const subs = (sock.state.subs = new Set<string>()) as Set<string>;
      const onTicker = (i: FInstrument) => {
        if (subs.has(`ticker:${i.id}`)) sock.send({ action: 'snapshot', arg: { instType: 'SPOT', channel: 'ticker', instId: i.id }, data: [{ instId: i.id, ...tickerJson(i, e.now()) }], ts: e.now() });
      };
      const onOrder = (o: FOrder, t?: FTrade) => {
        if (!sock.state.loggedIn) return;
        const key = [`orders:${o.instId}`, 'orders:default'].find((k) => subs.has(k));
        if (!key) return;
        const push = {
          ...orderJson(o),
          instId: o.instId,
          newSize: s(o.qty),
          notional: s(o.qty.mul(o.price)),
          accBaseVolume: s(o.filled),
          fillPrice: t ? s(t.price) : undefined,
          tradeId: t?.id,
          baseVolume: t ? s(t.qty) : '0',
          fillTime: t ? String(t.time) : undefined,
          fillFee: t ? s(t.fee.neg()) : undefined,
          fillFeeCoin: t?.feeAsset,
          tradeScope: t ? (t.maker ? 'maker' : 'taker') : undefined,
        };
        sock.send({ action: 'snapshot', arg: { instType: 'SPOT', channel: 'orders', instId: key.split(':')[1] }, data: [push], ts: e.now() });
      };
      e.listenUntilClose(sock.ws, { ticker: onTicker, order: onOrder });
    },
    onMessage(sock: FakeSocket, msg: unknown, ctx: FakeContext) {
      if (msg === 'ping') return sock.reply('pong');
      const m = msg as { op?: string; args?: Record<string, string>[] };
      const subs = sock.state.subs as Set<string>;
      if (m.op === 'login') {
        if (m.args?.[0]?.apiKey !== ctx.apiKey) return sock.reply({ event: 'error', code: 30011, msg: 'Invalid ACCESS_KEY' });
        sock.state.loggedIn = true;
        return sock.reply({ event: 'login', code: 0 });
      }
      if (m.op === 'subscribe' || m.op === 'unsubscribe') {
        for (const a of m.args ?? []) {
          const key = `${a.channel}:${a.instId}`;
          if (m.op === 'subscribe') subs.add(key);
          else subs.delete(key);
          sock.reply({ event: m.op, arg: a });
        }
      }
    },
  };
}
