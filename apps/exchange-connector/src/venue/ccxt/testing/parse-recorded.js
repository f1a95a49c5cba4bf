/**
 * Test helper (plain Node, not jest: ccxt's CommonJS build needs require(esm), which jest lacks
 * below Node 24.9). Runs ccxt's real parsers over recorded venue responses the way ccxt's own
 * static-response tests do: markets from ../shared/fixtures/recorded-rest, `exchange.fetch`
 * replaced by one returning the recorded `httpResponse`, decimals kept as strings.
 *
 * stdin: JSON `[{venue, method, description}]`; stdout: JSON `[{venue, method, description, result, markets}]`
 * where `markets` holds the ccxt market of every symbol in the result.
 */
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const ccxt = require('ccxt');

const FIX = path.resolve(__dirname, '../../../../../../../shared/fixtures');
const rec = (f) => JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'recorded-rest', f))).toString('utf8'));
const statik = (v) => JSON.parse(fs.readFileSync(path.join(FIX, 'ccxt-static/response', `${v}.json`), 'utf8'));

/** Bybit's recorded market list is the retired v2 `/v2/public/symbols`: reshape it to v5 `instruments-info`. */
function bybitV5(category) {
  const v2 = rec('cryptofeed_BYBIT_0.json.gz')[0].body.result.filter((m) => m.quote_currency === 'USDT');
  return {
    retCode: 0,
    retMsg: 'OK',
    result: {
      category,
      nextPageCursor: '',
      list: v2.map((m) =>
        category === 'spot'
          ? { symbol: m.name, baseCoin: m.base_currency, quoteCoin: m.quote_currency, status: 'Trading', innovation: '0', lotSizeFilter: { basePrecision: String(m.lot_size_filter.qty_step), quotePrecision: '0.01', minOrderQty: String(m.lot_size_filter.min_trading_qty), maxOrderQty: String(m.lot_size_filter.max_trading_qty), minOrderAmt: '1', maxOrderAmt: '1000000' }, priceFilter: { tickSize: m.price_filter.tick_size } }
          : {
              symbol: m.name, contractType: 'LinearPerpetual', status: 'Trading', baseCoin: m.base_currency, quoteCoin: m.quote_currency, settleCoin: 'USDT', launchTime: '1585526400000', deliveryTime: '0', deliveryFeeRate: '', priceScale: String(m.price_scale),
              leverageFilter: { minLeverage: '1', maxLeverage: String(m.leverage_filter.max_leverage), leverageStep: String(m.leverage_filter.leverage_step) },
              priceFilter: { minPrice: m.price_filter.min_price, maxPrice: m.price_filter.max_price, tickSize: m.price_filter.tick_size },
              lotSizeFilter: { maxOrderQty: String(m.lot_size_filter.max_trading_qty), minOrderQty: String(m.lot_size_filter.min_trading_qty), qtyStep: String(m.lot_size_filter.qty_step), postOnlyMaxOrderQty: String(m.lot_size_filter.post_only_max_trading_qty ?? m.lot_size_filter.max_trading_qty), minNotionalValue: '5' },
              unifiedMarginTrade: true, fundingInterval: 480, copyTrading: 'both', upperFundingRate: '0.00375', lowerFundingRate: '-0.00375',
            },
      ),
    },
    retExtInfo: {},
    time: 1700000000000,
  };
}

async function exchangeFor(venue) {
  let ex;
  if (venue === 'binance') {
    ex = new ccxt.binance({ options: { fetchMarkets: { types: ['spot', 'linear'] } } });
    const spot = rec('cryptofeed_BINANCE_0.json.gz')[0].body;
    const fut = rec('cryptofeed_BINANCE_FUTURES_0.json.gz')[0].body;
    ex.fetch = async (url) => (url.includes('fapi') ? fut : spot);
  } else if (venue === 'bybit') {
    ex = new ccxt.bybit({ options: { fetchMarkets: { types: ['spot', 'linear'] }, enableUnifiedAccount: true, enableUnifiedMargin: false } });
    ex.fetch = async (url) => bybitV5(url.includes('category=spot') ? 'spot' : 'linear');
  } else if (venue === 'gate') {
    ex = new ccxt.gate({ options: { fetchMarkets: { types: ['spot', 'swap'] }, unifiedAccount: false, swap: { fetchMarkets: { settlementCurrencies: ['usdt', 'btc'] } } } });
    const spot = rec('cryptofeed_GATEIO_0.json.gz')[0].body;
    const fut = rec('cryptofeed_GATEIO_FUTURES_0.json.gz')[0].body;
    // No recorded BTC-settled list: the recorded fetchFundingRates case *is* that list (same endpoint).
    const btc = statik('gate').methods.fetchFundingRates[0].httpResponse;
    ex.fetch = async (url) => (url.includes('/spot/') ? spot : url.includes('/futures/usdt') ? fut : url.includes('/futures/btc') ? btc : []);
  } else if (venue === 'okx') {
    ex = new ccxt.okx({ options: { fetchMarkets: { types: ['spot', 'swap'] } } });
    const all = rec('cryptofeed_OKX_0.json.gz');
    ex.fetch = async (url) => all.find((r) => url.includes(r.url.split('?')[1]))?.body ?? { code: '0', data: [] };
  }
  ex.number = String;
  ex.has.fetchCurrencies = false;
  await ex.loadMarkets();
  ex.apiKey = 'key';
  ex.secret = 'secret';
  ex.password = 'pass';
  ex.uid = '1';
  return ex;
}

(async () => {
  const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
  const out = [];
  const cache = {};
  for (const c of cases) {
    const ex = (cache[c.venue] ??= await exchangeFor(c.venue));
    const rc = statik(c.venue).methods[c.method].find((x) => x.description === c.description);
    if (!rc) throw new Error(`no recorded case ${c.venue} ${c.method} "${c.description}"`);
    ex.fetch = async () => JSON.parse(JSON.stringify(rc.httpResponse));
    const input = rc.input.map((x) => (x === null ? undefined : x));
    if (c.venue === 'bybit' && /fetchOrder$/.test(c.method)) input[2] = { ...(input[2] ?? {}), acknowledged: true };
    const result = await ex[c.method](...input);
    const symbols = new Set();
    const visit = (v) => {
      if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === 'object') {
        if (typeof v.symbol === 'string' && ex.markets[v.symbol]) symbols.add(v.symbol);
        if (!('info' in v) || Array.isArray(v)) Object.values(v).forEach(visit);
      }
    };
    visit(result);
    for (const i of input) if (typeof i === 'string' && ex.markets[i]) symbols.add(i);
    const markets = Object.fromEntries([...symbols].map((s) => [s, ex.markets[s]]));
    out.push({ ...c, result, markets });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
