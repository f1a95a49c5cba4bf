/**
 * Acceptance 6 (first half) and credential rotation: a connector whose API key the venue rejects
 * exits non-zero naming the venue and the venue's error; keys read from files are re-read on
 * SIGHUP without a restart; the secret never reaches the log. Binance USD-M via ccxt, fake venue.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { TestExchangeClient } from '../support/exchange-client';
import { freePort, startApp, stopApp, waitFor } from '@mm/testing';
import { type FakeVenue, startFakeVenue } from '../support/fake-venue';
import { binanceDialect } from '../support/fake-venue/binance';

jest.setTimeout(60_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-ccxt-startup-'));

describe('ccxt connector startup and credentials (binance, fake venue)', () => {
  let fake: FakeVenue;
  beforeAll(async () => {
    fake = await startFakeVenue(binanceDialect(), { apiKey: 'right-key' });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('exits non-zero with a message naming the venue and its error when the key is rejected', async () => {
    const conn = startApp(
      'exchange-connector',
      {
        PORT: String(await freePort()),
        GRPC_HOST: '127.0.0.1',
        METRICS_PORT: String(await freePort()),
        EXCHANGE: 'binance',
        API_KEY: 'wrong-key',
        API_SECRET: 'startup-secret-never-logged',
        CCXT_URL_OVERRIDE: fake.url,
        CCXT_SYMBOLS: 'BTCUSDT',
      },
      logDir,
      'bad-key',
    );
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([conn.exited, new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') conn.child.kill('SIGKILL');
    expect(code).toBe(1);
    const out = conn.output();
    expect(out).toContain('binance (swap) failed to start: credential validation');
    expect(out).toContain('AuthenticationError');
    expect(out).toContain('-2015');
    expect(out).toContain('Invalid API-key');
    expect(out).not.toContain('startup-secret-never-logged');
  });

  it('exits non-zero naming the missing credential', async () => {
    const conn = startApp('exchange-connector', { PORT: String(await freePort()), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(await freePort()), EXCHANGE: 'okx', CCXT_URL_OVERRIDE: fake.url, API_KEY: 'k', API_SECRET: 's' }, logDir, 'no-pass');
    expect(await conn.exited).toBe(1);
    expect(conn.output()).toContain('okx: PASSPHRASE (or PASSPHRASE_FILE) is required');
  });

  it('re-reads key files on SIGHUP without a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-keys-'));
    const keyFile = path.join(dir, 'key');
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(keyFile, 'right-key\n');
    fs.writeFileSync(secretFile, 'rotating-secret-never-logged\n');
    const port = await freePort();
    const metricsPort = await freePort();
    const conn = startApp(
      'exchange-connector',
      { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), EXCHANGE: 'binance', API_KEY_FILE: keyFile, API_SECRET_FILE: secretFile, CCXT_URL_OVERRIDE: fake.url, CCXT_SYMBOLS: 'BTCUSDT' },
      logDir,
      'rotate',
    );
    const client = new TestExchangeClient(`127.0.0.1:${port}`);
    try {
      await waitFor('health', async () => (await fetch(`http://127.0.0.1:${metricsPort}/health`)).status === 200, 30_000, 200);
      expect((await client.call('GetBalance', { asset: 'USDT' })).balance.value).toBe('10000');
      // Rotate to a key the venue does not know: signed calls now fail with UNAUTHENTICATED.
      fs.writeFileSync(keyFile, 'revoked-key\n');
      conn.child.kill('SIGHUP');
      await waitFor('old key dropped', async () => {
        try {
          await client.call('GetBalance', { asset: 'USDT' });
          return false;
        } catch (e) {
          return (e as grpc.ServiceError).code === grpc.status.UNAUTHENTICATED;
        }
      }, 10_000, 200);
      // And back: the process never restarted.
      fs.writeFileSync(keyFile, 'right-key\n');
      conn.child.kill('SIGHUP');
      await waitFor('new key used', async () => (await client.call('GetBalance', { asset: 'USDT' })).balance.value === '10000', 10_000, 200);
      expect(conn.child.exitCode).toBeNull();
    } finally {
      client.close();
      await stopApp(conn);
    }
    const out = conn.output();
    expect(out).toContain('credentials reloaded (SIGHUP)');
    expect(out).not.toContain('rotating-secret-never-logged');
    expect(out).not.toContain('right-key');
  });
});
