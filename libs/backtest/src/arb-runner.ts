import { type Candle, Dec, type OrderEvent, type SymbolRules, VirtualScheduler, ZERO } from '@mm/domain';
import { type FundingPoint, type MarkPricePoint, SimExchange, SimSpotExchange, deriveSpotCandles, defaultSpotRules, defaultSymbolRules, DEFAULT_SPOT_BASIS } from '@mm/sim-exchange';
import { type ArbRiskSettings, type ArbThresholds, FundingArbStrategy, InMemoryArbJournal, type LegSpec, type PairSpec, type WorkflowKind } from '@mm/trading';
import { BacktestError, type BacktestProgress } from './runner';

const MINUTE_MS = 60_000;
const YEAR_MS = 365 * 24 * 3_600_000;
/** Candles before the start that are history for both sims (the strategy's first look back). */
const HISTORY_CANDLES = 20;

/** One symbol of a funding-arb backtest: a perp market and a spot market on the same market time. */
export interface ArbSymbolInput {
  /** Logical symbol, e.g. `BTCUSDT` (the perp and the spot instrument share it). */
  symbol: string;
  /** Perp 1-minute candles (ascending). */
  perpCandles: readonly Candle[];
  /** Settled perp funding rates (the perp sim pays them at their funding time). */
  fundingRates: readonly FundingPoint[];
  /** Perp mark-price samples; funding settles at the sample nearest the funding time (±60 s), else at the last price. */
  markPrices?: readonly MarkPricePoint[];
  /** Spot 1-minute candles; absent → derived from the perp path with `deriveSpotCandles` (basis `DEFAULT_SPOT_BASIS`). */
  spotCandles?: readonly Candle[];
  /** Base quantity of one entry per leg (base units). */
  orderQty: Dec;
  /** Largest allowed |spot net base + perp size| outside a workflow (base units), checked on every sample. */
  deltaTolerance: Dec;
  /** Spot margin interest of the base asset per hour (fraction); 0 = the spot leg cannot be short. */
  borrowRateHourly: Dec;
}

/** What {@link runArbBacktest} needs. Money as decimals in quote units (USDT); times Unix ms (market time). */
export interface ArbBacktestOptions {
  symbols: readonly ArbSymbolInput[];
  thresholds: ArbThresholds;
  /** Fee fractions per market (0.001 = 10 bp). */
  spotFees: { maker: Dec; taker: Dec };
  perpFees: { maker: Dec; taker: Dec };
  /** Starting USDT of the spot account and of the perp (cross-margin) account. */
  spotBalance: Dec;
  perpBalance: Dec;
  /** Perp leverage (initial margin), default 10. */
  perpLeverage?: number;
  /** Strategy timing (ms of market time). */
  decisionIntervalMs: number;
  fundingPollMs: number;
  maxEntryAttemptsPerFunding: number;
  /**
   * Position management (rebalance, toxic-basis and emergency exits); each symbol's `deltaTolerance`
   * is its rebalance tolerance. Absent → the strategy runs without it.
   */
  risk?: Omit<ArbRiskSettings, 'deltaTolerance'>;
  /** Market ms per driver step (both sims advance, then the strategy's timers run up to the new time), default 60 000. */
  stepMs?: number;
  /** Market ms between path points within a candle, both sims, default 15 000. */
  tickIntervalMs?: number;
  /** Market ms between time-series samples in the result, default 3 600 000 (hourly). */
  sampleEveryMs?: number;
  fromMs?: number;
  toMs?: number;
  /** Echoed into the report. */
  config: Record<string, unknown>;
  source?: Record<string, string>;
  onProgress?: (p: BacktestProgress) => void;
  /** Steps between progress calls, default 500. */
  progressEvery?: number;
  /** Called once the venues and the strategy exist, before the replay (tests subscribe to the venues' streams here). */
  onVenues?: (v: { spot: SimSpotExchange; perp: SimExchange; strategy: FundingArbStrategy; scheduler: VirtualScheduler }) => void;
}

