import type { Dec } from '@mm/domain';
import type { ArbBacktestRun, ArbSymbolResult } from './arb-runner';
import { downsampleLine, escapeHtml, lightweightCharts, reportHtmlHead, scriptJson } from './html';
import { formatDuration } from './report';

const s = (d: Dec): string => d.toString();
/** APRs are ratios, not money: 12 decimal places (report.json keeps money exact). */
const sn = (d: Dec | null): string | null => (d === null ? null : d.toDecimalPlaces(12).toString());
const iso = (ms: number): string => new Date(ms).toISOString();

/** The per-symbol (and total) block of `report.json`. Money in quote units (USDT) as exact decimal strings, APRs as fractions per year. */
export interface ArbReportFigures {
  fundingIncome: string;
  borrowInterest: string;
  basisPnl: string;
  fees: string;
  netPnl: string;
  realizedApr: string | null;
  predictedApr: string | null;
  realizedFundingApr: string | null;
  predictedGrossApr: string | null;
  entries: number;
  exits: number;
  compensations: number;
  fundingPayments: number;
  holdingMs: number;
}

/** `report.json` of a funding-arb backtest (see {@link buildArbReport}). */
export interface ArbBacktestReport {
  strategy: 'funding-arb';
  period: { from: string; to: string; days: string };
  startingBalance: { spot: string; perp: string };
  total: ArbReportFigures;
  symbols: (ArbReportFigures & {
    symbol: string;
    orderQty: string;
    borrowInterestBase: string;
    delta: { tolerance: string; samples: number; maxAbs: string; maxAbsOutsideWorkflow: string; violationsOutsideWorkflow: number };
    /** Cumulative components over time (hourly, quote units): funding, interest, basis, fees, net; spot net base and perp size (base units). */
    series: { time: string; timeMs: number; funding: string; interest: string; basis: string; fees: string; net: string; spotNetBase: string; perpSize: string }[];
  })[];
  workflows: ArbBacktestRun['workflows'];
  config: Record<string, unknown>;
  source: Record<string, string>;
}

function figures(x: Pick<ArbSymbolResult, 'fundingIncome' | 'borrowInterest' | 'basisPnl' | 'fees' | 'netPnl' | 'realizedApr' | 'predictedApr' | 'realizedFundingApr' | 'predictedGrossApr' | 'entries' | 'exits' | 'compensations' | 'fundingPayments' | 'holdingMs'>): ArbReportFigures {
  return {
    fundingIncome: s(x.fundingIncome),
    borrowInterest: s(x.borrowInterest),
    basisPnl: s(x.basisPnl),
    fees: s(x.fees),
    netPnl: s(x.netPnl),
    realizedApr: sn(x.realizedApr),
    predictedApr: sn(x.predictedApr),
    realizedFundingApr: sn(x.realizedFundingApr),
    predictedGrossApr: sn(x.predictedGrossApr),
    entries: x.entries,
    exits: x.exits,
    compensations: x.compensations,
    fundingPayments: x.fundingPayments,
    holdingMs: x.holdingMs,
  };
}

/**
 * The report of a funding-arb run: per symbol and in total, funding income, borrow interest, basis
 * PnL, fees, net PnL (= funding − interest − fees + basis), realized APR (net PnL ÷ ∫ perp notional dt,
 * annualised over 365 d) vs predicted APR (the strategy's own net APR of the held direction, weighted
 * by the same notional × time), counts of entries / exits / compensations, the net-delta check and
 * the hourly time series. Totals sum the symbols; total APRs divide by the summed notional × time.
 */
