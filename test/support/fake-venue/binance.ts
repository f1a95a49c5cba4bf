/**
 * Binance USD-M futures dialect (fapi REST + fstream WebSocket), shapes as documented at
 * https://developers.binance.com/docs/derivatives/usds-margined-futures and as ccxt's binance.js
 * parses them. Markets: recorded `fapi/v1/exchangeInfo` (2021).
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded, errorMapper } from './server';

const s = (d: Decimal) => d.toFixed();
const STATUS: Record<FOrder['status'], string> = {
  new: 'NEW',
  partially_filled: 'PARTIALLY_FILLED',
  filled: 'FILLED',
  canceled: 'CANCELED',
  expired: 'EXPIRED',
  rejected: 'REJECTED',
};

function orderJson(o: FOrder) {
  return {
    orderId: Number(o.id),
    symbol: o.instId,
    status: STATUS[o.status],
    clientOrderId: o.clientId,
    price: s(o.price),
    avgPrice: s(o.avg),
    origQty: s(o.qty),
    executedQty: s(o.filled),
    cumQuote: s(o.avg.mul(o.filled)),
    timeInForce: o.tif,
    type: o.type.toUpperCase(),
    reduceOnly: o.reduceOnly,
    closePosition: false,
    side: o.side.toUpperCase(),
    positionSide: 'BOTH',
    stopPrice: '0',
    workingType: 'CONTRACT_PRICE',
    priceProtect: false,
    origType: o.type.toUpperCase(),
    time: o.createdAt,
    updateTime: o.updatedAt,
  };
}

function tradeJson(t: FTrade) {
  return {
    buyer: t.side === 'buy',
    commission: s(t.fee),
    commissionAsset: t.feeAsset,
    id: Number(t.id),
    maker: t.maker,
    orderId: Number(t.orderId),
    price: s(t.price),
    qty: s(t.qty),
    quoteQty: s(t.price.mul(t.qty)),
    realizedPnl: s(t.realizedPnl),
    side: t.side.toUpperCase(),
    positionSide: 'BOTH',
    symbol: t.instId,
    time: t.time,
  };
}

const err = (status: number, code: number, msg: string) => ({ status, body: { code, msg } });

/** Binance's error code and message per fake-engine failure; spot and USD-M differ in a few. */
export type BinanceErrors = Record<'duplicate' | 'insufficient' | 'post_only', [code: number, msg: string]>;

/**
 * What every Binance dialect shares: markets from a recorded `exchangeInfo` (`symbols` filtered to
 * `wanted`, tick from PRICE_FILTER), the `X-MBX-APIKEY` header, and the error envelope `{code, msg}`
 * with the codes in `errors` for the market-specific failures.
 */
export function binanceBase(info: { symbols: Record<string, unknown>[] }, wanted: Set<string>, price: string | undefined, errors: BinanceErrors): Pick<FakeDialect, 'venue' | 'instruments' | 'apiKeyOf' | 'authError' | 'error'> {
  return {
    venue: 'binance',
    instruments(): FInstrument[] {
      return info.symbols
        .filter((m) => wanted.has(String(m.symbol)))
        .map((m) => {
          const pf = (m.filters as { filterType: string; tickSize?: string }[]).find((f) => f.filterType === 'PRICE_FILTER')!;
          return { id: String(m.symbol), base: String(m.baseAsset), quote: String(m.quoteAsset), contractSize: new Decimal(1), tick: new Decimal(pf.tickSize!), price: new Decimal(price ?? '30000') };
        });
    },
    apiKeyOf: (req) => (req.headers['x-mbx-apikey'] as string | undefined) ?? undefined,
    authError: () => err(401, -2015, 'Invalid API-key, IP, or permissions for action.'),
    error: errorMapper({
      not_found: err(400, -2013, 'Order does not exist.'),
      not_open: err(400, -2011, 'Unknown order sent.'),
      duplicate: err(400, ...errors.duplicate),
      insufficient: err(400, ...errors.insufficient),
      post_only: err(400, ...errors.post_only),
      other: (m) => err(400, -1102, m),
      internal: (m) => err(500, -1000, m),
    }),
  };
}

