/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per package/file.
 * Usage: node dist/bench/tools/cpuprofile-top.js <file.cpuprofile> [topN]
 */
import * as fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
const top = Number(process.argv[3] ?? 25);
const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map<string, number>();
const pkg = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const short = url.replace(/.*node_modules\//, 'nm:').replace(/.*\/dist\//, '');
  const key = `${n.callFrame.functionName || '(anon)'}  ${short}:${n.callFrame.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  const group = m ? m[1] : url.includes('/dist/') ? short.split('/').slice(0, 3).join('/') : url ? 'node:internal' : n.callFrame.functionName;
  pkg.set(group, (pkg.get(group) ?? 0) + t);
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
};
show('self time by package / dist dir', pkg);
show('self time by function', fn);
