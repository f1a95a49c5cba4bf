/**
 * OKX v5 dialect (REST `/api/v5/*`, WebSocket `/ws/v5/{public,business,private}`), shapes per
 * https://www.okx.com/docs-v5/en/ and ccxt's okx.js. Markets: recorded `public/instruments?instType=SWAP`
 * (2022). Swap amounts are contracts (`ctVal` 0.01 BTC for BTC-USDT-SWAP).
 */
import Decimal from 'decimal.js';
import { FakeError, type FInstrument, type FOrder, type FTrade } from './engine';
import { type FakeContext, type FakeDialect, type FakeRequest, type FakeSocket, recorded } from './server';

const s = (d: Decimal) => d.toFixed();
const STATE: Record<FOrder['status'], string> = { new: 'live', partially_filled: 'partially_filled', filled: 'filled', canceled: 'canceled', expired: 'canceled', rejected: 'canceled' };
const ok = (data: unknown[]) => ({ body: { code: '0', msg: '', data } });
const fail = (code: string, msg: string, status = 200) => ({ status, body: { code, msg, data: [] } });
const sfail = (sCode: string, sMsg: string) => ({ body: { code: '1', msg: 'Operation failed.', data: [{ ordId: '', clOrdId: '', sCode, sMsg }] } });

const instTypeOf = (instId: string) => (instId.endsWith('-SWAP') ? 'SWAP' : 'SPOT');

function orderJson(o: FOrder, t?: FTrade) {
  const ordType = o.type === 'market' ? 'market' : o.tif === 'GTX' ? 'post_only' : o.tif === 'IOC' ? 'ioc' : o.tif === 'FOK' ? 'fok' : 'limit';
  return {
    instType: instTypeOf(o.instId),
    instId: o.instId,
    ccy: '',
    ordId: o.id,
    clOrdId: o.clientId,
    tag: '',
    px: o.type === 'market' ? '' : s(o.price),
    sz: s(o.qty),
    pnl: '0',
    ordType,
    side: o.side,
    posSide: instTypeOf(o.instId) === 'SPOT' ? '' : 'net',
    tdMode: instTypeOf(o.instId) === 'SPOT' ? 'cash' : 'cross',
    accFillSz: s(o.filled),
    fillPx: t ? s(t.price) : '',
    tradeId: t ? t.id : '',
    fillSz: t ? s(t.qty) : '0',
    fillTime: t ? String(t.time) : '',
    fillFee: t ? s(t.fee.neg()) : '0',
    fillFeeCcy: t ? t.feeAsset : '',
    execType: t ? (t.maker ? 'M' : 'T') : '',
    avgPx: o.filled.isZero() ? '' : s(o.avg),
    state: STATE[o.status],
    lever: '10',
    feeCcy: 'USDT',
    fee: '0',
    rebateCcy: 'USDT',
    rebate: '0',
    category: 'normal',
    reduceOnly: String(o.reduceOnly),
    uTime: String(o.updatedAt),
    cTime: String(o.createdAt),
  };
}

function fillJson(t: FTrade) {
  return {
    instType: instTypeOf(t.instId),
    instId: t.instId,
    tradeId: t.id,
    ordId: t.orderId,
    clOrdId: t.clientId,
    billId: `b${t.id}`,
    tag: '',
    fillPx: s(t.price),
    fillSz: s(t.qty),
    side: t.side,
    posSide: 'net',
    execType: t.maker ? 'M' : 'T',
    feeCcy: t.feeAsset,
    fee: s(t.fee.neg()),
    fillPnl: s(t.realizedPnl),
    ts: String(t.time),
  };
}

