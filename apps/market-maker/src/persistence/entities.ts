import { EntitySchema, type ValueTransformer } from 'typeorm';
import { Dec } from '@mm/domain';
import type { FillRow, IntentRow, SlotRow, StrategyRow } from '@mm/trading';

/**
 * Durable state of the market maker. Decimal columns are `text` on SQLite (its NUMERIC affinity
 * would turn long decimals into floats) and unconstrained `numeric` on PostgreSQL (exact); both go
 * through a decimal.js transformer, so code only ever sees `Dec`.
 */
export type Dialect = 'sqlite' | 'postgres';

const decimal: ValueTransformer = {
  to: (v: Dec | null | undefined) => (v === null || v === undefined ? v : v.toString()),
  from: (v: string | null) => (v === null || v === undefined ? v : new Dec(v)),
};

/** The rows are the engine's (libs/trading); this file only maps them onto tables. */
export type { FillRow, IntentRow, SlotRow, StrategyRow };

export function decimalColumnType(dialect: Dialect): 'text' | 'numeric' {
  return dialect === 'postgres' ? 'numeric' : 'text';
}

/** The entity schemas for a database dialect. */
export function buildEntities(dialect: Dialect) {
  const d = { type: decimalColumnType(dialect), transformer: decimal } as const;
  const ts = dialect === 'postgres' ? ('timestamptz' as const) : ('datetime' as const);
  return [
    new EntitySchema<SlotRow>({
      name: 'grid_slot',
      columns: {
        id: { type: 'varchar', length: 80, primary: true },
        symbol: { type: 'varchar', length: 40 },
        level: { ...d },
        positionQty: { ...d, name: 'position_qty' },
        positionCost: { ...d, name: 'position_cost' },
        entryFees: { ...d, name: 'entry_fees' },
        status: { type: 'varchar', length: 16 },
        generation: { type: 'integer' },
        clientOrderId: { type: 'varchar', length: 40, nullable: true, name: 'client_order_id' },
        postOnlyRejects: { type: 'integer', name: 'post_only_rejects' },
        updatedAt: { type: ts, name: 'updated_at' },
      },
    }),
    new EntitySchema<IntentRow>({
      name: 'order_intent',
      columns: {
        clientOrderId: { type: 'varchar', length: 40, primary: true, name: 'client_order_id' },
        symbol: { type: 'varchar', length: 40 },
        slotId: { type: 'varchar', length: 80, name: 'slot_id' },
        side: { type: 'varchar', length: 4 },
        price: { ...d },
        quantity: { ...d },
        reduceOnly: { type: 'boolean', name: 'reduce_only' },
        postOnly: { type: 'boolean', name: 'post_only' },
        status: { type: 'varchar', length: 20 },
        orderId: { type: 'varchar', length: 40, nullable: true, name: 'order_id' },
        executedQty: { ...d, name: 'executed_qty' },
        error: { type: 'varchar', length: 500, nullable: true },
        createdAt: { type: ts, name: 'created_at' },
        updatedAt: { type: ts, name: 'updated_at' },
      },
    }),
    new EntitySchema<FillRow>({
      name: 'fill',
      columns: {
        tradeId: { type: 'varchar', length: 64, primary: true, name: 'trade_id' },
        clientOrderId: { type: 'varchar', length: 40, name: 'client_order_id' },
        orderId: { type: 'varchar', length: 40, name: 'order_id' },
        symbol: { type: 'varchar', length: 40 },
        slotId: { type: 'varchar', length: 80, name: 'slot_id' },
        side: { type: 'varchar', length: 4 },
        price: { ...d },
        quantity: { ...d },
        fee: { ...d },
        feeAsset: { type: 'varchar', length: 16, name: 'fee_asset' },
        realizedPnl: { ...d, name: 'realized_pnl' },
        tradeTimeMs: { type: 'bigint', name: 'trade_time_ms' },
        createdAt: { type: ts, name: 'created_at' },
      },
    }),
    new EntitySchema<StrategyRow>({
      name: 'strategy_state',
      columns: {
        symbol: { type: 'varchar', length: 40, primary: true },
        anchorPrice: { ...d, name: 'anchor_price' },
        realizedPnl: { ...d, name: 'realized_pnl' },
        feesPaid: { ...d, name: 'fees_paid' },
        updatedAt: { type: ts, name: 'updated_at' },
      },
    }),
    new EntitySchema<ActiveSymbolRow>({
      name: 'active_symbol',
      columns: {
        symbol: { type: 'varchar', length: 40, primary: true },
        status: { type: 'varchar', length: 16 },
        grid: { type: 'text' },
        source: { type: 'varchar', length: 16 },
        updatedAt: { type: ts, name: 'updated_at' },
      },
    }),
    new EntitySchema<ArbJournalRow>({
      name: 'arb_journal',
      columns: {
        seq: { type: 'integer', primary: true, generated: 'increment' },
        workflowId: { type: 'varchar', length: 40, name: 'workflow_id' },
        kind: { type: 'varchar', length: 16 },
        entry: { type: 'text' },
        createdAt: { type: ts, name: 'created_at' },
      },
      indices: [{ name: 'arb_journal_workflow', columns: ['workflowId'] }],
    }),
    new EntitySchema<MetaRow>({
      name: 'engine_meta',
      columns: {
        key: { type: 'varchar', length: 80, primary: true },
        value: { type: 'varchar', length: 200 },
      },
    }),
  ];
}

/** One `engine_meta` row (client-order-id secret, storage probe). */
export interface MetaRow {
  key: string;
  value: string;
}

/**
 * One row of `active_symbol`, the orchestrator's durable list of symbol engines: `status` active |
 * paused | removed (an operator removal survives restarts), `grid` the symbol's grid overrides as JSON
 * (snake_case keys of `grid`), `source` config | auto | operator (who added it).
 */
export interface ActiveSymbolRow {
  symbol: string;
  status: 'active' | 'paused' | 'removed';
  grid: string;
  source: 'config' | 'auto' | 'operator';
  updatedAt: Date;
}

/**
 * One row of `arb_journal`, the funding-arbitrage workflow journal (append-only): `seq` the append
 * order, `workflow_id` the deterministic workflow id, `kind` the entry type (started, intent,
 * outcome, finished), `entry` the JournalEntry as JSON (decimal strings), `created_at` wall time.
 */
export interface ArbJournalRow {
  seq: number;
  workflowId: string;
  kind: string;
  entry: string;
  createdAt: Date;
}
