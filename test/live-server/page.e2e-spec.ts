import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { dec } from '@mm/domain';
import { type LiveHarness, MIN, T0, candle, fill, order, startHarness } from './helpers';

/**
 * The live page in real headless Chromium (Debian /usr/bin/chromium; install with
 * test/live-server/ensure-chromium.sh). Skipped only when no chromium binary exists.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`SKIPPING live page browser test: ${CHROMIUM} not found (run test/live-server/ensure-chromium.sh)`);
}
const describeIfChromium = haveChromium ? describe : describe.skip;

interface LiveHooks {
  candles: number;
  priceLines: number;
  markers: number;
  fills: number;
  messages: Record<string, number>;
  played: number;
  ws: string;
  connector: string;
}

describeIfChromium('live page in headless Chromium (e2e)', () => {
  let h: LiveHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  const failedRequests: string[] = [];
  const foreignRequests: string[] = [];
  const hooks = (): Promise<LiveHooks> => page.evaluate(() => (globalThis as unknown as { __live: LiveHooks }).__live);
  const until = (fn: string, arg?: unknown): Promise<unknown> => page.waitForFunction(fn, arg, { timeout: 10_000 });

  beforeAll(async () => {
    h = await startHarness();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 810 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('requestfailed', (r) => failedRequests.push(`${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.host !== `127.0.0.1:${h.port}` && u.protocol !== 'data:') foreignRequests.push(r.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('renders history, orders, fills and plays a sound only when unmuted', async () => {
    await page.goto(`${h.httpUrl}/`);
    await until('window.__live && window.__live.candles >= 100 && window.__live.priceLines === 2');
    let s = await hooks();
    expect(s.candles).toBe(100);
    expect(s.messages).toMatchObject({ history: 1, account: 1, orders: 1, position: 1 });
    expect(s.ws).toBe('open');
    await until('window.__live.connector === "connected"');
    expect(await page.textContent('#symbol')).toBe('BTCUSDT');
    expect(await page.textContent('#balance')).toBe('12,345.67 USDT');
    expect(await page.textContent('#position')).toContain('+0.030 @ 63,950');

    // a new bar
    h.fake.pushCandle(candle(120, '64302.00'));
    await until('window.__live.candles === 101');

    // new order → line; its fill → line gone, marker + fill counted, no sound (muted by default)
    const o = order('1003', 'BUY', '64200.00');
    h.fake.pushOrderUpdate({ order: o });
    await until('window.__live.priceLines === 3');
    const filled = order('1003', 'BUY', '64200.00', 'FILLED');
    h.fake.pushOrderUpdate({ order: filled, lastTrade: fill(filled, 't-1', T0 + 110 * MIN + 5000, '0') });
    await until('window.__live.priceLines === 2 && window.__live.fills === 1 && window.__live.markers === 1');
    expect((await hooks()).played).toBe(0);
    expect(await page.textContent('#totalBuys')).toBe('1');

    // cancel → line gone
    h.fake.pushOrderUpdate({ order: order('9007199254740993', 'BUY', '63900.00', 'CANCELED') });
    await until('window.__live.priceLines === 1');

    // unmute → the next fill plays the coin
    expect(await page.textContent('#muteLabel')).toBe('Muted');
    await page.click('#muteBtn');
    expect(await page.textContent('#muteLabel')).toBe('Sound on');
    const sell = order('1002', 'SELL', '64400.00', 'PARTIALLY_FILLED', { executedQty: dec('0.005') });
    h.fake.pushOrderUpdate({ order: sell, lastTrade: fill(sell, 't-2', T0 + 118 * MIN + 1000, '1.25') });
    await until('window.__live.fills === 2 && window.__live.played === 1');
    s = await hooks();
    expect(s.markers).toBe(2);
    expect(s.priceLines).toBe(1); // partially filled: still open
    expect(await page.textContent('#totalSells')).toBe('1');
    await until('document.getElementById("rpnl").textContent.includes("+1.25")');

    // mute again → no sound
    await page.click('#muteBtn');
    const more = order('1004', 'BUY', '64250.00', 'FILLED');
    h.fake.pushOrderUpdate({ order: more, lastTrade: fill(more, 't-3', T0 + 119 * MIN + 1000, '0') });
    await until('window.__live.fills === 3');
    expect((await hooks()).played).toBe(1);

    // a few more open orders for the picture
    for (const [id, side, px] of [['2001', 'BUY', '64180.00'], ['2002', 'BUY', '64130.00'], ['2003', 'SELL', '64350.00'], ['2004', 'SELL', '64420.00']] as const) {
      h.fake.pushOrderUpdate({ order: order(id, side, px) });
    }
    await until('window.__live.priceLines === 5');

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-page-'));
    const shot = path.join(dir, 'live-page.png');
    await page.waitForTimeout(2500); // let the fill toasts fade
    await page.screenshot({ path: shot });
    console.log(`live page screenshot: ${shot}`);
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);

    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(failedRequests).toEqual([]);
    expect(foreignRequests).toEqual([]);
    expect(h.fake.orderRpcCalls).toBe(0);
  });

  it('reconnects by itself after the socket drops and gets a fresh snapshot', async () => {
    const before = (await hooks()).messages.history;
    h.gateway.disconnectAll();
    await until('window.__live.ws !== "open"');
    await until(`window.__live.ws === "open" && window.__live.messages.history === ${before + 1}`);
    const s = await hooks();
    expect(s.priceLines).toBe(5);
    expect(s.candles).toBe(100); // the server keeps the last 100 bars
    expect(pageErrors).toEqual([]);
  });
});
