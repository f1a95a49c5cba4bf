/**
 * Bybit v5 dialect (REST `/v5/*`, WebSocket `/v5/public/linear` and `/v5/private`), shapes per
 * https://bybit-exchange.github.io/docs/v5/intro and ccxt's bybit.js. Markets: the recorded
 * `/v2/public/symbols` list (2021; v2 is retired) reshaped into v5 `instruments-info`.
 * Order ids are UUIDs like real Bybit linear order ids (the connector maps them to synthetic int64 ids).
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded, errorMapper } from './server';

const s = (d: Decimal) => d.toFixed();
const STATUS: Record<FOrder['status'], string> = { new: 'New', partially_filled: 'PartiallyFilled', filled: 'Filled', canceled: 'Cancelled', expired: 'Cancelled', rejected: 'Rejected' };
const ok = (result: unknown) => ({ body: { retCode: 0, retMsg: 'OK', result, retExtInfo: {}, time: Date.now() } });
const fail = (retCode: number, retMsg: string) => ({ body: { retCode, retMsg, result: {}, retExtInfo: {}, time: Date.now() } });
const cap = (x: string) => x[0].toUpperCase() + x.slice(1);

/** v2 `/v2/public/symbols` entry → v5 linear `instruments-info` entry. */
export function bybitV5Instrument(m: Record<string, any>) {
  return {
    symbol: m.name,
    contractType: 'LinearPerpetual',
    status: 'Trading',
    baseCoin: m.base_currency,
    quoteCoin: m.quote_currency,
    settleCoin: 'USDT',
    launchTime: '1585526400000',
    deliveryTime: '0',
    deliveryFeeRate: '',
    priceScale: String(m.price_scale),
    leverageFilter: { minLeverage: '1', maxLeverage: String(m.leverage_filter.max_leverage), leverageStep: String(m.leverage_filter.leverage_step) },
    priceFilter: { minPrice: m.price_filter.min_price, maxPrice: m.price_filter.max_price, tickSize: m.price_filter.tick_size },
    lotSizeFilter: {
      maxOrderQty: String(m.lot_size_filter.max_trading_qty),
      minOrderQty: String(m.lot_size_filter.min_trading_qty),
      qtyStep: String(m.lot_size_filter.qty_step),
      postOnlyMaxOrderQty: String(m.lot_size_filter.post_only_max_trading_qty ?? m.lot_size_filter.max_trading_qty),
      minNotionalValue: '5',
    },
    unifiedMarginTrade: true,
    fundingInterval: 480,
    copyTrading: 'both',
    upperFundingRate: '0.00375',
    lowerFundingRate: '-0.00375',
  };
}

function orderJson(o: FOrder) {
  return {
    orderId: o.id,
    orderLinkId: o.clientId,
    blockTradeId: '',
    symbol: o.instId,
    price: o.type === 'market' ? '0' : s(o.price),
    qty: s(o.qty),
    side: cap(o.side),
    isLeverage: '',
    positionIdx: 0,
    orderStatus: STATUS[o.status],
    cancelType: o.status === 'canceled' ? 'CancelByUser' : 'UNKNOWN',
    rejectReason: 'EC_NoError',
    avgPrice: o.filled.isZero() ? '' : s(o.avg),
    leavesQty: s(o.qty.minus(o.filled)),
    leavesValue: '0',
    cumExecQty: s(o.filled),
    cumExecValue: s(o.avg.mul(o.filled)),
    cumExecFee: '0',
    timeInForce: o.type === 'market' ? 'IOC' : o.tif === 'GTX' ? 'PostOnly' : o.tif,
    orderType: cap(o.type),
    stopOrderType: '',
    orderIv: '',
    triggerPrice: '',
    takeProfit: '',
    stopLoss: '',
    tpTriggerBy: '',
    slTriggerBy: '',
    triggerDirection: 0,
    triggerBy: '',
    lastPriceOnCreated: '',
    reduceOnly: o.reduceOnly,
    closeOnTrigger: false,
    smpType: 'None',
    smpGroup: 0,
    smpOrderId: '',
    tpslMode: '',
    tpLimitPrice: '',
    slLimitPrice: '',
    placeType: '',
    createdTime: String(o.createdAt),
    updatedTime: String(o.updatedAt),
  };
}

