/**
 * Bitget v2 USDT-FUTURES dialect (REST `/api/v2/mix/*`, WebSocket `/v2/ws/{public,private}`),
 * shapes per https://www.bitget.com/api-doc/contract/intro and ccxt's bitget.js. Markets: the
 * recorded v1 `/api/mix/v1/market/contracts?productType=umcbl` list (2022; v1 is retired) reshaped
 * into v2 `market/contracts`.
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded, errorMapper } from './server';

const s = (d: Decimal) => d.toFixed();
const STATE: Record<FOrder['status'], string> = { new: 'live', partially_filled: 'partially_filled', filled: 'filled', canceled: 'canceled', expired: 'canceled', rejected: 'canceled' };
const ok = (data: unknown) => ({ body: { code: '00000', msg: 'success', requestTime: Date.now(), data } });
const fail = (code: string, msg: string, status = 400) => ({ status, body: { code, msg, requestTime: Date.now(), data: null } });

/** v1 `umcbl` contract → v2 USDT-FUTURES contract. */
export function bitgetV2Contract(m: Record<string, any>) {
  return {
    symbol: String(m.symbol).replace('_UMCBL', ''),
    baseCoin: m.baseCoin,
    quoteCoin: m.quoteCoin,
    buyLimitPriceRatio: m.buyLimitPriceRatio,
    sellLimitPriceRatio: m.sellLimitPriceRatio,
    feeRateUpRatio: m.feeRateUpRatio,
    makerFeeRate: m.makerFeeRate,
    takerFeeRate: m.takerFeeRate,
    openCostUpRatio: m.openCostUpRatio,
    supportMarginCoins: m.supportMarginCoins,
    minTradeNum: m.minTradeNum,
    priceEndStep: m.priceEndStep,
    volumePlace: m.volumePlace,
    pricePlace: m.pricePlace,
    sizeMultiplier: new Decimal(10).pow(-Number(m.volumePlace)).toFixed(),
    symbolType: 'perpetual',
    minTradeUSDT: '5',
    maxSymbolOrderNum: '200',
    maxProductOrderNum: '400',
    maxPositionNum: '150',
    symbolStatus: 'normal',
    offTime: '-1',
    limitOpenTime: '-1',
    deliveryTime: '',
    deliveryStartTime: '',
    deliveryPeriod: '',
    launchTime: '',
    fundInterval: '8',
    minLever: '1',
    maxLever: '125',
    posLimit: '0.05',
    maintainTime: '',
  };
}

function orderJson(o: FOrder, t?: FTrade) {
  return {
    symbol: o.instId,
    instId: o.instId,
    size: s(o.qty),
    orderId: o.id,
    clientOid: o.clientId,
    baseVolume: s(o.filled),
    accBaseVolume: s(o.filled),
    priceAvg: o.filled.isZero() ? '' : s(o.avg),
    fee: '0',
    price: o.type === 'market' ? '' : s(o.price),
    state: STATE[o.status],
    status: STATE[o.status],
    side: o.side,
    force: o.tif === 'GTX' ? 'post_only' : o.tif.toLowerCase(),
    totalProfits: '0',
    posSide: 'net',
    marginCoin: 'USDT',
    quoteVolume: s(o.avg.mul(o.filled)),
    orderType: o.type,
    leverage: '10',
    marginMode: 'crossed',
    reduceOnly: o.reduceOnly ? 'YES' : 'NO',
    enterPointSource: 'API',
    tradeSide: 'open',
    posMode: 'one_way_mode',
    orderSource: 'normal',
    fillPrice: t ? s(t.price) : undefined,
    tradeId: t ? t.id : undefined,
    fillTime: t ? String(t.time) : undefined,
    fillFee: t ? s(t.fee.neg()) : undefined,
    fillFeeCoin: t ? t.feeAsset : undefined,
    tradeScope: t ? (t.maker ? 'maker' : 'taker') : undefined,
    cTime: String(o.createdAt),
    uTime: String(o.updatedAt),
  };
}

function fillJson(t: FTrade) {
  return {
    tradeId: t.id,
    symbol: t.instId,
    orderId: t.orderId,
    price: s(t.price),
    baseVolume: s(t.qty),
    feeDetail: [{ deduction: 'no', feeCoin: t.feeAsset, totalDeductionFee: '0', totalFee: s(t.fee.neg()) }],
    side: t.side,
    quoteVolume: s(t.price.mul(t.qty)),
    profit: s(t.realizedPnl),
    enterPointSource: 'api',
    tradeSide: 'open',
    posMode: 'one_way_mode',
    tradeScope: t.maker ? 'maker' : 'taker',
    cTime: String(t.time),
  };
}

