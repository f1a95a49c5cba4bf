/**
 * Acceptance 6 (second half): grpc.health.v1 reports NOT_SERVING while a venue stream is stale and
 * SERVING again after recovery. The connector runs on ccxt Binance USD-M against the local fake
 * venue; the fake stops pushing WebSocket messages (connections stay open), then resumes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { healthCheck } from '../conformance/client';
import { TestExchangeClient } from '../support/exchange-client';
import { httpJson, stopApp, waitFor } from '@mm/testing';
import { type CcxtConnector, startCcxtConnector } from '../support/fake-venue';

jest.setTimeout(60_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-staleness-'));
const SERVICE = 'opensqt.market_maker.v1.ExchangeService';

describe('stream staleness → health (binance via ccxt, fake venue)', () => {
  let c: CcxtConnector;
  let client: TestExchangeClient;
  beforeAll(async () => {
    c = await startCcxtConnector('binance', logDir, { STREAM_STALE_PRICE_MS: '1500', STREAM_STALE_CHECK_MS: '200' });
    client = new TestExchangeClient(c.address);
  });
  afterAll(async () => {
    client?.close();
    await stopApp(c?.conn);
    await c?.fake.close();
  });

  it('goes NOT_SERVING within the limit when the venue stops sending, and SERVING after it resumes', async () => {
    const ticks: string[] = [];
    const s = client.stream('SubscribePrice', { symbols: ['BTCUSDT'] }, (m: { price: { value: string } }) => ticks.push(m.price.value));
    try {
      await waitFor('first price ticks', () => ticks.length >= 3, 10_000);
      expect(await healthCheck(c.address, SERVICE)).toBe('SERVING');
      expect(await healthCheck(c.address, 'opensqt.exchange.stream/price:BTCUSDT')).toBe('SERVING');

      c.fake.pauseWs();
      const pausedAt = Date.now();
      await waitFor('NOT_SERVING', async () => (await healthCheck(c.address, SERVICE)) === 'NOT_SERVING', 10_000, 100);
      const took = Date.now() - pausedAt;
      expect(took).toBeLessThan(1500 + 200 + 1500); // limit + check period + slack
      expect(await healthCheck(c.address, '')).toBe('NOT_SERVING');
      expect(await healthCheck(c.address, 'opensqt.exchange.stream/price:BTCUSDT')).toBe('NOT_SERVING');
      const st = await httpJson<{ status: string; staleStreams: { key: string; stream: string; ageMs: number; limitMs: number }[] }>(`http://127.0.0.1:${c.metricsPort}/status`);
      expect(st.body.status).toBe('NOT_SERVING');
      expect(st.body.staleStreams.map((x) => x.key)).toEqual(['price:BTCUSDT']);
      expect((await fetch(`http://127.0.0.1:${c.metricsPort}/health`)).status).toBe(503);
      const metrics = await (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/exchange_stream_connected\{exchange="binance",stream="price"\} 0/);
      const age = Number(/exchange_stream_age_seconds\{stream="price"\} ([\d.]+)/.exec(metrics)?.[1]);
      expect(age).toBeGreaterThan(1.5);

      const before = ticks.length;
      c.fake.resumeWs();
      await waitFor('SERVING again', async () => (await healthCheck(c.address, SERVICE)) === 'SERVING', 10_000, 100);
      expect(ticks.length).toBeGreaterThanOrEqual(before); // the same stream stayed open
      await waitFor('ticks resume', () => ticks.length > before, 5_000);
      expect((await fetch(`http://127.0.0.1:${c.metricsPort}/health`)).status).toBe(200);
      expect((await httpJson<{ staleStreams: unknown[] }>(`http://127.0.0.1:${c.metricsPort}/status`)).body.staleStreams).toEqual([]);
    } finally {
      s.cancel();
    }
  });
});