export function okxDialect(opts: { price?: string } = {}): FakeDialect {
  const all = recorded('cryptofeed_OKX_0.json.gz');
  const swap = all.find((r) => r.url.includes('instType=SWAP'))!.body as { code: string; data: Record<string, string>[] };
  const spot = all.find((r) => r.url.includes('instType=SPOT'))!.body as { code: string; data: Record<string, string>[] };
  const wanted = new Set(['BTC-USDT-SWAP']);
  return {
    venue: 'okx',
    instruments(marketType): FInstrument[] {
      if (marketType === 'spot')
        return spot.data
          .filter((m) => m.instId === 'BTC-USDT')
          .map((m) => ({ id: m.instId, base: m.baseCcy, quote: m.quoteCcy, contractSize: new Decimal(1), tick: new Decimal(m.tickSz), price: new Decimal(opts.price ?? '30000') }));
      return swap.data
        .filter((m) => wanted.has(m.instId))
        .map((m) => ({ id: m.instId, base: m.ctValCcy, quote: m.settleCcy, contractSize: new Decimal(m.ctVal), tick: new Decimal(m.tickSz), price: new Decimal(opts.price ?? '30000') }));
    },
    apiKeyOf: (req) => req.headers['ok-access-key'] as string | undefined,
    authError: () => fail('50111', 'Invalid OK-ACCESS-KEY', 401),
    error(e, req) {
      if (!(e instanceof FakeError)) return fail('50000', e.message);
      const trade = req.path.startsWith('/api/v5/trade/order') && req.method === 'POST';
      switch (e.kind) {
        case 'not_found':
          return fail('51603', 'Order does not exist');
        case 'not_open':
          return sfail('51400', 'Cancellation failed as the order has been filled, canceled or does not exist');
        case 'duplicate':
          return sfail('51016', 'Duplicated clOrdId');
        case 'insufficient':
          return sfail('51008', 'Order failed. Insufficient USDT margin in account');
        case 'post_only':
          return trade ? sfail('51000', 'Parameter ordType error') : fail('51000', e.message);
        default:
          return fail('51000', e.message);
      }
    },
    rest(req: FakeRequest, ctx: FakeContext) {
      const e = ctx.engine;
      const q = (k: string) => req.query.get(k) ?? (req.body[k] as string | undefined) ?? undefined;
      const inst = () => e.inst(q('instId') ?? (e.spot ? 'BTC-USDT' : 'BTC-USDT-SWAP'));
      switch (`${req.method} ${req.path}`) {
        case 'GET /api/v5/public/instruments':
          if (q('instType') === 'SPOT') return { body: { ...spot, data: spot.data.filter((m) => m.instId === 'BTC-USDT' || m.instId === 'ETH-USDT') } };
          return { body: { ...swap, data: swap.data.filter((m) => wanted.has(m.instId) || m.instId === 'ETH-USDT-SWAP') } };
        case 'GET /api/v5/public/time':
          return ok([{ ts: String(e.now()) }]);
        case 'POST /api/v5/trade/cancel-all-after': {
          // https://www.okx.com/docs-v5/en/#order-book-trading-trade-post-cancel-all-after: timeOut 0 or 10..120 s.
          const secs = Number(q('timeOut'));
          if (!Number.isInteger(secs) || (secs !== 0 && (secs < 10 || secs > 120))) return { body: { code: '51000', msg: 'Parameter timeOut error', data: [] } };
          const trigger = e.armCountdown(secs * 1000);
          return ok([{ triggerTime: String(Math.floor(trigger / 1000)), tag: '', ts: String(Math.floor(e.now() / 1000)) }]);
        }
        case 'GET /api/v5/account/config':
          return ok([
            {
              uid: '44705892343619584',
              mainUid: '44705892343619584',
              acctLv: '2',
              posMode: 'net_mode',
              autoLoan: false,
              greeksType: 'PA',
              level: 'Lv1',
              levelTmp: '',
              ctIsoMode: 'automatic',
              mgnIsoMode: 'automatic',
              spotOffsetType: '',
              roleType: '0',
              traderInsts: [],
              spotRoleType: '0',
              spotTraderInsts: [],
              opAuth: '0',
              kycLv: '3',
              label: 'fake',
              ip: '',
              perm: ['read_only', ...(e.keyPermissions.trade ? ['trade'] : []), ...(e.keyPermissions.withdraw ? ['withdraw'] : [])].join(','),
            },
          ]);
        case 'GET /api/v5/account/balance':
          if (e.spot) {
            const assets = new Set([e.walletAsset, ...[...e.instruments.values()].map((i) => i.base)]);
            const details = [...assets].map((a) => ({ ccy: a, eq: s(e.spotBalance(a)), cashBal: s(e.spotBalance(a)), availBal: s(e.spotFree(a)), availEq: s(e.spotFree(a)), frozenBal: s(e.spotBalance(a).minus(e.spotFree(a))), upl: '0', uTime: String(e.now()) }));
            return ok([{ uTime: String(e.now()), totalEq: s(e.spotBalance(e.walletAsset)), details }]);
          }
          return ok([
            {
              uTime: String(e.now()),
              totalEq: s(e.wallet.plus(e.totalUnrealized())),
              details: [
                {
                  ccy: 'USDT',
                  eq: s(e.wallet.plus(e.totalUnrealized())),
                  cashBal: s(e.wallet),
                  availBal: s(e.available()),
                  availEq: s(e.available()),
                  frozenBal: s(e.wallet.minus(e.available()).abs()),
                  upl: s(e.totalUnrealized()),
                  uTime: String(e.now()),
                },
              ],
            },
          ]);
        case 'GET /api/v5/account/positions':
          return ok(
            [...e.instruments.values()].map((i) => {
              const p = e.position(i.id);
              return {
                instType: 'SWAP',
                instId: i.id,
                mgnMode: 'cross',
                posId: `p${i.id}`,
                posSide: 'net',
                pos: s(p.size),
                ccy: 'USDT',
                posCcy: '',
                avgPx: p.size.isZero() ? '' : s(p.entry),
                markPx: s(i.price),
                upl: s(e.unrealized(i.id)),
                lever: String(e.leverage),
                liqPx: '',
                imr: '',
                mmr: '',
                notionalUsd: s(p.size.abs().mul(i.contractSize).mul(i.price)),
                margin: '',
                cTime: String(e.now()),
                uTime: String(e.now()),
              };
            }),
          );
        case 'GET /api/v5/market/ticker': {
          const i = inst();
          return ok([tickerJson(i, e.now())]);
        }
        case 'GET /api/v5/market/tickers':
          return ok([...e.instruments.values()].map((i) => tickerJson(i, e.now())));
        case 'GET /api/v5/market/candles':
        case 'GET /api/v5/market/history-candles': {
          const i = inst();
          const limit = Math.min(Number(q('limit') ?? 100), 300);
          const last = Math.floor(e.now() / 60_000) * 60_000;
          const rows = [];
          for (let k = 0; k < limit; k++) {
            const t = last - k * 60_000;
            const px = i.price.minus(i.tick.mul(k % 5));
            rows.push([String(t), s(px), s(px.plus(i.tick)), s(px.minus(i.tick)), s(px), '150', '1.5', s(px.mul('1.5')), k === 0 ? '0' : '1']);
          }
          return ok(rows);
        }
        case 'GET /api/v5/public/funding-rate': {
          const i = inst();
          const nf = e.nextFundingTime();
          return ok([{ instType: 'SWAP', instId: i.id, fundingRate: s(e.fundingRate), nextFundingRate: '0.00015', fundingTime: String(nf), nextFundingTime: String(nf + 8 * 3600e3), ts: String(e.now()) }]);
        }
        case 'GET /api/v5/public/funding-rate-history': {
          const limit = Number(q('limit') ?? 100);
          const rows = e.fundingHistory(limit).map((f) => ({ instType: 'SWAP', instId: q('instId'), fundingRate: f.rate, realizedRate: f.rate, fundingTime: String(f.timeMs) }));
          return ok(rows);
        }
        case 'GET /api/v5/public/open-interest':
          return ok([{ instType: 'SWAP', instId: q('instId'), oi: '1234567', oiCcy: '12345.67', ts: String(e.now()) }]);
        case 'POST /api/v5/trade/batch-orders':
        case 'POST /api/v5/trade/order': {
          const b = (Array.isArray(req.body) ? req.body[0] : req.body) as Record<string, string>;
          const q = (k: string) => b[k];
          const ordType = String(q('ordType'));
          const type = ordType === 'market' ? 'market' : 'limit';
          // Real OKX: spot in a non-margin account trades with tdMode=cash; swaps with cross/isolated.
          if (e.spot ? q('tdMode') !== 'cash' : !['cross', 'isolated'].includes(String(q('tdMode')))) return sfail('51000', 'Parameter tdMode error');
          const o = e.place({
            instId: q('instId')!,
            side: q('side') as 'buy' | 'sell',
            type,
            qty: new Decimal(q('sz')!),
            price: type === 'limit' ? new Decimal(q('px')!) : undefined,
            clientId: q('clOrdId'),
            tif: ordType === 'post_only' ? 'GTX' : ordType === 'ioc' ? 'IOC' : ordType === 'fok' ? 'FOK' : 'GTC',
            reduceOnly: String(q('reduceOnly')) === 'true',
          });
          return ok([{ ordId: o.id, clOrdId: o.clientId, tag: '', ts: String(o.createdAt), sCode: '0', sMsg: 'Order placed' }]);
        }
        case 'POST /api/v5/trade/cancel-order': {
          const id = q('ordId') ?? e.findByClientId(q('clOrdId') ?? '')?.id ?? '';
          if (!e.orders.get(id)) throw new FakeError('not_open', 'no order');
          const o = e.cancel(id);
          return ok([{ ordId: o.id, clOrdId: o.clientId, ts: String(e.now()), sCode: '0', sMsg: '' }]);
        }
        case 'GET /api/v5/trade/order': {
          const o = q('ordId') ? e.orders.get(q('ordId')!) : e.findByClientId(q('clOrdId') ?? '');
          if (!o) throw new FakeError('not_found', 'no order');
          return ok([orderJson(o)]);
        }
        case 'GET /api/v5/trade/orders-pending':
          return ok(e.open(q('instId')).map((o) => orderJson(o)));
        case 'GET /api/v5/trade/fills':
        case 'GET /api/v5/trade/fills-history':
          return ok(e.trades.filter((t) => !q('instId') || t.instId === q('instId')).reverse().map(fillJson));
        default:
          return undefined;
      }
    },
    onConnection(sock: FakeSocket, ctx: FakeContext) {
      const e = ctx.engine;
      const subs = (sock.state.subs = new Set<string>()) as Set<string>;
      const onTicker = (i: FInstrument) => {
        if (subs.has(`tickers:${i.id}`)) sock.send({ arg: { channel: 'tickers', instId: i.id }, data: [tickerJson(i, e.now())] });
        for (const sub of subs) {
          const m = /^(candle\w+):(.+)$/.exec(sub);
          if (m && m[2] === i.id) {
            const t = Math.floor(e.now() / 60_000) * 60_000;
            sock.send({ arg: { channel: m[1], instId: i.id }, data: [[String(t), s(i.price), s(i.price.plus(i.tick)), s(i.price.minus(i.tick)), s(i.price), '150', '1.5', s(i.price.mul('1.5')), '0']] });
          }
        }
      };
      const onOrder = (o: FOrder, t?: FTrade) => {
        if (sock.state.loggedIn && subs.has('orders')) sock.send({ arg: { channel: 'orders', instType: 'ANY', uid: '1' }, data: [orderJson(o, t)] });
      };
      e.listenUntilClose(sock.ws, { ticker: onTicker, order: onOrder });
    },
    onMessage(sock: FakeSocket, msg: unknown, ctx: FakeContext) {
      if (msg === 'ping') return sock.reply('pong');
      const m = msg as { op?: string; id?: string; args?: Record<string, string>[] };
      const subs = sock.state.subs as Set<string>;
      if (m.op === 'login') {
        const key = m.args?.[0]?.apiKey;
        if (key !== ctx.apiKey) return sock.reply({ event: 'error', code: '60005', msg: 'Invalid apiKey' });
        sock.state.loggedIn = true;
        return sock.reply({ event: 'login', code: '0', msg: '', connId: 'fake' });
      }
      if (m.op === 'subscribe' || m.op === 'unsubscribe') {
        for (const a of m.args ?? []) {
          const key = a.channel === 'orders' ? 'orders' : `${a.channel}:${a.instId}`;
          if (m.op === 'subscribe') subs.add(key);
          else subs.delete(key);
          sock.reply({ id: m.id, event: m.op, arg: a, connId: 'fake' });
        }
      }
    },
  };
}

function tickerJson(i: FInstrument, now: number) {
  return {
    instType: instTypeOf(i.id),
    instId: i.id,
    last: s(i.price),
    lastSz: '1',
    askPx: s(i.price.plus(i.tick)),
    askSz: '10',
    bidPx: s(i.price),
    bidSz: '10',
    open24h: s(i.price.minus(i.tick.mul(10))),
    high24h: s(i.price.plus(i.tick.mul(20))),
    low24h: s(i.price.minus(i.tick.mul(20))),
    volCcy24h: '1234.56',
    vol24h: '123456',
    ts: String(now),
    sodUtc0: s(i.price),
    sodUtc8: s(i.price),
  };
}
