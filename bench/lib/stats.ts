/** Latency samples in nanoseconds (hrtime) or milliseconds, kept in a growable Float64Array. */
export class Samples {
  private buf: Float64Array;
  n = 0;
  constructor(initial = 1024) {
    this.buf = new Float64Array(initial);
  }
  add(v: number): void {
    if (this.n === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = v;
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `values`, each multiplied by `scale` (1e-6 turns ns into ms). */
export function summarize(values: Float64Array | number[], scale = 1): Summary {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  if (n === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const pct = (p: number) => a[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] * scale;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i];
  return { n, p50: pct(50), p90: pct(90), p99: pct(99), max: a[n - 1] * scale, mean: (sum / n) * scale };
}

/** Current hrtime in ns as a JS number (exact to well below 1 µs for process lifetimes < 100 days). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Wall-clock time in ms with sub-ms resolution, comparable across processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function round(v: number, dp = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** dp;
  return Math.round(v * f) / f;
}