export function buildArbReport(run: ArbBacktestRun): ArbBacktestReport {
  const sum = (f: (x: ArbSymbolResult) => Dec): Dec => run.symbols.map(f).reduce((a, b) => a.add(b));
  const notional = sum((x) => x.notionalMs);
  const year = 365 * 24 * 3_600_000;
  const net = sum((x) => x.netPnl);
  const funding = sum((x) => x.fundingIncome);
  const wsum = (f: (x: ArbSymbolResult) => Dec | null) => run.symbols.map((x) => (f(x) === null ? null : f(x)!.mul(x.notionalMs))).reduce<Dec | null>((a, b) => (b === null ? a : a === null ? b : a.add(b)), null);
  const pred = wsum((x) => x.predictedApr);
  const predGross = wsum((x) => x.predictedGrossApr);
  const total: ArbReportFigures = figures({
    fundingIncome: funding,
    borrowInterest: sum((x) => x.borrowInterest),
    basisPnl: sum((x) => x.basisPnl),
    fees: sum((x) => x.fees),
    netPnl: net,
    realizedApr: notional.gt(0) ? net.mul(year).div(notional) : null,
    realizedFundingApr: notional.gt(0) ? funding.mul(year).div(notional) : null,
    predictedApr: notional.gt(0) && pred ? pred.div(notional) : null,
    predictedGrossApr: notional.gt(0) && predGross ? predGross.div(notional) : null,
    entries: run.symbols.reduce((a, x) => a + x.entries, 0),
    exits: run.symbols.reduce((a, x) => a + x.exits, 0),
    compensations: run.symbols.reduce((a, x) => a + x.compensations, 0),
    fundingPayments: run.symbols.reduce((a, x) => a + x.fundingPayments, 0),
    holdingMs: run.symbols.reduce((a, x) => Math.max(a, x.holdingMs), 0),
  });
  return {
    strategy: 'funding-arb',
    period: { from: iso(run.startMs), to: iso(run.endMs), days: ((run.endMs - run.startMs) / 86_400_000).toFixed(4) },
    startingBalance: { spot: s(run.spotBalance), perp: s(run.perpBalance) },
    total,
    symbols: run.symbols.map((x) => ({
      symbol: x.symbol,
      orderQty: s(x.orderQty),
      ...figures(x),
      borrowInterestBase: s(x.borrowInterestBase),
      delta: { tolerance: s(x.deltaTolerance), samples: x.delta.samples, maxAbs: s(x.delta.maxAbs), maxAbsOutsideWorkflow: s(x.delta.maxAbsOutsideWorkflow), violationsOutsideWorkflow: x.delta.violationsOutsideWorkflow },
      series: x.series.map((p) => ({ time: iso(p.timeMs), timeMs: p.timeMs, funding: s(p.funding), interest: s(p.interest), basis: s(p.basis), fees: s(p.fees), net: s(p.net), spotNetBase: s(p.spotNetBase), perpSize: s(p.perpSize) })),
    })),
    workflows: run.workflows,
    config: run.config,
    source: run.source ?? {},
  };
}

/** `report.json` text (2-space JSON, trailing newline). */
export function renderArbReportJson(r: ArbBacktestReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

const money = (v: string) => Number(v).toFixed(2);
const pct = (v: string | null) => (v === null ? '—' : `${(Number(v) * 100).toFixed(2)} %`);

/** Summary rows [key, label, value per column]: one column per symbol, then the total. */
export function arbSummaryRows(r: ArbBacktestReport): { head: string[]; rows: [key: string, label: string, values: string[]][] } {
  const cols: ArbReportFigures[] = [...r.symbols, r.total];
  const row = (key: string, label: string, f: (x: ArbReportFigures) => string): [string, string, string[]] => [key, label, cols.map(f)];
  return {
    head: [...r.symbols.map((x) => x.symbol), 'Total'],
    rows: [
      row('fundingIncome', 'Funding income', (x) => money(x.fundingIncome)),
      row('borrowInterest', 'Borrow interest', (x) => money(x.borrowInterest)),
      row('basisPnl', 'Basis PnL', (x) => money(x.basisPnl)),
      row('fees', 'Fees', (x) => money(x.fees)),
      row('netPnl', 'Net PnL', (x) => money(x.netPnl)),
      row('realizedApr', 'Realized APR (net)', (x) => pct(x.realizedApr)),
      row('predictedApr', 'Predicted APR (net)', (x) => pct(x.predictedApr)),
      row('realizedFundingApr', 'Realized funding APR', (x) => pct(x.realizedFundingApr)),
      row('predictedGrossApr', 'Predicted gross APR', (x) => pct(x.predictedGrossApr)),
      row('entries', 'Entries', (x) => String(x.entries)),
      row('exits', 'Exits', (x) => String(x.exits)),
      row('compensations', 'Compensations', (x) => String(x.compensations)),
      row('fundingPayments', 'Funding payments', (x) => String(x.fundingPayments)),
      row('holding', 'Time in position', (x) => formatDuration(x.holdingMs)),
    ],
  };
}

/** Plain-text summary table for the terminal. */
export function renderArbSummaryTable(r: ArbBacktestReport): string {
  const { head, rows } = arbSummaryRows(r);
  const w = Math.max(...rows.map((x) => x[1].length), 'Funding arbitrage'.length);
  const vw = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[2][i].length)));
  const line = `+${'-'.repeat(w + 2)}+${vw.map((n) => '-'.repeat(n + 2)).join('+')}+`;
  const title = `Backtest funding-arb ${r.period.from.slice(0, 16).replace('T', ' ')} → ${r.period.to.slice(0, 16).replace('T', ' ')} (${Number(r.period.days).toFixed(1)} d)`;
  const out = [line, `| ${title.padEnd(line.length - 4)} |`, line, `| ${''.padEnd(w)} | ${head.map((h, i) => h.padStart(vw[i])).join(' | ')} |`, line];
  for (const [, label, values] of rows) out.push(`| ${label.padEnd(w)} | ${values.map((v, i) => v.padStart(vw[i])).join(' | ')} |`);
  out.push(line);
  return `${out.join('\n')}\n`;
}

