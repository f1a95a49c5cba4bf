import type { Dec, FundingRate, Scheduler, TimerHandle, Unsubscribe } from '@mm/domain';
import type { LegId, PairSpec } from './types';

/** The funding state of one leg as last received. Times Unix ms (scheduler time for `receivedAtMs`). */
export interface LegFunding {
  /** Current (last announced) rate per interval, fraction. 0 for spot legs. */
  rate: Dec;
  /** The venue's predicted next rate, when it gives one distinct from `rate`'s source; else undefined. */
  predictedRate?: Dec;
  /** Next funding time (Unix ms); 0 for a leg without funding (spot). */
  nextFundingTimeMs: number;
  /** Funding interval (ms): from the venue's history, then from successive next-funding times, else the configured default. */
  intervalMs: number;
  /** Where `intervalMs` came from. */
  intervalSource: 'history' | 'observed' | 'default';
  /** Scheduler time the reading was received. */
  receivedAtMs: number;
}

/** Per-symbol view the decision uses. `stale` lists the reasons entries are blocked (empty = fresh). */
export interface PairFunding {
  symbol: string;
  legs: Record<LegId, LegFunding | undefined>;
  stale: string[];
}

interface LegState {
  reading?: LegFunding;
  lastError?: string;
  historyInterval?: number;
  observedInterval?: number;
}

/**
 * Funding monitor across the configured pairs: polls each leg's `getFundingRate` every `pollMs` on
 * the injected scheduler and also takes the venue's funding stream, keeping per leg the current and
 * predicted rate, the next funding time, the actual interval and the receipt time.
 *
 * A stream update calls `onStreamUpdate(symbol)` (the strategy evaluates that pair at once).
 *
 * Staleness is judged on receipt time: a leg whose last reading is older than `maxAgeMs` (or that
 * never answered) is stale. Polling, not the stream alone, refreshes a leg, so a leg whose stream
 * is silent (a spot leg, or a perp between settlements) is not stale while its venue answers —
 * unlike the upstream, whose spot leg never got an update and so skipped every decision (bug 5).
 */
export class FundingMonitor {
  private readonly state = new Map<string, Record<LegId, LegState>>();
  private timer?: TimerHandle;
  private readonly unsubs: Unsubscribe[] = [];
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private readonly pairs: readonly PairSpec[],
    private readonly scheduler: Scheduler,
    private readonly opts: { pollMs: number; maxAgeMs: number; onStreamUpdate?: (symbol: string) => void },
  ) {
    if (!(opts.pollMs > 0)) throw new Error(`funding monitor pollMs must be > 0, got ${opts.pollMs}`);
    if (!(opts.maxAgeMs > 0)) throw new Error(`funding monitor maxAgeMs must be > 0, got ${opts.maxAgeMs}`);
    for (const p of pairs) this.state.set(p.symbol, { a: {}, b: {} });
  }

  /** Reads the history (for the interval), polls once, subscribes to the streams and starts polling. */
  async start(): Promise<void> {
    for (const p of this.pairs) {
      for (const id of ['a', 'b'] as const) {
        const leg = p.legs[id];
        const st = this.state.get(p.symbol)![id];
        if (leg.kind === 'perp') {
          try {
            const hist = await leg.venue.getHistoricalFundingRates(leg.symbol, 2);
            if (hist.length >= 2 && hist[1].timestampMs > hist[0].timestampMs) st.historyInterval = hist[1].timestampMs - hist[0].timestampMs;
          } catch {
            // no history: the interval comes from observation or the default
          }
          this.unsubs.push(
            leg.venue.watchFundingRate(leg.symbol, {
              next: (f) => {
                this.accept(p, id, f);
                this.opts.onStreamUpdate?.(p.symbol);
              },
            }),
          );
        }
      }
    }
    await this.pollAll();
    this.timer = this.scheduler.setInterval(() => void this.pollAll(), this.opts.pollMs);
  }

  stop(): void {
    this.scheduler.clear(this.timer);
    this.timer = undefined;
    for (const u of this.unsubs.splice(0)) u();
  }

  /** Resolves when the poll in progress (if any) has finished. */
  idle(): Promise<void> {
    return this.inflight;
  }

  /** Polls every leg once. Errors mark the leg (`lastError`) and leave its reading to age into staleness. */
  pollAll(): Promise<void> {
    const run = async () => {
      for (const p of this.pairs) {
        for (const id of ['a', 'b'] as const) {
          const leg = p.legs[id];
          try {
            this.accept(p, id, await leg.venue.getFundingRate(leg.symbol));
          } catch (e) {
            this.state.get(p.symbol)![id].lastError = e instanceof Error ? e.message : String(e);
          }
        }
      }
    };
    this.inflight = this.inflight.then(run, run);
    return this.inflight;
  }

  private accept(p: PairSpec, id: LegId, f: FundingRate): void {
    const st = this.state.get(p.symbol)![id];
    const leg = p.legs[id];
    const prev = st.reading;
    const noFunding = leg.kind === 'spot' || f.nextFundingTimeMs === 0;
    if (!noFunding && prev && prev.nextFundingTimeMs > 0 && f.nextFundingTimeMs > prev.nextFundingTimeMs)
      st.observedInterval = f.nextFundingTimeMs - prev.nextFundingTimeMs;
    const intervalMs = st.historyInterval ?? st.observedInterval ?? leg.defaultFundingIntervalMs;
    st.reading = {
      rate: noFunding ? f.rate.mul(0) : f.rate,
      predictedRate: noFunding || f.predictedRate === undefined || f.predictedRate === null ? undefined : f.predictedRate,
      nextFundingTimeMs: noFunding ? 0 : f.nextFundingTimeMs,
      intervalMs,
      intervalSource: st.historyInterval !== undefined ? 'history' : st.observedInterval !== undefined ? 'observed' : 'default',
      receivedAtMs: this.scheduler.now(),
    };
    st.lastError = undefined;
  }

  /** The pair's funding view at scheduler time now. @throws Error for an unconfigured symbol. */
  snapshot(symbol: string): PairFunding {
    const st = this.state.get(symbol);
    if (!st) throw new Error(`funding monitor: unknown symbol ${symbol}`);
    const now = this.scheduler.now();
    const stale: string[] = [];
    for (const id of ['a', 'b'] as const) {
      const r = st[id].reading;
      const err = st[id].lastError ? ` (last error: ${st[id].lastError})` : '';
      if (!r) stale.push(`leg ${id}: no funding data${err}`);
      else if (now - r.receivedAtMs > this.opts.maxAgeMs) stale.push(`leg ${id}: funding data ${now - r.receivedAtMs} ms old > ${this.opts.maxAgeMs} ms${err}`);
    }
    return { symbol, legs: { a: st.a.reading, b: st.b.reading }, stale };
  }
}
