import { type Dec, ZERO } from '@mm/domain';
import type { Slot } from '@mm/grid';
import type { EngineStateStore } from './ports';

/**
 * The engine's durable rows. The app persists them with TypeORM (apps/market-maker persistence),
 * backtests keep them in memory (`InMemoryStateStore`). Decimals are `Dec`; timestamps are `Date`
 * built from the engine's scheduler time (market time in a backtest).
 */

/** One grid slot (price level) of one symbol. */
export interface SlotRow {
  id: string; // `${symbol}:${levelKey}`
  symbol: string;
  level: Dec;
  positionQty: Dec;
  positionCost: Dec;
  entryFees: Dec;
  status: string;
  generation: number;
  clientOrderId: string | null;
  postOnlyRejects: number;
  updatedAt: Date;
}

/**
 * An order intent: written (committed) before the order leaves the process, then updated with the
 * venue's answer. `status` PENDING_NEW until answered; NOT_PLACED when the venue never received it.
 */
export interface IntentRow {
  clientOrderId: string;
  symbol: string;
  slotId: string;
  side: string;
  price: Dec;
  quantity: Dec;
  reduceOnly: boolean;
  postOnly: boolean;
  status: string;
  orderId: string | null;
  executedQty: Dec;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One execution booked by the strategy; `tradeId` is the venue's, so a fill is booked once. */
export interface FillRow {
  tradeId: string;
  clientOrderId: string;
  orderId: string;
  symbol: string;
  slotId: string;
  side: string;
  price: Dec;
  quantity: Dec;
  fee: Dec;
  feeAsset: string;
  /** Strategy realized PnL booked by this fill (non-zero on take-profit sells), quote. */
  realizedPnl: Dec;
  /** Venue execution time, Unix ms. */
  tradeTimeMs: string;
  createdAt: Date;
}

/** Per-symbol strategy state: the grid anchor and running totals (quote). */
export interface StrategyRow {
  symbol: string;
  anchorPrice: Dec;
  realizedPnl: Dec;
  feesPaid: Dec;
  updatedAt: Date;
}

/** Intent statuses that still need an answer or may still fill. */
export const OPEN_INTENT_STATUSES = ['PENDING_NEW', 'NEW', 'PARTIALLY_FILLED'];

export interface LoadedState {
  strategy: StrategyRow | null;
  slots: SlotRow[];
  openIntents: IntentRow[];
}

/** One unit of durable change, written atomically. `updatedAt` of written rows is set by the store. */
export interface StateChange {
  slots?: Slot[];
  intents?: IntentRow[];
  intentUpdates?: { clientOrderId: string; patch: Partial<IntentRow> }[];
  fills?: FillRow[];
  strategy?: StrategyRow;
}

export function emptyStrategy(symbol: string, anchor: Dec, now: Date): StrategyRow {
  return { symbol, anchorPrice: anchor, realizedPnl: ZERO, feesPaid: ZERO, updatedAt: now };
}

/** The durable row of a slot. */
export function toSlotRow(symbol: string, s: Slot, now: Date): SlotRow {
  return {
    id: `${symbol}:${s.key}`,
    symbol,
    level: s.level,
    positionQty: s.positionQty,
    positionCost: s.positionCost,
    entryFees: s.entryFees,
    status: s.status,
    generation: s.generation,
    clientOrderId: s.order?.clientOrderId ?? null,
    postOnlyRejects: s.postOnlyRejects,
    updatedAt: now,
  };
}

/**
 * Engine state in memory, for backtests and tests: same contract as the database store (atomic
 * `apply`, copies in and out, so the engine never shares a row object with the store), answered
 * synchronously. `now` stamps `updatedAt` (pass the engine's scheduler for market time).
 */
export class InMemoryStateStore implements EngineStateStore {
  private strategy: StrategyRow | null = null;
  private readonly slots = new Map<string, SlotRow>();
  private readonly intents = new Map<string, IntentRow>();
  private readonly fills = new Map<string, FillRow>();
  private readonly tradesByOrder = new Map<string, string[]>();

  constructor(
    private readonly symbol: string,
    private readonly now: () => number = () => 0,
  ) {}

  load(): LoadedState {
    const openIntents = [...this.intents.values()]
      .filter((i) => OPEN_INTENT_STATUSES.includes(i.status))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
      .map((i) => ({ ...i }));
    return { strategy: this.strategy ? { ...this.strategy } : null, slots: [...this.slots.values()].map((s) => ({ ...s })), openIntents };
  }

  tradeIdsOf(clientOrderIds: string[]): { clientOrderId: string; tradeId: string }[] {
    return clientOrderIds.flatMap((clientOrderId) => (this.tradesByOrder.get(clientOrderId) ?? []).map((tradeId) => ({ clientOrderId, tradeId })));
  }

  fillExists(tradeId: string): boolean {
    return this.fills.has(tradeId);
  }

  intent(clientOrderId: string): IntentRow | null {
    const i = this.intents.get(clientOrderId);
    return i ? { ...i } : null;
  }

  apply(change: StateChange): void {
    const now = new Date(this.now());
    // Validate first, so a failing change writes nothing (as a rolled-back transaction).
    for (const i of change.intents ?? []) if (this.intents.has(i.clientOrderId)) throw new Error(`duplicate intent ${i.clientOrderId}`);
    for (const f of change.fills ?? []) if (this.fills.has(f.tradeId)) throw new Error(`duplicate fill ${f.tradeId}`);
    for (const i of change.intents ?? []) this.intents.set(i.clientOrderId, { ...i });
    for (const u of change.intentUpdates ?? []) {
      const i = this.intents.get(u.clientOrderId);
      if (i) this.intents.set(u.clientOrderId, { ...i, ...u.patch, updatedAt: now });
    }
    for (const f of change.fills ?? []) {
      this.fills.set(f.tradeId, { ...f });
      const list = this.tradesByOrder.get(f.clientOrderId) ?? [];
      list.push(f.tradeId);
      this.tradesByOrder.set(f.clientOrderId, list);
    }
    for (const s of change.slots ?? []) this.slots.set(`${this.symbol}:${s.key}`, toSlotRow(this.symbol, s, now));
    if (change.strategy) this.strategy = { ...change.strategy, updatedAt: now };
  }

  checkpoint(): void {}

  private secret: string | null = null;

  /** The stored client-order-id secret, made with `create` on first use (see the port). */
  clientIdSecret(create: () => string): string {
    this.secret ??= create();
    return this.secret;
  }

  /** Every fill booked, in booking order (reports). */
  allFills(): FillRow[] {
    return [...this.fills.values()].map((f) => ({ ...f }));
  }

  /** Every intent ever written, in creation order. */
  allIntents(): IntentRow[] {
    return [...this.intents.values()].map((i) => ({ ...i }));
  }
}
