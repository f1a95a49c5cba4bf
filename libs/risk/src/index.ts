export * from './atr';
export * from './circuit-breaker';
export * from './exposure';
export * from './order-cleaner';
export * from './risk-monitor';
export * from './safety-check';
export * from './token-bucket';
