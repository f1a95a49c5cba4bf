import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BacktestReport } from './report';
import { summaryRows } from './report';
import type { BacktestResult, PriceBar } from './types';

/** Most price bars drawn; longer series are merged into wider bars. */
export const MAX_BARS = 4000;
/** Most buckets of a line series; each bucket keeps its min and max point (extremes stay visible). */
export const MAX_LINE_BUCKETS = 3000;
/** Most fill markers drawn; more are thinned evenly (the count is shown). */
export const MAX_MARKERS = 2000;

/** Chart colours (also used by tests to find the drawn series). */
export const COLORS = { up: '#26a69a', down: '#ef5350', buy: '#1e88e5', sell: '#e53935', equity: '#2962ff', drawdown: '#ef5350', inventory: '#ff9800' } as const;

let lwcSource: string | undefined;
/** The lightweight-charts 4.x standalone bundle (inlined, so the page needs no network). */
export function lightweightCharts(): string {
  lwcSource ??= readFileSync(join(dirname(require.resolve('lightweight-charts/package.json')), 'dist', 'lightweight-charts.standalone.production.js'), 'utf8');
  return lwcSource;
}

interface Pt {
  time: number;
  value: number;
}

/** Merges consecutive bars so that at most `max` remain (OHLC of each group; time = first bar's). */
export function downsampleBars(bars: readonly PriceBar[], max = MAX_BARS): { time: number; open: number; high: number; low: number; close: number }[] {
  const k = Math.max(1, Math.ceil(bars.length / max));
  const out: { time: number; open: number; high: number; low: number; close: number }[] = [];
  for (let i = 0; i < bars.length; i += k) {
    const g = bars.slice(i, i + k);
    let hi = -Infinity;
    let lo = Infinity;
    for (const b of g) {
      hi = Math.max(hi, b.high.toNumber());
      lo = Math.min(lo, b.low.toNumber());
    }
    out.push({ time: Math.floor(g[0].timeMs / 1000), open: g[0].open.toNumber(), high: hi, low: lo, close: g[g.length - 1].close.toNumber() });
  }
  return out;
}

/**
 * Min/max bucketing: splits the points into at most `buckets` groups and keeps each group's lowest
 * and highest point in time order, so spikes and the worst drawdown survive. Times become Unix
 * seconds, strictly ascending (later points of the same second win).
 */
