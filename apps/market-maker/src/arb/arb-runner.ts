import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Dec, type ExchangeVenue, type Scheduler, ZERO, dec, systemScheduler } from '@mm/domain';
import { grpcClientCredentials, readSecret } from '@mm/platform';
import { type AlertSink, FundingArbStrategy, type LegSpec, type PairSpec, type SharedPortfolioLimiter, type SymbolExposure, fundingArb } from '@mm/trading';
import type { MmConfig } from '../mm.config';
import { RemoteExchange } from '../exchange/remote-exchange';
import type { MmMetrics } from '../http/mm.metrics';
import { TypeOrmArbJournal } from './arb-journal.store';
import { arbFaultJournal, arbFaultVenue } from './arb-fault';

type ArbConfig = MmConfig['funding_arb'];
type LegConfig = ArbConfig['pairs'][number]['legs']['a'];

/** Key of an arbitrage symbol in the shared portfolio limiter's book (kept apart from a grid engine's symbol key). */
export const arbPortfolioKey = (symbol: string): string => `arb:${symbol}`;

/**
 * The arbitrage's entry check against the account's shared portfolio limiter (the one the grid
 * engines consult): an entry of `quantity` per leg at notional `notional` per leg is admitted as one
 * opening of 2 × quantity at notional ÷ quantity — both legs count, gross (a hedged pair still holds
 * two positions, each on its own venue). The refusal text names the cap and the numbers.
 */
export function portfolioCapCheck(portfolio: SharedPortfolioLimiter): fundingArb.PortfolioCapCheck {
  return {
    checkEntry: ({ symbol, quantity, notional }) => {
      if (!quantity.gt(0)) return null;
      const v = portfolio.admit(arbPortfolioKey(symbol), { side: 'BUY', price: notional.div(quantity), quantity: quantity.mul(2) });
      return v.ok ? null : `${v.reason}: ${v.detail}`;
    },
  };
}

/**
 * What the arbitrage reports into the shared portfolio limiter for one pair: the gross position
 * |a| + |b| (base units) valued at the legs' mid price, and, while a workflow is in flight, one entry's
 * 2 × order quantity at mid as pending opening notional. The grid engines' cap checks see it.
 */
export function arbExposure(position: Record<'a' | 'b', Dec>, mid: Dec, inFlight: boolean, orderQty: Dec): SymbolExposure {
  return { positionQty: position.a.abs().plus(position.b.abs()), markPrice: mid, openOpeningNotional: inFlight ? orderQty.mul(2).mul(mid) : ZERO };
}

/** Builds the library's pair specs from `funding_arb.pairs`, resolving each leg's connector by name. */
export function pairsFromConfig(arb: ArbConfig, venueFor: (name: string) => ExchangeVenue): PairSpec[] {
  const leg = (l: LegConfig, symbol: string): LegSpec => ({
    venue: venueFor(l.venue),
    symbol: l.symbol ?? symbol,
    kind: l.kind,
    makerFee: dec(l.maker_fee),
    takerFee: dec(l.taker_fee),
    borrowRateHourly: dec(l.borrow_rate_hourly),
    canShort: l.can_short ?? l.kind === 'perp',
    execution: l.execution === 'market' ? { type: 'MARKET' } : { type: 'LIMIT', offset: dec(l.limit_offset), timeoutMs: l.limit_timeout_ms },
    defaultFundingIntervalMs: l.default_funding_interval_ms,
  });
  return arb.pairs.map((p) => ({
    symbol: p.symbol,
    orderQty: dec(p.order_qty),
    // default rebalance tolerance: 10 % of one entry's quantity
    deltaTolerance: p.delta_tolerance !== undefined ? dec(p.delta_tolerance) : dec(p.order_qty).mul('0.1'),
    legs: { a: leg(p.legs.a, p.symbol), b: leg(p.legs.b, p.symbol) },
  }));
}