export function bitgetDialect(opts: { price?: string } = {}): FakeDialect {
  const v1 = recorded('cryptofeed_BITGET_0.json.gz').find((r) => r.url.includes('productType=umcbl'))!.body as { data: Record<string, any>[] };
  const wanted = new Set(['BTCUSDT']);
  const contracts = v1.data.map(bitgetV2Contract).filter((c) => wanted.has(c.symbol) || c.symbol === 'ETHUSDT');
  return {
    venue: 'bitget',
    instruments(): FInstrument[] {
      return contracts
        .filter((c) => wanted.has(c.symbol))
        .map((c) => ({ id: c.symbol, base: c.baseCoin, quote: c.quoteCoin, contractSize: new Decimal(1), tick: new Decimal(10).pow(-Number(c.pricePlace)).mul(c.priceEndStep), price: new Decimal(opts.price ?? '30000') }));
    },
    apiKeyOf: (req) => req.headers['access-key'] as string | undefined,
    authError: () => fail('40006', 'Invalid ACCESS_KEY', 401),
    error: errorMapper({
      not_found: fail('40768', 'Order does not exist'),
      not_open: fail('40768', 'Order does not exist'),
      duplicate: fail('40757', 'Duplicate clientOid'),
      insufficient: fail('40762', 'The order amount exceeds the balance'),
      post_only: fail('40000', 'post only order would take'),
      other: (m) => fail('40000', m),
      internal: (m) => fail('40000', m),
    }),
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      switch (`${req.method} ${req.path}`) {
        case 'GET /api/v2/mix/market/contracts':
          return ok(q('productType') === 'USDT-FUTURES' ? contracts : []);
        case 'GET /api/v2/public/time':
          return ok({ serverTime: String(e.now()) });
        case 'GET /api/v2/mix/account/accounts':
          return ok([
            {
              marginCoin: 'USDT',
              locked: '0',
              available: s(e.wallet),
              crossedMaxAvailable: s(e.available()),
              isolatedMaxAvailable: s(e.available()),
              maxTransferOut: s(e.available()),
              accountEquity: s(e.wallet.plus(e.totalUnrealized())),
              usdtEquity: s(e.wallet.plus(e.totalUnrealized())),
              btcEquity: '0',
              crossedRiskRate: '0',
              unrealizedPL: s(e.totalUnrealized()),
              coupon: '0',
              crossedUnrealizedPL: s(e.totalUnrealized()),
              isolatedUnrealizedPL: '0',
            },
          ]);
        case 'GET /api/v2/mix/position/all-position':
        case 'GET /api/v2/mix/position/single-position':
          return ok(
            [...e.instruments.values()]
              .filter((i) => !q('symbol') || q('symbol') === i.id)
              .map((i) => e.position(i.id))
              .filter((p) => !p.size.isZero())
              .map((p) => {
                const i = e.inst(p.instId);
                return {
                  marginCoin: 'USDT',
                  symbol: i.id,
                  holdSide: p.size.isPositive() ? 'long' : 'short',
                  openDelegateSize: '0',
                  marginSize: s(p.size.abs().mul(p.entry).div(e.leverage)),
                  available: s(p.size.abs()),
                  locked: '0',
                  total: s(p.size.abs()),
                  leverage: String(e.leverage),
                  achievedProfits: '0',
                  openPriceAvg: s(p.entry),
                  marginMode: 'crossed',
                  posMode: 'one_way_mode',
                  unrealizedPL: s(e.unrealized(i.id)),
                  liquidationPrice: '0',
                  keepMarginRate: '0.004',
                  markPrice: s(i.price),
                  breakEvenPrice: s(p.entry),
                  totalFee: '0',
                  deductedFee: '0',
                  cTime: String(e.now()),
                  uTime: String(e.now()),
                };
              }),
          );
        case 'GET /api/v2/mix/market/ticker':
        case 'GET /api/v2/mix/market/tickers':
          return ok([...e.instruments.values()].filter((i) => !q('symbol') || q('symbol') === i.id).map((i) => tickerJson(i, e.now(), s(e.fundingRate))));
        case 'GET /api/v2/mix/market/candles':
        case 'GET /api/v2/mix/market/history-candles': {
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
        case 'GET /api/v2/mix/market/current-fund-rate':
          return ok([{ symbol: q('symbol'), fundingRate: s(e.fundingRate), fundingRateInterval: '8', nextUpdate: String(e.nextFundingTime()), minFundingRate: '-0.003', maxFundingRate: '0.003' }]);
        case 'GET /api/v2/mix/market/funding-time':
          return ok([{ symbol: q('symbol'), nextFundingTime: String(e.nextFundingTime()), ratePeriod: '8' }]);
        case 'GET /api/v2/mix/market/history-fund-rate': {
          const limit = Number(q('pageSize') ?? 20);
          const rows = e.fundingHistory(limit).map((f) => ({ symbol: q('symbol'), fundingRate: f.rate, fundingTime: String(f.timeMs) }));
          return ok(rows);
        }
        case 'GET /api/v2/mix/market/open-interest':
          return ok({ openInterestList: [{ symbol: q('symbol'), size: '12345.678' }], ts: String(e.now()) });
        case 'POST /api/v2/mix/order/place-order': {
          const type = String(q('orderType')) as 'limit' | 'market';
          const force = String(q('force') ?? 'gtc');
          const o = e.place({
            instId: q('symbol')!,
            side: q('side') as 'buy' | 'sell',
            type,
            qty: new Decimal(String(q('size'))),
            price: type === 'limit' ? new Decimal(String(q('price'))) : undefined,
            clientId: q('clientOid'),
            tif: force === 'post_only' ? 'GTX' : force === 'ioc' ? 'IOC' : force === 'fok' ? 'FOK' : 'GTC',
            reduceOnly: String(q('reduceOnly')).toUpperCase() === 'YES',
          });
          return ok({ clientOid: o.clientId, orderId: o.id });
        }
        case 'POST /api/v2/mix/order/cancel-order': {
          const id = q('orderId') ?? e.findByClientId(q('clientOid') ?? '')?.id ?? '';
          if (!e.orders.get(id)) throw new FakeError('not_open', 'no order');
          const o = e.cancel(id);
          return ok({ orderId: o.id, clientOid: o.clientId });
        }
        case 'GET /api/v2/mix/order/detail': {
          const o = q('orderId') ? e.orders.get(q('orderId')!) : e.findByClientId(q('clientOid') ?? '');
          if (!o) throw new FakeError('not_found', 'no order');
          return ok(orderJson(o));
        }
        case 'GET /api/v2/mix/order/orders-pending':
          return ok({ entrustedList: e.open(q('symbol')).map((o) => orderJson(o)), endId: '' });
        case 'GET /api/v2/mix/order/fills':
        case 'GET /api/v2/mix/order/fill-history':
          return ok({ fillList: e.trades.filter((t) => !q('symbol') || t.instId === q('symbol')).reverse().map(fillJson), endId: '' });
        default:
          return undefined;
      }
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      const subs = (sock.state.subs = new Set<string>()) as Set<string>;
      const onTicker = (i: FInstrument) => {
        if (subs.has(`ticker:${i.id}`)) sock.send({ action: 'snapshot', arg: { instType: 'USDT-FUTURES', channel: 'ticker', instId: i.id }, data: [{ instId: i.id, ...tickerJson(i, e.now(), s(e.fundingRate)) }], ts: e.now() });
        for (const sub of subs) {
          const m = /^(candle\w+):(.+)$/.exec(sub);
          if (m && m[2] === i.id) {
            const t = Math.floor(e.now() / 60_000) * 60_000;
            sock.send({ action: 'update', arg: { instType: 'USDT-FUTURES', channel: m[1], instId: i.id }, data: [[String(t), s(i.price), s(i.price.plus(i.tick)), s(i.price.minus(i.tick)), s(i.price), '1.5', s(i.price.mul('1.5')), s(i.price.mul('1.5'))]], ts: e.now() });
          }
        }
      };
      const onOrder = (o: FOrder, t?: FTrade) => {
        if (sock.state.loggedIn && subs.has('orders')) sock.send({ action: 'snapshot', arg: { instType: 'USDT-FUTURES', channel: 'orders', instId: 'default' }, data: [orderJson(o, t)], ts: e.now() });
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
          const key = a.channel === 'orders' ? 'orders' : `${a.channel}:${a.instId}`;
          if (m.op === 'subscribe') subs.add(key);
          else subs.delete(key);
          sock.reply({ event: m.op, arg: a });
        }
      }
    },
  };
}

function tickerJson(i: FInstrument, now: number, rate: string) {
  return {
    symbol: i.id,
    lastPr: s(i.price),
    askPr: s(i.price.plus(i.tick)),
    bidPr: s(i.price),
    bidSz: '1',
    askSz: '1',
    high24h: s(i.price.plus(i.tick.mul(20))),
    low24h: s(i.price.minus(i.tick.mul(20))),
    ts: String(now),
    change24h: '0.01',
    baseVolume: '1234.567',
    quoteVolume: s(i.price.mul('1234.567')),
    usdtVolume: s(i.price.mul('1234.567')),
    openUtc: s(i.price),
    changeUtc24h: '0.01',
    indexPrice: s(i.price),
    fundingRate: rate,
    holdingAmount: '12345.678',
    deliveryStartTime: null,
    deliveryTime: null,
    deliveryStatus: '',
    open24h: s(i.price.minus(i.tick.mul(10))),
    markPrice: s(i.price),
  };
}
