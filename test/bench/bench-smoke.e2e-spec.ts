/**
 * Smoke run of the benchmark suite (`BENCH_SCALE=smoke`: tiny counts, seconds): the same bench code
 * as `npm run bench`, from dist (built by `npm test`), into a temporary results directory. Checks
 * that both result files are written and every benchmark produced sane, positive figures. It does
 * not judge the targets: smoke counts are too small for that.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const RUNNER = path.join(ROOT, 'dist', 'bench', 'run.js');
const EXPECTED = ['unary', 'throughput', 'fanout', 'mm-reaction', 'live', 'replay', 'memory', 'sustained', 'backtest', 'optimize'];

jest.setTimeout(300_000);

describe('benchmarks (smoke scale)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-bench-smoke-'));
  let run: ReturnType<typeof spawnSync>;
  let result: any;

  beforeAll(() => {
    expect(fs.existsSync(RUNNER)).toBe(true);
    run = spawnSync(process.execPath, [RUNNER], {
      cwd: ROOT,
      env: { ...process.env, BENCH_SCALE: 'smoke', BENCH_OUT_DIR: out, BENCH_CPU_PROF: '' },
      encoding: 'utf8',
      timeout: 280_000,
    });
    const json = path.join(out, 'latest.json');
    if (fs.existsSync(json)) result = JSON.parse(fs.readFileSync(json, 'utf8'));
  });

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('exits 0 and writes latest.json, latest.md and a timestamped copy', () => {
    expect({ status: run.status, tail: String(run.stdout ?? '').slice(-3000) + String(run.stderr ?? '').slice(-3000) }).toMatchObject({ status: 0 });
    expect(result).toBeDefined();
    const md = fs.readFileSync(path.join(out, 'latest.md'), 'utf8');
    expect(md).toContain('# Benchmark results (smoke)');
    for (const name of EXPECTED) expect(md).toContain(`## ${name}:`);
    const history = fs.readdirSync(path.join(out, 'history'));
    expect(history.filter((f) => f.endsWith('.json')).length).toBe(1);
    expect(history.filter((f) => f.endsWith('.md')).length).toBe(1);
  });

  it('ran every benchmark without error, with rows and targets', () => {
    expect(result.meta.scale).toBe('smoke');
    expect(result.benchmarks.map((b: any) => b.name)).toEqual(EXPECTED);
    for (const b of result.benchmarks) {
      expect({ name: b.name, error: b.error }).toEqual({ name: b.name, error: undefined });
      expect(b.rows.length).toBeGreaterThan(0);
      expect(b.targets.length).toBeGreaterThan(0);
      expect(typeof b.method).toBe('string');
      for (const t of b.targets) expect(typeof t.pass).toBe('boolean');
    }
  });

  it('reports positive throughputs and ordered, finite latency percentiles', () => {
    for (const b of result.benchmarks) {
      for (const r of b.rows) {
        for (const side of [r.product, r.baseline].filter(Boolean)) {
          if (side.p50 === null) {
            // memory rows carry no latency; throughput (cycles/s) where given must be positive
            if (side.throughput !== null) expect(side.throughput).toBeGreaterThan(0);
            continue;
          }
          const where = `${b.name} / ${r.case}`;
          expect({ where, n: side.n > 0 }).toEqual({ where, n: true });
          expect({ where, thr: side.throughput > 0 }).toEqual({ where, thr: true });
          expect({ where, ordered: side.p50 <= side.p90 && side.p90 <= side.p99 && side.p99 <= side.max && side.p50 >= 0 }).toEqual({ where, ordered: true });
        }
        if (r.baseline && r.product.p50 !== null && r.baseline.p50 !== null) {
          expect(r.ratio.p50).toBeGreaterThan(0);
          expect(r.ratio.throughput).toBeGreaterThan(0);
        }
      }
    }
  });

  it('delivered every fan-out message at the smoke rate and measured memory', () => {
    const fanout = result.benchmarks.find((b: any) => b.name === 'fanout');
    for (const r of fanout.rows) expect(r.extra.drops).toBe(0);
    const memory = result.benchmarks.find((b: any) => b.name === 'memory');
    expect(memory.rows[0].extra.connectorMB).toBeGreaterThan(10);
    const replay = result.benchmarks.find((b: any) => b.name === 'replay');
    expect(replay.rows[0].product.throughput).toBeGreaterThan(1000);
  });
});
