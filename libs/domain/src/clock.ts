/** Time source seam, so the simulator and tests can run on market time. Unix ms. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Opaque handle of a scheduled timer. */
export type TimerHandle = { readonly __timer: unknown } | object;

/**
 * Clock plus timers: the only way trading code (libs/trading) learns the time or waits. Live code
 * uses `systemScheduler` (wall clock); backtests and tests use a `VirtualScheduler` whose timers fire
 * only when its market time is advanced. All times in Unix ms; delays in ms.
 */
export interface Scheduler extends Clock {
  /** Runs `fn` once, `ms` after now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms` (> 0) from now. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from either method; unknown or fired handles are ignored. */
  clear(handle: TimerHandle | undefined): void;
}

/** Resolves after `ms` on the scheduler's time (virtual time: when it is advanced past the deadline). */
export function sleepOn(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.setTimeout(resolve, ms));
}

/**
 * The wall clock and Node timers. Timers are `unref`ed: they never keep the process alive on their
 * own (the app's servers and streams do).
 */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return t;
  },
  clear(handle) {
    if (handle) clearTimeout(handle as NodeJS.Timeout);
  },
};

interface VirtualTimer {
  id: number;
  /** Tie-break among equal due times: creation (or re-arm) order. */
  order: number;
  dueMs: number;
  periodMs: number;
  fn: () => void;
}

/**
 * A scheduler on virtual (market) time for backtests and tests. Time moves only through
 * `advanceTo` / `advanceBy`; due timers then fire in deterministic order: by due time, then by
 * creation order. A timer scheduled while advancing fires in the same advance if it falls due
 * before the target. Timers never fire re-entrantly.
 *
 * Firing is synchronous: a timer callback that starts async work (an engine task awaiting the venue)
 * has not finished when `advanceTo` returns. Drivers that need every consequence settled use
 * `advanceToAsync(ms, settle)`, which awaits `settle()` (for example `engine.whenIdle()`) after each
 * firing, so timers scheduled by that work on the way are honoured too.
 */
export class VirtualScheduler implements Scheduler {
  private nowMs: number;
  private seq = 0;
  private readonly timers = new Map<number, VirtualTimer>();
  private firing = false;

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, Math.max(0, ms), 0);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    if (!(ms > 0)) throw new Error(`VirtualScheduler.setInterval: period must be > 0 ms, got ${ms}`);
    return this.add(fn, ms, ms);
  }

  clear(handle: TimerHandle | undefined): void {
    if (handle && typeof (handle as { id?: unknown }).id === 'number') this.timers.delete((handle as { id: number }).id);
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Due time of the next timer (Unix ms), or null when none is pending. */
  nextDueMs(): number | null {
    return this.next()?.dueMs ?? null;
  }

  /**
   * Moves time forward to `ms` (never backwards: an earlier `ms` is an error), firing every timer
   * that falls due on the way, each with `now()` equal to its due time.
   */
  advanceTo(ms: number): void {
    if (ms < this.nowMs) throw new Error(`VirtualScheduler: cannot go back in time (${ms} < ${this.nowMs})`);
    if (this.firing) throw new Error('VirtualScheduler: advanceTo called from a timer callback');
    this.firing = true;
    try {
      for (let t = this.dueBy(ms); t; t = this.dueBy(ms)) this.fire(t);
      this.nowMs = ms;
    } finally {
      this.firing = false;
    }
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }

  /** As `advanceTo`, awaiting `settle()` after each timer fires (and once at the end). */
  async advanceToAsync(ms: number, settle: () => Promise<void>): Promise<void> {
    if (ms < this.nowMs) throw new Error(`VirtualScheduler: cannot go back in time (${ms} < ${this.nowMs})`);
    await settle();
    for (let t = this.dueBy(ms); t; t = this.dueBy(ms)) {
      this.fire(t);
      await settle();
    }
    this.nowMs = ms;
    await settle();
  }

  private add(fn: () => void, delayMs: number, periodMs: number): TimerHandle {
    const id = ++this.seq;
    const t: VirtualTimer = { id, order: id, dueMs: this.nowMs + delayMs, periodMs, fn };
    this.timers.set(t.id, t);
    return { id: t.id };
  }

  private next(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.timers.values()) if (!best || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.order < best.order)) best = t;
    return best;
  }

  private dueBy(ms: number): VirtualTimer | undefined {
    const t = this.next();
    return t && t.dueMs <= ms ? t : undefined;
  }

  private fire(t: VirtualTimer): void {
    this.nowMs = Math.max(this.nowMs, t.dueMs);
    if (t.periodMs > 0) {
      // Re-armed with a fresh order key, so it sorts after timers created earlier for the same due time.
      t.dueMs += t.periodMs;
      t.order = ++this.seq;
    } else {
      this.timers.delete(t.id);
    }
    t.fn();
  }
}
