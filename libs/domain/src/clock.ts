/** Time source seam, so the simulator and tests can run on market time. Unix ms. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