/** An execution on either market. Money in quote units; `fee` ≥ 0. */
export interface ArbFill {
  timeMs: number;
  symbol: string;
  market: 'spot' | 'perp';
  side: 'BUY' | 'SELL';
  price: Dec;
  qty: Dec;
  fee: Dec;
  liquidity: 'maker' | 'taker';
  clientOrderId: string;
}

/** Cumulative PnL components of one symbol at `timeMs` (quote units unless named base). net = funding − interest − fees + basis. */
export interface ArbSample {
  timeMs: number;
  funding: Dec;
  /** Borrow interest accrued (base units, exact as the venue booked it) and its value at the spot price of `timeMs`. */
  interestBase: Dec;
  interest: Dec;
  /** Price PnL of both legs before fees, funding and interest (see {@link ArbSymbolResult.basisPnl}). */
  basis: Dec;
  fees: Dec;
  net: Dec;
  spotNetBase: Dec;
  perpSize: Dec;
}

/** Per-symbol result. */
export interface ArbSymbolResult {
  symbol: string;
  orderQty: Dec;
  deltaTolerance: Dec;
  /** Funding booked by the perp venue for this symbol (+ received). */
  fundingIncome: Dec;
  /** Borrow interest accrued on the spot margin loan (base units) and valued at the final spot price (quote). */
  borrowInterestBase: Dec;
  borrowInterest: Dec;
  /**
   * Price PnL of the two legs: Σ spot fills (sell +, buy −) price × qty + held spot base × spot price
   * + Σ perp fills price × qty (signed) + perp size × perp price. Held spot base = Σ signed spot fill
   * quantities (interest debt excluded: it is `borrowInterest`).
   */
  basisPnl: Dec;
  fees: Dec;
  /** funding − interest − fees + basis. */
  netPnl: Dec;
  /** ∫ |perp size × perp price| dt over the run (quote × ms): the capital-time the APRs divide by. */
  notionalMs: Dec;
  /** Time with a perp position (ms). */
  holdingMs: number;
  /** netPnl × year ÷ notionalMs (fraction per year); null without a position. */
  realizedApr: Dec | null;
  /** fundingIncome × year ÷ notionalMs. */
  realizedFundingApr: Dec | null;
  /** The strategy's own net / gross APR of the held direction at each step, weighted by notional × time. */
  predictedApr: Dec | null;
  predictedGrossApr: Dec | null;
  /** Entry workflows that ended hedged, finished exit workflows, compensations (finished entries that were unwound, trimmed, failed or aborted); unfinished workflows are listed in `workflows` as `unfinished`. */
  entries: number;
  exits: number;
  compensations: number;
  /** Funding settlements with a position. */
  fundingPayments: number;
  /** Net delta (spot net base + perp size, from the venues) over every sample (each step and every fill). */
  delta: { samples: number; maxAbs: Dec; maxAbsOutsideWorkflow: Dec; violationsOutsideWorkflow: number };
  /** Hourly samples (and the final state). */
  series: ArbSample[];
}

/** A workflow as the journal ended it. */
export interface ArbWorkflowSummary {
  id: string;
  symbol: string;
  kind: WorkflowKind;
  short: 'spot' | 'perp';
  startedAtMs: number;
  result: string;
  detail: string;
}

/** Everything a funding-arb backtest produced. */
export interface ArbBacktestRun {
  strategy: 'funding-arb';
  startMs: number;
  endMs: number;
  spotBalance: Dec;
  perpBalance: Dec;
  symbols: ArbSymbolResult[];
  fills: ArbFill[];
  workflows: ArbWorkflowSummary[];
  /** Driver steps and candles replayed (perp, per symbol summed). */
  steps: number;
  candlesReplayed: number;
  config: Record<string, unknown>;
  source?: Record<string, string>;
}

