import { Counter, Gauge, Histogram, type Registry, register as defaultRegistry } from 'prom-client';
import type { Dec } from '@mm/domain';

/** Histogram buckets for venue round trips, seconds: sub-ms (sim) up to past the 10 s venue timeouts. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A histogram fed in milliseconds that records seconds (the engine measures with `Date.now()` ms). */
export interface MsObserver {
  /** @param ms elapsed time in milliseconds; stored as `ms / 1000` seconds. */
  observe(labels: Record<string, string>, ms: number): void;
}

/**
 * Market maker metrics, Prometheus conventions: base units in the name (`_seconds`, `_base`,
 * quote = USDT in the help), `_total` only on counters, `_info` for build information. Labels:
 * symbol, side, reason, operation, outcome, state only (bounded). Gauges of money are floats for
 * Prometheus; the exact decimal values are in `/status` and the database.
 *
 * The table in README "Metrics" lists every series; a new metric goes here AND there (and, if it
 * belongs on the dashboard, into deploy/observability/grafana/opensqt-dashboard.json).
 *
 * The engine writes through the fields below (names kept stable for libs/trading); the app layer
 * (`MmTelemetryService`) writes equity, breaker state, dead-man state and alert delivery.
 */
export class MmMetrics {
  readonly ordersPlaced: Counter<string>;
  readonly ordersFilled: Counter<string>;
  readonly volume: Counter<string>;
  readonly rejected: Counter<string>;
  readonly pnlRealized: Gauge<string>;
  readonly positionSize: Gauge<string>;
  readonly ordersActive: Gauge<string>;
  readonly feedAge: Gauge<string>;
  /** Observed in ms by the engine, exported as `market_maker_exchange_latency_seconds`. */
  readonly exchangeLatency: MsObserver;
  readonly exchangeLatencySeconds: Histogram<string>;
  readonly pnlUnrealized: Gauge<string>;
  readonly breakerOpen: Gauge<string>;
  readonly breakerTrips: Counter<string>;
  readonly riskTriggered: Gauge<string>;
  readonly ordersBlocked: Counter<string>;
  readonly divergence: Gauge<string>;
  // Written by the app layer (MmTelemetryService):
  readonly equity: Gauge<string>;
  /** Supervisor restarts of a symbol engine after it failed. */
  readonly engineRestarts: Counter<string>;
  /** 1 while a symbol engine is running (0 paused, crashed or restarting). */
  readonly engineUp: Gauge<string>;
  readonly breakerState: Gauge<string>;
  readonly deadManArmed: Gauge<string>;
  readonly deadManRemaining: Gauge<string>;
  readonly alerts: Counter<string>;
  readonly buildInfo: Gauge<string>;
  readonly undecodable: Counter<string>;
  readonly foreignOrders: Counter<string>;
  readonly storageHealthy: Gauge<string>;
  readonly marginRatio: Gauge<string>;
  readonly liquidationDistance: Gauge<string>;
  readonly fundingPnl: Gauge<string>;
  readonly accountEquity: Gauge<string>;
  readonly accountMarginRatio: Gauge<string>;
  readonly accountFundingPnl: Gauge<string>;
  readonly accountFundingBySymbol: Gauge<string>;
  readonly accountDrawdown: Gauge<string>;
  readonly accountOpeningBlocked: Gauge<string>;
  readonly accountReadingAge: Gauge<string>;
  // Funding arbitrage (apps/market-maker/src/arb):
  readonly arbFundingReceived: Gauge<string>;
  readonly arbBorrowInterest: Gauge<string>;
  readonly arbFees: Gauge<string>;
  readonly arbLegDelta: Gauge<string>;
  readonly arbLegPosition: Gauge<string>;
  readonly arbInFlight: Gauge<string>;
  readonly arbBasisPnl: Gauge<string>;
  readonly arbNetPnl: Gauge<string>;
  readonly arbApr: Gauge<string>;

  /** Last unrealized PnL (quote) and feed age (s) per symbol, written to their gauges at collection. */
  private readonly markStates = new Map<string, { unrealized: Dec; feedAgeSeconds: number }>();

  /**
   * The engine's per-tick mark state (unrealized PnL in quote units, feed age in seconds): kept here
   * and written to `market_maker_pnl_unrealized` / `market_maker_feed_age_seconds` when they are
   * collected (a scrape), so a price tick costs no gauge update.
   */
  markState(symbol: string, unrealized: Dec, feedAgeSeconds: number): void {
    const s = this.markStates.get(symbol);
    if (s) {
      s.unrealized = unrealized;
      s.feedAgeSeconds = feedAgeSeconds;
    } else this.markStates.set(symbol, { unrealized, feedAgeSeconds });
  }

