/**
 * Mapping of recorded real venue responses (ccxt's own static-response cases in
 * ../shared/fixtures/ccxt-static, markets from ../shared/fixtures/recorded-rest) through ccxt's real
 * parsers (run in a child Node process, see testing/parse-recorded.js) and then our pure mappers,
 * down to exact decimal strings.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { dec } from '@mm/domain';
import {
  type CcxtMarket,
  type MarketView,
  accountOf,
  buildMarketViews,
  candleOf,
  domainSymbolOf,
  fillOf,
  fundingOf,
  num,
  orderOf,
  positionOf,
  symbolRulesOf,
  validateOrderRequest,
} from './ccxt-mapping';

interface Parsed {
  venue: string;
  method: string;
  description: string;
  result: any;
  markets: Record<string, CcxtMarket>;
}

const CASES = [
  ['binance', 'fetchOpenOrder', 'swap open order (post-only GTX)'],
  ['binance', 'fetchMyTrades', 'Swap private trade'],
  ['binance', 'fetchPositions', 'Fetch linear positions without symbols'],
  ['binance', 'fetchBalance', 'Linear swap balance'],
  ['binance', 'fetchOHLCV', 'swap ohlcv'],
  ['bybit', 'fetchOpenOrder', 'Fetch an open swap order by its ID and symbol'],
  ['bybit', 'fetchClosedOrder', 'Fetch swap closed order by its ID and symbol'],
  ['bybit', 'fetchMyTrades', 'Swap private trade (funding execution)'],
  ['bybit', 'fetchPosition', 'linear position (flat, size 0)'],
  ['bybit', 'fetchBalance', 'balance after availableToWithdraw update (UNIFIED account)'],
  ['bybit', 'fetchOHLCV', 'swap ohlcv with since and limit'],
  ['gate', 'fetchClosedOrders', 'closed swap orders'],
  ['gate', 'fetchMyTrades', 'Swap trade'],
  ['gate', 'fetchPositions', 'Fetch positions'],
  ['gate', 'fetchOHLCV', 'public spot ohlcv'],
  ['gate', 'fetchFundingRates', 'Fetch inverse market funding rate'],
  ['okx', 'fetchBalance', 'funding balance'],
].map(([venue, method, description]) => ({ venue, method, description }));

let parsed: Parsed[] = [];
const get = (venue: string, method: string): Parsed => parsed.find((p) => p.venue === venue && p.method === method)!;
const view = (p: Parsed, ccxtSymbol: string): MarketView => {
  const market = p.markets[ccxtSymbol];
  return { symbol: domainSymbolOf(market), market, contractSize: market.contract || market.swap ? num(market.contractSize, dec(1)) : dec(1) };
};
/** Domain objects with every decimal as its string, for exact comparison. */
const plain = (x: unknown) => JSON.parse(JSON.stringify(x));

beforeAll(() => {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'testing/parse-recorded.js')], { input: JSON.stringify(CASES), maxBuffer: 64 << 20, timeout: 60_000 });
  parsed = JSON.parse(out.toString('utf8')) as Parsed[];
}, 60_000);

