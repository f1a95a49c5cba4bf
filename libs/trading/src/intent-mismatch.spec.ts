import { type Order, dec } from '@mm/domain';
import { CircuitBreaker } from '@mm/risk';
import { intentMismatch } from './grid-book';
import type { IntentRow } from './state';

const intent: IntentRow = {
  clientOrderId: 'mm1B999000g2abcdef',
  symbol: 'BTCUSDT',
  slotId: 'BTCUSDT:99900',
  side: 'BUY',
  price: dec('99900'),
  quantity: dec('0.002'),
  reduceOnly: false,
  postOnly: true,
  status: 'PENDING_NEW',
  orderId: null,
  executedQty: dec('0'),
  error: null,
  createdAt: new Date(0),
  updatedAt: new Date(0),
};
const order = (patch: Partial<Order> = {}): Order => ({
  orderId: '7',
  clientOrderId: intent.clientOrderId,
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'LIMIT',
  timeInForce: 'GTX',
  price: dec('99900.0'),
  quantity: dec('0.0020'),
  executedQty: dec('0'),
  avgPrice: dec('0'),
  status: 'NEW',
  reduceOnly: false,
  postOnly: true,
  createdAtMs: 0,
  updateTimeMs: 0,
  trades: [],
  ...patch,
});

describe('intentMismatch (a venue answer compared with its intent)', () => {
  it('accepts the order we asked for, decimals compared by value', () => {
    expect(intentMismatch(intent, order())).toBeNull();
    // A venue that does not report post-only answers false: not a mismatch.
    expect(intentMismatch(intent, order({ postOnly: false }))).toBeNull();
  });

  it.each([
    ['quantity', { quantity: dec('0.02') }, /quantity 0.02 ≠ 0.002/],
    ['price', { price: dec('99800') }, /price/],
    ['side', { side: 'SELL' as const }, /side SELL ≠ BUY/],
    ['symbol', { symbol: 'ETHUSDT' }, /symbol/],
    ['type', { type: 'MARKET' as const }, /type MARKET/],
    ['reduce-only we did not ask for', { reduceOnly: true }, /reduce-only/],
  ])('flags %s', (_what, patch, re) => {
    expect(intentMismatch(intent, order(patch as Partial<Order>))).toMatch(re);
  });

  it('flags another venue order id once ours is known', () => {
    expect(intentMismatch({ ...intent, orderId: '7' }, order())).toBeNull();
    expect(intentMismatch({ ...intent, orderId: '7' }, order({ orderId: '8' }))).toMatch(/order id 8 ≠ 7/);
  });
});

describe('held trip reasons', () => {
  it.each(['foreign_order', 'rejection_loop', 'storage_fault'] as const)('%s stays OPEN past the cooldown until a manual reset', (reason) => {
    const b = new CircuitBreaker({
      maxConsecutiveLosses: 0, drawdownWindowMs: 0, maxDrawdownAbs: dec('0'), maxDrawdownPct: dec('0'), latencyWindowMs: 0, maxLatencyP99Ms: 0,
      minLatencySamples: 1, maxPriceAgeMs: 0, maxOrderStreamAgeMs: 0, cooldownMs: 1000, halfOpenProbeMs: 0,
    });
    b.trip(reason, 'test', 0);
    b.tick(60_000);
    expect(b.state).toBe('OPEN');
    b.reset(60_001);
    expect(b.state).toBe('CLOSED');
  });
});