  /** @param registers where the series are registered (none: detached, for benchmarks). */
  constructor(registers: Registry[] = [defaultRegistry]) {
    const c = (name: string, help: string, labelNames: string[]) => new Counter({ name, help, labelNames, registers });
    const g = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers });
    this.ordersPlaced = c('market_maker_orders_placed_total', 'Orders accepted by the venue', ['symbol', 'side']);
    this.ordersFilled = c('market_maker_orders_filled_total', 'Fills booked', ['symbol', 'side']);
    this.volume = c('market_maker_volume_total', 'Filled quantity, base units', ['symbol', 'side']);
    this.rejected = c('market_maker_orders_rejected_total', 'Orders the venue rejected', ['symbol', 'reason']);
    this.pnlRealized = g('market_maker_pnl_realized', 'Realized PnL of closed round trips net of fees, quote units (USDT)', ['symbol']);
    this.positionSize = g('market_maker_position_size', 'Inventory held by the grid, base units', ['symbol']);
    this.ordersActive = g('market_maker_orders_active', 'Slots with a pending or live order', ['symbol']);
    // Set at every price tick (`markState`): remembered there and written when scraped.
    const marks = this.markStates;
    this.feedAge = new Gauge({
      name: 'market_maker_feed_age_seconds',
      help: 'Age of the last price tick, seconds',
      labelNames: ['symbol'],
      registers,
      collect() {
        for (const [symbol, s] of marks) this.set({ symbol }, s.feedAgeSeconds);
      },
    });
    this.exchangeLatencySeconds = new Histogram({
      name: 'market_maker_exchange_latency_seconds',
      help: 'Exchange round-trip time per order through the connector, seconds',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    const h = this.exchangeLatencySeconds;
    this.exchangeLatency = { observe: (labels, ms) => h.observe(labels, ms / 1000) };
    this.pnlUnrealized = new Gauge({
      name: 'market_maker_pnl_unrealized',
      help: 'Unrealized PnL of the grid inventory at the last price, quote units (USDT)',
      labelNames: ['symbol'],
      registers,
      collect() {
        for (const [symbol, s] of marks) this.set({ symbol }, s.unrealized.toNumber());
      },
    });
    this.breakerOpen = g('market_maker_circuit_breaker_open', 'Circuit breaker: 1 open, 0.5 half-open, 0 closed', ['symbol']);
    this.breakerTrips = c('market_maker_circuit_breaker_trips_total', 'Breaker trips by reason', ['symbol', 'reason']);
    this.riskTriggered = g('market_maker_risk_triggered', '1 while the crash guard is triggered', ['symbol']);
    this.ordersBlocked = c('market_maker_orders_blocked_total', 'Orders not sent because of an exposure limit', ['symbol', 'reason']);
    this.divergence = g('market_maker_reconciliation_divergence', 'Venue position minus local inventory at the last reconciliation, base units', ['symbol']);
    this.equity = g('market_maker_equity', 'Strategy equity: realized PnL (net of every fee) + funding since start + unrealized PnL, quote units (USDT)', ['symbol']);
    this.breakerState = g('market_maker_circuit_breaker_state', '1 for the current breaker state and trip reason (reason "none" when closed)', ['symbol', 'state', 'reason']);
    this.deadManArmed = g('market_maker_dead_man_armed', "1 while the connector's dead-man's switch is armed for this instance", ['symbol']);
    this.deadManRemaining = g('market_maker_dead_man_remaining_seconds', "Time left until the dead-man's switch fires without a heartbeat, seconds", ['symbol']);
    this.alerts = c('market_maker_alerts_total', 'Alert deliveries by outcome (sent, failed, dropped, deduped, rate_limited)', ['outcome']);
    this.undecodable = c('market_maker_undecodable_messages_total', 'Stream messages from the connector that failed to decode (never delivered to the engine)', ['stream']);
    this.foreignOrders = c('market_maker_foreign_orders_total', 'Venue answers under our client order ids that did not match the intent (not adopted)', ['symbol', 'where']);
    this.storageHealthy = g('market_maker_storage_healthy', '1 while the storage check passes, 0 after it failed', ['symbol']);
    this.marginRatio = g('market_maker_margin_ratio', 'Account margin ratio at the last poll: maintenance margin / margin balance (ratio; the venue liquidates at 1)', ['symbol']);
    this.liquidationDistance = g('market_maker_liquidation_distance_ratio', "The symbol position's |mark - liquidation price| / mark at the last poll (ratio)", ['symbol']);
    this.fundingPnl = g('market_maker_funding_pnl', "Funding received (+) / paid (-) by this symbol's position since the engine started, quote units (USDT)", ['symbol']);
    this.accountEquity = g('market_maker_account_equity', 'Account equity: margin balance (wallet + unrealized PnL at mark) at the last account poll, quote units (USDT)', []);
    this.accountMarginRatio = g('market_maker_account_margin_ratio', 'Account margin ratio at the last account poll: maintenance margin / margin balance (ratio; the venue liquidates at 1)', []);
    this.accountFundingPnl = g('market_maker_account_funding_pnl', 'Cumulative funding received (+) / paid (-) by the whole account as the venue reports it, quote units (USDT)', []);
    this.accountFundingBySymbol = g('market_maker_account_symbol_funding_pnl', "Cumulative funding received (+) / paid (-) by one symbol's position as the venue reports it, quote units (USDT)", ['symbol']);
    this.accountDrawdown = g('market_maker_account_drawdown_ratio', 'Account equity below its peak: (peak - equity) / peak (ratio)', []);
    this.accountOpeningBlocked = g('market_maker_account_opening_blocked', '1 while account risk stops opening on every symbol', ['reason']);
    this.accountReadingAge = g('market_maker_account_reading_age_seconds', 'Age of the last good account reading, seconds', []);
    this.arbFundingReceived = g('market_maker_arb_funding_received', "Funding received (+) / paid (-) by the arbitrage's perp legs as their venues report it, quote units (USDT)", ['symbol']);
    this.arbBorrowInterest = g('market_maker_arb_borrow_interest', "Borrow interest of the short spot leg (the venue's figure, else the strategy's hourly estimate from the journal), valued at the leg's last price, quote units (USDT)", ['symbol']);
    this.arbFees = g('market_maker_arb_fees', "Fees of every journaled arbitrage fill (the venue's reported fee, else executed notional x the leg's maker/taker rate), quote units (USDT)", ['symbol']);
    this.arbBasisPnl = g('market_maker_arb_basis_pnl', "Price PnL of both arbitrage legs together (what the basis made or lost), quote units (USDT)", ['symbol']);
    this.arbNetPnl = g('market_maker_arb_net_pnl', 'Arbitrage net PnL: funding - borrow interest - fees + basis PnL, quote units (USDT)', ['symbol']);
    this.arbApr = g('market_maker_arb_apr_ratio', 'Arbitrage APR as a fraction per year: kind="predicted" (net APR of the last entry decision) or kind="realized" (net PnL / entry notional x time held)', ['symbol', 'kind']);
    this.arbLegDelta = g('market_maker_arb_leg_delta', 'Net delta of the arbitrage: leg a + leg b signed positions, base units', ['symbol']);
    this.arbLegPosition = g('market_maker_arb_leg_position', 'Signed position of one arbitrage leg from the workflow journal, base units', ['symbol', 'leg']);
    this.arbInFlight = g('market_maker_arb_workflow_in_flight', '1 while an arbitrage entry or exit workflow of the symbol is unfinished', ['symbol']);
    this.engineRestarts = c('market_maker_engine_restarts_total', 'Supervisor restarts of a failed symbol engine', ['symbol']);
    this.engineUp = g('market_maker_engine_up', '1 while the symbol engine runs, 0 when paused, failed or waiting for its restart', ['symbol']);
    this.buildInfo = g('market_maker_build_info', 'Build information; value is always 1', ['version', 'node_version']);
    for (const outcome of ['sent', 'failed', 'dropped', 'deduped', 'rate_limited']) this.alerts.inc({ outcome }, 0);
  }

  /** Metrics outside Nest (benchmarks, tests): the same set, registered in `registry` or in none. */
  static standalone(registry?: Registry): MmMetrics {
    return new MmMetrics(registry ? [registry] : []);
  }

  onFill(symbol: string, side: string, qty: Dec): void {
    this.ordersFilled.inc({ symbol, side });
    this.volume.inc({ symbol, side }, qty.toNumber());
  }

  /** Zero series for a symbol so every dashboard query has data before the first event. */
  initSymbol(symbol: string, version: string): void {
    for (const side of ['BUY', 'SELL']) {
      this.ordersPlaced.inc({ symbol, side }, 0);
      this.ordersFilled.inc({ symbol, side }, 0);
      this.volume.inc({ symbol, side }, 0);
    }
    this.rejected.inc({ symbol, reason: 'other' }, 0);
    this.undecodable.inc({ stream: 'price' }, 0);
    this.ordersBlocked.inc({ symbol, reason: 'position_notional' }, 0);
    this.breakerTrips.inc({ symbol, reason: 'manual' }, 0);
    this.divergence.set({ symbol }, 0);
    this.riskTriggered.set({ symbol }, 0);
    this.breakerOpen.set({ symbol }, 0);
    this.buildInfo.set({ version, node_version: process.version }, 1);
  }
}
