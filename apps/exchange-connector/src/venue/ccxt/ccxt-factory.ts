import { Logger } from '@nestjs/common';
import { type CcxtExchange, CcxtVenue, type CcxtVenueId } from './ccxt-venue';
import { type CredentialSources, readCredentials, watchCredentials } from './credentials';
import { OrderIdMap } from './order-id-map';
import { PERMISSION_SOURCES, checkKeyPermissions, readKeyPermissions } from './key-permissions';
import { parseCcxtError } from './ccxt-errors';
import { spotMarginMapping } from './ccxt-margin';

/** A venue that could not start or refused to (bad credentials, key permissions): printed as one line. */
export class VenueStartError extends Error {
  override name = 'VenueStartError';
}

/** Everything needed to build one ccxt venue (from `ConnectorConfig`). */
export interface CcxtVenueSettings {
  venue: CcxtVenueId;
  marketType: 'swap' | 'spot';
  credentials: CredentialSources;
  /**
   * Tests only: base URL (`http://127.0.0.1:PORT`) that replaces the scheme and host of every REST
   * URL under `exchange.urls.api`; WebSocket URLs get the same host with `ws://`.
   */
  urlOverride?: string;
  symbols?: string[];
  accountPollMs: number;
  fundingPollMs: number;
  ordersPollMs: number;
  defaultLeverage: number;
  timeoutMs: number;
  preCheckClientOrderId?: boolean;
  /** Use the venue's testnet/demo endpoints (ccxt `setSandboxMode`). */
  sandbox?: boolean;
  /** SQLite file of the synthetic order id map (`OrderIdMap`); in memory when absent. */
  orderIdMapFile?: string;
  /** Start even when the key's permissions include withdrawals. */
  allowWithdrawKey?: boolean;
  /** Public market data only (paper venue): no credentials are read or sent. */
  publicOnly?: boolean;
  /** `marketType: spot` only: trade the spot margin account (`SPOT_MARGIN`); `off`/absent = plain spot. */
  spotMargin?: 'off' | 'cross' | 'isolated';
}

/** Venues whose API keys carry a passphrase (ccxt `password`). */
export const NEEDS_PASSPHRASE: Record<CcxtVenueId, boolean> = { binance: false, bybit: false, gate: false, okx: true, bitget: true };

/** ccxt class and options per venue and market type: only the markets we trade are loaded, and calls that need extra permissions are avoided. */
function classAndOptions(venue: CcxtVenueId, type: 'swap' | 'spot'): { cls: string; options: Record<string, unknown> } {
  switch (venue) {
    case 'binance':
      return type === 'swap'
        ? { cls: 'binanceusdm', options: { defaultType: 'future', fetchMarkets: { types: ['linear'] }, warnOnFetchOpenOrdersWithoutSymbol: false } }
        : { cls: 'binance', options: { defaultType: 'spot', fetchMarkets: { types: ['spot'] }, warnOnFetchOpenOrdersWithoutSymbol: false } };
    case 'bitget':
      return { cls: 'bitget', options: { defaultType: type, uta: false, fetchMarkets: { types: [type] } } };
    case 'gate':
      return { cls: 'gate', options: { defaultType: type, unifiedAccount: false, fetchMarkets: { types: [type] }, swap: { fetchMarkets: { settlementCurrencies: ['usdt'] } } } };
    case 'okx':
      return { cls: 'okx', options: { defaultType: type, fetchMarkets: { types: [type] } } };
    case 'bybit':
      return {
        cls: 'bybit',
        options: { defaultType: type, defaultSubType: 'linear', enableUnifiedAccount: true, enableUnifiedMargin: false, fetchMarkets: { types: [type === 'swap' ? 'linear' : 'spot'] } },
      };
  }
}

/** Rewrites scheme+host of every URL string under `node` (REST → http, WebSocket → ws). */
export function rewriteUrls(node: unknown, base: string): unknown {
  const u = new URL(base);
  const host = u.host;
  if (typeof node === 'string') return node.replace(/^(https?|wss?):\/\/[^/]+/, (_m, scheme: string) => `${scheme.startsWith('ws') ? 'ws' : 'http'}://${host}`);
  if (Array.isArray(node)) return node.map((n) => rewriteUrls(n, base));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, rewriteUrls(v, base)]));
  return node;
}

/**
 * Creates the ccxt.pro exchange (ccxt is required lazily: it takes ~0.7 s to load) with credentials
 * applied, rate limiter on, decimals kept as strings (`exchange.number = String`), and URLs
 * redirected when `urlOverride` is set.
 * @throws Error naming the missing credential field.
 */
