/**
 * Start-up key permission gate (README "Going live"): the connector reads the API key's permissions
 * from the venue (binance `sapi/v1/account/apiRestrictions`, bybit `v5/user/query-api`, okx
 * `api/v5/account/config`) and refuses to run with a key that can withdraw unless
 * ALLOW_WITHDRAW_KEY=true, or with a key that cannot trade. Fake venues answer in each venue's shape.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, startApp, stopApp } from '@mm/testing';
import { type CcxtVenueName, type FakeVenue, DIALECTS, startCcxtConnector, startFakeVenue } from '../support/fake-venue';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-key-perms-'));

const SOURCES: Record<string, string> = {
  binance: 'GET /sapi/v1/account/apiRestrictions',
  bybit: 'GET /v5/user/query-api',
  okx: 'GET /api/v5/account/config',
};

/** Runs the connector against `fake` and returns its output once it exits (it must exit non-zero within 20 s). */
async function startupFailure(venue: CcxtVenueName, fake: FakeVenue, env: Record<string, string> = {}): Promise<string> {
  const conn = startApp(
    'exchange-connector',
    {
      PORT: String(await freePort()),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(await freePort()),
      EXCHANGE: venue,
      API_KEY: 'fake-api-key',
      API_SECRET: 'fake-api-secret',
      PASSPHRASE: 'fake-passphrase',
      CCXT_URL_OVERRIDE: fake.url,
      CCXT_SYMBOLS: 'BTCUSDT',
      ...env,
    },
    logDir,
    `refused-${venue}`,
  );
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => resolve(null), 20_000);
    conn.child.once('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  if (code === null) await stopApp(conn);
  expect(code).toBe(1);
  return conn.output();
}

for (const venue of ['binance', 'bybit', 'okx'] as const) {
  describe(`${venue}: API key permissions at start`, () => {
    let fake: FakeVenue;
    beforeAll(async () => {
      fake = await startFakeVenue(DIALECTS[venue]!(), { apiKey: 'fake-api-key' });
    });
    afterAll(async () => {
      await fake?.close();
    });
    beforeEach(() => {
      fake.engine.keyPermissions = { trade: true, withdraw: false };
    });

    it('starts with a trade-only key and says the permissions were checked', async () => {
      const c = await startCcxtConnector(venue, logDir, {}, 'fake-api-key', fake);
      try {
        expect(c.conn.output()).toContain(`API key permissions (${SOURCES[venue]}): trading on, withdrawals off`);
      } finally {
        await stopApp(c.conn);
      }
    });

    it('refuses a key that can withdraw, with one clear line', async () => {
      fake.engine.keyPermissions.withdraw = true;
      const out = await startupFailure(venue, fake);
      // The last line is ours, alone (Nest's own error log with the stack comes before it).
      const line = out.trim().split('\n').pop();
      expect(line).toBe(
        `exchange-connector: ${venue} (swap) failed to start: API key can withdraw funds (${SOURCES[venue]}): refusing to run — create a key without withdrawal permission, or set ALLOW_WITHDRAW_KEY=true to accept the risk`,
      );
    });

    it('runs with such a key when ALLOW_WITHDRAW_KEY=true, warning', async () => {
      fake.engine.keyPermissions.withdraw = true;
      const c = await startCcxtConnector(venue, logDir, { ALLOW_WITHDRAW_KEY: 'true' }, 'fake-api-key', fake);
      try {
        expect(c.conn.output()).toContain(`API key can withdraw funds (${SOURCES[venue]}); running because ALLOW_WITHDRAW_KEY=true`);
      } finally {
        await stopApp(c.conn);
      }
    });

    it('refuses a key without trading permission', async () => {
      fake.engine.keyPermissions.trade = false;
      const out = await startupFailure(venue, fake, { ALLOW_WITHDRAW_KEY: 'true' });
      expect(out).toContain(`${venue} (swap) failed to start: API key has no trading permission (${SOURCES[venue]})`);
    });
  });
}

describe('gate: no permission endpoint', () => {
  it('starts and warns that withdrawals cannot be verified', async () => {
    const c = await startCcxtConnector('gate', logDir);
    try {
      expect(c.conn.output()).toContain('gate does not expose API key permissions: cannot verify that withdrawals are off');
    } finally {
      await stopApp(c.conn);
      await c.fake.close();
    }
  });
});
