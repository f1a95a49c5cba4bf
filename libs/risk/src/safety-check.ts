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
  /**
   * Stress test (`risk.stress_move`, `risk.stress_maintenance_rate`); absent = not run. `equity` is the
   * account margin balance (quote); `move` the price fall survived (fraction, 0.25 = −25 %);
   * `maintenanceRate` the maintenance-margin rate assumed at the stressed price (fraction).
   */
  stress?: { equity: Dec; move: Dec; maintenanceRate: Dec };
}

/** Result of {@link stressTest}: quote amounts at the stressed price. */
export interface StressResult {
  stressPrice: Dec;
  /** Base units held after the buy window filled down to the stressed price (existing position included). */
  position: Dec;
  /** Loss at the stressed price (quote): existing position marked from P, window buys from their levels, plus maker fees. */
  loss: Dec;
  /** Equity left at the stressed price (quote). */
  equityAfter: Dec;
  /** Maintenance margin at the stressed price (quote). */
  maintenance: Dec;
  survives: boolean;
}

/**
 * Can the account survive its buy window to the stress move? The window's buys L_k = P − k·I
 * (k = 1..BW) that lie above the stressed price P_s = P × (1 − move) fill, each for orderNotional
 * (q_k = orderNotional / L_k); the existing position is marked from P. At P_s:
 * loss = existing × (P − P_s) + Σ q_k × (L_k − P_s) + makerFee × Σ orderNotional,
 * equityAfter = equity − loss, maintenance = |position| × P_s × maintenanceRate; the account survives
 * iff equityAfter > maintenance (the venue's liquidation condition: margin balance ≤ maintenance margin).
 * Long-side only (a grid that buys as the price falls); upstream had no such check (§3.5).
 */
export function stressTest(i: SafetyInput & { stress: NonNullable<SafetyInput['stress']> }): StressResult {
  const { price: P, priceInterval: I, orderNotional: n } = i;
  const Ps = P.mul(new Dec(1).minus(i.stress.move));
  let position = i.existingPositionQty;
  let loss = i.existingPositionQty.mul(P.minus(Ps));
  let spent = new Dec(0);
  for (let k = 1; k <= i.buyWindow; k++) {
    const L = P.minus(I.mul(k));
    if (!L.gt(Ps)) break;
    const q = n.div(L);
    position = position.plus(q);
    loss = loss.plus(q.mul(L.minus(Ps)));
    spent = spent.plus(n);
  }
  loss = loss.plus(spent.mul(i.makerFee));
  const equityAfter = i.stress.equity.minus(loss);
  const maintenance = position.abs().mul(Ps).mul(i.stress.maintenanceRate);
  return { stressPrice: Ps, position, loss, equityAfter, maintenance, survives: equityAfter.gt(maintenance) };
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

  const st = i.stress;
  if (st && bwOk && notionalOk && P.gt(0) && I.gt(0)) {
    if (!(st.move.gt(0) && st.move.lt(1))) problems.push(`risk.stress_move ${st.move} must be in (0, 1)`);
    else {
      const r = stressTest({ ...i, stress: st });
      if (!r.survives) {
        const dp = (d: Dec) => d.toDecimalPlaces(2).toString();
        problems.push(
          `stress test: with equity ${dp(st.equity)}, if the buy window (grid.buy_window ${i.buyWindow} × grid.order_notional ${orderNotional}` +
            `, grid.price_interval ${I}) fills and the price falls risk.stress_move ${st.move.mul(100)} % from ${P} to ${dp(r.stressPrice)}, ` +
            `the loss ${dp(r.loss)} leaves equity ${dp(r.equityAfter)} ≤ maintenance margin ${dp(r.maintenance)} on ${r.position.toDecimalPlaces(8)} base: ` +
            `the venue would liquidate; lower grid.buy_window or grid.order_notional, or add balance`,
        );
      }
    }
  }

  if (!i.existingPositionQty.isZero()) {
    warnings.push(`existing position ${i.existingPositionQty} on the symbol; startup checks were still applied`);
  }
  return { ok: problems.length === 0, problems, warnings };
}
