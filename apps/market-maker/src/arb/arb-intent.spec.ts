import { Dec, type Order } from '@mm/domain';
import { fundingArb } from '@mm/trading';

/**
 * A reply through the connector (RemoteExchange) never carries reduce-only (the gRPC Order has no such
 * field): a reduce-only exit leg answered with reduceOnly=false must be adopted, not declared foreign
 * (found by the arb crash e2e: the perp exit leg was FOREIGN while it had closed the position).
 * An unrequested reduce-only flag, and any other difference, stays foreign.
 */
const intent: fundingArb.OrderIntent = { step: 'y', leg: 'b', symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.05', reduceOnly: true, clientOrderId: 'fa-ETHUSDT-Xb-1-1-y' };
const reply = (o: Partial<Order> = {}): Order => ({
  orderId: '1',
  clientOrderId: intent.clientOrderId,
  symbol: 'ETHUSDT',
  side: 'BUY',
  type: 'MARKET',
  timeInForce: 'GTC',
  price: new Dec(0),
  quantity: new Dec('0.05'),
  executedQty: new Dec('0.05'),
  avgPrice: new Dec('2000'),
  status: 'FILLED',
  reduceOnly: false,
  postOnly: false,
  createdAtMs: 0,
  updateTimeMs: 0,
  trades: [],
  ...o,
});

describe('funding-arb intentMismatch over the wire', () => {
  it('adopts a reduce-only leg whose reply has no reduce-only flag (the wire has none)', () => {
    expect(fundingArb.intentMismatch(intent, reply())).toBeNull();
    expect(fundingArb.intentMismatch(intent, reply({ reduceOnly: true }))).toBeNull();
  });
  it('an unrequested reduce-only flag or another difference is foreign', () => {
    expect(fundingArb.intentMismatch({ ...intent, reduceOnly: false }, reply({ reduceOnly: true }))).toMatch(/reduce-only not requested/);
    expect(fundingArb.intentMismatch(intent, reply({ side: 'SELL' }))).toMatch(/side SELL ≠ BUY/);
    expect(fundingArb.intentMismatch(intent, reply({ quantity: new Dec('0.06') }))).toMatch(/quantity 0.06 ≠ 0.05/);
  });
});
