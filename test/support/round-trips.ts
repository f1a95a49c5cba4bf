import Decimal from 'decimal.js';

const D = Decimal.clone({ precision: 60 });
/** Client order ids of the market maker's default instance: side, level in ticks, generation. */
/** One of instance mm1's client order ids: side, level in ticks, generation, keyed tag. */
export const MM_CID = /^mm1([BS])(\d+)g(0|[1-9]\d*)([0-9a-z]{6})$/;

export interface SeenTrade {
  cid: string;
  side: string;
  price: Decimal;
  qty: Decimal;
  fee: Decimal;
}

/** A trade from an OrderUpdate seen on the wire (our client ids only), or undefined. */
export function tradeOf(u: any): SeenTrade | undefined {
  if (!u.lastTrade || !MM_CID.test(u.clientOrderId)) return undefined;
  return { cid: u.clientOrderId, side: u.lastTrade.side, price: new D(u.lastTrade.price.value), qty: new D(u.lastTrade.quantity.value), fee: new D(u.lastTrade.fee.value) };
}

/**
 * Computed independently of the engine: per slot (the level in the client id), Σ over closed round
 * trips of (sell − buy)·qty − fees, and the inventory left. Long-mode grids sell a slot's whole
 * inventory in one take-profit; `onPartialSell` is called when a sell does not match it (a bug).
 */
export function roundTripPnl(trades: SeenTrade[], onPartialSell: (sold: string, held: string) => void): { realized: Decimal; inventory: Decimal; closed: number } {
  const slots = new Map<string, { qty: Decimal; cost: Decimal; fees: Decimal }>();
  let realized = new D(0);
  let closed = 0;
  for (const t of trades) {
    const level = MM_CID.exec(t.cid)![2];
    const s = slots.get(level) ?? { qty: new D(0), cost: new D(0), fees: new D(0) };
    slots.set(level, s);
    if (t.side === 'ORDER_SIDE_BUY') {
      s.qty = s.qty.plus(t.qty);
      s.cost = s.cost.plus(t.price.mul(t.qty));
      s.fees = s.fees.plus(t.fee);
      continue;
    }
    if (!t.qty.eq(s.qty)) onPartialSell(t.qty.toString(), s.qty.toString());
    realized = realized.plus(t.price.mul(t.qty)).minus(s.cost).minus(s.fees).minus(t.fee);
    slots.set(level, { qty: new D(0), cost: new D(0), fees: new D(0) });
    closed++;
  }
  let inventory = new D(0);
  for (const s of slots.values()) inventory = inventory.plus(s.qty);
  return { realized, inventory, closed };
}
