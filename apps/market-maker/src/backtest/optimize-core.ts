import * as fs from 'node:fs';
import type { BacktestReport } from '@mm/backtest';
import { Dec } from '@mm/domain';
import { mulberry32 } from '@mm/sim-exchange';
import { UsageError } from './backtest-job';

/** One `--param key=spec`: `a:b:step` (inclusive decimal range) or `v1,v2,…`. */
export interface ParamSpec {
  key: string;
  values: string[];
}

/**
 * Parses `grid.price_interval=50:400:25` or `grid.order_notional=100,250,500`.
 * @throws UsageError naming the parameter.
 */
export function parseParam(text: string): ParamSpec {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--param ${text}: expected key=from:to:step or key=v1,v2,…`);
  const key = text.slice(0, eq).trim();
  const spec = text.slice(eq + 1).trim();
  const num = /^[-+]?(\d+\.?\d*|\.\d+)$/;
  if (spec.includes(':')) {
    const parts = spec.split(':');
    if (parts.length !== 3 || !parts.every((p) => num.test(p))) throw new UsageError(`--param ${key}: a range is from:to:step with decimals, got "${spec}"`);
    const [a, b, st] = parts.map((p) => new Dec(p));
    if (!st.gt(0) || b.lt(a)) throw new UsageError(`--param ${key}: need step > 0 and to ≥ from, got "${spec}"`);
    const values: string[] = [];
    for (let v = a; v.lte(b); v = v.plus(st)) {
      values.push(v.toFixed());
      if (values.length > 10_000) throw new UsageError(`--param ${key}: more than 10000 values`);
    }
    return { key, values };
  }
  const values = spec.split(',').map((v) => v.trim());
  if (!values.length || values.some((v) => v === '')) throw new UsageError(`--param ${key}: empty value in "${spec}"`);
  return { key, values: [...new Set(values)] };
}

/** A parameter combination: key → value, in --param order. */
export type Combo = Record<string, string>;

/** Stable identity of a combination (journal key). */
export function comboKey(c: Combo): string {
  return Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** Every combination (last parameter varies fastest), or `random` of them sampled without replacement with `seed`. */
export function combinations(params: ParamSpec[], random?: number, seed = 1): Combo[] {
  let all: Combo[] = [{}];
  for (const p of params) all = all.flatMap((c) => p.values.map((v) => ({ ...c, [p.key]: v })));
  if (random === undefined || random >= all.length) return all;
  const rnd = mulberry32(seed);
  const idx = all.map((_, i) => i);
  for (let i = 0; i < random; i++) {
    const j = i + Math.floor(rnd() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx
    .slice(0, random)
    .sort((a, b) => a - b)
    .map((i) => all[i]);
}

/** What the optimizer keeps of one backtest. */
export interface ComboResult {
  key: string;
  params: Combo;
  summary: BacktestReport['summary'];
  wallMs: number;
}

export const OBJECTIVES = ['net_pnl', 'return', 'sharpe', 'sortino', 'return_over_drawdown', 'win_rate'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** The objective's value (higher is better); null when undefined (no Sharpe with < 2 days …). */
export function objectiveValue(s: BacktestReport['summary'], o: Objective): Dec | null {
  switch (o) {
    case 'net_pnl':
      return new Dec(s.netPnl);
    case 'return':
      return new Dec(s.returnOnCapital);
    case 'sharpe':
      return s.sharpe === null ? null : new Dec(s.sharpe);
    case 'sortino':
      return s.sortino === null ? null : new Dec(s.sortino);
    case 'win_rate':
      return s.winRate === null ? null : new Dec(s.winRate);
    case 'return_over_drawdown': {
      const dd = new Dec(s.maxDrawdownPct);
      return dd.isZero() ? null : new Dec(s.returnOnCapital).div(dd);
    }
  }
}

/** A ranked row: `eligible` = within --max-drawdown (ineligible rows rank after all eligible ones). */
export interface Ranked extends ComboResult {
  rank: number;
  objective: Dec | null;
  eligible: boolean;
}

/**
 * Ranks results: eligible (max drawdown % ≤ `maxDrawdownPct`, a fraction) before ineligible, then
 * by objective descending (null last), ties by combination key. Deterministic.
 */
export function rank(results: ComboResult[], o: Objective, maxDrawdownPct?: Dec): Ranked[] {
  const rows = results.map((r) => ({ ...r, objective: objectiveValue(r.summary, o), eligible: maxDrawdownPct === undefined || new Dec(r.summary.maxDrawdownPct).lte(maxDrawdownPct), rank: 0 }));
  rows.sort((a, b) => {
    if (a.eligible !== b.eligible) return a.eligible ? -1 : 1;
    if (a.objective === null || b.objective === null) {
      if (a.objective !== b.objective) return a.objective === null ? 1 : -1;
    } else {
      const c = b.objective.comparedTo(a.objective);
      if (c !== 0) return c;
    }
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
  rows.forEach((r, i) => (r.rank = i + 1));
  return rows;
}

/**
 * Reads the journal (JSON Lines of ComboResult). A torn line (an interrupted write) is dropped and the
 * file rewritten with the whole lines only, so that the next append starts on a line of its own.
 */
export function readJournal(file: string): Map<string, ComboResult> {
  const out = new Map<string, ComboResult>();
  if (!fs.existsSync(file)) return out;
  const text = fs.readFileSync(file, 'utf8');
  const good: string[] = [];
  let torn = false;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as ComboResult;
      if (r && typeof r.key === 'string' && r.summary) {
        out.set(r.key, r);
        good.push(line);
      } else torn = true;
    } catch {
      torn = true; // that combination runs again
    }
  }
  if (torn || (text.length > 0 && !text.endsWith('\n'))) {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, good.map((l) => `${l}\n`).join(''));
    fs.renameSync(tmp, file);
  }
  return out;
}

/** Appends one finished combination to the journal (one write of one whole line). */
export function appendJournal(file: string, r: ComboResult): void {
  fs.appendFileSync(file, `${JSON.stringify(r)}\n`);
}

const COLS = ['rank', 'objective', 'netPnl', 'returnOnCapital', 'maxDrawdownPct', 'sharpe', 'roundTrips', 'fills', 'winRate'] as const;

function cell(r: Ranked, c: (typeof COLS)[number]): string {
  if (c === 'rank') return String(r.rank);
  if (c === 'objective') return r.objective === null ? '' : r.objective.toDecimalPlaces(8).toFixed();
  const v = r.summary[c];
  return v === null ? '' : String(v);
}

/** results.csv: one row per combination in rank order (parameters, then the metrics). */
export function rankedCsv(rows: Ranked[], params: ParamSpec[]): string {
  const head = [...params.map((p) => p.key), ...COLS, 'eligible'];
  const lines = [head.join(',')];
  for (const r of rows) lines.push([...params.map((p) => r.params[p.key]), ...COLS.map((c) => cell(r, c)), String(r.eligible)].join(','));
  return `${lines.join('\n')}\n`;
}

/** results.md (and the terminal): a Markdown table of the first `limit` rows. */
export function rankedMarkdown(rows: Ranked[], params: ParamSpec[], o: Objective, limit = rows.length): string {
  const head = ['#', ...params.map((p) => p.key), o, 'net PnL', 'return %', 'max DD %', 'Sharpe', 'trips', 'fills', ''];
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows.slice(0, limit)) {
    const s = r.summary;
    out.push(
      `| ${[
        r.rank,
        ...params.map((p) => r.params[p.key]),
        r.objective === null ? '—' : r.objective.toDecimalPlaces(4).toFixed(),
        new Dec(s.netPnl).toFixed(2),
        new Dec(s.returnOnCapital).mul(100).toFixed(2),
        new Dec(s.maxDrawdownPct).mul(100).toFixed(2),
        s.sharpe ?? '—',
        s.roundTrips,
        s.fills,
        r.eligible ? '' : 'over max drawdown',
      ].join(' | ')} |`,
    );
  }
  return `${out.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Non-dominated results: no other has return ≥ and drawdown ≤ with one strictly better. */
export function paretoFront(rows: Ranked[]): Ranked[] {
  const pts = rows.map((r) => ({ r, x: Number(r.summary.maxDrawdownPct), y: Number(r.summary.returnOnCapital) }));
  return pts
    .filter((p) => !pts.some((q) => q !== p && q.y >= p.y && q.x <= p.x && (q.y > p.y || q.x < p.x)))
    .sort((a, b) => a.x - b.x)
    .map((p) => p.r);
}

/**
 * optimize.html: self-contained (inline SVG, no scripts from the network): the Pareto front of return
 * vs max drawdown (every combination a dot, the front joined and listed), a heatmap of the objective
 * over the first two parameters (best over the others), and the ranked table.
 */
export function optimizeHtml(rows: Ranked[], params: ParamSpec[], o: Objective, title: string): string {
  const W = 640;
  const H = 400;
  const M = 50;
  const xs = rows.map((r) => Number(r.summary.maxDrawdownPct) * 100);
  const ys = rows.map((r) => Number(r.summary.returnOnCapital) * 100);
  const x0 = 0;
  const x1 = Math.max(1e-9, ...xs) * 1.05;
  const y0 = Math.min(0, ...ys);
  const y1 = Math.max(1e-9, ...ys);
  const yr = y1 - y0 || 1;
  const X = (v: number) => M + ((v - x0) / (x1 - x0)) * (W - 2 * M);
  const Y = (v: number) => H - M - ((v - y0) / yr) * (H - 2 * M);
  const front = paretoFront(rows);
  const fset = new Set(front.map((r) => r.key));
  const dots = rows
    .map((r, i) => `<circle class="${fset.has(r.key) ? 'front' : 'dot'}" cx="${X(xs[i]).toFixed(1)}" cy="${Y(ys[i]).toFixed(1)}" r="${fset.has(r.key) ? 5 : 3.5}"><title>${esc(r.key)}: return ${ys[i].toFixed(2)} %, max DD ${xs[i].toFixed(2)} %</title></circle>`)
    .join('');
  const line = front.map((r) => `${X(Number(r.summary.maxDrawdownPct) * 100).toFixed(1)},${Y(Number(r.summary.returnOnCapital) * 100).toFixed(1)}`).join(' ');
  const ticks = (a: number, b: number, n: number) => Array.from({ length: n + 1 }, (_, i) => a + ((b - a) * i) / n);
  const axes =
    `<line x1="${M}" y1="${H - M}" x2="${W - M}" y2="${H - M}" class="axis"/><line x1="${M}" y1="${M}" x2="${M}" y2="${H - M}" class="axis"/>` +
    ticks(x0, x1, 5).map((v) => `<text x="${X(v).toFixed(1)}" y="${H - M + 16}" text-anchor="middle">${v.toFixed(2)}</text>`).join('') +
    ticks(y0, y1, 5).map((v) => `<text x="${M - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(2)}</text>`).join('') +
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">max drawdown, % of peak equity</text><text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">return on capital, %</text>`;
  const pareto = `<svg id="pareto" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${axes}<polyline class="frontline" points="${line}"/>${dots}</svg>`;

  let heat = '<p>Heatmap: needs two parameters.</p>';
  if (params.length >= 2) {
    const [pa, pb] = params;
    const best = new Map<string, Ranked>();
    for (const r of rows) {
      const k = `${r.params[pa.key]}|${r.params[pb.key]}`;
      const cur = best.get(k);
      if (!cur || r.rank < cur.rank) best.set(k, r);
    }
    const vals = [...best.values()].map((r) => (r.objective === null ? NaN : r.objective.toNumber())).filter((v) => !Number.isNaN(v));
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    const cw = Math.max(24, Math.min(80, Math.floor(560 / pb.values.length)));
    const ch = 26;
    const color = (v: number) => {
      if (Number.isNaN(v)) return '#ddd';
      const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      return `hsl(${Math.round(t * 120)},70%,${Math.round(45 + 10 * (1 - t))}%)`;
    };
    const hw = 110 + cw * pb.values.length;
    const hh = 40 + ch * pa.values.length;
    let cells = '';
    pa.values.forEach((va, i) => {
      cells += `<text x="104" y="${40 + i * ch + 17}" text-anchor="end">${esc(va)}</text>`;
      pb.values.forEach((vb, j) => {
        const r = best.get(`${va}|${vb}`);
        const v = r?.objective ? r.objective.toNumber() : NaN;
        cells += `<rect class="cell" x="${110 + j * cw}" y="${40 + i * ch}" width="${cw - 1}" height="${ch - 1}" fill="${r ? color(v) : '#f4f4f4'}"><title>${esc(pa.key)}=${esc(va)}, ${esc(pb.key)}=${esc(vb)}: ${Number.isNaN(v) ? '—' : v.toFixed(4)}</title></rect>`;
      });
    });
    const headers = pb.values.map((vb, j) => `<text x="${110 + j * cw + cw / 2}" y="32" text-anchor="middle">${esc(vb)}</text>`).join('');
    heat = `<p>${esc(o)} by <b>${esc(pa.key)}</b> (rows) × <b>${esc(pb.key)}</b> (columns)${params.length > 2 ? ', best over the other parameters' : ''}; green = best.</p><svg id="heatmap" width="${hw}" height="${hh}" viewBox="0 0 ${hw} ${hh}">${headers}${cells}</svg>`;
  }
  const table = rankedMarkdown(rows, params, o)
    .trim()
    .split('\n')
    .filter((_, i) => i !== 1)
    .map((l, i) => `<tr>${l.slice(1, -1).split('|').map((c) => (i === 0 ? `<th>${esc(c.trim())}</th>` : `<td>${esc(c.trim())}</td>`)).join('')}</tr>`)
    .join('');
  const frontList = front.map((r) => `<li>${esc(r.key)}: return ${(Number(r.summary.returnOnCapital) * 100).toFixed(2)} %, max DD ${(Number(r.summary.maxDrawdownPct) * 100).toFixed(2)} %</li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}svg text{font-size:11px;fill:#444}.axis{stroke:#888}.dot{fill:#90a4ae}.front{fill:#e53935}.frontline{fill:none;stroke:#e53935;stroke-width:1.5}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f5f5f5}
</style></head><body><h1>${esc(title)}</h1><p>${rows.length} combinations, objective <b>${esc(o)}</b>. Generated offline; no network resources.</p>
<h2>Pareto front: return vs max drawdown</h2>${pareto}<ol>${frontList}</ol><h2>Heatmap</h2>${heat}<h2>Ranking</h2><table id="ranking">${table}</table></body></html>
`;
}
