import { Dec } from '@mm/domain';
import { DAY_MS, breakerTime, dailyCloses, dailyReturns, drawdown, finalSample, sharpe, sortino, tripNet } from './stats';
import type { BacktestResult } from './types';

/** Decimal as a plain string (never exponent notation), exact. */
function s(d: Dec): string {
  return d.toFixed();
}
function ratio(d: Dec, dp: number): string {
  return d.toDecimalPlaces(dp, Dec.ROUND_HALF_EVEN).toFixed(dp);
}
function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * `report.json`: the summary of a backtest. Field names are stable; money and ratios are decimal
 * strings (money exact, ratios rounded half-even to the stated places); times Unix ms plus ISO text;
 * durations ms. Statistics that cannot be computed (Sharpe with < 2 days …) are null.
 */
export interface BacktestReport {
  version: 1;
  symbol: string;
  period: { fromMs: number; toMs: number; from: string; to: string; days: string };
  source: Record<string, string>;
  config: Record<string, unknown>;
  summary: {
    startingBalance: string;
    finalEquity: string;
    /** finalEquity − startingBalance. */
    netPnl: string;
    realizedPnl: string;
    unrealizedPnl: string;
    fees: string;
    funding: string;
    /** netPnl / startingBalance, fraction, 8 places. */
    returnOnCapital: string;
    maxDrawdown: string;
    /** Fraction of the running peak, 8 places. */
    maxDrawdownPct: string;
    maxDrawdownDurationMs: number;
    maxDrawdownPeak: string | null;
    maxDrawdownTrough: string | null;
    /** Annualised (√365) on daily returns, 4 places. */
    sharpe: string | null;
    sortino: string | null;
    tradingDays: number;
    roundTrips: number;
    /** Σ round-trip gross PnL − Σ round-trip fees. */
    roundTripNetPnl: string;
    /** Share of round trips with net PnL > 0, fraction, 4 places (null without round trips). */
    winRate: string | null;
    avgHoldingMs: number | null;
    maxInventoryNotional: string;
    fills: number;
    makerFills: number;
    takerFills: number;
    /** fills / days, 2 places. */
    fillsPerDay: string;
    /** Σ price × qty over fills. */
    tradedNotional: string;
    breakerOpenMs: number;
    breakerOpenByReason: Record<string, number>;
  };
  daily: { date: string; equity: string; return: string }[];
}

/** Deep copy with object keys sorted (stable `config` echo). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (Dec.isDecimal(v)) return (v as Dec).toFixed();
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * Computes the report of a backtest result (pure, deterministic: same input → same object).
 * Identities: finalEquity = startingBalance + realized + unrealized − fees + funding (from the
 * last equity sample); netPnl = finalEquity − startingBalance.
 */
export function buildReport(r: BacktestResult): BacktestReport {
  const last = finalSample(r);
  const netPnl = last.equity.minus(r.startingBalance);
  const dd = drawdown(r.equity);
  const closes = dailyCloses(r.equity, r.startingBalance);
  const rets = dailyReturns(closes);
  const sh = sharpe(rets);
  const so = sortino(rets);
  const days = new Dec(Math.max(0, r.endMs - r.startMs)).div(DAY_MS);
  let wins = 0;
  let hold = 0;
  let tripNetSum = new Dec(0);
  for (const t of r.roundTrips) {
    const n = tripNet(t);
    tripNetSum = tripNetSum.plus(n);
    if (n.gt(0)) wins++;
    hold += t.closeTimeMs - t.openTimeMs;
  }
  let maxInv = new Dec(0);
  for (const e of r.equity) if (e.inventoryNotional.abs().gt(maxInv)) maxInv = e.inventoryNotional.abs();
  let maker = 0;
  let traded = new Dec(0);
  for (const f of r.fills) {
    if (f.liquidity === 'maker') maker++;
    traded = traded.plus(f.price.mul(f.qty));
  }
  const br = breakerTime(r.breakers, r.startMs, r.endMs);
  const byReason: Record<string, number> = {};
  for (const k of Object.keys(br.byReason).sort()) byReason[k] = br.byReason[k];
  const fmt = (x: number | undefined) => (x === undefined ? null : x.toFixed(4));
  return {
    version: 1,
    symbol: r.symbol,
    period: { fromMs: r.startMs, toMs: r.endMs, from: iso(r.startMs), to: iso(r.endMs), days: ratio(days, 4) },
    source: sortKeys(r.source ?? {}) as Record<string, string>,
    config: sortKeys(r.config) as Record<string, unknown>,
    summary: {
      startingBalance: s(r.startingBalance),
      finalEquity: s(last.equity),
      netPnl: s(netPnl),
      realizedPnl: s(last.realized),
      unrealizedPnl: s(last.unrealized),
      fees: s(last.fees),
      funding: s(last.funding),
      returnOnCapital: r.startingBalance.isZero() ? '0' : ratio(netPnl.div(r.startingBalance), 8),
      maxDrawdown: s(dd.maxAbs),
      maxDrawdownPct: ratio(dd.maxPct, 8),
      maxDrawdownDurationMs: dd.maxDurationMs,
      maxDrawdownPeak: dd.peakMs === undefined ? null : iso(dd.peakMs),
      maxDrawdownTrough: dd.troughMs === undefined ? null : iso(dd.troughMs),
      sharpe: fmt(sh),
      sortino: fmt(so),
      tradingDays: rets.length,
      roundTrips: r.roundTrips.length,
      roundTripNetPnl: s(tripNetSum),
      winRate: r.roundTrips.length ? ratio(new Dec(wins).div(r.roundTrips.length), 4) : null,
      avgHoldingMs: r.roundTrips.length ? Math.round(hold / r.roundTrips.length) : null,
      maxInventoryNotional: s(maxInv),
      fills: r.fills.length,
      makerFills: maker,
      takerFills: r.fills.length - maker,
      fillsPerDay: days.isZero() ? '0.00' : ratio(new Dec(r.fills.length).div(days), 2),
      tradedNotional: s(traded),
      breakerOpenMs: br.totalMs,
      breakerOpenByReason: byReason,
    },
    daily: closes.slice(1).map((c, i) => ({ date: iso(c.dayMs).slice(0, 10), equity: s(c.equity), return: rets[i].toFixed(8) })),
  };
}