/** Line colours of the component chart (tests find the series by them). */
export const ARB_COLORS = { funding: '#26a69a', interest: '#ff9800', basis: '#7e57c2', fees: '#ef5350', net: '#2962ff' } as const;

/**
 * A self-contained `report.html` (lightweight-charts inlined, no network): the summary table and,
 * per symbol, one chart of the cumulative funding income, borrow interest, basis PnL, fees and net
 * PnL over time (USDT).
 */
export function renderArbReportHtml(r: ArbBacktestReport): string {
  const { head, rows } = arbSummaryRows(r);
  const table = [
    `<tr><th></th>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`,
    ...rows.map(([key, label, values]) => `<tr data-key="${key}"><th>${escapeHtml(label)}</th>${values.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`),
  ].join('\n');
  const charts = r.symbols.map((x) => {
    const line = (f: (p: (typeof x.series)[number]) => string) => downsampleLine(x.series.map((p) => ({ timeMs: p.timeMs, value: Number(f(p)) })));
    return { symbol: x.symbol, funding: line((p) => p.funding), interest: line((p) => p.interest), basis: line((p) => p.basis), fees: line((p) => p.fees), net: line((p) => p.net) };
  });
  const title = `Backtest funding-arb ${escapeHtml(r.symbols.map((x) => x.symbol).join(', '))} ${r.period.from.slice(0, 10)} → ${r.period.to.slice(0, 10)}`;
  const legend = Object.entries(ARB_COLORS)
    .map(([k, c]) => `<span style="color:${c}">■ ${k}</span>`)
    .join(' ');
  return `${reportHtmlHead(title, '.chart { width: 100%; height: 300px; }')}
<body>
<h1>${title}</h1>
<table id="summary">
${table}
</table>
${charts.map((c) => `<h2>${escapeHtml(c.symbol)}: funding income, borrow interest, basis PnL, fees and net PnL over time (USDT, cumulative)</h2>\n<p class="note">${legend}</p>\n<div id="chart-${escapeHtml(c.symbol)}" class="chart"></div>`).join('\n')}
<p class="note">Realized APR = net PnL ÷ ∫ perp notional dt (365-day year); predicted APR = the strategy's net APR of the held direction, weighted by the same notional × time. Charts are downsampled; report.json has the exact values. Times UTC.</p>
<script id="report-data" type="application/json">${scriptJson({ charts, colors: ARB_COLORS })}</script>
<script>${lightweightCharts()}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById('report-data').textContent);
  var LWC = window.LightweightCharts;
  var charts = [];
  d.charts.forEach(function (c) {
    var el = document.getElementById('chart-' + c.symbol);
    var ch = LWC.createChart(el, { width: el.clientWidth || 800, height: el.clientHeight, layout: { background: { color: '#ffffff' }, textColor: '#333' }, timeScale: { timeVisible: true, secondsVisible: false }, rightPriceScale: { borderVisible: false } });
    ['funding', 'interest', 'basis', 'fees', 'net'].forEach(function (k) { ch.addLineSeries({ color: d.colors[k], lineWidth: k === 'net' ? 3 : 2, title: k }).setData(c[k]); });
    ch.timeScale().fitContent();
    charts.push([ch, el]);
  });
  window.addEventListener('resize', function () { charts.forEach(function (p) { p[0].applyOptions({ width: p[1].clientWidth }); }); });
  requestAnimationFrame(function () { requestAnimationFrame(function () { window.__reportReady = true; }); });
})();
</script>
</body>
</html>
`;
}
