import { Dec, type Candle, type SymbolRules } from '@mm/domain';

/** One minute in ms: the only candle interval the simulator replays. */
export const MINUTE_MS = 60_000;

/**
 * Trading rules the simulator uses when a symbol config gives none. BTCUSDT and ETHUSDT get Binance
 * USD-M's (`/fapi/v1/exchangeInfo`) PRICE_FILTER / LOT_SIZE / MIN_NOTIONAL filters:
 * - BTCUSDT: tickSize 0.1, stepSize 0.001, minQty 0.001, minNotional 100 USDT
 * - ETHUSDT: tickSize 0.01, stepSize 0.001, minQty 0.001, minNotional 20 USDT
 *
 * Any other symbol, given a reference price P (quote units, e.g. the first replayed open), gets
 * rules scaled to its price level (our rule, close to Binance's for SOL/BNB-like prices):
 * - tickSize = 10^(⌊log10 P⌋ − 4)  → P spans 10 000–99 999 ticks (1–10 ticks per basis point)
 * - stepSize = minQty = 10^⌊log10(10 / P)⌋  → one step is worth 1–10 USDT at P
 * - minNotional = max(5 USDT, ⌈minQty × P⌉) (5 USDT is Binance's floor on most USD-M perpetuals)
 *
 * Without a reference price other symbols keep the fixed defaults tickSize 0.0001, stepSize 0.1,
 * minQty 0.1, minNotional 5 USDT. The base asset is the symbol without its `USDT` suffix; the quote
 * asset is always USDT.
 * @throws Error for a reference price that is not finite and > 0.
 */
export function defaultSymbolRules(symbol: string, refPrice?: Dec): SymbolRules {
  let tick: string | Dec, step: string | Dec, minQty: string | Dec, minNotional: string | Dec;
  if (symbol === 'BTCUSDT') [tick, step, minQty, minNotional] = ['0.1', '0.001', '0.001', '100'];
  else if (symbol === 'ETHUSDT') [tick, step, minQty, minNotional] = ['0.01', '0.001', '0.001', '20'];
  else if (refPrice !== undefined) {
    if (!refPrice.isFinite() || !refPrice.gt(0)) throw new Error(`defaultSymbolRules: ${symbol} reference price must be > 0, got ${String(refPrice)}`);
    const ten = new Dec(10);
    tick = ten.pow(Math.floor(Math.log10(refPrice.toNumber())) - 4);
    step = ten.pow(Math.floor(Math.log10(10 / refPrice.toNumber())));
    // correct float log10 at exact powers of ten
    while (tick.mul(100000).lte(refPrice)) tick = tick.mul(10);
    while (tick.mul(10000).gt(refPrice)) tick = tick.div(10);
    while (step.mul(refPrice).gt(10)) step = step.div(10);
    while (step.mul(10).mul(refPrice).lte(10)) step = step.mul(10);
    minQty = step;
    const floor = step.mul(refPrice).ceil();
    minNotional = floor.gt(5) ? floor : new Dec(5);
  } else [tick, step, minQty, minNotional] = ['0.0001', '0.1', '0.1', '5'];
  const tickSize = new Dec(tick);
  const stepSize = new Dec(step);
  return {
    symbol,
    baseAsset: symbol.endsWith('USDT') ? symbol.slice(0, -4) : symbol,
    quoteAsset: 'USDT',
    tickSize,
    stepSize,
    minQty: new Dec(minQty),
    minNotional: new Dec(minNotional),
    pricePrecision: Math.max(0, tickSize.decimalPlaces()),
    quantityPrecision: Math.max(0, stepSize.decimalPlaces()),
  };
}

/** Price in whole ticks (nearest). Exact for on-tick prices below 2^53 ticks. */
export function toTicks(price: Dec, tickNum: number): number {
  return Math.round(price.toNumber() / tickNum);
}

/**
 * The intra-minute path of a candle in whole ticks, written into the reused arrays `times`/`ticks`;
 * returns the number of points. See {@link candlePath} for the rules.
 */
