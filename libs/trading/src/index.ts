/**
 * @mm/trading: the grid market-making engine as a library. It reaches the outside only through the
 * ports in `ports.ts` (venue, scheduler, state store, metrics, alerts, logger), so the same code runs
 * live over gRPC and in backtests over the in-process sim on market time.
 */
export * from './ports';
export * from './state';
export { GridEngine, type EngineOptions, type EngineState, type ReconciliationResult } from './grid-engine';
export { OrderExecutor, type ExecutorConfig } from './order-executor';
export { RiskController, type RiskReaction, type RiskSettings } from './risk-controller';
export { MarginGuard, type MarginGuardSettings, type MarginReading, type MarginVerdict, accountMarginRatio } from './margin-guard';
export { distributePosition } from './reconciler';
export { buildGridEngine, type GridEngineSettings } from './engine.factory';
export { CountingMetrics } from './counting-metrics';
export * as fundingArb from './funding-arb';
export { FundingArbStrategy, InMemoryArbJournal, type FundingArbSettings, type ArbJournal, type PairSpec, type LegSpec, type ArbThresholds, type ArbRiskSettings, type WorkflowKind } from './funding-arb';
export { SharedPortfolioLimiter, unlimitedPortfolio, type PortfolioLimiter, type PortfolioLimits, type PortfolioVerdict, type PortfolioBlockReason, type SymbolExposure } from './portfolio';
export { AccountView, type AccountViewSettings, type AccountReading } from './account-view';
export { AverageCostLedger } from './average-cost';