/** Strategy settings from `funding_arb` (snake_case config → the library's camelCase settings). */
export function settingsFromConfig(arb: ArbConfig, pairs: PairSpec[]): fundingArb.FundingArbSettings {
  const t = arb.thresholds;
  return {
    pairs,
    thresholds: {
      entryApr: dec(t.entry_apr),
      exitApr: dec(t.exit_apr),
      minAboveThresholdMs: t.min_above_threshold_ms,
      minLeadBeforeFundingMs: t.min_lead_before_funding_ms,
      expectedHoldMs: t.expected_hold_ms,
      basisHaircutApr: dec(t.basis_haircut_apr),
      maxLegPriceSpread: dec(t.max_leg_price_spread),
      maxFundingAgeMs: t.max_funding_age_ms,
    },
    decisionIntervalMs: arb.decision_interval_ms,
    fundingPollMs: arb.funding_poll_ms,
    firstLeg: arb.first_leg,
    maxSendAttempts: arb.max_send_attempts,
    retryDelayMs: arb.retry_delay_ms,
    maxEntryAttemptsPerFunding: arb.max_entry_attempts_per_funding,
    ...(arb.risk.enabled
      ? {
          risk: {
            // each pair carries its own tolerance (pairsFromConfig); this is only their fallback
            deltaTolerance: ZERO,
            maxRebalanceAttemptsPerFunding: arb.risk.max_rebalance_attempts_per_funding,
            maxAdverseBasis: dec(arb.risk.max_adverse_basis),
            emergencyLiquidationDistance: dec(arb.risk.emergency_liquidation_distance),
            emergencyMarginRatio: dec(arb.risk.emergency_margin_ratio),
            stopOpeningLiquidationDistance: dec(arb.risk.stop_opening_liquidation_distance),
            stopOpeningMarginRatio: dec(arb.risk.stop_opening_margin_ratio),
            pollMs: arb.risk.poll_ms,
            recoveryMs: arb.risk.recovery_ms,
          },
        }
      : {}),
  };
}

/** The accounting figures `/status` shows per pair (decimal strings, quote units; APRs fractions per year), null before the first refresh. */
function accountingView(a: fundingArb.ArbAccounting | undefined) {
  if (!a) return null;
  return {
    state: a.state,
    fundingReceived: a.fundingReceived,
    borrowInterest: a.borrowInterest,
    fees: a.fees,
    basisPnl: a.basisPnl,
    openBasisPnl: a.openBasisPnl,
    netPnl: a.netPnl,
    predictedApr: a.predictedApr,
    realizedApr: a.realizedApr,
    netDelta: a.netDelta,
    deltaTolerance: a.deltaTolerance,
    entriesBlocked: a.entriesBlocked,
  };
}

/** One journaled step for `/status`: the intent and, once known, what the venue made of it. */
function stepView(s: { intent: fundingArb.OrderIntent; outcome?: fundingArb.OrderOutcome }) {
  const i = s.intent;
  return {
    step: i.step,
    leg: i.leg,
    symbol: i.symbol,
    side: i.side,
    type: i.type,
    quantity: i.quantity,
    reduceOnly: i.reduceOnly,
    clientOrderId: i.clientOrderId,
    status: s.outcome?.status ?? 'SENT_OR_PENDING',
    executedQty: s.outcome?.executedQty ?? null,
    avgPrice: s.outcome?.avgPrice ?? null,
    error: s.outcome?.error,
  };
}

const STEP_ORDER = ['f', 'h', 'u', 't', 'x', 'y'] as const;

/** A workflow for `/status`: kind, direction, state (`in_progress` or its result) and its steps in order. */
export function workflowView(wf: fundingArb.WorkflowState) {
  return {
    id: wf.id,
    symbol: wf.symbol,
    kind: wf.kind,
    shortLeg: wf.short,
    firstLeg: wf.first,
    fundingTimeMs: wf.fundingTimeMs,
    quantity: wf.quantity.toString(),
    state: wf.finished ? wf.finished.result : 'in_progress',
    detail: wf.finished?.detail,
    steps: STEP_ORDER.filter((c) => wf.steps[c]).map((c) => stepView(wf.steps[c]!)),
  };
}

/**
 * Runs the funding-rate arbitrage (libs/trading `FundingArbStrategy`) inside the market maker, beside
 * the grid engines (README "Funding-rate arbitrage in the market maker"):
 * - each leg reaches its venue through a RemoteExchange gRPC client: `exchange` (the grid's connector)
 *   or a named connector under `venues` (one connector per market, e.g. a spot connector);
 * - the workflow journal is the `arb_journal` table of the market maker's database
 *   ({@link TypeOrmArbJournal}); on start, unfinished workflows are resumed or compensated;
 * - entries are screened by the same {@link SharedPortfolioLimiter} as the grid engines, and the
 *   arbitrage's gross leg notional is reported into it (key `arb:<symbol>`), so grid and arbitrage
 *   share the portfolio caps both ways;
 * - `/status` (`fundingArb`) shows each pair's legs, positions and workflows; Prometheus gauges per
 *   symbol: funding received, borrow interest, fees, basis and net PnL, realized vs predicted APR,
 *   leg positions and delta (the strategy's `accounting()`).
 * Wall clock (`systemScheduler`): the app is the composition root; the library never reads it.
 */
