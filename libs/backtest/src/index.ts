/**
 * Backtesting: `runBacktest` (the unchanged `@mm/trading` engine against the in-process sim on market
 * time, with round trips per grid slot from `LotBook`), and reporting: pure functions from a backtest
 * result (fills, round trips, equity samples, breaker intervals, candles) to `report.json`, a
 * self-contained `report.html` and a terminal table.
 */
export type { BacktestFill, BacktestResult, BreakerInterval, EquitySample, PriceBar, RoundTrip } from './types';
export { DAY_MS, PERIODS_PER_YEAR, breakerTime, dailyCloses, dailyReturns, drawdown, sharpe, sortino, tripNet, type Drawdown } from './stats';
export { buildReport, formatDuration, renderReportJson, renderSummaryTable, summaryRows, type BacktestReport } from './report';
export { COLORS, MAX_BARS, MAX_LINE_BUCKETS, MAX_MARKERS, downsampleBars, downsampleLine, renderReportHtml } from './html';
export { LotBook } from './lots';
export { BacktestError, DEFAULT_BACKTEST_MARGIN_CHECK_MS, DEFAULT_BACKTEST_RECONCILE_MS, runBacktest, type BacktestOptions, type BacktestOrderRequest, type BacktestProgress, type BacktestRun } from './runner';
export { runArbBacktest, type ArbBacktestOptions, type ArbBacktestRun, type ArbFill, type ArbSample, type ArbSymbolInput, type ArbSymbolResult, type ArbWorkflowSummary } from './arb-runner';
export { ARB_COLORS, arbSummaryRows, buildArbReport, renderArbReportHtml, renderArbReportJson, renderArbSummaryTable, type ArbBacktestReport, type ArbReportFigures } from './arb-report';