export function pathTicks(
  openTimeMs: number,
  o: number,
  h: number,
  l: number,
  c: number,
  intervalMs: number,
  times: number[],
  ticks: number[],
): number {
  const up = c >= o;
  const e1 = up ? l : h;
  const e2 = up ? h : l;
  const n = Math.ceil(MINUTE_MS / intervalMs);
  if (n < 4) {
    const q = MINUTE_MS / 4;
    times[0] = openTimeMs;
    times[1] = openTimeMs + q;
    times[2] = openTimeMs + 2 * q;
    times[3] = openTimeMs + 3 * q;
    ticks[0] = o;
    ticks[1] = e1;
    ticks[2] = e2;
    ticks[3] = c;
    return 4;
  }
  const k1 = Math.round((n - 1) / 3);
  const k2 = Math.round((2 * (n - 1)) / 3);
  const k3 = n - 1;
  for (let k = 0; k < n; k++) {
    times[k] = openTimeMs + k * intervalMs;
    // segment [ka, kb] from price a to price b
    const seg = k <= k1 ? 0 : k <= k2 ? 1 : 2;
    const ka = seg === 0 ? 0 : seg === 1 ? k1 : k2;
    const kb = seg === 0 ? k1 : seg === 1 ? k2 : k3;
    const a = seg === 0 ? o : seg === 1 ? e1 : e2;
    const b = seg === 0 ? e1 : seg === 1 ? e2 : c;
    ticks[k] = k === kb ? b : Math.round(a + ((b - a) * (k - ka)) / (kb - ka));
  }
  return n;
}

/**
 * The simulated intra-minute price path of a 1-minute candle.
 *
 * Waypoints: open → low → high → close when close ≥ open, else open → high → low → close; the
 * path is piecewise linear between them and sampled every `tickIntervalMs` from the open time
 * (times `openTimeMs + k·tickIntervalMs` < `openTimeMs + 60 000`). The extremes sit on the
 * samples nearest 1/3 and 2/3 of the way to the last sample, and the last sample is the close, so
 * the path starts at the exact open, ends at the exact close and contains the exact high and low.
 * Interpolated prices are rounded to the nearest tick. When fewer than 4 samples fit in a minute
 * (`tickIntervalMs` > 20 000) the path is the 4 waypoints at 0, 15, 30 and 45 s.
 *
 * OHLC values that are not on the tick grid are rounded to the nearest tick first.
 * @param tickIntervalMs market ms between samples (> 0)
 * @param tickSize the symbol's price tick (> 0)
 * @returns points in time order; `timeMs` Unix ms, `price` in quote units
 */
export function candlePath(c: Candle, tickIntervalMs: number, tickSize: Dec): { timeMs: number; price: Dec }[] {
  if (!(tickIntervalMs > 0)) throw new Error(`tickIntervalMs must be > 0, got ${tickIntervalMs}`);
  const tn = tickSize.toNumber();
  const times: number[] = [];
  const ticks: number[] = [];
  const n = pathTicks(
    c.openTimeMs,
    toTicks(c.open, tn),
    toTicks(c.high, tn),
    toTicks(c.low, tn),
    toTicks(c.close, tn),
    tickIntervalMs,
    times,
    ticks,
  );
  const out: { timeMs: number; price: Dec }[] = [];
  for (let i = 0; i < n; i++) out.push({ timeMs: times[i], price: tickSize.mul(ticks[i]) });
  return out;
}

/** mulberry32: a small, fast, seeded 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a hash of a string, to give each symbol its own random stream from one seed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Endless seeded geometric random walk of 1-minute candles, on the symbol's tick and step grid.
 * close = open · exp(σ·z) with σ = 0.0008 (0.08 % per minute); high/low extend beyond
 * max/min(open, close) by σ/2·|z| each; the next candle opens at the previous close. The volume
 * (base units) is synthetic: 2–6 million quote units worth per minute. Same seed → same candles.
 */
export class RandomWalk {
  private readonly rng: () => number;
  private last: number;
  private readonly tn: number;
  private readonly sn: number;

  constructor(
    seed: number,
    private readonly rules: SymbolRules,
    startPrice: Dec,
    private readonly sigma = 0.0008,
  ) {
    this.rng = mulberry32(seed);
    this.tn = rules.tickSize.toNumber();
    this.sn = rules.stepSize.toNumber();
    this.last = Math.max(1, toTicks(startPrice, this.tn));
  }

  private gauss(): number {
    const u1 = this.rng() || 1e-12;
    const u2 = this.rng();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** The next candle, opening at `openTimeMs` (closed = true). */
  next(openTimeMs: number): Candle {
    const o = this.last;
    const c = Math.max(1, Math.round(o * Math.exp(this.sigma * this.gauss())));
    const hi = Math.max(o, c);
    const lo = Math.min(o, c);
    const h = hi + Math.round(hi * this.sigma * 0.5 * Math.abs(this.gauss()));
    const l = Math.max(1, lo - Math.round(lo * this.sigma * 0.5 * Math.abs(this.gauss())));
    const volSteps = Math.max(1, Math.round((2e6 + 4e6 * this.rng()) / (c * this.tn) / this.sn));
    this.last = c;
    const t = this.rules.tickSize;
    return {
      symbol: this.rules.symbol,
      openTimeMs,
      open: t.mul(o),
      high: t.mul(h),
      low: t.mul(l),
      close: t.mul(c),
      volume: this.rules.stepSize.mul(volSteps),
      closed: true,
    };
  }
}
