import { type AccountSnapshot, Dec } from '@mm/domain';

/**
 * Margin-ratio and liquidation-distance breakers of one symbol (issue 9, REQ-METRICS-002/003).
 * Config keys `risk.margin.*`; every threshold is a fraction (0.5 = 50 %).
 *
 * - margin ratio = Σ maintenance margin ÷ margin balance of the whole (cross) account, as the venue
 *   reports it (`AccountSnapshot.marginRatio`, else `totalMaintenanceMargin ÷ totalMarginBalance`);
 *   the venue liquidates at ≥ 1 (Binance USDⓈ-M: "Margin Ratio = Maintenance Margin / Margin Balance").
 * - liquidation distance = |mark − liquidation price| ÷ mark of this symbol's position (the venue's
 *   `Position.liquidationPrice` and `markPrice`); none when flat or the venue reports no liquidation price.
 */
export interface MarginGuardSettings {
  /** Opening orders stop (and live ones are cancelled) at a margin ratio ≥ this (`risk.margin.stop_opening_margin_ratio`, default 0.5). */
  stopOpeningMarginRatio: Dec;
  /** Reduce-only exits nearest the market at a margin ratio ≥ this (`risk.margin.reduce_margin_ratio`, default 0.7). */
  reduceMarginRatio: Dec;
  /** Opening stops at a liquidation distance ≤ this (`risk.margin.stop_opening_liquidation_distance`, default 0.15). */
  stopOpeningLiquidationDistance: Dec;
  /** Reduce-only exits at a liquidation distance ≤ this (`risk.margin.reduce_liquidation_distance`, default 0.08). */
  reduceLiquidationDistance: Dec;
  /** Account poll period, ms of engine time (`risk.margin.check_interval_ms`, default 5000). */
  checkIntervalMs: number;
  /** An open margin breaker closes after every measure has been below its stop-opening limit this long, ms (`risk.margin.recovery_ms`, default 300 000). */
  recoveryMs: number;
  /** Share of the position closed per check while past a reduce limit (`risk.margin.reduce_fraction`, default 0.25; at least one slot). */
  reduceFraction: Dec;
  /** Exit price offset through the market, fraction of the last price (`risk.margin.exit_slippage`, default 0.005): IOC limit at P × (1 ∓ this). */
  exitSlippage: Dec;
}

/** What one account reading asks for. */
export interface MarginVerdict {
  /** The margin breaker is open: no opening orders. */
  open: boolean;
  /** Just opened on this reading (cancel opening orders once). */
  opened: boolean;
  /** Just closed on this reading. */
  closed: boolean;
  /** Past a reduce limit: close part of the position with reduce-only exits nearest the market. */
  reduce: boolean;
  /** Which limits are breached, human-readable (empty when healthy). */
  detail: string;
}

/** Margin figures of one reading, for /status and metrics. Fractions; null when not available. */
export interface MarginReading {
  atMs: number;
  marginRatio: Dec | null;
  liquidationPrice: Dec | null;
  markPrice: Dec | null;
  liquidationDistance: Dec | null;
  /** Cumulative funding received (+) / paid (−) of the account (quote), when the venue reports it. */
  fundingPnl: Dec | null;
  marginBalance: Dec;
}

/**
 * Margin ratio of an account: the venue's figure, else Σ maintenance ÷ margin balance (Infinity when
 * the margin balance is ≤ 0 with a maintenance margin), null when the venue reports neither.
 */
export function accountMarginRatio(a: AccountSnapshot): Dec | null {
  if (a.marginRatio) return a.marginRatio;
  const mm = a.totalMaintenanceMargin;
  if (!mm) return null;
  if (mm.isZero()) return new Dec(0);
  return a.totalMarginBalance.gt(0) ? mm.div(a.totalMarginBalance) : new Dec(Infinity);
}

/**
 * The two margin breakers of one symbol. Stateful: OPEN from the first reading past a stop-opening
 * limit until every measure has been healthy for `recoveryMs` (a margin breaker is a condition that
 * clears by itself when the price recovers or the position is reduced). Pure: no I/O, time passed in.
 */
export class MarginGuard {
  open = false;
  reason = '';
  openedAtMs: number | null = null;
  private healthySinceMs: number | null = null;
  last: MarginReading | null = null;
  /** Reduce-only exits sent by the guard (count of slots closed). */
  exits = 0;

  constructor(
    readonly cfg: MarginGuardSettings,
    private readonly symbol: string,
  ) {}

  /**
   * Reads one account snapshot (engine time `nowMs`) and returns what it asks for.
   * @param account the venue's `GetAccount` answer (positions of every symbol)
   */
  read(account: AccountSnapshot, nowMs: number): MarginVerdict {
    const c = this.cfg;
    const ratio = accountMarginRatio(account);
    const pos = account.positions.find((p) => p.symbol === this.symbol && !p.size.isZero());
    const mark = pos?.markPrice.gt(0) ? pos.markPrice : null;
    const liq = pos && pos.liquidationPrice.gt(0) ? pos.liquidationPrice : null;
    const distance = mark && liq ? mark.minus(liq).abs().div(mark) : null;
    this.last = { atMs: nowMs, marginRatio: ratio, liquidationPrice: liq, markPrice: mark, liquidationDistance: distance, fundingPnl: account.fundingPnl ?? null, marginBalance: account.totalMarginBalance };
    const soft: string[] = [];
    const hard: string[] = [];
    if (ratio) {
      // texts made only for a breach (a reading per check interval, healthy nearly always)
      const r = () => `margin ratio ${ratio.toDecimalPlaces(4)}`;
      if (ratio.gte(c.reduceMarginRatio)) hard.push(`${r()} ≥ reduce limit ${c.reduceMarginRatio}`);
      else if (ratio.gte(c.stopOpeningMarginRatio)) soft.push(`${r()} ≥ stop-opening limit ${c.stopOpeningMarginRatio}`);
    }
    if (distance) {
      const d = () => `${this.symbol} liquidation distance ${distance.toDecimalPlaces(4)} (mark ${mark}, liquidation price ${liq})`;
      if (distance.lte(c.reduceLiquidationDistance)) hard.push(`${d()} ≤ reduce limit ${c.reduceLiquidationDistance}`);
      else if (distance.lte(c.stopOpeningLiquidationDistance)) soft.push(`${d()} ≤ stop-opening limit ${c.stopOpeningLiquidationDistance}`);
    }
    const breached = hard.length + soft.length > 0;
    const detail = [...hard, ...soft].join('; ');
    let opened = false;
    let closed = false;
    if (breached) {
      this.healthySinceMs = null;
      if (!this.open) {
        this.open = true;
        opened = true;
        this.openedAtMs = nowMs;
      }
      this.reason = detail;
    } else if (this.open) {
      this.healthySinceMs ??= nowMs;
      if (nowMs - this.healthySinceMs >= c.recoveryMs) {
        this.open = false;
        closed = true;
        this.healthySinceMs = null;
        this.openedAtMs = null;
      }
    }
    return { open: this.open, opened, closed, reduce: hard.length > 0, detail };
  }

  snapshot() {
    const l = this.last;
    const s = (d: Dec | null | undefined) => (d ? (d.isFinite() ? d.toString() : 'Infinity') : null);
    return {
      open: this.open,
      reason: this.open ? this.reason : undefined,
      openedAtMs: this.openedAtMs,
      marginRatio: s(l?.marginRatio),
      liquidationPrice: s(l?.liquidationPrice),
      liquidationDistance: s(l?.liquidationDistance),
      checkedAtMs: l?.atMs ?? null,
      exits: this.exits,
    };
  }
}
