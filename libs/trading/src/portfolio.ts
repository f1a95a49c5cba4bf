import { type Dec, ZERO } from '@mm/domain';

/** Why the portfolio limiter refused an opening order (metric label and `/status` key). */
export type PortfolioBlockReason = 'portfolio_total_notional' | 'portfolio_open_order_notional';

/** Verdict of {@link PortfolioLimiter.admit}. */
export type PortfolioVerdict = { ok: true } | { ok: false; reason: PortfolioBlockReason; detail: string };

/** The exposure one engine reports for its symbol: signed position (base), the mark used to value it (quote per base), Σ live opening-order notional (quote). */
export interface SymbolExposure {
  positionQty: Dec;
  markPrice: Dec;
  openOpeningNotional: Dec;
}

/**
 * Portfolio risk shared by every symbol engine of one account (port; the engine consults it before
 * sending an opening order). Exits (reduce-only take-profits) are never screened.
 */
export interface PortfolioLimiter {
  /** The symbol's exposure now (replaces what was reported before). */
  report(symbol: string, exposure: SymbolExposure): void;
  /**
   * Would this opening order break a portfolio cap? On `ok` the order's notional is added to the
   * symbol's open opening notional (so the next order of the same batch sees it).
   */
  admit(symbol: string, order: { side: 'BUY' | 'SELL'; price: Dec; quantity: Dec }): PortfolioVerdict;
  /** Drops a symbol from the book (removed and flat). */
  forget(symbol: string): void;
}

/** Caps of {@link SharedPortfolioLimiter}, quote notional; 0 = off. */
export interface PortfolioLimits {
  /** Σ over symbols of worst-case |position| notional, as `checkExposure`'s total (`risk.exposure.max_total_notional`). */
  maxTotalNotional: Dec;
  /** Σ over symbols of live opening-order notional including the new order (`risk.exposure.max_total_open_order_notional`). */
  maxTotalOpenOrderNotional: Dec;
}

/**
 * The in-process portfolio limiter: one per account, shared by all symbol engines (live and backtest).
 *
 * Definitions (quote units), for the order's symbol s and every other symbol t, with S = qty × mark
 * (signed), O = open opening notional, n = price × qty, d = +n (BUY) or −n (SELL):
 * - total notional = |S_s + d| + O_s + Σ_t (|S_t| + O_t) — the order applied with its side, every
 *   pending opening order filled in the direction that grows the position (the same worst case as
 *   `checkExposure` in @mm/risk, summed over all symbols of the account) — must be ≤ maxTotalNotional;
 * - open-order notional = Σ_all O + n must be ≤ maxTotalOpenOrderNotional.
 * Exactly at a cap passes. Refusals are counted per reason (`blocked`) with the last detail.
 */
export class SharedPortfolioLimiter implements PortfolioLimiter {
  private readonly book = new Map<string, SymbolExposure>();
  /** Refusals per reason. */
  readonly blocked: Partial<Record<PortfolioBlockReason, number>> = {};
  /** Refusals per symbol and reason. */
  readonly blockedBySymbol: Record<string, Partial<Record<PortfolioBlockReason, number>>> = {};
  lastBlock: { symbol: string; reason: PortfolioBlockReason; detail: string } | null = null;

  /** @throws RangeError when a cap is negative or not finite. */
  constructor(readonly limits: PortfolioLimits) {
    for (const [k, v] of Object.entries(limits) as [string, Dec][]) {
      if (!v.isFinite() || v.isNegative()) throw new RangeError(`portfolio limit ${k} must be ≥ 0, got ${String(v)}`);
    }
  }

  report(symbol: string, exposure: SymbolExposure): void {
    this.book.set(symbol, exposure);
  }

  forget(symbol: string): void {
    this.book.delete(symbol);
  }

  admit(symbol: string, order: { side: 'BUY' | 'SELL'; price: Dec; quantity: Dec }): PortfolioVerdict {
    const own = this.book.get(symbol) ?? { positionQty: ZERO, markPrice: order.price, openOpeningNotional: ZERO };
    const n = order.price.mul(order.quantity);
    const d = order.side === 'BUY' ? n : n.neg();
    const ownWorst = own.positionQty.mul(own.markPrice).plus(d).abs().plus(own.openOpeningNotional);
    let others = ZERO;
    let openAll = own.openOpeningNotional.plus(n);
    for (const [t, e] of this.book) {
      if (t === symbol) continue;
      others = others.plus(e.positionQty.mul(e.markPrice).abs()).plus(e.openOpeningNotional);
      openAll = openAll.plus(e.openOpeningNotional);
    }
    const { maxTotalNotional: capTotal, maxTotalOpenOrderNotional: capOpen } = this.limits;
    let verdict: PortfolioVerdict = { ok: true };
    const total = ownWorst.plus(others);
    if (capTotal.gt(0) && total.gt(capTotal)) {
      verdict = { ok: false, reason: 'portfolio_total_notional', detail: `${symbol} ${order.side} ${order.quantity} @ ${order.price}: worst-case total notional ${total.toFixed(2)} (${symbol} ${ownWorst.toFixed(2)} + other symbols ${others.toFixed(2)}) exceeds the portfolio cap ${capTotal}` };
    } else if (capOpen.gt(0) && openAll.gt(capOpen)) {
      verdict = { ok: false, reason: 'portfolio_open_order_notional', detail: `${symbol} ${order.side} ${order.quantity} @ ${order.price}: open opening-order notional across symbols ${openAll.toFixed(2)} exceeds the portfolio cap ${capOpen}` };
    }
    if (verdict.ok) {
      this.book.set(symbol, { ...own, openOpeningNotional: own.openOpeningNotional.plus(n) });
      return verdict;
    }
    this.blocked[verdict.reason] = (this.blocked[verdict.reason] ?? 0) + 1;
    const per = (this.blockedBySymbol[symbol] ??= {});
    per[verdict.reason] = (per[verdict.reason] ?? 0) + 1;
    this.lastBlock = { symbol, reason: verdict.reason, detail: verdict.detail };
    return verdict;
  }

  /** Book and counters, for `/status` (decimal strings). */
  snapshot() {
    let total = ZERO;
    let open = ZERO;
    const symbols: Record<string, { positionNotional: string; openOpeningNotional: string }> = {};
    for (const [s, e] of [...this.book].sort(([a], [b]) => a.localeCompare(b))) {
      const pn = e.positionQty.mul(e.markPrice).abs();
      total = total.plus(pn);
      open = open.plus(e.openOpeningNotional);
      symbols[s] = { positionNotional: pn.toFixed(2), openOpeningNotional: e.openOpeningNotional.toFixed(2) };
    }
    return {
      limits: { maxTotalNotional: this.limits.maxTotalNotional.toString(), maxTotalOpenOrderNotional: this.limits.maxTotalOpenOrderNotional.toString() },
      positionNotional: total.toFixed(2),
      openOpeningNotional: open.toFixed(2),
      symbols,
      blocked: { ...this.blocked },
      blockedBySymbol: structuredClone(this.blockedBySymbol),
      lastBlock: this.lastBlock,
    };
  }
}

/** A limiter that admits everything (single engine without portfolio caps). */
export const unlimitedPortfolio: PortfolioLimiter = { report: () => undefined, admit: () => ({ ok: true }), forget: () => undefined };
