import { Dec, ZERO, quotient, type AccountSnapshot, type Position, type Side } from '@mm/domain';
import { type MarginTier, crossLiquidationPrice, maintenanceMargin, marginTiersFor } from './margin';

/** One-way-mode position state: signed `size` (base units, > 0 long), `entry` price (quote units). */
export interface PositionState {
  size: Dec;
  entry: Dec;
}

/** Per-symbol margin settings of the account. */
export interface SymbolMargin {
  /** Leverage for initial margin (1–125). */
  leverage: number;
  /** Maintenance-margin brackets (see `margin.ts`). */
  tiers: readonly MarginTier[];
  /** Tick size: liquidation prices are reported on it. */
  tickSize?: Dec;
}

/**
 * Decimal places of reported USDT amounts (balances, PnL, margins, funding) and of reported entry
 * prices: 8, the precision Binance USDⓈ-M reports USDT balances with. Rounding is half-even and
 * applies to reports only; the ledger keeps full `Dec` precision (60 significant digits).
 */
export const USDT_DP = 8;

const r8 = (d: Dec): Dec => d.toDecimalPlaces(USDT_DP);

/** Full-precision margin figures of one position (USDT). */
export interface PositionMargin {
  symbol: string;
  size: Dec;
  mark: Dec;
  notional: Dec;
  unrealizedPnl: Dec;
  initialMargin: Dec;
  maintenanceMargin: Dec;
}

/** Full-precision margin figures of the account (USDT). */
export interface AccountMargin {
  positions: PositionMargin[];
  unrealizedPnl: Dec;
  /** wallet + Σ uPnL. */
  marginBalance: Dec;
  initialMargin: Dec;
  maintenanceMargin: Dec;
  /** maintenance ÷ margin balance; Infinity when the margin balance is ≤ 0 with a position open, 0 when flat. */
  marginRatio: Dec;
}

/**
 * A single-asset (USDT) cross-margin futures account (Binance USDⓈ-M, one-way mode).
 *
 * - wallet = initial + Σ realized PnL − Σ fees + Σ funding (USDT)
 * - entry price: volume-weighted average when a position grows, unchanged when it shrinks,
 *   the fill price for the remainder when it flips, zero when flat
 * - realized PnL of a fill = (fill price − entry) × reduced qty × sign(size before)
 * - unrealized PnL = (mark − entry) × size
 * - initial margin = |size| × mark / leverage(symbol); maintenance margin = |size| × mark × mmr − cum
 *   of the notional's bracket (see `margin.ts`)
 * - margin balance = wallet + Σ uPnL; margin ratio = Σ maintenance margin ÷ margin balance
 *   (Binance's definition; ≥ 100 % = liquidation)
 * - available = margin balance − Σ initial margin − open-order notional / leverage
 * - liquidation price: Binance's cross-margin formula (`crossLiquidationPrice`)
 */
export class Account {
  wallet: Dec;
  /** Cumulative realized PnL (excludes fees and funding). */
  realizedPnl: Dec = ZERO;
  /** Cumulative funding received (+) / paid (−). */
  fundingPnl: Dec = ZERO;
  /** Cumulative funding received (+) / paid (−) per symbol; Σ = `fundingPnl`. */
  readonly fundingBySymbol = new Map<string, Dec>();
  private readonly positions = new Map<string, PositionState>();
  private readonly margins = new Map<string, SymbolMargin>();

  constructor(
    initialBalance: Dec,
    /** Default leverage (symbols without their own). */
    readonly leverage: number,
  ) {
    this.wallet = initialBalance;
  }

  /** Sets the margin settings of `symbol` (default: the account leverage and `marginTiersFor(symbol)`). */
  configureSymbol(symbol: string, m: Partial<SymbolMargin>): void {
    this.margins.set(symbol, { leverage: m.leverage ?? this.leverage, tiers: m.tiers ?? marginTiersFor(symbol), tickSize: m.tickSize });
  }

  margin(symbol: string): SymbolMargin {
    let m = this.margins.get(symbol);
    if (!m) this.margins.set(symbol, (m = { leverage: this.leverage, tiers: marginTiersFor(symbol) }));
    return m;
  }