function execJson(t: FTrade, o?: FOrder) {
  return {
    symbol: t.instId,
    orderType: o ? cap(o.type) : 'Limit',
    underlyingPrice: '',
    orderLinkId: t.clientId,
    side: cap(t.side),
    indexPrice: '',
    orderId: t.orderId,
    stopOrderType: 'UNKNOWN',
    leavesQty: o ? s(o.qty.minus(o.filled)) : '0',
    execTime: String(t.time),
    isMaker: t.maker,
    execFee: s(t.fee),
    feeRate: t.maker ? '0.0002' : '0.0005',
    execId: t.id,
    tradeIv: '',
    blockTradeId: '',
    markPrice: s(t.price),
    execPrice: s(t.price),
    markIv: '',
    orderQty: o ? s(o.qty) : s(t.qty),
    orderPrice: o ? s(o.price) : s(t.price),
    execValue: s(t.price.mul(t.qty)),
    closedSize: '0',
    execType: 'Trade',
    execQty: s(t.qty),
    execPnl: s(t.realizedPnl),
  };
}

/** A v5 spot `instruments-info` entry for the same pair as a linear one (lot sizes in base, amounts in quote). */
function bybitV5Spot(m: ReturnType<typeof bybitV5Instrument>) {
  return {
    symbol: m.symbol,
    baseCoin: m.baseCoin,
    quoteCoin: m.quoteCoin,
    innovation: '0',
    status: 'Trading',
    marginTrading: 'none',
    stTag: '0',
    lotSizeFilter: { basePrecision: '0.000001', quotePrecision: '0.00000001', minOrderQty: '0.000048', maxOrderQty: '71.73956243', minOrderAmt: '1', maxOrderAmt: '2000000' },
    priceFilter: { tickSize: m.priceFilter.tickSize },
    riskParameters: { priceLimitRatioX: '0.01', priceLimitRatioY: '0.02' },
  };
}

