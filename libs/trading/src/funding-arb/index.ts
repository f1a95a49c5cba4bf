/**
 * Funding-rate arbitrage, library core (issue 10): funding monitor, APR decision and durable,
 * idempotent two-leg workflows over two venue ports. See the README section
 * "Funding-rate arbitrage (library core)" for what exists and what does not yet.
 */
export {
  type LegId,
  type LegSpec,
  type PairSpec,
  type ArbThresholds,
  type ArbRiskSettings,
  type BorrowInterestSource,
  type PortfolioCapCheck,
  noPortfolioCaps,
  validateArbConfig,
  validateArbRisk,
  YEAR_MS,
} from './types';
export { FundingMonitor, type LegFunding, type PairFunding } from './funding-monitor';
export { decide, aprFor, annualise, legFeeRate, type AprBreakdown, type Decision, type DecisionInput, type ShortLeg } from './decision';
export {
  type ArbJournal,
  InMemoryArbJournal,
  type JournalEntry,
  type OrderIntent,
  type OrderOutcome,
  type StepCode,
  type WorkflowKind,
  type WorkflowResult,
  type ExitReason,
  type StartedExtras,
  type WorkflowState,
  foldJournal,
  interestPaid,
  positionsFromJournal,
  signedFill,
} from './journal';
export {
  FundingArbStrategy,
  type FundingArbSettings,
  type FundingArbDeps,
  type ArbSymbolStatus,
  type ArbSymbolState,
  type ArbAccounting,
  type ArbLegAccounting,
  type ArbLegRisk,
  workflowId,
  stepClientOrderId,
  intentMismatch,
  estimateBorrowInterest,
} from './strategy';