  leverageOf(symbol: string): number {
    return this.margin(symbol).leverage;
  }

  position(symbol: string): PositionState {
    let p = this.positions.get(symbol);
    if (!p) this.positions.set(symbol, (p = { size: ZERO, entry: ZERO }));
    return p;
  }

  /** Applies an execution and its fee (USDT) to position and wallet; returns the realized PnL. */
  applyFill(symbol: string, side: Side, qty: Dec, price: Dec, fee: Dec): Dec {
    const p = this.position(symbol);
    const signed = side === 'BUY' ? qty : qty.neg();
    const before = p.size;
    const after = before.plus(signed);
    let realized = ZERO;
    if (before.isZero() || before.isPositive() === signed.isPositive()) {
      p.entry = before.isZero() ? price : p.entry.mul(before.abs()).plus(price.mul(qty)).div(after.abs());
    } else {
      const closed = qty.lt(before.abs()) ? qty : before.abs();
      realized = price.minus(p.entry).mul(closed).mul(before.isPositive() ? 1 : -1);
      if (after.isZero()) p.entry = ZERO;
      else if (after.isPositive() !== before.isPositive()) p.entry = price;
    }
    p.size = after;
    this.realizedPnl = this.realizedPnl.plus(realized);
    this.wallet = this.wallet.plus(realized).minus(fee);
    return realized;
  }

  /** Settles funding: pays −size × mark × rate (USDT, negative = paid); returns the amount. */
  applyFunding(symbol: string, mark: Dec, rate: Dec): Dec {
    const amount = this.position(symbol).size.mul(mark).mul(rate).neg();
    this.wallet = this.wallet.plus(amount);
    this.fundingPnl = this.fundingPnl.plus(amount);
    this.fundingBySymbol.set(symbol, (this.fundingBySymbol.get(symbol) ?? ZERO).plus(amount));
    return amount;
  }

  /** Full-precision margin figures over `symbols` at `mark(symbol)` (see the class doc). */
  marginState(symbols: readonly string[], mark: (symbol: string) => Dec): AccountMargin {
    const positions: PositionMargin[] = [];
    let upnl = ZERO;
    let im = ZERO;
    let mm = ZERO;
    for (const symbol of symbols) {
      const p = this.position(symbol);
      const m = mark(symbol);
      if (p.size.isZero()) {
        positions.push({ symbol, size: ZERO, mark: m, notional: ZERO, unrealizedPnl: ZERO, initialMargin: ZERO, maintenanceMargin: ZERO });
        continue;
      }
      const cfg = this.margin(symbol);
      const notional = p.size.abs().mul(m);
      const u = m.minus(p.entry).mul(p.size);
      const pm: PositionMargin = {
        symbol,
        size: p.size,
        mark: m,
        notional,
        unrealizedPnl: u,
        initialMargin: quotient(notional, cfg.leverage),
        maintenanceMargin: maintenanceMargin(cfg.tiers, notional),
      };
      positions.push(pm);
      upnl = upnl.plus(u);
      im = im.plus(pm.initialMargin);
      mm = mm.plus(pm.maintenanceMargin);
    }
    const marginBalance = this.wallet.plus(upnl);
    const marginRatio = mm.isZero() ? ZERO : marginBalance.gt(0) ? mm.div(marginBalance) : new Dec(Infinity);
    return { positions, unrealizedPnl: upnl, marginBalance, initialMargin: im, maintenanceMargin: mm, marginRatio };
  }

