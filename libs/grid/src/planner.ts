import { Dec, type Side, type SymbolRules } from '@mm/domain';
import { type GridParams, buyLevels, gridCenter, levelKey, quantityForNotional } from './grid-math';
import { type Slot, isFilled } from './slot';

export type GridAction =
  | { kind: 'place'; key: string; level: Dec; side: Side; price: Dec; quantity: Dec; reduceOnly: boolean; postOnly: boolean }
  | { kind: 'cancel'; key: string; orderId: string; clientOrderId: string; reason: string };

/**
 * One decision pass of the long-mode grid (upstream §2.3–2.4, without the §9 bugs) for price P:
 *
 * - centre C = gridCenter(P, anchor, I); buy levels C − k·I, k = 1..BW;
 * - a FREE, empty slot at a buy level below P − buffer·I gets a post-only BUY of `orderNotional`;
 * - a FREE, filled slot whose level ≤ P + SW·I gets a reduce-only take-profit SELL of its whole
 *   inventory at level + I (keyed to the same slot, so it is placed once, not every tick);
 * - a resting BUY below C − (BW + hysteresis)·I is cancelled; take-profit sells are never cancelled;
 * - PENDING slots are left alone; new orders stop at `maxActiveOrders`, take-profits first.
 *
 * Pure: reads the slots, returns actions; the engine commits intents and sends them.
 */
export function planGrid(slots: ReadonlyMap<string, Slot>, price: Dec, anchor: Dec, p: GridParams, rules: SymbolRules): GridAction[] {
  const I = p.priceInterval;
  const center = gridCenter(price, anchor, I);
  const buyBelow = price.minus(I.mul(p.safetyBufferRatio));
  const sellReach = price.plus(I.mul(p.sellWindow));
  const cancelBelow = center.minus(I.mul(p.buyWindow + p.cancelHysteresisLevels));
  const actions: GridAction[] = [];
  let active = 0;
  const sells: Slot[] = [];
  for (const s of slots.values()) {
    if (s.status !== 'FREE') active++;
    if (s.status === 'LOCKED' && s.order?.side === 'BUY' && s.order.orderId && s.order.price.lt(cancelBelow)) {
      actions.push({ kind: 'cancel', key: s.key, orderId: s.order.orderId, clientOrderId: s.order.clientOrderId, reason: 'out_of_window' });
    }
    if (s.status === 'FREE' && isFilled(s) && s.level.lte(sellReach) && s.positionQty.gte(rules.minQty)) sells.push(s);
  }
  sells.sort((a, b) => a.level.minus(price).abs().comparedTo(b.level.minus(price).abs()));
  let budget = p.maxActiveOrders - active;
  for (const s of sells) {
    if (budget <= 0) break;
    actions.push({ kind: 'place', key: s.key, level: s.level, side: 'SELL', price: s.level.plus(I), quantity: s.positionQty, reduceOnly: true, postOnly: false });
    budget--;
  }
  for (const level of buyLevels(center, I, p.buyWindow)) {
    if (budget <= 0) break;
    if (!level.lt(buyBelow) || !level.gt(0)) continue;
    const key = levelKey(level);
    const s = slots.get(key);
    if (s && (s.status !== 'FREE' || isFilled(s))) continue;
    const qty = quantityForNotional(p.orderNotional, level, rules, p.minOrderValue);
    if (!qty) continue;
    actions.push({ kind: 'place', key, level, side: 'BUY', price: level, quantity: qty, reduceOnly: false, postOnly: true });
    budget--;
  }
  return actions;
}
