/**
 * Spot margin through ccxt (issue 10 "Venues", REQ-ARB-007: the short-spot leg of the funding
 * arbitrage): per-venue parameters as data, checked against what ccxt 4.5.84 sends
 * (node_modules/ccxt/js/src/binance.js `createOrder` / `createOrderRequest` / `fetchBalance` /
 * `parseBalanceCustom`, js/src/pro/binance.js `watchOrders` / `authenticate`).
 *
 * Only venues with a mapping here and a fake-venue test behind it are enabled; the others answer
 * "spot margin not supported on <venue>" at startup (COVERAGE.md "Spot margin" lists what ccxt would
 * send for them).
 */
import { type Dec, ZERO } from '@mm/domain';
import { type CcxtNum, num } from './ccxt-mapping';
import type { CcxtVenueId } from './ccxt-venue';

export type SpotMarginMode = 'cross' | 'isolated';

/** One asset of a margin account, base units of that asset. `net = free + locked − borrowed − interest`. */
export interface MarginAssetBalance {
  asset: string;
  free: Dec;
  locked: Dec;
  /** Principal outstanding. */
  borrowed: Dec;
  /** Accrued, unpaid interest. */
  interest: Dec;
  net: Dec;
}

/** How one venue's spot margin is reached through ccxt. */
export interface SpotMarginMapping {
  modes: readonly SpotMarginMode[];
  /**
   * Params added to every private REST call of the margin account (createOrder, cancelOrder,
   * fetchOrder, fetchOpenOrders, fetchMyTrades, fetchBalance) so ccxt routes it to the margin
   * endpoints instead of the spot ones.
   */
  route: Record<SpotMarginMode, Record<string, unknown>>;
  /** createOrder params per side: auto-borrow on SELL (borrow the base shortfall), auto-repay on BUY. */
  order: Record<'BUY' | 'SELL', Record<string, unknown>>;
  /** createOrder params of a reduce-only order (either side): repay only, never borrow. */
  reduceOnly: Record<string, unknown>;
  /** ccxt.pro `watchOrders` params selecting the margin account's user stream. */
  watchOrders: Record<SpotMarginMode, Record<string, unknown>>;
  /** REST endpoints ccxt hits with `route` (documentation and the fake venue's routes). */
  endpoints: Record<SpotMarginMode, { order: string; openOrders: string; myTrades: string; account: string; stream: string }>;
  /**
   * Per-asset margin balances from the raw reply ccxt kept in `fetchBalance().info` (ccxt folds
   * borrowed + interest into one `debt`, so the two are read from the venue's own fields).
   */
  balances(info: unknown, mode: SpotMarginMode): MarginAssetBalance[];
}

function assetRow(r: Record<string, CcxtNum> & { asset?: string }): MarginAssetBalance {
  const free = num(r.free);
  const locked = num(r.locked);
  const borrowed = num(r.borrowed);
  const interest = num(r.interest);
  return { asset: String(r.asset ?? ''), free, locked, borrowed, interest, net: free.plus(locked).minus(borrowed).minus(interest) };
}

/**
 * Binance margin (https://developers.binance.com/docs/margin_trading): ccxt sends `marginMode` →
 * POST /sapi/v1/margin/order (`isIsolated=true` added for isolated); `sideEffectType` is passed
 * through unchanged (ccxt sets it itself only for reduce-only orders, `AUTO_REPAY`, which is also
 * what a reduce-only order gets here: it may repay, never borrow). SELL
 * `MARGIN_BUY` borrows the shortfall of the base at placement; BUY `AUTO_REPAY` repays the debt of
 * the bought asset with the fill (interest first). Not `AUTO_BORROW_REPAY` on both sides: on a BUY it
 * would also borrow the quote a buy lacks (a leveraged long), which the arb legs never want. Balances: GET /sapi/v1/margin/account
 * `userAssets[]` (cross), GET /sapi/v1/margin/isolated/account `assets[].baseAsset/quoteAsset`
 * (isolated), each with `free`, `locked`, `borrowed`, `interest`, `netAsset`. Order pushes: ccxt.pro
 * needs `type: 'margin'` (else it subscribes the plain spot stream): POST /sapi/v1/userListenToken,
 * then `userDataStream.subscribe.listenToken` on the WebSocket API.
 */
const BINANCE: SpotMarginMapping = {
  modes: ['cross', 'isolated'],
  route: { cross: { marginMode: 'cross' }, isolated: { marginMode: 'isolated' } },
  order: { SELL: { sideEffectType: 'MARGIN_BUY' }, BUY: { sideEffectType: 'AUTO_REPAY' } },
  // What ccxt itself sends for a margin order with `reduceOnly` (the flag is dropped, AUTO_REPAY set).
  reduceOnly: { sideEffectType: 'AUTO_REPAY' },
  watchOrders: { cross: { type: 'margin' }, isolated: { type: 'margin', marginMode: 'isolated' } },
  endpoints: {
    cross: { order: '/sapi/v1/margin/order', openOrders: '/sapi/v1/margin/openOrders', myTrades: '/sapi/v1/margin/myTrades', account: '/sapi/v1/margin/account', stream: '/sapi/v1/userListenToken' },
    isolated: { order: '/sapi/v1/margin/order', openOrders: '/sapi/v1/margin/openOrders', myTrades: '/sapi/v1/margin/myTrades', account: '/sapi/v1/margin/isolated/account', stream: '/sapi/v1/userListenToken' },
  },
  balances(info, mode) {
    const i = (info ?? {}) as { userAssets?: Record<string, CcxtNum>[]; assets?: { baseAsset?: Record<string, CcxtNum>; quoteAsset?: Record<string, CcxtNum> }[] };
    if (mode === 'cross') return (i.userAssets ?? []).map((r) => assetRow(r as never));
    const out: MarginAssetBalance[] = [];
    for (const a of i.assets ?? []) for (const side of [a.baseAsset, a.quoteAsset]) if (side) out.push(assetRow(side as never));
    return out;
  },
};

/** Spot margin mapping per venue; `undefined` = not supported (startup error). */
export const SPOT_MARGIN: Record<CcxtVenueId, SpotMarginMapping | undefined> = {
  binance: BINANCE,
  bitget: undefined,
  gate: undefined,
  okx: undefined,
  bybit: undefined,
};

/**
 * The mapping for `venue` in `mode`.
 * @throws Error "spot margin not supported on <venue>" (no mapping) or naming the unsupported mode.
 */
export function spotMarginMapping(venue: CcxtVenueId, mode: SpotMarginMode): SpotMarginMapping {
  const m = SPOT_MARGIN[venue];
  if (!m) throw new Error(`spot margin not supported on ${venue} (SPOT_MARGIN=${mode}; supported on: ${supportedVenues().join(', ')})`);
  if (!m.modes.includes(mode)) throw new Error(`spot margin mode ${mode} not supported on ${venue} (SPOT_MARGIN; supported: ${m.modes.join(', ')})`);
  return m;
}

/** Venues with a spot margin mapping. */
export function supportedVenues(): CcxtVenueId[] {
  return (Object.keys(SPOT_MARGIN) as CcxtVenueId[]).filter((v) => SPOT_MARGIN[v]);
}

/** Net balance of `asset` (free + locked − borrowed − interest); zeros when absent. */
export function marginAsset(rows: MarginAssetBalance[], asset: string): MarginAssetBalance {
  return rows.find((r) => r.asset === asset) ?? { asset, free: ZERO, locked: ZERO, borrowed: ZERO, interest: ZERO, net: ZERO };
}