describe('recorded responses → ccxt → domain (exact decimals)', () => {
  it('binance swap order (post-only GTX, open)', () => {
    const p = get('binance', 'fetchOpenOrder');
    expect(plain(orderOf(p.result, view(p, 'LTC/USDT:USDT')))).toEqual({
      orderId: '664082074',
      clientOrderId: 'x-xcKtGhcu68f8383451844295b3e8b9',
      symbol: 'LTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTX',
      price: '50',
      quantity: '0.2',
      executedQty: '0',
      avgPrice: '0',
      status: 'NEW',
      reduceOnly: false,
      postOnly: true,
      createdAtMs: 1707907323983,
      updateTimeMs: 1707907323991,
      trades: [],
    });
  });

  it('bybit swap orders (open limit; filled market)', () => {
    const open = get('bybit', 'fetchOpenOrder');
    const o = orderOf(open.result, view(open, 'BTC/USDT:USDT'));
    expect(plain(o)).toMatchObject({ orderId: '3606515b-e4d7-4ea4-b096-bb247d0661ae', symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', price: '102000', quantity: '0.001', executedQty: '0', status: 'NEW', createdAtMs: 1758189775648, updateTimeMs: 1758189775651 });
    const closed = get('bybit', 'fetchClosedOrder');
    expect(plain(orderOf(closed.result, view(closed, 'BTC/USDT:USDT')))).toMatchObject({
      orderId: 'aee7453a-a100-465f-857a-3db780e9329a',
      side: 'BUY',
      type: 'MARKET',
      timeInForce: 'IOC',
      quantity: '0.001',
      executedQty: '0.001',
      avgPrice: '123498',
      status: 'FILLED',
      createdAtMs: 1757837580469,
      updateTimeMs: 1757837580473,
    });
  });

  it('gate swap order: contracts × contract size (LTC_USDT, 0.1 LTC per contract)', () => {
    const p = get('gate', 'fetchClosedOrders');
    expect(plain(orderOf(p.result[0], view(p, 'LTC/USDT:USDT')))).toMatchObject({
      orderId: '402052804778',
      clientOrderId: 'api',
      symbol: 'LTCUSDT',
      side: 'SELL',
      type: 'MARKET',
      timeInForce: 'IOC',
      quantity: '0.1',
      executedQty: '0.1',
      avgPrice: '68.42',
      status: 'FILLED',
      createdAtMs: 1705950365663,
    });
  });

  it('trades → fills (binance, bybit, gate)', () => {
    const b = get('binance', 'fetchMyTrades');
    expect(plain(fillOf(b.result[0], view(b, 'BTC/USDT:USDT'), 'cid'))).toEqual({
      tradeId: '272536245',
      orderId: '3524852987',
      clientOrderId: 'cid',
      symbol: 'BTCUSDT',
      side: 'BUY',
      price: '36567.1',
      quantity: '0.01',
      fee: '0.1462684',
      feeAsset: 'USDT',
      timestampMs: 1699972836419,
      realizedPnl: '0',
      maker: false,
    });
    const y = get('bybit', 'fetchMyTrades');
    expect(plain(fillOf(y.result[0], view(y, 'LTC/USDT:USDT')))).toMatchObject({
      tradeId: '6dff7827-9774-4881-b275-d2b9eec1ce9b',
      orderId: '4dbe586c-8706-4d73-a3b0-f60a60955e95',
      symbol: 'LTCUSDT',
      side: 'BUY',
      price: '72.25',
      quantity: '1.2',
      fee: '0.00867',
      feeAsset: 'USDT',
      timestampMs: 1699948800000,
      maker: false,
    });
    const g = get('gate', 'fetchMyTrades');
    expect(plain(fillOf(g.result[0], view(g, 'LTC/USDT:USDT')))).toMatchObject({
      tradeId: '29768497',
      orderId: '402052804778',
      side: 'SELL',
      price: '68.42',
      quantity: '0.1',
      fee: '0.003421',
      feeAsset: 'USDT',
      timestampMs: 1705950365664,
      maker: false,
    });
  });

  it('positions (binance long, gate isolated in contracts, bybit flat)', () => {
    const b = get('binance', 'fetchPositions');
    expect(plain(positionOf(b.result[0], view(b, 'BTC/USDT:USDT'), 10))).toEqual({
      symbol: 'BTCUSDT',
      size: '0.009',
      entryPrice: '67445.9',
      markPrice: '67502.68519858',
      unrealizedPnl: '0.51106678',
      leverage: 10,
      marginType: 'cross',
      liquidationPrice: '64846.9875379',
    });
    const g = get('gate', 'fetchPositions');
    expect(plain(positionOf(g.result[0], view(g, 'LTC/USDT:USDT'), 10))).toEqual({
      symbol: 'LTCUSDT',
      size: '0.1',
      entryPrice: '74.35',
      markPrice: '74.43',
      unrealizedPnl: '0.008',
      leverage: 5,
      marginType: 'isolated',
      liquidationPrice: '60.07',
    });
    const y = get('bybit', 'fetchPosition');
    expect(plain(positionOf(y.result, view(y, 'LTC/USDT:USDT'), 10))).toMatchObject({ symbol: 'LTCUSDT', size: '0', markPrice: '68', leverage: 6 });
  });

  it('balances → account snapshot (binance USD-M, bybit unified, okx funding)', () => {
    const b = get('binance', 'fetchBalance');
    expect(plain(accountOf(b.result, 'USDT', [], 10))).toEqual({
      asset: 'USDT',
      totalWalletBalance: '31.022612',
      totalMarginBalance: '31.022612',
      availableBalance: '31.022612',
      positions: [],
      leverage: 10,
      realizedPnl: '0',
    });
    const y = get('bybit', 'fetchBalance');
    const acc = accountOf(y.result, 'USDT', [{ symbol: 'BTCUSDT', size: dec('0.001'), entryPrice: dec(1), markPrice: dec(1), unrealizedPnl: dec('-1.5'), leverage: 5, marginType: 'cross', liquidationPrice: dec(0) }], 5, dec('2.25'));
    expect(plain(acc)).toMatchObject({ totalWalletBalance: '3322.25896609', totalMarginBalance: '3320.75896609', availableBalance: '3229.64065465', realizedPnl: '2.25' });
    const o = get('okx', 'fetchBalance');
    expect(plain(accountOf(o.result, 'TUSD', [], 1))).toMatchObject({ totalWalletBalance: '100', availableBalance: '100' });
  });

  it('OHLCV → candles (binance swap, bybit swap, gate spot)', () => {
    const b = get('binance', 'fetchOHLCV');
    const v = view(b, 'BTC/USDT:USDT');
    expect(b.result.map((r: any) => plain(candleOf(r, v, 60_000, 1712738580000)))).toEqual([
      { symbol: 'BTCUSDT', openTimeMs: 1712738460000, open: '71481.9', high: '71481.9', low: '71481.9', close: '71481.9', volume: '0.002', closed: true },
      { symbol: 'BTCUSDT', openTimeMs: 1712738520000, open: '71471', high: '71471', low: '70459.4', close: '70459.4', volume: '0.12', closed: true },
      { symbol: 'BTCUSDT', openTimeMs: 1712738580000, open: '71470.7', high: '71470.9', low: '70459.4', close: '70459.4', volume: '1.542', closed: false },
    ]);
    const y = get('bybit', 'fetchOHLCV');
    expect(plain(candleOf(y.result[2], view(y, 'BTC/USDT:USDT'), 3_600_000, Date.now()))).toEqual({
      symbol: 'BTCUSDT', openTimeMs: 1706637600000, open: '43376.1', high: '43474.1', low: '43264.8', close: '43352.8', volume: '1575.305', closed: true,
    });
    const g = get('gate', 'fetchOHLCV');
    expect(plain(candleOf(g.result[0], view(g, 'BTC/USDT'), 3_600_000, Date.now()))).toEqual({
      symbol: 'BTCUSDT', openTimeMs: 1710327600000, open: '73236.9', high: '73435.8', low: '73236.3', close: '73408.9', volume: '13.53020576', closed: true,
    });
  });

  it('funding rate (gate, BTC/USD:BTC)', () => {
    const g = get('gate', 'fetchFundingRates');
    const f = g.result['BTC/USD:BTC'];
    expect(plain(fundingOf(f, view(g, 'BTC/USD:BTC'), 1741360000000))).toEqual({
      symbol: 'BTCUSD',
      rate: '0.0001',
      predictedRate: '0.0001',
      nextFundingTimeMs: 1741363200000,
      timestampMs: 1741360000000,
    });
  });

  it('market rules and the shared pre-venue validation (binance BTCUSDT, gate LTC_USDT contracts)', () => {
    const b = get('binance', 'fetchMyTrades');
    const rules = symbolRulesOf(view(b, 'BTC/USDT:USDT'));
    expect(plain(rules)).toEqual({ symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', tickSize: '0.01', stepSize: '0.001', minQty: '0.001', minNotional: '5', pricePrecision: 2, quantityPrecision: 3 });
    const g = get('gate', 'fetchPositions');
    expect(plain(symbolRulesOf(view(g, 'LTC/USDT:USDT')))).toMatchObject({ stepSize: '0.1', minQty: '0.1', tickSize: '0.01' });
    const ok = { symbol: 'BTCUSDT', side: 'BUY' as const, type: 'LIMIT' as const, quantity: dec('0.001'), price: dec('36567.1') };
    expect(() => validateOrderRequest(ok, rules)).not.toThrow();
    const field = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return (e as { field?: string }).field;
      }
      return undefined;
    };
    expect(field(() => validateOrderRequest({ ...ok, price: dec('36567.105') }, rules))).toBe('price');
    expect(field(() => validateOrderRequest({ ...ok, quantity: dec('0.0015') }, rules))).toBe('quantity');
    expect(field(() => validateOrderRequest({ ...ok, quantity: dec('0') }, rules))).toBe('quantity');
    expect(field(() => validateOrderRequest({ ...ok, price: dec('1000') }, rules))).toBe('quantity'); // 1 USDT < min notional 5
    expect(field(() => validateOrderRequest({ ...ok, type: 'MARKET', price: undefined, postOnly: true }, rules))).toBe('post_only');
    expect(field(() => validateOrderRequest({ ...ok, price: undefined }, rules))).toBe('price');
  });

  it('builds the domain symbol map per market type', () => {
    const b = get('binance', 'fetchMyTrades');
    const views = buildMarketViews(b.markets, 'swap');
    expect([...views.keys()]).toEqual(['BTCUSDT']);
    expect(buildMarketViews(b.markets, 'spot').size).toBe(0);
  });
});
