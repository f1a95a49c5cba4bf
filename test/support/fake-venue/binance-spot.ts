/**
 * Binance spot dialect (REST `/api/v3/*`, public WebSocket `/ws` streams, user data through the
 * WebSocket API `/ws-api/v3` `userDataStream.subscribe.signature` as ccxt.pro 4.5 uses it), shapes per
 * https://developers.binance.com/docs/binance-spot-api-docs. Markets: the recorded spot
 * `/api/v3/exchangeInfo` (`cryptofeed_BINANCE_0`). The engine runs in spot mode (base + quote balances).
 */
import Decimal from 'decimal.js';
import { FakeError, type FakeEngine, type FInstrument, type FOrder, type FTrade, type MarginSideEffect } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeResponse, type FakeSocket, recorded } from './server';
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

/** One margin asset row (`userAssets[]` of GET /sapi/v1/margin/account, `baseAsset`/`quoteAsset` of the isolated account). */
function marginAssetJson(e: FakeEngine, asset: string) {
  const total = e.spotBalance(asset);
  const free = e.spotFree(asset);
  const borrowed = e.borrowed(asset);
  const interest = e.interest(asset);
  return { asset, borrowed: s(borrowed), free: s(free), interest: s(interest), locked: s(total.minus(free)), netAsset: s(total.minus(borrowed).minus(interest)) };
}

/** Σ liabilities in BTC at the fake's prices (for the account-level `totalLiabilityOfBtc` style fields). */
function inBtc(e: FakeEngine, asset: string, amount: Decimal): Decimal {
  if (asset === 'BTC') return amount;
  const btc = e.instruments.get('BTCUSDT')?.price ?? new Decimal(1);
  if (asset === 'USDT') return amount.div(btc);
  const i = e.instruments.get(`${asset}USDT`);
  return i ? amount.mul(i.price).div(btc) : new Decimal(0);
}

const SIDE_EFFECTS = new Set<MarginSideEffect>(['NO_SIDE_EFFECT', 'MARGIN_BUY', 'AUTO_REPAY', 'AUTO_BORROW_REPAY']);

/**
 * Binance spot margin REST (https://developers.binance.com/docs/margin_trading): orders, open orders,
 * order query, cancel, trades, cross and isolated accounts, and the listenToken of the margin user
 * stream. Margin orders trade the engine's one account, with `sideEffectType` borrow/repay.
 */