/** `report.json` text: 2-space JSON, keys in the {@link BacktestReport} order, trailing newline (byte-identical for identical input). */
export function renderReportJson(report: BacktestReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Human duration: `3d 04:05:06`, `04:05:06`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  const sec = Math.round(ms / 1000);
  const d = Math.floor(sec / 86400);
  const hh = String(Math.floor((sec % 86400) / 3600)).padStart(2, '0');
  const mm = String(Math.floor((sec % 3600) / 60)).padStart(2, '0');
  const ss = String(sec % 60).padStart(2, '0');
  return `${d ? `${d}d ` : ''}${hh}:${mm}:${ss}`;
}

function pct(fraction: string | null, dp = 2): string {
  return fraction === null ? '—' : `${new Dec(fraction).mul(100).toFixed(dp)} %`;
}
function money(v: string, dp = 2): string {
  return new Dec(v).toFixed(dp);
}

/**
 * The summary as [label, value] rows (shared by the terminal table and report.html). Money shown
 * with 2 decimals (report.json keeps the exact values).
 */
export function summaryRows(rep: BacktestReport): [key: string, label: string, value: string][] {
  const m = rep.summary;
  const reasons = Object.entries(m.breakerOpenByReason)
    .map(([k, v]) => `${k} ${formatDuration(v)}`)
    .join(', ');
  return [
    ['period', 'Period', `${rep.period.from.slice(0, 16).replace('T', ' ')} → ${rep.period.to.slice(0, 16).replace('T', ' ')} (${new Dec(rep.period.days).toFixed(1)} d)`],
    ['startingBalance', 'Starting balance', money(m.startingBalance)],
    ['finalEquity', 'Final equity', money(m.finalEquity)],
    ['netPnl', 'Net PnL', money(m.netPnl)],
    ['realizedPnl', 'Realized PnL', money(m.realizedPnl)],
    ['unrealizedPnl', 'Unrealized PnL', money(m.unrealizedPnl)],
    ['fees', 'Fees', money(m.fees)],
    ['funding', 'Funding', money(m.funding)],
    ['returnOnCapital', 'Return on capital', pct(m.returnOnCapital)],
    ['maxDrawdown', 'Max drawdown', `${money(m.maxDrawdown)} (${pct(m.maxDrawdownPct)})`],
    ['maxDrawdownDuration', 'Max drawdown duration', formatDuration(m.maxDrawdownDurationMs)],
    ['sharpe', 'Sharpe (daily, √365)', m.sharpe ?? '—'],
    ['sortino', 'Sortino (daily, √365)', m.sortino ?? '—'],
    ['roundTrips', 'Round trips', String(m.roundTrips)],
    ['winRate', 'Win rate', pct(m.winRate, 1)],
    ['avgHolding', 'Average holding time', formatDuration(m.avgHoldingMs)],
    ['maxInventoryNotional', 'Max inventory notional', money(m.maxInventoryNotional)],
    ['fills', 'Fills (maker / taker)', `${m.fills} (${m.makerFills} / ${m.takerFills})`],
    ['fillsPerDay', 'Fills per day', m.fillsPerDay],
    ['breakerOpen', 'Breaker open', `${formatDuration(m.breakerOpenMs)}${reasons ? ` (${reasons})` : ''}`],
  ];
}

/** Plain-text summary table for the terminal (no colours; fixed-width label column). */
export function renderSummaryTable(rep: BacktestReport): string {
  const rows = summaryRows(rep);
  const w = Math.max(...rows.map((r) => r[1].length));
  const vw = Math.max(...rows.map((r) => r[2].length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(vw + 2)}+`;
  const out = [line, `| ${`Backtest ${rep.symbol}`.padEnd(w + vw + 3)} |`, line];
  for (const [, label, value] of rows) out.push(`| ${label.padEnd(w)} | ${value.padStart(vw)} |`);
  out.push(line);
  return `${out.join('\n')}\n`;
}
