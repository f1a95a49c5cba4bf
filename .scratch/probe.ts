import { startFakeVenue } from '../test/support/fake-venue/server';
import { DIALECTS } from '../test/support/fake-venue';
import { createCcxtVenue } from '../apps/exchange-connector/src/venue/ccxt/ccxt-factory';
import { dec } from '@mm/domain';

async function main() {
  const venueId = (process.argv[2] ?? 'binance') as any;
  const dialects: Record<string, any> = DIALECTS;
  const fake = await startFakeVenue(dialects[venueId](), { apiKey: 'key1' });
  try {
    const { venue, stop } = await createCcxtVenue({ venue: venueId, marketType: 'swap', credentials: { apiKey: 'key1', apiSecret: 'sec', passphrase: 'pp' }, urlOverride: fake.url, symbols: ['BTCUSDT'], accountPollMs: 500, fundingPollMs: 500, ordersPollMs: 0, defaultLeverage: 10, timeoutMs: 3000 });
    const show = async (n: string, f: () => Promise<unknown>) => { try { const v = await f(); console.log(n, JSON.stringify(v).slice(0, 300)); } catch (e) { console.log(n, 'ERR', (e as any).code, (e as Error).message.slice(0, 300)); } };
    await show('symbols', () => venue.getSymbols());
    await show('rules', () => venue.getSymbolRules('BTCUSDT'));
    await show('price', () => venue.getLatestPrice('BTCUSDT'));
    await show('tickers', () => venue.getTickers());
    await show('oi', () => venue.getOpenInterest('BTCUSDT'));
    await show('klines', () => venue.getHistoricalKlines('BTCUSDT', '1m', 3));
    await show('funding', () => venue.getFundingRate('BTCUSDT'));
    await show('fundingHist', () => venue.getHistoricalFundingRates('BTCUSDT', 3));
    await show('account', () => venue.getAccount());
    await show('balance', () => venue.getBalance('USDT'));
    await show('positions', () => venue.getPositions('BTCUSDT'));
    const events: string[] = [];
    const un = venue.watchOrders({ next: (e) => events.push(`${e.order.orderId} ${e.order.status} ${e.order.executedQty} ${e.lastTrade ? 'fill ' + e.lastTrade.tradeId + '@' + e.lastTrade.price : ''}`) });
    const prices: string[] = [];
    const unp = venue.watchPrice('BTCUSDT', { next: (p) => prices.push(p.price.toString()) });
    const kl: string[] = [];
    const unk = venue.watchKlines('BTCUSDT', '1m', { next: (c) => kl.push(c.close.toString()) });
    await new Promise((r) => setTimeout(r, 1500));
    const px = await venue.getLatestPrice('BTCUSDT');
    await show('place', () => venue.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: dec('0.010'), price: px.minus(100), clientOrderId: 'cid-1' }));
    await show('place dup', () => venue.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: dec('0.010'), price: px.minus(100), clientOrderId: 'cid-1' }));
    await show('getOrder cid', () => venue.getOrder('BTCUSDT', { clientOrderId: 'cid-1' }));
    await show('open', () => venue.getOpenOrders('BTCUSDT'));
    const o = await venue.getOrder('BTCUSDT', { clientOrderId: 'cid-1' });
    await show('cancel', () => venue.cancelOrder('BTCUSDT', o.orderId));
    await show('cancel again', () => venue.cancelOrder('BTCUSDT', o.orderId));
    await show('get unknown', () => venue.getOrder('BTCUSDT', { orderId: '42' }));
    await show('bad tick', () => venue.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: dec('0.010'), price: px.minus('0.001') }));
    await show('market', () => venue.placeOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.010'), clientOrderId: 'cid-m' }));
    await new Promise((r) => setTimeout(r, 1500));
    await show('positions', () => venue.getPositions('BTCUSDT'));
    console.log('events', events);
    console.log('prices', prices.length, prices.slice(-3), 'klines', kl.length);
    un(); unp(); unk(); stop();
    await venue.close();
    console.log('requests', [...new Set(fake.requests)].join(' | '));
  } finally {
    await fake.close();
  }
}
main().catch((e) => { console.error('FATAL', e); process.exit(1); });
