import type { CcxtExchange, CcxtVenueId } from './ccxt-venue';

/** What a venue says about the API key (undefined = the venue did not say). */
export interface KeyPermissions {
  /** Trading is enabled for the market type we trade. */
  canTrade?: boolean;
  /** The key can withdraw funds. */
  canWithdraw?: boolean;
  /** Where it was read (venue endpoint), for the log line. */
  source: string;
}

/**
 * Where each venue exposes the key's permissions, through ccxt's signed implicit endpoints:
 * - binance: `GET /sapi/v1/account/apiRestrictions` (`enableWithdrawals`, `enableFutures` / `enableSpotAndMarginTrading`);
 * - bybit: `GET /v5/user/query-api` (`permissions.Wallet` contains `Withdraw`; `readOnly` 1 = no trading);
 * - okx: `GET /api/v5/account/config` (`perm`: comma list of `read_only`, `trade`, `withdraw`).
 * Gate and Bitget: not read (Gate's API has no key-permission endpoint; Bitget's `authorities` list
 * is not documented precisely enough to rely on) — the connector warns that it cannot verify.
 */
export const PERMISSION_SOURCES: Record<CcxtVenueId, string | undefined> = {
  binance: 'GET /sapi/v1/account/apiRestrictions',
  bybit: 'GET /v5/user/query-api',
  okx: 'GET /api/v5/account/config',
  gate: undefined,
  bitget: undefined,
};

/** Reads the key's permissions; undefined when the venue exposes none (see PERMISSION_SOURCES). @throws the ccxt error of the call */
export async function readKeyPermissions(venue: CcxtVenueId, ex: CcxtExchange, marketType: 'swap' | 'spot'): Promise<KeyPermissions | undefined> {
  const source = PERMISSION_SOURCES[venue];
  if (!source) return undefined;
  switch (venue) {
    case 'binance': {
      const r = await ex.sapiGetAccountApiRestrictions();
      const trade = marketType === 'swap' ? r?.enableFutures : r?.enableSpotAndMarginTrading;
      return { source, canWithdraw: typeof r?.enableWithdrawals === 'boolean' ? r.enableWithdrawals : undefined, canTrade: typeof trade === 'boolean' ? trade : undefined };
    }
    case 'bybit': {
      const r = (await ex.privateGetV5UserQueryApi())?.result;
      const wallet: unknown = r?.permissions?.Wallet;
      const ro = r?.readOnly;
      return {
        source,
        canWithdraw: Array.isArray(wallet) ? wallet.some((p) => String(p).toLowerCase() === 'withdraw') : undefined,
        canTrade: ro === undefined || ro === null ? undefined : Number(ro) === 0,
      };
    }
    case 'okx': {
      const perm = (await ex.privateGetAccountConfig())?.data?.[0]?.perm;
      if (typeof perm !== 'string') return { source };
      const set = new Set(perm.split(',').map((p) => p.trim().toLowerCase()));
      return { source, canWithdraw: set.has('withdraw'), canTrade: set.has('trade') };
    }
    default:
      return undefined;
  }
}

/**
 * The start-up permission gate: refuses a key that can withdraw (unless `allowWithdraw`) or that
 * the venue reports as unable to trade. Returns the log line to print on success.
 * @throws Error one line naming the venue, the endpoint and the fix.
 */
export function checkKeyPermissions(venue: CcxtVenueId, p: KeyPermissions | undefined, allowWithdraw: boolean): { level: 'log' | 'warn'; message: string } {
  if (!p) return { level: 'warn', message: `${venue} does not expose API key permissions: cannot verify that withdrawals are off — use a key without withdrawal permission` };
  if (p.canTrade === false) throw new Error(`API key has no trading permission (${p.source}): enable trading for this key on ${venue}`);
  if (p.canWithdraw === true) {
    if (!allowWithdraw)
      throw new Error(`API key can withdraw funds (${p.source}): refusing to run — create a key without withdrawal permission, or set ALLOW_WITHDRAW_KEY=true to accept the risk`);
    return { level: 'warn', message: `API key can withdraw funds (${p.source}); running because ALLOW_WITHDRAW_KEY=true` };
  }
  if (p.canWithdraw === undefined) return { level: 'warn', message: `${venue} did not report the key's withdrawal permission (${p.source}): cannot verify that withdrawals are off` };
  return { level: 'log', message: `API key permissions (${p.source}): trading ${p.canTrade === undefined ? 'not reported' : 'on'}, withdrawals off` };
}
