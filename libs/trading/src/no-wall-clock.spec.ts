import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Trading code never reads the wall clock or starts its own timers: time and timers come from the
 * injected Scheduler, so the engine runs unchanged on market time in backtests. This scans every
 * non-spec source file of libs/trading.
 */
const FORBIDDEN: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, 'Date.now()'],
  [/\bnew\s+Date\s*\(\s*\)/, 'new Date()'],
  [/(?<!new\s+)\bDate\s*\(\s*\)/, 'Date()'],
  [/(?<![sS]cheduler\.)\bsetTimeout\s*\(/, 'setTimeout'],
  [/(?<![sS]cheduler\.)\bsetInterval\s*\(/, 'setInterval'],
  [/(?<![sS]cheduler\.)\bsetImmediate\s*\(/, 'setImmediate'],
  [/\bprocess\.hrtime\b/, 'process.hrtime'],
  [/\bperformance\.now\b/, 'performance.now'],
  [/\bMath\.random\s*\(/, 'Math.random()'],
  [/\bsleep\s*\(/, 'sleep() (wall-clock timer from @mm/platform)'],
];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === '__tests__' ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [p] : [];
  });
}

/** Code without comments, so TSDoc may still name the forbidden calls. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function findWallClockUses(files: string[]): string[] {
  const hits: string[] = [];
  for (const f of files) {
    const lines = stripComments(fs.readFileSync(f, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const [re, what] of FORBIDDEN) if (re.test(line)) hits.push(`${path.relative(process.cwd(), f)}:${i + 1}: ${what}`);
    });
  }
  return hits;
}

describe('libs/trading reads no wall clock', () => {
  const files = sourceFiles(path.join(__dirname));

  it('scans the engine sources', () => {
    const names = files.map((f) => path.basename(f));
    expect(names).toEqual(expect.arrayContaining(['grid-engine.ts', 'order-executor.ts', 'risk-controller.ts', 'engine.factory.ts', 'strategy.ts', 'funding-monitor.ts', 'decision.ts', 'journal.ts']));
  });

  it('has no Date.now / new Date() / setTimeout / setInterval / hrtime / performance.now / Math.random outside specs', () => {
    expect(findWallClockUses(files)).toEqual([]);
  });

  it('catches each forbidden call (the scan can fail)', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'wallclock-'));
    const bad = path.join(dir, 'bad.ts');
    fs.writeFileSync(bad, ['const a = Date.now();', 'const b = new Date();', 'setTimeout(() => 1, 5);', 'const t = setInterval(f, 1);', 'process.hrtime.bigint();', 'performance.now();', 'globalThis.setTimeout(f, 1);', '// Date.now() in a comment is fine', 'const ok = new Date(clock.now());', 'this.scheduler.setInterval(f, 1);'].join('\n'));
    const hits = findWallClockUses([bad]);
    expect(hits.map((h) => h.split(': ')[1])).toEqual(['Date.now()', 'new Date()', 'setTimeout', 'setInterval', 'process.hrtime', 'performance.now', 'setTimeout']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