function marginRest(req: FakeRequest, ctx: FakeContext): FakeResponse | undefined {
  const e = ctx.engine;
  const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
  const isolated = String(q('isIsolated') ?? 'FALSE').toUpperCase() === 'TRUE';
  const marginOrder = (o: FOrder) => ({ ...orderJson(o), isIsolated: isolated });
  switch (`${req.method} ${req.path}`) {
    case 'POST /sapi/v1/margin/order': {
      const t = String(q('type'));
      const type = t === 'MARKET' ? 'market' : 'limit';
      const se = String(q('sideEffectType') ?? 'NO_SIDE_EFFECT') as MarginSideEffect;
      if (!SIDE_EFFECTS.has(se)) return { status: 400, body: { code: -1102, msg: `Illegal characters found in parameter 'sideEffectType'; legal range is '${[...SIDE_EFFECTS].join(', ')}'.` } };
      const o = e.place({
        instId: q('symbol')!,
        side: String(q('side')).toLowerCase() as 'buy' | 'sell',
        type,
        qty: new Decimal(q('quantity')!),
        price: type === 'limit' ? new Decimal(q('price')!) : undefined,
        clientId: q('newClientOrderId'),
        tif: t === 'LIMIT_MAKER' ? 'GTX' : ((q('timeInForce') as FOrder['tif']) ?? 'GTC'),
        sideEffect: se,
      });
      const i = e.inst(o.instId);
      const borrowed = o.borrowedAtPlace && o.borrowedAtPlace.gt(0) ? { marginBuyBorrowAmount: s(o.borrowedAtPlace), marginBuyBorrowAsset: o.side === 'sell' ? i.base : i.quote } : {};
      return { body: { ...marginOrder(o), transactTime: o.createdAt, ...borrowed, fills: [] } };
    }
    case 'DELETE /sapi/v1/margin/order': {
      const id = q('orderId') ?? e.findByClientId(q('origClientOrderId') ?? '')?.id ?? '';
      if (!e.orders.get(id)) throw new FakeError('not_open', 'unknown order');
      return { body: { ...marginOrder(e.cancel(id)), origClientOrderId: e.orders.get(id)!.clientId } };
    }
    case 'GET /sapi/v1/margin/order': {
      const o = q('orderId') ? e.orders.get(q('orderId')!) : e.findByClientId(q('origClientOrderId') ?? '');
      if (!o) throw new FakeError('not_found', 'no order');
      return { body: marginOrder(o) };
    }
    case 'GET /sapi/v1/margin/openOrders':
      return { body: e.open(q('symbol')).map(marginOrder) };
    case 'GET /sapi/v1/margin/myTrades': {
      const since = Number(q('startTime') ?? 0);
      return { body: e.trades.filter((t) => (!q('symbol') || t.instId === q('symbol')) && t.time >= since).map((t) => ({ ...tradeJson(t), isIsolated: isolated })) };
    }
    case 'GET /sapi/v1/margin/account': {
      const assets = [...new Set([e.walletAsset, ...[...e.instruments.values()].map((i) => i.base)])];
      const rows = assets.map((a) => marginAssetJson(e, a));
      let total = new Decimal(0);
      let liab = new Decimal(0);
      for (const a of assets) {
        total = total.plus(inBtc(e, a, e.spotBalance(a)));
        liab = liab.plus(inBtc(e, a, e.borrowed(a).plus(e.interest(a))));
      }
      const btc8 = (d: Decimal) => d.toFixed(8);
      return {
        body: {
          created: true,
          borrowEnabled: true,
          marginLevel: liab.isZero() ? '999.00000000' : btc8(total.div(liab)),
          collateralMarginLevel: liab.isZero() ? '999.00000000' : btc8(total.div(liab)),
          totalAssetOfBtc: btc8(total),
          totalLiabilityOfBtc: btc8(liab),
          totalNetAssetOfBtc: btc8(total.minus(liab)),
          TotalCollateralValueInUSDT: s(total.mul(e.instruments.get('BTCUSDT')?.price ?? 1).toDecimalPlaces(8)),
          totalOpenOrderLossInUsdt: '0.00000000',
          tradeEnabled: true,
          transferInEnabled: true,
          transferOutEnabled: true,
          accountType: 'MARGIN_1',
          userAssets: rows,
        },
      };
    }
    case 'GET /sapi/v1/margin/isolated/account': {
      const wanted = (q('symbols') ?? '').split(',').filter(Boolean);
      const insts = [...e.instruments.values()].filter((i) => !wanted.length || wanted.includes(i.id));
      const asset = (a: string) => ({ ...marginAssetJson(e, a), borrowEnabled: true, repayEnabled: true, netAssetOfBtc: inBtc(e, a, e.spotBalance(a).minus(e.borrowed(a)).minus(e.interest(a))).toFixed(8), totalAsset: s(e.spotBalance(a)) });
      return {
        body: {
          assets: insts.map((i) => ({
            baseAsset: asset(i.base),
            quoteAsset: asset(i.quote),
            symbol: i.id,
            isolatedCreated: true,
            enabled: true,
            marginLevel: '999.00000000',
            marginLevelStatus: 'EXCESSIVE',
            marginRatio: '5.00000000',
            indexPrice: s(i.price),
            liquidatePrice: '0.00000000',
            liquidateRate: '0.00000000',
            tradeEnabled: true,
          })),
          totalAssetOfBtc: '0.00000000',
          totalLiabilityOfBtc: '0.00000000',
          totalNetAssetOfBtc: '0.00000000',
        },
      };
    }
    case 'POST /sapi/v1/userListenToken':
      return { body: { token: `fake-listen-token-${isolated ? `isolated-${q('symbol')}` : 'cross'}`, expirationTime: e.now() + 24 * 3600e3 } };
    default:
      return undefined;
  }
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
        case 'POST /sapi/v1/margin/order':
        case 'DELETE /sapi/v1/margin/order':
        case 'GET /sapi/v1/margin/order':
        case 'GET /sapi/v1/margin/openOrders':
        case 'GET /sapi/v1/margin/myTrades':
        case 'GET /sapi/v1/margin/account':
        case 'GET /sapi/v1/margin/isolated/account':
        case 'POST /sapi/v1/userListenToken':
          return marginRest(req, ctx);
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
      if (m.method === 'userDataStream.subscribe.listenToken') {
        // Margin user stream (ccxt.pro after POST /sapi/v1/userListenToken): same events as spot.
        const token = (m.params as { listenToken?: string } | undefined)?.listenToken;
        if (!token?.startsWith('fake-listen-token-')) return sock.reply({ id: m.id, status: 400, error: { code: -1209, msg: 'Invalid listenToken.' } });
        sock.state.subscriptionId = 0;
        sock.state.listenToken = token;
        return sock.reply({ id: m.id, status: 200, result: { subscriptionId: 0 } });
      }
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
