import type { Scale } from './scale';
import type { BenchResult } from './results';

export interface BenchContext {
  scale: Scale;
  /** Directory for child-process logs and scratch files of this run. */
  workDir: string;
  log(msg: string): void;
}

export interface Bench {
  name: string;
  title: string;
  /** Runs only when named in --only (long runs such as the soak). */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<Omit<BenchResult, 'name' | 'title' | 'seconds'>>;
}