export function binanceDialect(opts: { symbols?: string[]; price?: string } = {}): FakeDialect {
  const info = recorded('cryptofeed_BINANCE_FUTURES_0.json.gz')[0].body as { symbols: Record<string, unknown>[] };
  const wanted = new Set(opts.symbols ?? ['BTCUSDT']);
  return {
    ...binanceBase(info, wanted, opts.price, {
      duplicate: [-4116, 'ClientOrderId is duplicated.'],
      insufficient: [-2019, 'Margin is insufficient.'],
      post_only: [-5022, 'Due to the order could not be executed as maker, the Post Only order will be rejected.'],
    }),
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      const p = `${req.method} ${req.path}`;
      switch (p) {
        case 'GET /fapi/v1/exchangeInfo':
          return { body: { ...info, symbols: info.symbols.filter((m) => wanted.has(String(m.symbol)) || m.symbol === 'ETHUSDT') } };
        case 'GET /sapi/v1/account/apiRestrictions':
          return {
            body: {
              ipRestrict: false,
              createTime: 1698645219000,
              enableReading: true,
              enableWithdrawals: e.keyPermissions.withdraw,
              enableInternalTransfer: false,
              enableMargin: false,
              enableFutures: e.keyPermissions.trade,
              permitsUniversalTransfer: false,
              enableVanillaOptions: false,
              enableFixApiTrade: false,
              enableFixReadOnly: false,
              enableSpotAndMarginTrading: e.keyPermissions.trade,
              enablePortfolioMarginTrading: false,
            },
          };
        case 'GET /fapi/v1/time':
          return { body: { serverTime: e.now() } };
        case 'POST /fapi/v1/listenKey':
        case 'PUT /fapi/v1/listenKey':
          return { body: { listenKey: 'fakelistenkey' } };
        case 'GET /fapi/v2/balance':
        case 'GET /fapi/v3/balance':
          return {
            body: [
              {
                accountAlias: 'fake',
                asset: 'USDT',
                balance: s(e.wallet),
                crossWalletBalance: s(e.wallet),
                crossUnPnl: s(e.totalUnrealized()),
                availableBalance: s(e.available()),
                maxWithdrawAmount: s(e.available()),
                marginAvailable: true,
                updateTime: e.now(),
              },
            ],
          };
        case 'GET /fapi/v2/account':
        case 'GET /fapi/v3/account':
          return {
            body: {
              totalWalletBalance: s(e.wallet),
              totalUnrealizedProfit: s(e.totalUnrealized()),
              totalMarginBalance: s(e.wallet.plus(e.totalUnrealized())),
              availableBalance: s(e.available()),
              maxWithdrawAmount: s(e.available()),
              assets: [
                {
                  asset: 'USDT',
                  walletBalance: s(e.wallet),
                  unrealizedProfit: s(e.totalUnrealized()),
                  marginBalance: s(e.wallet.plus(e.totalUnrealized())),
                  availableBalance: s(e.available()),
                  maxWithdrawAmount: s(e.available()),
                  crossWalletBalance: s(e.wallet),
                  updateTime: e.now(),
                },
              ],
              positions: [],
            },
          };
        case 'GET /fapi/v1/leverageBracket':
          return { body: [...e.instruments.keys()].map((symbol) => ({ symbol, brackets: [{ bracket: 1, initialLeverage: 125, notionalCap: 50000, notionalFloor: 0, maintMarginRatio: 0.004, cum: 0 }] })) };
        case 'GET /fapi/v2/positionRisk':
        case 'GET /fapi/v3/positionRisk':
          return {
            body: [...e.instruments.values()]
              .filter((i) => !q('symbol') || q('symbol') === i.id)
              .map((i) => {
                const pos = e.position(i.id);
                return {
                  symbol: i.id,
                  positionSide: 'BOTH',
                  positionAmt: s(pos.size),
                  entryPrice: s(pos.entry),
                  breakEvenPrice: s(pos.entry),
                  markPrice: s(i.price),
                  unRealizedProfit: s(e.unrealized(i.id)),
                  liquidationPrice: '0',
                  isolatedMargin: '0',
                  notional: s(pos.size.mul(i.price)),
                  marginAsset: 'USDT',
                  isolatedWallet: '0',
                  initialMargin: s(pos.size.abs().mul(i.price).div(e.leverage)),
                  maintMargin: '0',
                  positionInitialMargin: '0',
                  openOrderInitialMargin: '0',
                  adl: 0,
                  bidNotional: '0',
                  askNotional: '0',
                  leverage: String(e.leverage),
                  marginType: 'cross',
                  updateTime: e.now(),
                };
              }),
          };
        case 'GET /fapi/v1/symbolConfig':
          return { body: [...e.instruments.keys()].map((symbol) => ({ symbol, marginType: 'CROSSED', isAutoAddMargin: 'false', leverage: e.leverage, maxNotionalValue: '1000000' })) };
        case 'GET /fapi/v1/ticker/24hr': {
          const i = e.inst(q('symbol') ?? [...e.instruments.keys()][0]);
          return { body: tickerJson(i, e.now()) };
        }
        case 'GET /fapi/v1/ticker/price':
          return { body: { symbol: q('symbol'), price: s(e.inst(q('symbol')!).price), time: e.now() } };
        case 'GET /fapi/v1/klines': {
          const i = e.inst(q('symbol')!);
          const limit = Number(q('limit') ?? 500);
          const iv = 60_000;
          const last = Math.floor(e.now() / iv) * iv;
          const rows = [];
          for (let k = limit - 1; k >= 0; k--) {
            const t = last - k * iv;
            const px = i.price.minus(i.tick.mul(k % 5));
            rows.push([t, s(px), s(px.plus(i.tick)), s(px.minus(i.tick)), s(px), '1.5', t + iv - 1, s(px.mul('1.5')), 10, '0.7', s(px.mul('0.7')), '0']);
          }
          return { body: rows };
        }
        case 'GET /fapi/v1/premiumIndex': {
          const list = [...e.instruments.values()].map((i) => ({
            symbol: i.id,
            markPrice: s(i.price),
            indexPrice: s(i.price),
            estimatedSettlePrice: s(i.price),
            lastFundingRate: s(e.fundingRate),
            interestRate: '0.00010000',
            nextFundingTime: e.nextFundingTime(),
            time: e.now(),
          }));
          return { body: q('symbol') ? list.find((x) => x.symbol === q('symbol')) : list };
        }
        case 'GET /fapi/v1/fundingRate': {
          const limit = Number(q('limit') ?? 100);
          // Binance lists oldest first, rates with 8 decimals.
          const rows = e.fundingHistory(limit).reverse().map((f) => ({ symbol: q('symbol'), fundingRate: Number(f.rate).toFixed(8), fundingTime: f.timeMs, markPrice: '30000.00' }));
          return { body: rows };
        }
        case 'GET /fapi/v1/openInterest':
          return { body: { openInterest: '12345.678', symbol: q('symbol'), time: e.now() } };
        case 'POST /fapi/v1/order': {
          const type = String(q('type')).toLowerCase() as 'limit' | 'market';
          const o = e.place({
            instId: q('symbol')!,
            side: String(q('side')).toLowerCase() as 'buy' | 'sell',
            type,
            qty: new Decimal(q('quantity')!),
            price: type === 'limit' ? new Decimal(q('price')!) : undefined,
            clientId: q('newClientOrderId'),
            tif: (q('timeInForce') as FOrder['tif']) ?? 'GTC',
            reduceOnly: q('reduceOnly') === 'true',
          });
          return { body: orderJson(o) };
        }
        case 'DELETE /fapi/v1/order': {
          const id = q('orderId') ?? e.findByClientId(q('origClientOrderId') ?? '')?.id ?? '';
          const o = e.orders.get(id);
          if (!o) throw new FakeError('not_open', 'unknown order');
          return { body: orderJson(e.cancel(id)) };
        }
        case 'GET /fapi/v1/order': {
          const o = q('orderId') ? e.orders.get(q('orderId')!) : e.findByClientId(q('origClientOrderId') ?? '');
          if (!o) throw new FakeError('not_found', 'no order');
          return { body: orderJson(o) };
        }
        case 'GET /fapi/v1/openOrders':
          return { body: e.open(q('symbol')).map(orderJson) };
        case 'GET /fapi/v1/userTrades': {
          const since = Number(q('startTime') ?? 0);
          return { body: e.trades.filter((t) => (!q('symbol') || t.instId === q('symbol')) && t.time >= since).map(tradeJson) };
        }
        default:
          return undefined;
      }
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      if (sock.path.startsWith('/private') || sock.path.startsWith('/ws/') || sock.path.includes('fakelistenkey')) {
        // user data stream
        const onOrder = (o: FOrder, t?: FTrade) => {
          sock.send({
            e: 'ORDER_TRADE_UPDATE',
            E: e.now(),
            T: e.now(),
            o: {
              s: o.instId,
              c: o.clientId,
              S: o.side.toUpperCase(),
              o: o.type.toUpperCase(),
              f: o.tif,
              q: s(o.qty),
              p: s(o.price),
              ap: s(o.avg),
              sp: '0',
              x: t ? 'TRADE' : o.status === 'new' ? 'NEW' : STATUS[o.status],
              X: STATUS[o.status],
              i: Number(o.id),
              l: t ? s(t.qty) : '0',
              z: s(o.filled),
              L: t ? s(t.price) : '0',
              N: t ? t.feeAsset : 'USDT',
              n: t ? s(t.fee) : '0',
              T: o.updatedAt,
              t: t ? Number(t.id) : 0,
              b: '0',
              a: '0',
              m: t ? t.maker : false,
              R: o.reduceOnly,
              wt: 'CONTRACT_PRICE',
              ot: o.type.toUpperCase(),
              ps: 'BOTH',
              cp: false,
              rp: t ? s(t.realizedPnl) : '0',
              pP: false,
              si: 0,
              ss: 0,
            },
          });
        };
        e.listenUntilClose(sock.ws, { order: onOrder });
      }
      const onTicker = (i: FInstrument) => {
        const subs = (sock.state.subs as Set<string> | undefined) ?? new Set();
        const lower = i.id.toLowerCase();
        if (subs.has(`${lower}@ticker`)) sock.send({ stream: `${lower}@ticker`, data: { e: '24hrTicker', ...wsTicker(i, e.now()) } });
        if (subs.has(`${lower}@miniTicker`)) {
          const t = wsTicker(i, e.now());
          sock.send({ stream: `${lower}@miniTicker`, data: { e: '24hrMiniTicker', E: t.E, s: t.s, c: t.c, o: t.o, h: t.h, l: t.l, v: t.v, q: t.q } });
        }
        for (const sub of subs) {
          const m = new RegExp(`^${lower}@kline_(\\w+)$`).exec(sub);
          if (m) {
            const t = Math.floor(e.now() / 60_000) * 60_000;
            sock.send({
              stream: sub,
              data: {
                e: 'kline',
                E: e.now(),
                s: i.id,
                k: { t, T: t + 59_999, s: i.id, i: m[1], f: 1, L: 2, o: s(i.price), c: s(i.price), h: s(i.price.plus(i.tick)), l: s(i.price.minus(i.tick)), v: '1.5', n: 3, x: false, q: s(i.price.mul('1.5')), V: '0.7', Q: '0', B: '0' },
              },
            });
          }
        }
      };
      const onPublicTrade = (t: { inst: FInstrument; id: number; price: Decimal; qty: Decimal; side: string; time: number }) => {
        const subs = (sock.state.subs as Set<string> | undefined) ?? new Set();
        const lower = t.inst.id.toLowerCase();
        // USD-M `<symbol>@trade` (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams)
        if (subs.has(`${lower}@trade`)) sock.send({ stream: `${lower}@trade`, data: { e: 'trade', E: t.time, T: t.time, s: t.inst.id, t: t.id, p: s(t.price), q: s(t.qty), X: 'MARKET', m: t.side === 'sell' } });
      };
      const onBook = (i: FInstrument) => {
        const subs = (sock.state.subs as Set<string> | undefined) ?? new Set();
        const lower = i.id.toLowerCase();
        if (subs.has(`${lower}@bookTicker`)) sock.send({ stream: `${lower}@bookTicker`, data: { e: 'bookTicker', u: e.now(), E: e.now(), T: e.now(), s: i.id, b: s(i.price.minus(i.tick)), B: '3.5', a: s(i.price.plus(i.tick)), A: '2.1' } });
      };
      e.listenUntilClose(sock.ws, { ticker: (i: FInstrument) => (onTicker(i), onBook(i)), publicTrade: onPublicTrade });
    },
    onMessage(sock: FakeSocket, msg: unknown) {
      const m = msg as { method?: string; params?: string[]; id?: number };
      if (m.method === 'SUBSCRIBE') {
        const subs = ((sock.state.subs as Set<string>) ??= new Set());
        for (const p of m.params ?? []) subs.add(p);
        sock.reply({ result: null, id: m.id });
      } else if (m.method === 'UNSUBSCRIBE') {
        const subs = (sock.state.subs as Set<string>) ?? new Set();
        for (const p of m.params ?? []) subs.delete(p);
        sock.reply({ result: null, id: m.id });
      }
    },
  };
}

/** USD-M 24 h ticker of a fake instrument (fixed synthetic change and volume around its price). */
export function tickerJson(i: FInstrument, now: number) {
  return {
    symbol: i.id,
    priceChange: s(i.tick.mul(10)),
    priceChangePercent: '0.010',
    weightedAvgPrice: s(i.price),
    lastPrice: s(i.price),
    lastQty: '0.010',
    openPrice: s(i.price.minus(i.tick.mul(10))),
    highPrice: s(i.price.plus(i.tick.mul(20))),
    lowPrice: s(i.price.minus(i.tick.mul(20))),
    volume: '1234.567',
    quoteVolume: s(i.price.mul('1234.567')),
    openTime: now - 86_400_000,
    closeTime: now,
    firstId: 1,
    lastId: 100,
    count: 100,
  };
}

function wsTicker(i: FInstrument, now: number) {
  const t = tickerJson(i, now);
  return { E: now, s: i.id, p: t.priceChange, P: t.priceChangePercent, w: t.weightedAvgPrice, c: t.lastPrice, Q: t.lastQty, o: t.openPrice, h: t.highPrice, l: t.lowPrice, v: t.volume, q: t.quoteVolume, O: t.openTime, C: t.closeTime, F: 1, L: 100, n: 100 };
}
