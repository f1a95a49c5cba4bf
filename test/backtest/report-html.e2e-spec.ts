/**
 * report.html in real headless Chromium (Debian /usr/bin/chromium): opened from a file:// URL with
 * the network unused, no page errors, every chart canvas drawn (pixels of its series colour), and
 * the summary table showing the report's values. Synthetic result: 10 days of 1-minute bars (so the
 * price chart is downsampled), a fill every 37 minutes, equity every minute.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { Dec } from '@mm/domain';
import { mulberry32 } from '@mm/sim-exchange';
import { COLORS, buildReport, renderReportHtml, renderReportJson, summaryRows, type BacktestFill, type BacktestResult, type EquitySample, type PriceBar, type RoundTrip } from '@mm/backtest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const describeIfChromium = fs.existsSync(CHROMIUM) ? describe : describe.skip;
jest.setTimeout(60_000);

function synthetic(): BacktestResult {
  const rnd = mulberry32(7);
  const start = Date.UTC(2025, 4, 4);
  const n = 10 * 1440;
  const candles: PriceBar[] = [];
  const equity: EquitySample[] = [];
  const fills: BacktestFill[] = [];
  const trips: RoundTrip[] = [];
  let px = 95000;
  let fees = new Dec(0);
  let realized = new Dec(0);
  let inv = new Dec(0);
  let entry = new Dec(0);
  let openAt = 0;
  for (let i = 0; i < n; i++) {
    const t = start + i * 60_000;
    const o = px;
    px = Math.max(1000, Math.round(px * Math.exp(0.0008 * (rnd() * 2 - 1) * 1.7) * 10) / 10);
    const hi = Math.max(o, px) + Math.round(rnd() * 200) / 10;
    const lo = Math.min(o, px) - Math.round(rnd() * 200) / 10;
    candles.push({ timeMs: t, open: new Dec(o), high: new Dec(hi.toFixed(1)), low: new Dec(lo.toFixed(1)), close: new Dec(px) });
    if (i % 37 === 5) {
      const buy = inv.isZero();
      const price = new Dec(px);
      const qty = new Dec('0.01');
      const fee = price.mul(qty).mul('0.0002');
      fees = fees.plus(fee);
      fills.push({ timeMs: t + 30_000, symbol: 'BTCUSDT', side: buy ? 'BUY' : 'SELL', price, qty, fee, liquidity: 'maker' });
      if (buy) {
        inv = qty;
        entry = price;
        openAt = t + 30_000;
      } else {
        const pnl = price.minus(entry).mul(qty);
        realized = realized.plus(pnl);
        trips.push({ symbol: 'BTCUSDT', direction: 'LONG', openTimeMs: openAt, closeTimeMs: t + 30_000, qty, entryPrice: entry, exitPrice: price, pnl, fees: fee.mul(2) });
        inv = new Dec(0);
      }
    }
    const unrealized = inv.isZero() ? new Dec(0) : new Dec(px).minus(entry).mul(inv);
    const z = new Dec(0);
    equity.push({
      timeMs: t + 59_999,
      equity: new Dec(10000).plus(realized).plus(unrealized).minus(fees),
      realized,
      unrealized,
      fees,
      funding: z,
      inventoryQty: inv,
      inventoryNotional: inv.mul(px),
    });
  }
  return {
    symbol: 'BTCUSDT',
    startMs: start,
    endMs: start + n * 60_000,
    startingBalance: new Dec(10000),
    fills,
    roundTrips: trips,
    equity,
    breakers: [{ fromMs: start + 3 * 86_400_000, toMs: start + 3 * 86_400_000 + 5_400_000, reason: 'max_drawdown' }],
    candles,
    config: { grid: { price_interval: '100' } },
  };
}

describeIfChromium('report.html in headless Chromium (e2e)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('opens offline with no page errors, draws every chart and shows the summary values', async () => {
    const result = synthetic();
    const report = buildReport(result);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-report-'));
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, renderReportHtml(result, report));
    fs.writeFileSync(path.join(dir, 'report.json'), renderReportJson(report));
    const html = fs.readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)[^"'\s]*\.(js|css)/);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => !r.url().startsWith('file://') && !r.url().startsWith('data:') && requests.push(r.url()));
    await page.goto(`file://${file}`);
    await page.waitForFunction('window.__reportReady === true', undefined, { timeout: 15_000 });
    await page.waitForTimeout(300);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);

    const hex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
    // Counts canvas pixels of the given colours inside a chart container (runs in the page).
    const COUNT_PIXELS = `(function (id, rgbs) {
      var n = 0;
      document.getElementById(id).querySelectorAll('canvas').forEach(function (c) {
        var ctx = c.getContext('2d');
        if (!ctx || !c.width || !c.height) return;
        var px = ctx.getImageData(0, 0, c.width, c.height).data;
        for (var i = 0; i < px.length; i += 4) {
          if (px[i + 3] < 200) continue;
          for (var k = 0; k < rgbs.length; k++) {
            var q = rgbs[k];
            if (Math.abs(px[i] - q[0]) + Math.abs(px[i + 1] - q[1]) + Math.abs(px[i + 2] - q[2]) < 30) n++;
          }
        }
      });
      return n;
    })`;
    const pixels = (id: string, colors: string[]): Promise<number> =>
      page.evaluate(`${COUNT_PIXELS}(${JSON.stringify(id)}, ${JSON.stringify(colors.map(hex))})`) as Promise<number>;
    expect(await pixels('price', [COLORS.up, COLORS.down])).toBeGreaterThan(300);
    expect(await pixels('equity', [COLORS.equity])).toBeGreaterThan(300);
    expect(await pixels('drawdown', [COLORS.drawdown])).toBeGreaterThan(300);
    expect(await pixels('inventory', [COLORS.inventory])).toBeGreaterThan(300);
    // fill markers (buy arrows) on the price chart; none of that blue on the other charts
    expect(await pixels('price', [COLORS.buy])).toBeGreaterThan(50);
    expect(await pixels('inventory', [COLORS.buy])).toBe(0);

    const table = (await page.evaluate(
      `Array.from(document.querySelectorAll('#summary tr')).map(function (tr) { return [tr.getAttribute('data-key'), tr.querySelector('td').textContent]; })`,
    )) as [string, string][];
    expect(table).toEqual(summaryRows(report).map(([k, , v]) => [k, v]));
    const net = table.find(([k]) => k === 'netPnl')![1];
    expect(net).toBe(new Dec(report.summary.netPnl).toFixed(2));
    expect(report.summary.fills).toBe(result.fills.length);
    expect(report.summary.fills).toBeGreaterThan(300);
    await page.close();
  });
});
