/**
 * Exponential backoff delay with full jitter ("Exponential Backoff And Jitter", AWS Architecture
 * Blog, 2015): attempt n (0-based) waits a random time in [base·factorⁿ·(1−jitter), base·factorⁿ],
 * capped at `maxMs`. All times in ms.
 */
export function backoffDelay(
  attempt: number,
  opts: { initialMs: number; maxMs: number; factor?: number; jitter?: number },
  random: () => number = Math.random,
): number {
  const factor = opts.factor ?? 2;
  const jitter = opts.jitter ?? 0.2;
  const raw = Math.min(opts.maxMs, opts.initialMs * Math.pow(factor, attempt));
  return Math.max(0, Math.round(raw * (1 - jitter * random())));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
