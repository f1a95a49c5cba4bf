import { Dec, ZERO } from '@mm/domain';

/**
 * One maintenance-margin bracket of a USDⓈ-M perpetual: positions whose notional (|size| × mark,
 * USDT) lies in (`floor`, `cap`] use `mmr` (fraction, 0.004 = 0.40 %) and may use at most
 * `maxLeverage`. `cum` is the bracket's "maintenance amount" (USDT), derived so the maintenance
 * margin is continuous across brackets: cum₁ = 0, cumₙ = cumₙ₋₁ + floorₙ × (mmrₙ − mmrₙ₋₁).
 */
export interface MarginTier {
  floor: Dec;
  cap: Dec;
  mmr: Dec;
  maxLeverage: number;
  cum: Dec;
}

type Row = [floor: string, cap: string, maxLeverage: number, mmr: string];

function tiers(rows: Row[]): MarginTier[] {
  const out: MarginTier[] = [];
  for (const [floor, cap, maxLeverage, mmr] of rows) {
    const prev = out[out.length - 1];
    const f = new Dec(floor);
    const m = new Dec(mmr);
    out.push({ floor: f, cap: new Dec(cap), mmr: m, maxLeverage, cum: prev ? prev.cum.plus(f.mul(m.minus(prev.mmr))) : ZERO });
  }
  return out;
}

/**
 * BTCUSDT perpetual brackets of Binance USDⓈ-M Futures, as returned by `GET /fapi/v1/leverageBracket`
 * in a recorded real response (ten brackets, 125× up to 50,000 USDT notional; the response's `cum`
 * values 0, 50, 1300, 46300, … are what {@link MarginTier}'s running formula gives for these rows).
 * Binance revises brackets from time to time, so treat them as data, not as today's schedule.
 * Notional caps in USDT.
 */
export const BINANCE_BTCUSDT_TIERS: readonly MarginTier[] = tiers([
  ['0', '50000', 125, '0.004'],
  ['50000', '250000', 100, '0.005'],
  ['250000', '3000000', 50, '0.01'],
  ['3000000', '20000000', 20, '0.025'],
  ['20000000', '40000000', 10, '0.05'],
  ['40000000', '100000000', 5, '0.1'],
  ['100000000', '120000000', 4, '0.125'],
  ['120000000', '200000000', 3, '0.15'],
  ['200000000', '300000000', 2, '0.25'],
  ['300000000', '500000000', 1, '0.5'],
]);

/**
 * ETHUSDT: we had no recorded `leverageBracket` response for ETHUSDT, so the sim uses the BTCUSDT
 * schedule above for it (an assumption; ETH's real brackets differ above the first tiers). The grid
 * sizes in this project stay inside the first bracket (≤ 50,000 USDT), where both use 0.4 %.
 */
export const BINANCE_ETHUSDT_TIERS: readonly MarginTier[] = BINANCE_BTCUSDT_TIERS;

/**
 * Brackets for any other symbol: our own conservative default, modelled on Binance's mid-cap
 * altcoin perpetuals (first bracket 1 % maintenance margin up to 5 000 USDT, doubling steps after).
 * Override per symbol with `SimSymbolConfig.marginTiers`.
 */
export const DEFAULT_MARGIN_TIERS: readonly MarginTier[] = tiers([
  ['0', '5000', 50, '0.01'],
  ['5000', '25000', 25, '0.02'],
  ['25000', '100000', 20, '0.025'],
  ['100000', '250000', 10, '0.05'],
  ['250000', '1000000', 5, '0.1'],
  ['1000000', '1500000', 4, '0.125'],
  ['1500000', '3000000', 2, '0.25'],
  ['3000000', '9000000000', 1, '0.5'],
]);

/** The bracket table the sim uses for `symbol` (BTCUSDT/ETHUSDT: Binance's; others: {@link DEFAULT_MARGIN_TIERS}). */
export function marginTiersFor(symbol: string): readonly MarginTier[] {
  return symbol === 'BTCUSDT' ? BINANCE_BTCUSDT_TIERS : symbol === 'ETHUSDT' ? BINANCE_ETHUSDT_TIERS : DEFAULT_MARGIN_TIERS;
}

/** The bracket of a position notional (USDT, ≥ 0): the first whose cap is ≥ it (the last bracket beyond). */
export function tierFor(table: readonly MarginTier[], notional: Dec): MarginTier {
  for (const t of table) if (notional.lte(t.cap)) return t;
  return table[table.length - 1];
}

/**
 * Maintenance margin of one position (USDT): notional × mmr − cum of the notional's bracket
 * (Binance: "Maintenance Margin = Notional Position Value × Maintenance Margin Rate − Maintenance Amount").
 */
export function maintenanceMargin(table: readonly MarginTier[], notional: Dec): Dec {
  if (notional.isZero()) return ZERO;
  const t = tierFor(table, notional);
  return notional.mul(t.mmr).minus(t.cum);
}

/** Inputs of {@link crossLiquidationPrice}, all USDT / base units. */
export interface CrossLiquidationInput {
  /** Cross wallet balance (WB). */
  wallet: Dec;
  /** Σ maintenance margin of the account's other positions (TMM1). */
  othersMaintenance: Dec;
  /** Σ unrealized PnL (at mark) of the account's other positions (UPNL1). */
  othersUnrealized: Dec;
  /** Signed position size (> 0 long). */
  size: Dec;
  /** Entry price (EP1). */
  entry: Dec;
  tiers: readonly MarginTier[];
}

/**
 * Liquidation price of a one-way cross-margin position (quote units; 0 = none: flat, or the account
 * cannot be liquidated by this symbol's price alone). Binance's published formula ("How to
 * Calculate Liquidation Price of USDⓈ-M Contracts", binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93),
 * one-way mode:
 *
 *   LP = (WB − TMM1 + UPNL1 + cumB − side × |size| × EP1) / (|size| × MMR_B − side × |size|)
 *
 * with side = +1 long / −1 short and (MMR_B, cumB) the bracket of the position's notional at LP:
 * we start from the lowest bracket and move to the bracket of |size| × LP until it is stable (at
 * most one pass per bracket). Other positions are held at their current mark.
 */
export function crossLiquidationPrice(i: CrossLiquidationInput): Dec {
  if (i.size.isZero()) return ZERO;
  const q = i.size.abs();
  const side = i.size.isPositive() ? 1 : -1;
  const base = i.wallet.minus(i.othersMaintenance).plus(i.othersUnrealized).minus(q.mul(i.entry).mul(side));
  let t = i.tiers[0];
  let lp = ZERO;
  for (let n = 0; n <= i.tiers.length; n++) {
    lp = base.plus(t.cum).div(q.mul(t.mmr).minus(q.mul(side)));
    if (!lp.gt(0)) return ZERO;
    const next = tierFor(i.tiers, q.mul(lp));
    if (next === t) break;
    t = next;
  }
  return lp;
}
