import * as risk from '@mm/risk';

describe('@mm/risk index', () => {
  it('exports every component through the path alias', () => {
    for (const name of ['CircuitBreaker', 'RiskMonitor', 'TokenBucket', 'checkExposure', 'planCleanup', 'checkStartupSafety', 'trueRange', 'averageTrueRange', 'validateBreakerConfig', 'BREAKER_MAX_WINDOW_SAMPLES']) {
      expect(risk).toHaveProperty(name);
    }
    expect(risk).not.toHaveProperty('emitAll'); // internal helper
  });
});
