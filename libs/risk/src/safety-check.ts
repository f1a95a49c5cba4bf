import { Dec } from '@mm/domain';

/** Inputs of the startup safety check. Money in quote units (USDT), prices quote per base. */
export interface SafetyInput {
  /** Account available balance, quote (venue figure, already net of margin in use). */
  availableBalance: Dec;
  /** Account/symbol leverage, × (integer ≥ 1). */
  leverage: number;
  /** Reference price P (first price), quote per base. */
  price: Dec;
  /** Grid step I (`grid.price_interval`), quote per base. */
  priceInterval: Dec;
  /** Quote notional per opening order (`grid.order_notional`). */
  orderNotional: Dec;
  /** Buy levels BW (`grid.buy_window`). */
  buyWindow: number;
  /** Maker fee rate (`grid.maker_fee`), 0.0002 = 0.02 %. */
  makerFee: Dec;
  /** Taker fee rate (`grid.taker_fee`), 0.0005 = 0.05 %. */
  takerFee: Dec;
  /** Highest leverage allowed (`risk.max_leverage`; upstream fixed 10). */
  maxLeverage: number;
  /** Existing position of the symbol, signed base; allowed, and the checks still run. */
  existingPositionQty: Dec;
}

/** Result of {@link checkStartupSafety}. `ok` iff `problems` is empty; warnings never block startup. */
export interface SafetyResult {
  ok: boolean;
  problems: string[];
  warnings: string[];
}

/**
 * Startup safety check (upstream §3.5 `internal/safety/checker.go`, improved). Problems block startup:
 * 1. available balance > 0;
 * 2. leverage is an integer in 1..maxLeverage;
 * 3. the whole buy window fits the margin: BW × orderNotional / leverage ≤ available (upstream used
 *    `position_safety_check` against floor(avail × lev / notional) × 0.8 — a level count; this is
 *    the same idea stated in quote);
 * 4. a maker/maker round trip is profitable per base unit: I − (P + (P + I)) × makerFee > 0
 *    (upstream rule 5, same sign as legacy's per-order form);
 * 5. inputs are well-formed (P, I, notional > 0; BW integer ≥ 1; fees ≥ 0).
 * Warnings: a take-profit filled as taker (closing orders are not post-only) loses money, i.e.
 * I − P × makerFee − (P + I) × takerFee ≤ 0; an existing position is present.
 *
 * Unlike upstream, an existing position does not skip the checks (upstream skipped all of them).
 * Each message names the config key it concerns.
 */
export function checkStartupSafety(i: SafetyInput): SafetyResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const { availableBalance: avail, price: P, priceInterval: I, orderNotional, makerFee, takerFee } = i;

  if (!avail.gt(0)) problems.push(`account available balance ${avail} must be > 0`);

  const maxLevOk = Number.isInteger(i.maxLeverage) && i.maxLeverage >= 1;
  if (!maxLevOk) problems.push(`risk.max_leverage ${i.maxLeverage} must be an integer ≥ 1`);
  const levOk = Number.isInteger(i.leverage) && i.leverage >= 1;
  if (!levOk) problems.push(`leverage ${i.leverage} must be an integer ≥ 1`);
  else if (maxLevOk && i.leverage > i.maxLeverage) problems.push(`leverage ${i.leverage} exceeds risk.max_leverage ${i.maxLeverage}`);

  const bwOk = Number.isInteger(i.buyWindow) && i.buyWindow >= 1;
  if (!bwOk) problems.push(`grid.buy_window ${i.buyWindow} must be an integer ≥ 1`);
  const notionalOk = orderNotional.gt(0);
  if (!notionalOk) problems.push(`grid.order_notional ${orderNotional} must be > 0`);
  if (levOk && bwOk && notionalOk && avail.gt(0)) {
    const margin = orderNotional.mul(i.buyWindow).div(i.leverage);
    if (margin.gt(avail)) {
      problems.push(
        `grid.buy_window ${i.buyWindow} × grid.order_notional ${orderNotional} / leverage ${i.leverage} = ${margin} margin ` +
          `exceeds the available balance ${avail}`,
      );
    }
  }

  const priceOk = P.gt(0);
  if (!priceOk) problems.push(`reference price ${P} must be > 0`);
  const intervalOk = I.gt(0);
  if (!intervalOk) problems.push(`grid.price_interval ${I} must be > 0`);
  const makerOk = !makerFee.isNegative();
  if (!makerOk) problems.push(`grid.maker_fee ${makerFee} must be ≥ 0`);
  const takerOk = !takerFee.isNegative();
  if (!takerOk) problems.push(`grid.taker_fee ${takerFee} must be ≥ 0`);
  if (priceOk && intervalOk && makerOk) {
    const fees = P.plus(P.plus(I)).mul(makerFee);
    const net = I.minus(fees);
    if (!net.gt(0)) {
      problems.push(
        `grid.price_interval ${I} does not cover round-trip fees at price ${P} with grid.maker_fee ${makerFee}: ` +
          `net ${net} per unit (fees ${fees})`,
      );
    } else if (takerOk) {
      const takerNet = I.minus(P.mul(makerFee)).minus(P.plus(I).mul(takerFee));
      if (!takerNet.gt(0)) {
        warnings.push(
          `grid.price_interval ${I} does not cover a maker entry + taker exit at price ${P} (grid.maker_fee ${makerFee}, ` +
            `grid.taker_fee ${takerFee}): net ${takerNet} per unit`,
        );
      }
    }
  }

  if (!i.existingPositionQty.isZero()) {
    warnings.push(`existing position ${i.existingPositionQty} on the symbol; startup checks were still applied`);
  }
  return { ok: problems.length === 0, problems, warnings };
}