export function downsampleLine(points: readonly { timeMs: number; value: number }[], buckets = MAX_LINE_BUCKETS): Pt[] {
  const k = Math.max(1, Math.ceil(points.length / buckets));
  const picked: { timeMs: number; value: number }[] = [];
  for (let i = 0; i < points.length; i += k) {
    let lo = i;
    let hi = i;
    const end = Math.min(points.length, i + k);
    for (let j = i; j < end; j++) {
      if (points[j].value < points[lo].value) lo = j;
      if (points[j].value > points[hi].value) hi = j;
    }
    if (k > 1 && end - 1 !== lo && end - 1 !== hi) {
      // keep the bucket's last point too, so the line ends where the data ends
      for (const j of [...new Set([lo, hi])].sort((a, b) => a - b)) picked.push(points[j]);
      picked.push(points[end - 1]);
    } else for (const j of [...new Set([lo, hi, end - 1])].sort((a, b) => a - b)) picked.push(points[j]);
  }
  const out: Pt[] = [];
  for (const p of picked) {
    const t = Math.floor(p.timeMs / 1000);
    if (out.length && out[out.length - 1].time >= t) out[out.length - 1] = { time: out[out.length - 1].time, value: p.value };
    else out.push({ time: t, value: p.value });
  }
  return out;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a <script> element. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * A self-contained `report.html`: opens offline (lightweight-charts 4.1 inlined, no external
 * request), with the summary table and four charts — price with fills marked (buys below, sells
 * above), equity, drawdown from the running peak (quote units, ≤ 0), inventory notional. Long
 * series are downsampled (see {@link MAX_BARS}, {@link MAX_LINE_BUCKETS}, {@link MAX_MARKERS});
 * report.json keeps the exact numbers.
 */
export function renderReportHtml(result: BacktestResult, report: BacktestReport): string {
  const bars = downsampleBars(result.candles);
  const barTimes = bars.map((b) => b.time);
  const barAt = (sec: number): number => {
    // the bar containing `sec` (largest bar time ≤ sec)
    let lo = 0;
    let hi = barTimes.length - 1;
    if (hi < 0 || sec < barTimes[0]) return barTimes[0] ?? sec;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (barTimes[mid] <= sec) lo = mid;
      else hi = mid - 1;
    }
    return barTimes[lo];
  };
  const step = Math.max(1, Math.ceil(result.fills.length / MAX_MARKERS));
  const markers = [];
  for (let i = 0; i < result.fills.length; i += step) {
    const f = result.fills[i];
    const buy = f.side === 'BUY';
    markers.push({
      time: barAt(Math.floor(f.timeMs / 1000)),
      position: buy ? 'belowBar' : 'aboveBar',
      color: buy ? COLORS.buy : COLORS.sell,
      shape: buy ? 'arrowUp' : 'arrowDown',
      text: '',
    });
  }
  markers.sort((a, b) => a.time - b.time);
  let peak = -Infinity;
  const eq: { timeMs: number; value: number }[] = [];
  const dd: { timeMs: number; value: number }[] = [];
  const inv: { timeMs: number; value: number }[] = [];
  for (const e of result.equity) {
    const v = e.equity.toNumber();
    peak = Math.max(peak, v);
    eq.push({ timeMs: e.timeMs, value: v });
    dd.push({ timeMs: e.timeMs, value: v - peak });
    inv.push({ timeMs: e.timeMs, value: e.inventoryNotional.toNumber() });
  }
  const data = {
    bars,
    markers,
    equity: downsampleLine(eq),
    drawdown: downsampleLine(dd),
    inventory: downsampleLine(inv),
    colors: COLORS,
  };
  const rows = summaryRows(report)
    .map(([key, label, value]) => `<tr data-key="${key}"><th>${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join('\n');
  const title = `Backtest ${escapeHtml(report.symbol)} ${report.period.from.slice(0, 10)} → ${report.period.to.slice(0, 10)}`;
  const thinned = step > 1 ? ` (every ${step}th of ${result.fills.length} fills shown)` : '';
  return `${reportHtmlHead(title, '.chart { width: 100%; height: 260px; } #price { height: 360px; }')}
<body>
<h1>${title}</h1>
<table id="summary">
${rows}
</table>
<h2>Price and fills${thinned}</h2>
<div id="price" class="chart"></div>
<h2>Equity (USDT)</h2>
<div id="equity" class="chart"></div>
<h2>Drawdown from peak (USDT)</h2>
<div id="drawdown" class="chart"></div>
<h2>Inventory notional (USDT, + long / − short)</h2>
<div id="inventory" class="chart"></div>
<p class="note">Charts are downsampled for display; report.json has the exact values. Times UTC.</p>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${lightweightCharts()}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById('report-data').textContent);
  var LWC = window.LightweightCharts;
  function chart(id) {
    var el = document.getElementById(id);
    return LWC.createChart(el, { width: el.clientWidth || 800, height: el.clientHeight, layout: { background: { color: '#ffffff' }, textColor: '#333' }, timeScale: { timeVisible: true, secondsVisible: false }, rightPriceScale: { borderVisible: false } });
  }
  var charts = [];
  var p = chart('price');
  var candles = p.addCandlestickSeries({ upColor: d.colors.up, downColor: d.colors.down, wickUpColor: d.colors.up, wickDownColor: d.colors.down, borderVisible: false });
  candles.setData(d.bars);
  candles.setMarkers(d.markers);
  charts.push(p);
  var e = chart('equity');
  e.addLineSeries({ color: d.colors.equity, lineWidth: 2 }).setData(d.equity);
  charts.push(e);
  var dd = chart('drawdown');
  dd.addAreaSeries({ lineColor: d.colors.drawdown, topColor: 'rgba(239,83,80,0.05)', bottomColor: 'rgba(239,83,80,0.4)', lineWidth: 2 }).setData(d.drawdown);
  charts.push(dd);
  var inv = chart('inventory');
  inv.addLineSeries({ color: d.colors.inventory, lineWidth: 2 }).setData(d.inventory);
  charts.push(inv);
  charts.forEach(function (c) { c.timeScale().fitContent(); });
  window.addEventListener('resize', function () {
    charts.forEach(function (c, i) { var el = document.getElementsByClassName('chart')[i]; c.applyOptions({ width: el.clientWidth }); });
  });
  requestAnimationFrame(function () { requestAnimationFrame(function () { window.__reportReady = true; }); });
})();
</script>
</body>
</html>
`;
}

/**
 * The `<!doctype>` … `</head>` of a self-contained backtest report page: charset, viewport, title
 * (already escaped by the caller) and the shared styles plus `chartCss` (the page's chart sizes).
 */
export function reportHtmlHead(title: string, chartCss: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 20px; } h2 { font-size: 15px; margin: 18px 0 4px; }
table { border-collapse: collapse; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; }
${chartCss}
.note { color: #777; font-size: 12px; }
</style>
</head>`;
}