export class ArbRunner {
  private readonly log = new Logger('FundingArb');
  /** Connectors by config name (`exchange` = the grid's). */
  readonly venues = new Map<string, ExchangeVenue>();
  private readonly own: RemoteExchange[] = [];
  strategy?: FundingArbStrategy;
  private pairs: PairSpec[] = [];
  private timer?: NodeJS.Timeout;
  private readonly prices = new Map<string, Dec>();
  /** The strategy's accounting per symbol at the last refresh (funding, interest, fees, basis, APRs). */
  private readonly accounts = new Map<string, fundingArb.ArbAccounting>();
  private readonly funding = new Map<string, Dec>();
  startError?: string;

  constructor(
    private readonly config: MmConfig,
    private readonly dataSource: DataSource,
    main: ExchangeVenue,
    private readonly portfolio: SharedPortfolioLimiter,
    private readonly metrics: MmMetrics,
    private readonly alerts: AlertSink,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly scheduler: Scheduler = systemScheduler,
  ) {
    this.venues.set('exchange', main);
    for (const [name, c] of Object.entries(config.venues)) {
      const r = new RemoteExchange({
        address: c.address,
        token: readSecret(c.token, c.token_file, `venues.${name}.token_file`) || undefined,
        credentials: grpcClientCredentials(c.tls, `venues.${name}.tls`).credentials,
        connectAttempts: c.connect_attempts,
        requestTimeoutMs: c.request_timeout_ms,
        onStreamState: (stream, state, detail) => {
          if (state === 'reconnecting') this.log.warn(`venue ${name}: ${stream} stream reconnecting: ${detail ?? ''}`);
        },
        onUndecodable: (stream, detail) => this.log.error(`venue ${name}: ${stream} stream: ${detail}`),
      });
      this.venues.set(name, r);
      this.own.push(r);
    }
  }

  get enabled(): boolean {
    return this.config.funding_arb.enabled;
  }