interface Acc {
  input: ArbSymbolInput;
  base: string;
  spotCash: Dec;
  spotQty: Dec;
  perpCash: Dec;
  fees: Dec;
  notionalMs: Dec;
  predNet: Dec;
  predGross: Dec;
  holdingMs: number;
  fundingPayments: number;
  samples: number;
  maxAbs: Dec;
  maxAbsOut: Dec;
  violations: number;
  series: ArbSample[];
}

/**
 * Runs `FundingArbStrategy` (libs/trading) on market time over two in-process sims: one
 * `SimExchange` (the perps of every symbol, one USDT cross-margin account, funding at mark) and one
 * `SimSpotExchange` (the spot markets, USDT balance, margin borrowing of the base with hourly
 * interest, auto-borrow / auto-repay). Leg a = spot, leg b = perp; the long leg goes first; every
 * leg is a MARKET order. Each step advances both sims by `stepMs`, then the strategy's scheduler to
 * the same time (its timers fire on the way), then samples each symbol's net delta from the venues.
 * Every fill is also sampled (both legs of a workflow fill at one market instant, so a sample between
 * them shows one leg: such samples are counted only against `delta.maxAbs`, not as violations).
 * @throws BacktestError when the data leave no common replay window.
 */
export async function runArbBacktest(o: ArbBacktestOptions): Promise<ArbBacktestRun> {
  if (!o.symbols.length) throw new BacktestError('funding-arb backtest: no symbol');
  const stepMs = o.stepMs ?? 60_000;
  const tickMs = o.tickIntervalMs ?? 15_000;
  const sampleEvery = o.sampleEveryMs ?? 3_600_000;
  const spotOf = (s: ArbSymbolInput, rules: SymbolRules): readonly Candle[] => s.spotCandles ?? deriveSpotCandles(s.perpCandles, rules.tickSize, DEFAULT_SPOT_BASIS);
  // common window: every perp and spot series has HISTORY candles before the start and data after it
  let start = o.fromMs ?? -Infinity;
  let end = o.toMs ?? Infinity;
  const spotRules = new Map<string, SymbolRules>();
  for (const s of o.symbols) {
    let rules: SymbolRules;
    try {
      rules = defaultSpotRules(s.symbol);
    } catch {
      throw new BacktestError(`funding-arb backtest: ${s.symbol}: no spot trading rules known (BTCUSDT and ETHUSDT are supported)`);
    }
    spotRules.set(s.symbol, rules);
    for (const list of [s.perpCandles, spotOf(s, rules)]) {
      if (list.length <= HISTORY_CANDLES) throw new BacktestError(`funding-arb backtest: ${s.symbol}: fewer than ${HISTORY_CANDLES + 1} candles`);
      start = Math.max(start, list[HISTORY_CANDLES].openTimeMs);
      end = Math.min(end, list[list.length - 1].openTimeMs + MINUTE_MS);
    }
  }
  start = Math.ceil(start / MINUTE_MS) * MINUTE_MS;
  if (!(end > start + MINUTE_MS)) throw new BacktestError(`funding-arb backtest: the perp and spot data (and --from/--to) leave no common time range`);
  const cut = (list: readonly Candle[]) => list.filter((c) => c.openTimeMs >= start - HISTORY_CANDLES * MINUTE_MS && c.openTimeMs < end);

  const perp = new SimExchange({
    name: 'sim-perp',
    symbols: o.symbols.map((s) => ({
      rules: defaultSymbolRules(s.symbol, s.perpCandles[0].open),
      candles: cut(s.perpCandles),
      fundingRates: [...s.fundingRates],
      markPrices: s.markPrices ? [...s.markPrices] : undefined,
    })),
    manual: true,
    historyCandles: HISTORY_CANDLES,
    initialBalance: o.perpBalance,
    makerFee: o.perpFees.maker,
    takerFee: o.perpFees.taker,
    leverage: o.perpLeverage ?? 10,
    tickIntervalMs: tickMs,
  });
  const hourly: Record<string, Dec> = {};
  for (const s of o.symbols) if (s.borrowRateHourly.gt(0)) hourly[spotRules.get(s.symbol)!.baseAsset] = s.borrowRateHourly;
  const spot = new SimSpotExchange({
    name: 'sim-spot',
    symbols: o.symbols.map((s) => ({ rules: spotRules.get(s.symbol)!, candles: cut(spotOf(s, spotRules.get(s.symbol)!)) })),
    balances: { USDT: o.spotBalance },
    historyCandles: HISTORY_CANDLES,
    makerFee: o.spotFees.maker,
    takerFee: o.spotFees.taker,
    hourlyInterest: hourly,
    autoBorrow: true,
    tickIntervalMs: tickMs,
  });
  // the two sims start at their own first replay instant; bring both to the later one
  const t0 = Math.max(perp.clock.now(), spot.clock.now());
  perp.advance(t0 - perp.clock.now());
  spot.advance(t0 - spot.clock.now());
  const scheduler = new VirtualScheduler(t0);

  const pairs: PairSpec[] = o.symbols.map((s) => {
    const common = { symbol: s.symbol, execution: { type: 'MARKET' } as const, defaultFundingIntervalMs: 8 * 3_600_000 };
    const a: LegSpec = { ...common, venue: spot, kind: 'spot', makerFee: o.spotFees.maker, takerFee: o.spotFees.taker, borrowRateHourly: s.borrowRateHourly, canShort: s.borrowRateHourly.gt(0) };
    const b: LegSpec = { ...common, venue: perp, kind: 'perp', makerFee: o.perpFees.maker, takerFee: o.perpFees.taker, borrowRateHourly: ZERO, canShort: true };
    return { symbol: s.symbol, legs: { a, b }, orderQty: s.orderQty, deltaTolerance: s.deltaTolerance };
  });
  const journal = new InMemoryArbJournal();
  const strategy = new FundingArbStrategy(
    {
      pairs,
      thresholds: o.thresholds,
      decisionIntervalMs: o.decisionIntervalMs,
      fundingPollMs: o.fundingPollMs,
      firstLeg: 'long',
      maxSendAttempts: 3,
      retryDelayMs: 30_000,
      maxEntryAttemptsPerFunding: o.maxEntryAttemptsPerFunding,
      // every pair carries its own deltaTolerance; the settings-wide value is only their fallback
      ...(o.risk ? { risk: { ...o.risk, deltaTolerance: ZERO } } : {}),
    },
    { scheduler, journal },
  );

  const acc = new Map<string, Acc>();
  for (const s of o.symbols)
    acc.set(s.symbol, {
      input: s,
      base: spotRules.get(s.symbol)!.baseAsset,
      spotCash: ZERO,
      spotQty: ZERO,
      perpCash: ZERO,
      fees: ZERO,
      notionalMs: ZERO,
      predNet: ZERO,
      predGross: ZERO,
      holdingMs: 0,
      fundingPayments: 0,
      samples: 0,
      maxAbs: ZERO,
      maxAbsOut: ZERO,
      violations: 0,
      series: [],
    });
  const fills: ArbFill[] = [];
  const perpSizes = new Map<string, Dec>();
  const spotNet = (a: Acc): Dec => {
    const b = spot.balances().find((x) => x.asset === a.base)!;
    return b.free.add(b.locked).sub(b.borrowed).sub(b.interest);
  };
  const sampleDelta = (symbol: string, inWorkflow: boolean) => {
    const a = acc.get(symbol)!;
    const d = spotNet(a).add(perpSizes.get(symbol) ?? ZERO).abs();
    a.samples++;
    if (d.gt(a.maxAbs)) a.maxAbs = d;
    if (!inWorkflow) {
      if (d.gt(a.maxAbsOut)) a.maxAbsOut = d;
      if (d.gt(a.input.deltaTolerance)) a.violations++;
    }
  };
  const onFill = (market: 'spot' | 'perp') => (ev: OrderEvent) => {
    const t = ev.lastTrade;
    if (!t) return;
    const a = acc.get(t.symbol);
    if (!a) return;
    const signedCash = t.side === 'BUY' ? t.price.mul(t.quantity).neg() : t.price.mul(t.quantity);
    if (market === 'spot') {
      a.spotCash = a.spotCash.add(signedCash);
      a.spotQty = t.side === 'BUY' ? a.spotQty.add(t.quantity) : a.spotQty.sub(t.quantity);
    } else {
      a.perpCash = a.perpCash.add(signedCash);
      const size = perpSizes.get(t.symbol) ?? ZERO;
      perpSizes.set(t.symbol, t.side === 'BUY' ? size.add(t.quantity) : size.sub(t.quantity));
    }
    a.fees = a.fees.add(t.fee);
    fills.push({ timeMs: t.timestampMs, symbol: t.symbol, market, side: t.side, price: t.price, qty: t.quantity, fee: t.fee, liquidity: t.maker ? 'maker' : 'taker', clientOrderId: t.clientOrderId ?? '' });
    sampleDelta(t.symbol, true);
  };
  spot.watchOrders({ next: onFill('spot') });
  perp.watchOrders({ next: onFill('perp') });
  for (const s of o.symbols) {
    // the perp size the sim holds (position events), so the delta samples read the venue, not our fills
    perp.watchPositions(s.symbol, { next: (p) => perpSizes.set(s.symbol, p.size) });
    perp.watchFundingRate(s.symbol, {
      next: () => {
        if (!(perpSizes.get(s.symbol) ?? ZERO).isZero()) acc.get(s.symbol)!.fundingPayments++;
      },
    });
  }
  o.onVenues?.({ spot, perp, strategy, scheduler });

  const fundingBySymbol = (): Map<string, Dec> => {
    const out = new Map<string, Dec>();
    for (const p of perp.snapshotState().account.positions) out.set(p.symbol, new Dec(p.fundingPnl ?? 0));
    return out;
  };
  let lastFundingTotal = perp.fundingPnl();
  let funding = new Map<string, Dec>();
  const snapshot = async (a: Acc, timeMs: number): Promise<ArbSample> => {
    const sym = a.input.symbol;
    const spotPx = await spot.getLatestPrice(sym);
    const perpPx = await perp.getLatestPrice(sym);
    const size = (await perp.getPositions(sym))[0]?.size ?? ZERO;
    const net = spotNet(a);
    const bal = spot.balances().find((x) => x.asset === a.base)!;
    const basis = a.spotCash.add(a.spotQty.mul(spotPx)).add(a.perpCash).add(size.mul(perpPx));
    // interest as the venue sees it: the base the spot account lost to interest, at today's price
    const interest = a.spotQty.sub(net).mul(spotPx);
    const f = funding.get(sym) ?? ZERO;
    return { timeMs, funding: f, interestBase: bal.interestAccrued, interest, basis, fees: a.fees, net: f.sub(interest).sub(a.fees).add(basis), spotNetBase: net, perpSize: size };
  };

  await strategy.start();
  await strategy.whenIdle();
  for (const a of acc.values()) a.series.push(await snapshot(a, t0));
  let now = t0;
  let steps = 0;
  let nextSample = Math.floor(t0 / sampleEvery) * sampleEvery + sampleEvery;
  const progressEvery = o.progressEvery ?? 500;
  while (now < end) {
    const d = Math.min(stepMs, end - now);
    spot.advance(d);
    perp.advance(d);
    const t = now + d;
    await scheduler.advanceToAsync(t, () => strategy.whenIdle());
    steps++;
    if (!perp.fundingPnl().eq(lastFundingTotal)) {
      lastFundingTotal = perp.fundingPnl();
      funding = fundingBySymbol();
    }
    const status = new Map(strategy.status().map((s) => [s.symbol, s]));
    for (const a of acc.values()) {
      const sym = a.input.symbol;
      const st = status.get(sym);
      sampleDelta(sym, st?.inFlight != null);
      const size = perpSizes.get(sym) ?? ZERO;
      if (!size.isZero()) {
        const notional = size.abs().mul(await perp.getLatestPrice(sym)).mul(d);
        a.notionalMs = a.notionalMs.add(notional);
        a.holdingMs += d;
        const last = st?.lastDecision;
        if (last?.netApr !== undefined) a.predNet = a.predNet.add(notional.mul(last.netApr));
        if (last?.grossApr !== undefined) a.predGross = a.predGross.add(notional.mul(last.grossApr));
      }
    }
    if (t >= nextSample || t >= end) {
      for (const a of acc.values()) a.series.push(await snapshot(a, t));
      nextSample = Math.floor(t / sampleEvery) * sampleEvery + sampleEvery;
    }
    now = t;
    if (o.onProgress && steps % progressEvery === 0) o.onProgress({ marketTimeMs: now, startMs: t0, endMs: end, events: steps, fills: fills.length });
  }
  strategy.stop();
  o.onProgress?.({ marketTimeMs: now, startMs: t0, endMs: end, events: steps, fills: fills.length });

  const workflows = strategy.listWorkflows();
  const startedAt = new Map<string, number>();
  for (const e of await journal.entries()) if (e.t === 'started') startedAt.set(e.id, e.atMs);
  const symbols: ArbSymbolResult[] = [];
  for (const a of acc.values()) {
    const sym = a.input.symbol;
    const last = a.series[a.series.length - 1];
    const mine = workflows.filter((w) => w.symbol === sym);
    const entries = mine.filter((w) => w.kind === 'entry' && w.finished?.result === 'hedged').length;
    const exits = mine.filter((w) => w.kind === 'exit' && w.finished).length;
    const compensations = mine.filter((w) => w.kind === 'entry' && w.finished && (w.finished.result !== 'hedged' || w.steps.t !== undefined)).length;
    const per = (x: Dec): Dec | null => (a.notionalMs.gt(0) ? x.mul(YEAR_MS).div(a.notionalMs) : null);
    symbols.push({
      symbol: sym,
      orderQty: a.input.orderQty,
      deltaTolerance: a.input.deltaTolerance,
      fundingIncome: last.funding,
      borrowInterestBase: last.interestBase,
      borrowInterest: last.interest,
      basisPnl: last.basis,
      fees: last.fees,
      netPnl: last.net,
      notionalMs: a.notionalMs,
      holdingMs: a.holdingMs,
      realizedApr: per(last.net),
      realizedFundingApr: per(last.funding),
      predictedApr: a.notionalMs.gt(0) ? a.predNet.div(a.notionalMs) : null,
      predictedGrossApr: a.notionalMs.gt(0) ? a.predGross.div(a.notionalMs) : null,
      entries,
      exits,
      compensations,
      fundingPayments: a.fundingPayments,
      delta: { samples: a.samples, maxAbs: a.maxAbs, maxAbsOutsideWorkflow: a.maxAbsOut, violationsOutsideWorkflow: a.violations },
      series: a.series,
    });
  }
  return {
    strategy: 'funding-arb',
    startMs: t0,
    endMs: now,
    spotBalance: o.spotBalance,
    perpBalance: o.perpBalance,
    symbols,
    fills,
    workflows: workflows.map((w) => ({
      id: w.id,
      symbol: w.symbol,
      kind: w.kind,
      short: w.short === 'a' ? 'spot' : 'perp',
      startedAtMs: startedAt.get(w.id) ?? 0,
      result: w.finished?.result ?? 'unfinished',
      detail: w.finished?.detail ?? '',
    })),
    steps,
    candlesReplayed: perp.status().candlesReplayed,
    config: o.config,
    source: o.source,
  };
}