  /**
   * The liquidation price of `symbol` as reported: on the tick, rounded towards the mark (the
   * conservative side), else to 8 dp. It does not depend on the symbol's own mark, only on the wallet,
   * the position, the tiers and the other positions' maintenance and unrealized figures, so it is
   * remembered per those inputs (decimal objects: compared by identity, then by value) — an account
   * poll between two fills reuses it.
   */
  private reportedLiquidationPrice(symbol: string, st: AccountMargin): Dec {
    const p = this.position(symbol);
    const cfg = this.margin(symbol);
    let tmm = ZERO;
    let upnl = ZERO;
    for (const o of st.positions) {
      if (o.symbol === symbol) continue;
      tmm = tmm.plus(o.maintenanceMargin);
      upnl = upnl.plus(o.unrealizedPnl);
    }
    const same = (a: Dec, b: Dec) => a === b || a.eq(b);
    const m = this.liqMemo.get(symbol);
    if (m && m.wallet === this.wallet && m.size === p.size && m.entry === p.entry && m.cfg === cfg && same(m.tmm, tmm) && same(m.upnl, upnl)) return m.value;
    let value = crossLiquidationPrice({ wallet: this.wallet, othersMaintenance: tmm, othersUnrealized: upnl, size: p.size, entry: p.entry, tiers: cfg.tiers });
    if (cfg.tickSize && value.gt(0)) {
      const ticks = quotient(value, cfg.tickSize);
      value = (p.size.isPositive() ? ticks.ceil() : ticks.floor()).mul(cfg.tickSize);
    } else value = r8(value);
    this.liqMemo.set(symbol, { wallet: this.wallet, size: p.size, entry: p.entry, cfg, tmm, upnl, value });
    return value;
  }
  private readonly liqMemo = new Map<string, { wallet: Dec; size: Dec; entry: Dec; cfg: SymbolMargin; tmm: Dec; upnl: Dec; value: Dec }>();

  /** The reported position of `symbol` (rounded, see {@link USDT_DP}) within account state `st`. */
  toPosition(symbol: string, st: AccountMargin): Position {
    const p = this.position(symbol);
    const pm = st.positions.find((x) => x.symbol === symbol)!;
    const cfg = this.margin(symbol);
    const liq = this.reportedLiquidationPrice(symbol, st);
    return {
      symbol,
      size: p.size,
      entryPrice: r8(p.entry),
      markPrice: pm.mark,
      unrealizedPnl: r8(pm.unrealizedPnl),
      leverage: cfg.leverage,
      marginType: 'cross',
      liquidationPrice: liq,
      initialMargin: r8(pm.initialMargin),
      maintenanceMargin: r8(pm.maintenanceMargin),
      fundingPnl: r8(this.fundingBySymbol.get(symbol) ?? ZERO),
    };
  }

  /** Available balance (full precision): margin balance − Σ initial margin − Σ open-order notional / leverage. */
  available(symbols: readonly string[], mark: (symbol: string) => Dec, openNotional: (symbol: string) => Dec): Dec {
    const st = this.marginState(symbols, mark);
    let orderMargin = ZERO;
    for (const s of symbols) {
      const n = openNotional(s);
      if (!n.isZero()) orderMargin = orderMargin.plus(quotient(n, this.leverageOf(s)));
    }
    return st.marginBalance.minus(st.initialMargin).minus(orderMargin);
  }

  /**
   * Account totals for the given symbols, rounded to {@link USDT_DP}. `mark(symbol)` gives the mark
   * price, `openNotional(symbol)` the Σ price × qty of its open non-reduce-only orders (quote units).
   */
  snapshot(symbols: readonly string[], mark: (symbol: string) => Dec, openNotional: (symbol: string) => Dec): AccountSnapshot {
    const st = this.marginState(symbols, mark);
    let orderMargin = ZERO;
    for (const s of symbols) {
      const n = openNotional(s);
      if (!n.isZero()) orderMargin = orderMargin.plus(quotient(n, this.leverageOf(s)));
    }
    return {
      asset: 'USDT',
      totalWalletBalance: r8(this.wallet),
      totalMarginBalance: r8(st.marginBalance),
      availableBalance: r8(st.marginBalance.minus(st.initialMargin).minus(orderMargin)),
      positions: symbols.map((s) => this.toPosition(s, st)),
      leverage: this.leverage,
      realizedPnl: r8(this.realizedPnl),
      totalMaintenanceMargin: r8(st.maintenanceMargin),
      totalInitialMargin: r8(st.initialMargin),
      marginRatio: st.marginRatio.isFinite() ? st.marginRatio.toDecimalPlaces(6) : st.marginRatio,
      fundingPnl: r8(this.fundingPnl),
    };
  }
}