  /**
   * Connects the named connectors, builds the pairs and the strategy (journal on the database) and
   * starts it: unfinished workflows from the journal are resumed first.
   * @throws Error when a connector is unreachable or a leg's symbol is unknown to its venue.
   */
  async start(): Promise<void> {
    for (const [name, v] of this.venues) if (v instanceof RemoteExchange && name !== 'exchange') await v.connect();
    const arb = this.config.funding_arb;
    this.pairs = pairsFromConfig(arb, (name) => arbFaultVenue(this.venues.get(name)!, this.env));
    const journal = arbFaultJournal(new TypeOrmArbJournal(this.dataSource), this.env);
    this.strategy = new FundingArbStrategy(settingsFromConfig(arb, this.pairs), { scheduler: this.scheduler, journal, caps: portfolioCapCheck(this.portfolio), alerts: this.alerts });
    await this.strategy.start();
    this.log.log(`funding arbitrage on ${this.pairs.map((p) => `${p.symbol} (a: ${p.legs.a.kind}@${arb.pairs.find((x) => x.symbol === p.symbol)!.legs.a.venue}, b: ${p.legs.b.kind}@${arb.pairs.find((x) => x.symbol === p.symbol)!.legs.b.venue})`).join(', ')}`);
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch((e: Error) => this.log.warn(`refresh: ${e.message}`)), Math.max(1000, arb.decision_interval_ms));
    this.timer.unref();
  }

  /** Stops the strategy (unfinished workflows stay journaled for the next start) and closes the named connectors. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.strategy?.stop();
    await this.strategy?.idle().catch(() => undefined);
    for (const r of this.own) await r.close().catch(() => undefined);
  }

  /** Signed position per leg from the journal (base units). */
  private positions(): Map<string, Record<'a' | 'b', Dec>> {
    const out = new Map<string, Record<'a' | 'b', Dec>>();
    for (const s of this.strategy?.status() ?? []) out.set(s.symbol, { a: new Dec(s.position.a), b: new Dec(s.position.b) });
    return out;
  }

  /**
   * Refreshes prices, venue funding, the strategy's accounting, the portfolio limiter's book and the
   * gauges (every `funding_arb.decision_interval_ms`, at least 1 s).
   */
  async refresh(): Promise<void> {
    if (!this.strategy) return;
    const pos = this.positions();
    for (const a of await this.strategy.accountingAll().catch((e: Error) => (this.log.warn(`accounting: ${e.message}`), []))) this.accounts.set(a.symbol, a);
    const inFlight = new Map(this.strategy.status().map((s) => [s.symbol, s.inFlight]));
    for (const p of this.pairs) {
      for (const id of ['a', 'b'] as const) {
        const l = p.legs[id];
        const px = await l.venue.getLatestPrice(l.symbol).catch(() => undefined);
        if (px) this.prices.set(`${p.symbol}:${id}`, px);
        if (l.kind === 'perp') {
          const acct = await l.venue.getAccount().catch(() => undefined);
          const f = acct?.positions.find((x) => x.symbol === l.symbol)?.fundingPnl;
          if (f) this.funding.set(`${p.symbol}:${id}`, f);
        }
      }
      const pa = this.prices.get(`${p.symbol}:a`);
      const pb = this.prices.get(`${p.symbol}:b`);
      const q = pos.get(p.symbol) ?? { a: ZERO, b: ZERO };
      const mid = pa && pb ? pa.plus(pb).div(2) : (pa ?? pb);
      if (mid) this.portfolio.report(arbPortfolioKey(p.symbol), arbExposure(q, mid, !!inFlight.get(p.symbol), p.orderQty));
      const m = this.metrics;
      const symbol = p.symbol;
      m.arbLegPosition.set({ symbol, leg: 'a' }, q.a.toNumber());
      m.arbLegPosition.set({ symbol, leg: 'b' }, q.b.toNumber());
      m.arbLegDelta.set({ symbol }, q.a.plus(q.b).toNumber());
      const acc = this.accounts.get(symbol);
      // the accounting's own funding figure, so the gauges add up to the net PnL gauge
      m.arbFundingReceived.set({ symbol }, Number(acc?.fundingReceived ?? (this.funding.get(`${symbol}:a`) ?? ZERO).plus(this.funding.get(`${symbol}:b`) ?? ZERO)));
      if (acc) {
        m.arbBorrowInterest.set({ symbol }, Number(acc.borrowInterest.quote));
        m.arbFees.set({ symbol }, Number(acc.fees));
        m.arbBasisPnl.set({ symbol }, Number(acc.basisPnl));
        m.arbNetPnl.set({ symbol }, Number(acc.netPnl));
        if (acc.predictedApr !== null) m.arbApr.set({ symbol, kind: 'predicted' }, Number(acc.predictedApr));
        if (acc.realizedApr !== null) m.arbApr.set({ symbol, kind: 'realized' }, Number(acc.realizedApr));
      }
      m.arbInFlight.set({ symbol }, inFlight.get(symbol) ? 1 : 0);
    }
  }

  /** `/status` → `fundingArb`: per pair its legs (venue, kind, position), delta, decision and workflows. */
  status() {
    if (!this.enabled) return { enabled: false };
    if (!this.strategy) return { enabled: true, state: this.startError ? 'failed' : 'starting', error: this.startError };
    const wfs = this.strategy.listWorkflows();
    const byResult: Record<string, number> = {};
    for (const w of wfs) byResult[w.finished?.result ?? 'in_progress'] = (byResult[w.finished?.result ?? 'in_progress'] ?? 0) + 1;
    const cfg = this.config.funding_arb.pairs;
    return {
      enabled: true,
      state: this.strategy.haltReason ? 'halted' : 'running',
      haltReason: this.strategy.haltReason,
      workflows: byResult,
      pairs: this.strategy.status().map((s) => {
        const pair = this.pairs.find((p) => p.symbol === s.symbol)!;
        const c = cfg.find((p) => p.symbol === s.symbol)!;
        const mine = wfs.filter((w) => w.symbol === s.symbol);
        const leg = (id: 'a' | 'b') => ({ venue: c.legs[id].venue, symbol: pair.legs[id].symbol, kind: pair.legs[id].kind, position: s.position[id], lastPrice: this.prices.get(`${s.symbol}:${id}`)?.toString() ?? null, fundingPnl: this.funding.get(`${s.symbol}:${id}`)?.toString() ?? null });
        return {
          symbol: s.symbol,
          legs: { a: leg('a'), b: leg('b') },
          delta: new Dec(s.position.a).plus(s.position.b).toString(),
          accounting: accountingView(this.accounts.get(s.symbol)),
          inFlight: s.inFlight ? workflowView(mine.find((w) => w.id === s.inFlight)!) : null,
          lastDecision: s.lastDecision,
          recentWorkflows: mine.slice(-5).map(workflowView),
        };
      }),
    };
  }
}
