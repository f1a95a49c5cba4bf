/**
 * Fake venues for the five ccxt venues and a helper that starts the connector against one.
 * See server.ts for what a fake venue is and COVERAGE.md (apps/exchange-connector/src/venue/ccxt)
 * for which RPCs are backed by recorded data.
 */
import { type AppProcess, freePort, startApp, waitFor } from '@mm/testing';
import { binanceDialect } from './binance';
import { binanceSpotDialect } from './binance-spot';
import { bitgetDialect } from './bitget';
import { bitgetSpotDialect } from './bitget-spot';
import { bybitDialect } from './bybit';
import { gateDialect } from './gate';
import { gateSpotDialect } from './gate-spot';
import { okxDialect } from './okx';
import { type FakeDialect, type FakeVenue, startFakeVenue } from './server';

export { type FakeVenue, startFakeVenue } from './server';
export type CcxtVenueName = 'binance' | 'bitget' | 'gate' | 'okx' | 'bybit';

/** Dialect factories of the five ccxt venues' fakes. */
export const DIALECTS: Partial<Record<CcxtVenueName, () => FakeDialect>> = {
  binance: () => binanceDialect(),
  okx: () => okxDialect(),
  gate: () => gateDialect(),
  bybit: () => bybitDialect(),
  bitget: () => bitgetDialect(),
};

/** Venues whose spot dialect is a separate fake (Bybit and OKX serve spot from the same dialect). */
export const SPOT_DIALECTS: Partial<Record<CcxtVenueName, () => FakeDialect>> = {
  binance: () => binanceSpotDialect(),
  gate: () => gateSpotDialect(),
  bitget: () => bitgetSpotDialect(),
};

export interface CcxtConnector {
  fake: FakeVenue;
  conn: AppProcess;
  address: string;
  metricsPort: number;
}

/**
 * Starts a fake `venue` and a connector process (dist build) with EXCHANGE=<venue> pointed at it
 * through CCXT_URL_OVERRIDE; resolves once /health answers 200 (credentials validated).
 */
export async function startCcxtConnector(
  venue: CcxtVenueName,
  logDir: string,
  env: Record<string, string> = {},
  apiKey = 'fake-api-key',
  /** Reuse a running fake (e.g. to restart the connector against the same venue state). */
  existing?: FakeVenue,
): Promise<CcxtConnector> {
  const dialect = (env.MARKET_TYPE === 'spot' ? SPOT_DIALECTS[venue] : undefined) ?? DIALECTS[venue];
  if (!dialect) throw new Error(`no fake venue for ${venue}`);
  const fake = existing ?? (await startFakeVenue(dialect(), { apiKey, marketType: env.MARKET_TYPE === 'spot' ? 'spot' : 'swap' }));
  const port = await freePort();
  const metricsPort = await freePort();
  const conn = startApp(
    'exchange-connector',
    {
      PORT: String(port),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      EXCHANGE: venue,
      MARKET_TYPE: 'swap',
      API_KEY: apiKey,
      API_SECRET: 'fake-api-secret-do-not-log',
      PASSPHRASE: 'fake-passphrase',
      CCXT_URL_OVERRIDE: fake.url,
      CCXT_SYMBOLS: 'BTCUSDT',
      CCXT_ACCOUNT_POLL_MS: '1000',
      CCXT_FUNDING_POLL_MS: '1000',
      ...env,
    },
    logDir,
    `connector-${venue}`,
  );
  try {
    await waitFor(
      `${venue} connector health`,
      async () => {
        if (conn.child.exitCode !== null) throw new Error(`connector exited ${conn.child.exitCode}: ${conn.output().slice(-2000)}`);
        return (await fetch(`http://127.0.0.1:${metricsPort}/health`)).status === 200;
      },
      30_000,
      200,
    );
  } catch (e) {
    conn.child.kill('SIGKILL');
    if (!existing) await fake.close();
    throw e;
  }
  return { fake, conn, address: `127.0.0.1:${port}`, metricsPort };
}