export function bybitDialect(opts: { price?: string } = {}): FakeDialect {
  const v2 = (recorded('cryptofeed_BYBIT_0.json.gz')[0].body as { result: Record<string, any>[] }).result;
  const wanted = new Set(['BTCUSDT']);
  const linear = v2.filter((m) => m.quote_currency === 'USDT' && (wanted.has(m.name) || m.name === 'ETHUSDT')).map(bybitV5Instrument);
  return {
    venue: 'bybit',
    orderIds: 'uuid',
    instruments(): FInstrument[] {
      return linear
        .filter((m) => wanted.has(m.symbol))
        .map((m) => ({ id: m.symbol, base: m.baseCoin, quote: m.quoteCoin, contractSize: new Decimal(1), tick: new Decimal(m.priceFilter.tickSize), price: new Decimal(opts.price ?? '30000') }));
    },
    apiKeyOf: (req) => req.headers['x-bapi-api-key'] as string | undefined,
    authError: () => fail(10003, 'API key is invalid.'),
    error: errorMapper({
      not_found: fail(110001, 'order not exists or too late to cancel'),
      not_open: fail(110001, 'order not exists or too late to cancel'),
      duplicate: fail(110072, 'OrderLinkedID is duplicate'),
      insufficient: fail(110007, 'ab not enough for new order'),
      post_only: fail(110094, 'post only order would take'),
      other: (m) => fail(10001, m),
      internal: (m) => fail(10016, m),
    }),
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      const category = ctx.marketType === 'spot' ? 'spot' : 'linear';
      const list = (l: unknown[]) => ok({ category, list: l, nextPageCursor: '' });
      switch (`${req.method} ${req.path}`) {
        case 'GET /v5/market/instruments-info':
          if (q('category') === 'linear') return ok({ category: 'linear', list: linear, nextPageCursor: '' });
          if (q('category') === 'spot') return ok({ category: 'spot', list: linear.map(bybitV5Spot), nextPageCursor: '' });
          return ok({ category: q('category'), list: [], nextPageCursor: '' });
        case 'GET /v5/market/time':
          return ok({ timeSecond: String(Math.floor(e.now() / 1000)), timeNano: `${e.now()}000000` });
        case 'GET /v5/user/query-api':
          return ok({
            id: '13770661',
            note: 'fake',
            apiKey: ctx.apiKey,
            readOnly: e.keyPermissions.trade ? 0 : 1,
            secret: '',
            permissions: {
              ContractTrade: e.keyPermissions.trade ? ['Order', 'Position'] : [],
              Spot: e.keyPermissions.trade ? ['SpotTrade'] : [],
              Wallet: e.keyPermissions.withdraw ? ['AccountTransfer', 'SubMemberTransfer', 'Withdraw'] : ['AccountTransfer'],
              Options: [],
              Derivatives: [],
              CopyTrading: [],
              BlockTrade: [],
              Exchange: [],
              NFT: [],
              Affiliate: [],
            },
            ips: ['*'],
            type: 1,
            deadlineDay: 83,
            expiredAt: '2026-12-31T00:00:00Z',
            createdAt: '2025-01-01T00:00:00Z',
            unified: 0,
            uta: 1,
            userID: 24617703,
            inviterID: 0,
            vipLevel: 'No VIP',
            mktMakerLevel: '0',
            affiliateID: 0,
            rsaPublicKey: '',
            isMaster: true,
            parentUid: '0',
            kycLevel: 'LEVEL_DEFAULT',
            kycRegion: '',
          });
        case 'GET /v5/account/wallet-balance':
          if (e.spot) {
            const assets = new Set([e.walletAsset, ...[...e.instruments.values()].map((i) => i.base)]);
            const coins = [...assets].map((a) => ({
              coin: a,
              equity: s(e.spotBalance(a)),
              usdValue: '0',
              walletBalance: s(e.spotBalance(a)),
              free: '',
              locked: s(e.spotBalance(a).minus(e.spotFree(a))),
              availableToWithdraw: s(e.spotFree(a)),
              availableToBorrow: '',
              borrowAmount: '0',
              accruedInterest: '0',
              totalOrderIM: '0',
              totalPositionIM: '0',
              totalPositionMM: '0',
              unrealisedPnl: '0',
              cumRealisedPnl: '0',
              bonus: '0',
              marginCollateral: true,
              collateralSwitch: true,
            }));
            return ok({ list: [{ accountType: 'UNIFIED', accountIMRate: '0', accountMMRate: '0', totalEquity: s(e.spotBalance(e.walletAsset)), totalWalletBalance: s(e.spotBalance(e.walletAsset)), totalMarginBalance: s(e.spotBalance(e.walletAsset)), totalAvailableBalance: s(e.spotFree(e.walletAsset)), totalPerpUPL: '0', totalInitialMargin: '0', totalMaintenanceMargin: '0', coin: coins }] });
          }
          return ok({
            list: [
              {
                accountType: 'UNIFIED',
                accountIMRate: '0',
                accountMMRate: '0',
                totalEquity: s(e.wallet.plus(e.totalUnrealized())),
                totalWalletBalance: s(e.wallet),
                totalMarginBalance: s(e.wallet.plus(e.totalUnrealized())),
                totalAvailableBalance: s(e.available()),
                totalPerpUPL: s(e.totalUnrealized()),
                totalInitialMargin: '0',
                totalMaintenanceMargin: '0',
                coin: [
                  {
                    coin: 'USDT',
                    equity: s(e.wallet.plus(e.totalUnrealized())),
                    usdValue: s(e.wallet),
                    walletBalance: s(e.wallet),
                    free: '',
                    locked: '0',
                    availableToWithdraw: s(e.available()),
                    availableToBorrow: '',
                    borrowAmount: '0',
                    accruedInterest: '0',
                    totalOrderIM: '0',
                    totalPositionIM: '0',
                    totalPositionMM: '0',
                    unrealisedPnl: s(e.totalUnrealized()),
                    cumRealisedPnl: '0',
                    bonus: '0',
                    marginCollateral: true,
                    collateralSwitch: true,
                  },
                ],
              },
            ],
          });
        case 'GET /v5/position/list':
          return list(
            [...e.instruments.values()]
              .filter((i) => !q('symbol') || q('symbol') === i.id)
              .map((i) => {
                const p = e.position(i.id);
                return {
                  positionIdx: 0,
                  riskId: 1,
                  riskLimitValue: '2000000',
                  symbol: i.id,
                  side: p.size.isZero() ? '' : p.size.isPositive() ? 'Buy' : 'Sell',
                  size: s(p.size.abs()),
                  avgPrice: s(p.entry),
                  positionValue: s(p.size.abs().mul(p.entry)),
                  tradeMode: 0,
                  autoAddMargin: 0,
                  positionStatus: 'Normal',
                  leverage: String(e.leverage),
                  markPrice: s(i.price),
                  liqPrice: '',
                  bustPrice: '',
                  positionIM: '0',
                  positionMM: '0',
                  takeProfit: '',
                  stopLoss: '',
                  trailingStop: '0',
                  unrealisedPnl: s(e.unrealized(i.id)),
                  cumRealisedPnl: '0',
                  adlRankIndicator: 0,
                  isReduceOnly: false,
                  createdTime: String(e.now()),
                  updatedTime: String(e.now()),
                  seq: 1,
                };
              }),
          );
        case 'GET /v5/market/tickers':
          return list([...e.instruments.values()].filter((i) => !q('symbol') || q('symbol') === i.id).map((i) => tickerJson(i, e.nextFundingTime(), s(e.fundingRate))));
        case 'GET /v5/market/kline': {
          const i = e.inst(q('symbol')!);
          const limit = Number(q('limit') ?? 200);
          const last = Math.floor(e.now() / 60_000) * 60_000;
          const rows = [];
          for (let k = 0; k < limit; k++) {
            const px = i.price.minus(i.tick.mul(k % 5));
            rows.push([String(last - k * 60_000), s(px), s(px.plus(i.tick)), s(px.minus(i.tick)), s(px), '1.5', s(px.mul('1.5'))]);
          }
          return ok({ symbol: i.id, category: 'linear', list: rows });
        }
        case 'GET /v5/market/funding/history': {
          const limit = Number(q('limit') ?? 200);
          const rows = e.fundingHistory(limit).map((f) => ({ symbol: q('symbol'), fundingRate: f.rate, fundingRateTimestamp: String(f.timeMs) }));
          return list(rows);
        }
        case 'GET /v5/market/open-interest':
          return ok({ symbol: q('symbol'), category: 'linear', list: [{ openInterest: '12345.678', timestamp: String(e.now()) }], nextPageCursor: '' });
        case 'POST /v5/order/create': {
          const type = String(q('orderType')).toLowerCase() as 'limit' | 'market';
          const tif = String(q('timeInForce') ?? 'GTC');
          const o = e.place({
            instId: q('symbol')!,
            side: String(q('side')).toLowerCase() as 'buy' | 'sell',
            type,
            qty: new Decimal(String(q('qty'))),
            price: type === 'limit' ? new Decimal(String(q('price'))) : undefined,
            clientId: q('orderLinkId'),
            tif: tif === 'PostOnly' ? 'GTX' : tif === 'IOC' && type === 'limit' ? 'IOC' : tif === 'FOK' ? 'FOK' : 'GTC',
            reduceOnly: String(q('reduceOnly')) === 'true',
          });
          return ok({ orderId: o.id, orderLinkId: o.clientId });
        }
        case 'POST /v5/order/cancel': {
          const id = q('orderId') ?? e.findByClientId(q('orderLinkId') ?? '')?.id ?? '';
          if (!e.orders.get(id)) throw new FakeError('not_open', 'no order');
          const o = e.cancel(id);
          return ok({ orderId: o.id, orderLinkId: o.clientId });
        }
        case 'GET /v5/order/realtime':
        case 'GET /v5/order/history': {
          let orders = [...e.orders.values()];
          if (q('orderId')) orders = orders.filter((o) => o.id === q('orderId'));
          if (q('orderLinkId')) orders = orders.filter((o) => o.clientId === q('orderLinkId'));
          if (q('symbol')) orders = orders.filter((o) => o.instId === q('symbol'));
          const openOnly = q('openOnly');
          if (!q('orderId') && !q('orderLinkId') && (req.path.endsWith('realtime') ? openOnly !== '1' && openOnly !== '2' : true))
            orders = req.path.endsWith('realtime') ? orders.filter((o) => o.status === 'new' || o.status === 'partially_filled') : orders.filter((o) => o.status !== 'new' && o.status !== 'partially_filled');
          return list(orders.reverse().map(orderJson));
        }
        case 'GET /v5/execution/list':
          return list(e.trades.filter((t) => (!q('symbol') || t.instId === q('symbol')) && (!q('orderId') || t.orderId === q('orderId'))).reverse().map((t) => execJson(t, e.orders.get(t.orderId))));
        default:
          return undefined;
      }
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      const subs = (sock.state.subs = new Set<string>()) as Set<string>;
      const onTicker = (i: FInstrument) => {
        if (subs.has(`tickers.${i.id}`)) sock.send({ topic: `tickers.${i.id}`, type: 'snapshot', data: tickerJson(i, e.nextFundingTime(), s(e.fundingRate)), cs: 1, ts: e.now() });
        for (const sub of subs) {
          const m = /^kline\.(\w+)\.(.+)$/.exec(sub);
          if (m && m[2] === i.id) {
            const t = Math.floor(e.now() / 60_000) * 60_000;
            sock.send({ topic: sub, type: 'snapshot', ts: e.now(), data: [{ start: t, end: t + 59_999, interval: m[1], open: s(i.price), close: s(i.price), high: s(i.price.plus(i.tick)), low: s(i.price.minus(i.tick)), volume: '1.5', turnover: s(i.price.mul('1.5')), confirm: false, timestamp: e.now() }] });
          }
        }
      };
      const onOrder = (o: FOrder, t?: FTrade) => {
        if (!sock.state.authed) return;
        const category = ctx.marketType === 'spot' ? 'spot' : 'linear';
        if (subs.has('order')) sock.send({ id: `o${o.id}${o.updatedAt}`, topic: 'order', creationTime: e.now(), data: [{ category, ...orderJson(o) }] });
        if (t && subs.has('execution')) sock.send({ id: `e${t.id}`, topic: 'execution', creationTime: e.now(), data: [{ category, ...execJson(t, o) }] });
      };
      e.listenUntilClose(sock.ws, { ticker: onTicker, order: onOrder });
    },
    onMessage(sock: FakeSocket, msg: unknown, ctx: FakeContext) {
      const m = msg as { op?: string; args?: string[]; req_id?: string };
      const subs = sock.state.subs as Set<string>;
      if (m.op === 'ping') return sock.reply({ success: true, ret_msg: 'pong', conn_id: 'fake', req_id: m.req_id, op: 'ping' });
      if (m.op === 'auth') {
        const okKey = m.args?.[0] === ctx.apiKey;
        sock.state.authed = okKey;
        return sock.reply({ success: okKey, ret_msg: okKey ? '' : 'Invalid apikey', op: 'auth', conn_id: 'fake', req_id: m.req_id });
      }
      if (m.op === 'subscribe' || m.op === 'unsubscribe') {
        for (const a of m.args ?? []) (m.op === 'subscribe' ? subs.add(a) : subs.delete(a));
        sock.reply({ success: true, ret_msg: '', conn_id: 'fake', req_id: m.req_id, op: m.op });
      }
    },
  };
}

function tickerJson(i: FInstrument, nextFunding: number, rate: string) {
  return {
    symbol: i.id,
    tickDirection: 'PlusTick',
    price24hPcnt: '0.01',
    lastPrice: s(i.price),
    prevPrice24h: s(i.price.minus(i.tick.mul(10))),
    highPrice24h: s(i.price.plus(i.tick.mul(20))),
    lowPrice24h: s(i.price.minus(i.tick.mul(20))),
    prevPrice1h: s(i.price),
    markPrice: s(i.price),
    indexPrice: s(i.price),
    openInterest: '12345.678',
    openInterestValue: s(i.price.mul('12345.678')),
    turnover24h: s(i.price.mul('1234.567')),
    volume24h: '1234.567',
    nextFundingTime: String(nextFunding),
    fundingRate: rate,
    bid1Price: s(i.price),
    bid1Size: '1',
    ask1Price: s(i.price.plus(i.tick)),
    ask1Size: '1',
  };
}