export async function createCcxtExchange(s: CcxtVenueSettings): Promise<CcxtExchange> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ccxt = require('ccxt') as { pro: Record<string, new (cfg: object) => CcxtExchange> };
  const { cls, options } = classAndOptions(s.venue, s.marketType);
  const creds = s.publicOnly ? {} as Partial<ReturnType<typeof readCredentials>> : readCredentials(s.credentials, s.venue, NEEDS_PASSPHRASE[s.venue]);
  const ex = new ccxt.pro[cls]({
    apiKey: creds.apiKey,
    secret: creds.apiSecret,
    password: creds.passphrase,
    enableRateLimit: true,
    timeout: s.timeoutMs,
    options: { ...options, newUpdates: true },
  });
  ex.number = String;
  ex.has = { ...ex.has, fetchCurrencies: false };
  if (s.sandbox) ex.setSandboxMode(true);
  if (s.urlOverride) {
    ex.urls = { ...ex.urls, api: rewriteUrls(ex.urls.api, s.urlOverride) };
    if (s.venue === 'bybit' || s.venue === 'bitget' || s.venue === 'okx') ex.hostname = new URL(s.urlOverride).host;
    await ex.loadHttpProxyAgent(); // ccxt.pro refuses ws:// until this has run
  }
  return ex;
}

/**
 * Builds a started `CcxtVenue`: markets loaded and credentials validated by a signed call; then
 * watches the credential files / SIGHUP to rotate keys without a restart.
 * @throws VenueStartError `<venue> (<type>) failed to start: credential validation (signed fetchBalance): <venue error>`,
 *   or `… failed to start: spot margin not supported on <venue>` (the caller exits non-zero).
 */
export async function createCcxtVenue(s: CcxtVenueSettings): Promise<{ venue: CcxtVenue; stop: () => void }> {
  const log = new Logger(`ccxt:${s.venue}`);
  let spotMargin;
  if (s.spotMargin && s.spotMargin !== 'off') {
    if (s.marketType !== 'spot') throw new VenueStartError(`${s.venue} (${s.marketType}) failed to start: SPOT_MARGIN=${s.spotMargin} needs MARKET_TYPE=spot`);
    try {
      spotMargin = { mode: s.spotMargin, mapping: spotMarginMapping(s.venue, s.spotMargin) };
    } catch (e) {
      throw new VenueStartError(`${s.venue} (${s.marketType}) failed to start: ${(e as Error).message}`);
    }
  }
  const ex = await createCcxtExchange(s);
  const orderIds = new OrderIdMap(s.orderIdMapFile);
  const venue = new CcxtVenue({
    orderIds,
    venue: s.venue,
    marketType: s.marketType,
    exchange: ex,
    symbols: s.symbols,
    accountPollMs: s.accountPollMs,
    fundingPollMs: s.fundingPollMs,
    ordersPollMs: s.ordersPollMs,
    defaultLeverage: s.defaultLeverage,
    preCheckClientOrderId: s.preCheckClientOrderId,
    spotMargin,
    log,
  });
  try {
    if (s.venue === 'gate' && !ex.uid) {
      // Gate's private WebSocket channels are keyed by the account's user id.
      const detail = await ex.privateAccountGetDetail();
      ex.uid = String(detail?.user_id ?? '');
    }
    await venue.start();
    // Key permissions (README "Going live"): withdrawals must be off unless explicitly allowed.
    let perms;
    let unreadable = false;
    try {
      perms = await readKeyPermissions(s.venue, ex, s.marketType);
    } catch (e) {
      unreadable = true;
      log.warn(`could not read the API key's permissions (${PERMISSION_SOURCES[s.venue]}): ${parseCcxtError(e, s.venue).message}; cannot verify that withdrawals are off`);
    }
    if (!unreadable) {
      const verdict = checkKeyPermissions(s.venue, perms, !!s.allowWithdrawKey);
      log[verdict.level](verdict.message);
    }
  } catch (e) {
    await venue.close().catch(() => undefined);
    orderIds.close();
    throw new VenueStartError(`${s.venue} (${s.marketType}) failed to start: ${(e as Error).message}`);
  }
  const stop = watchCredentials(
    s.credentials,
    s.venue,
    NEEDS_PASSPHRASE[s.venue],
    (c) => {
      ex.apiKey = c.apiKey;
      ex.secret = c.apiSecret;
      ex.password = c.passphrase;
    },
    (msg) => log.error(`credential reload failed, keeping the old ones: ${msg}`),
    (why) => log.log(`credentials reloaded (${why})`),
  );
  return {
    venue,
    stop: () => {
      stop();
      orderIds.close();
    },
  };
}
