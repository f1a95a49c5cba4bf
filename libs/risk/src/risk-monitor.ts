import { type Candle, Dec, ZERO } from '@mm/domain';
import { averageTrueRange } from './atr';
import { emitAll } from './emit';

/**
 * Market-crash guard settings (upstream `risk_control.*`, §3.4). Invalid values throw naming the key.
 */
export interface RiskMonitorConfig {
  /** Monitored symbols (`risk.symbols`), non-empty, unique. Candles of other symbols are ignored. */
  symbols: string[];
  /** Closed candles averaged before the last one (`risk.average_window`), integer ≥ 2; upstream default 20. */
  averageWindow: number;
  /** A candle is a volume spike when its volume > average × this (`risk.volume_multiplier`), > 0; upstream default 3. */
  volumeMultiplier: Dec;
  /** `any`: one flagged symbol triggers; `all`: every symbol must be flagged (`risk.policy`; upstream default All). */
  policy: 'any' | 'all';
  /**
   * Un-flagged symbols needed to clear a trigger (`risk.recovery_threshold`), integer ≥ 1. Values above
   * `symbols.length` are clamped to it, so the guard can always recover (upstream bug 14).
   */
  recoveryThreshold: number;
  /**
   * A flagged symbol stays flagged while its candle volume > average × this (and close < average close)
   * (`risk.clear_volume_multiplier`), in (0, volumeMultiplier]; default volumeMultiplier × 2/3.
   */
  clearVolumeMultiplier?: Dec;
  /**
   * Once triggered, the guard clears only after this much candle time without a crash candle, ms
   * (`risk.min_triggered_ms`), ≥ 0; default {@link DEFAULT_MIN_TRIGGERED_MS}.
   */
  minTriggeredMs?: number;
  /**
   * More than this between two traded (volume > 0) candles of a symbol, ms (`risk.max_candle_gap_ms`),
   * > 0, is a feed gap: the history before it is dropped; default {@link DEFAULT_MAX_CANDLE_GAP_MS}.
   */
  maxCandleGapMs?: number;
}

/** Default of {@link RiskMonitorConfig.minTriggeredMs}: 10 min. */
export const DEFAULT_MIN_TRIGGERED_MS = 600_000;
/** Default of {@link RiskMonitorConfig.maxCandleGapMs}: 5 min. */
export const DEFAULT_MAX_CANDLE_GAP_MS = 300_000;

/** Global trigger transition event. `symbols` are the flagged symbols at the time (sorted). */
export interface RiskMonitorEvent {
  triggered: boolean;
  symbols: string[];
  detail: string;
}

interface SymbolState {
  /** Closed candles, oldest first, at most averageWindow + 1. */
  closed: Candle[];
  /** Σ volume and Σ close of `closed`, kept exact with every change to it (no re-summing per candle). */
  volumeSum: Dec;
  closeSum: Dec;
  /** The forming candle newer than the last closed one, if any. */
  forming: Candle | null;
  flagged: boolean;
  /** Why the last evaluation flagged or not; built only when read (an alert), not at every candle. */
  lastDetail: () => string;
  /** openTimeMs of the newest closed candle that met the trigger rule; -Infinity if none. */
  lastCrashMs: number;
}

/**
 * Market-crash guard (upstream §3.4 `internal/risk/monitor.go`, without bug 14).
 *
 * Per symbol, evaluated when a CLOSED candle arrives (forming candles are stored but never flag a
 * symbol — upstream also evaluated live candles, so a spike could flag and un-flag within a minute):
 * with `last` the newest closed candle and `prev` the `averageWindow` closed candles before it,
 * the symbol is flagged iff `last.volume > avg(prev.volume) × volumeMultiplier` AND
 * `last.close < avg(prev.close)`. Fewer than `averageWindow + 1` closed candles → not flagged.
 * A flagged symbol stays flagged while its newest closed candle has volume > avg × `clearVolumeMultiplier`
 * AND close < avg close (clear threshold below the trigger: a half-calm minute does not un-flag it).
 *
 * Gaps and dead minutes (the 2023-03-24 outage: 72 zero-volume candles made the average 0, so the
 * first real candle "spiked"): a closed candle with volume 0 is ignored — not stored, not averaged,
 * never flags. When the next traded candle is more than `maxCandleGapMs` after the previous traded
 * one (missing minutes and zero-volume minutes alike), the history before the gap is dropped, so the
 * post-gap candle is judged only once `averageWindow` fresh traded candles precede it.
 *
 * Global: not triggered → triggered when `any`: ≥ 1 symbol flagged / `all`: every symbol flagged.
 * Triggered → cleared when that condition no longer holds AND the number of un-flagged symbols is
 * ≥ min(recoveryThreshold, symbols.length) AND at least `minTriggeredMs` of candle time has passed
 * since the last crash candle of any symbol (so one trigger cancels the buy window once, not every
 * minute of a volatile hour; a crash candle while triggered extends the hold).
 *
 * Memory per symbol is bounded: `averageWindow + 1` closed candles plus one forming candle.
 */
export class RiskMonitor {
  private readonly cfg: RiskMonitorConfig;
  private readonly recoveryThreshold: number;
  private readonly bySymbol = new Map<string, SymbolState>();
  private isTriggered = false;
  private readonly listeners = new Set<(e: RiskMonitorEvent) => void>();

  /** @throws Error naming the config key (`risk.volume_multiplier`, `risk.average_window`, …) when invalid. */
  constructor(cfg: RiskMonitorConfig) {
    if (!Array.isArray(cfg.symbols) || cfg.symbols.length === 0) throw new Error('risk.symbols must list at least one symbol');
    if (new Set(cfg.symbols).size !== cfg.symbols.length) throw new Error(`risk.symbols has duplicates: ${cfg.symbols.join(',')}`);
    if (!Number.isInteger(cfg.averageWindow) || cfg.averageWindow < 2) {
      throw new Error(`risk.average_window must be an integer ≥ 2, got ${cfg.averageWindow}`);
    }
    if (!Dec.isDecimal(cfg.volumeMultiplier) || !cfg.volumeMultiplier.isFinite() || !cfg.volumeMultiplier.gt(0)) {
      throw new Error(`risk.volume_multiplier must be > 0, got ${String(cfg.volumeMultiplier)}`);
    }
    if (cfg.policy !== 'any' && cfg.policy !== 'all') throw new Error(`risk.policy must be "any" or "all", got ${String(cfg.policy)}`);
    if (!Number.isInteger(cfg.recoveryThreshold) || cfg.recoveryThreshold < 1) {
      throw new Error(`risk.recovery_threshold must be an integer ≥ 1, got ${cfg.recoveryThreshold}`);
    }
    const clear = cfg.clearVolumeMultiplier ?? cfg.volumeMultiplier.mul(2).div(3);
    if (!Dec.isDecimal(clear) || !clear.isFinite() || !clear.gt(0) || clear.gt(cfg.volumeMultiplier)) {
      throw new Error(`risk.clear_volume_multiplier must be > 0 and ≤ risk.volume_multiplier (${cfg.volumeMultiplier}), got ${String(clear)}`);
    }
    const minTriggeredMs = cfg.minTriggeredMs ?? DEFAULT_MIN_TRIGGERED_MS;
    if (!Number.isFinite(minTriggeredMs) || minTriggeredMs < 0) throw new Error(`risk.min_triggered_ms must be a finite number ≥ 0, got ${minTriggeredMs}`);
    const maxCandleGapMs = cfg.maxCandleGapMs ?? DEFAULT_MAX_CANDLE_GAP_MS;
    if (!Number.isFinite(maxCandleGapMs) || maxCandleGapMs <= 0) throw new Error(`risk.max_candle_gap_ms must be a finite number > 0, got ${maxCandleGapMs}`);
    this.cfg = { ...cfg, symbols: [...cfg.symbols], clearVolumeMultiplier: clear, minTriggeredMs, maxCandleGapMs };
    this.recoveryThreshold = Math.min(cfg.recoveryThreshold, cfg.symbols.length);
    for (const s of cfg.symbols) this.bySymbol.set(s, { closed: [], volumeSum: ZERO, closeSum: ZERO, forming: null, flagged: false, lastDetail: () => 'not enough closed candles', lastCrashMs: -Infinity });
  }

  /**
   * Feeds a candle (closed or forming). A candle with the same `openTimeMs` as a stored one replaces
   * it; a closed candle older than the retained history is ignored; a forming candle not newer than
   * the last closed one is ignored. Only a closed candle re-evaluates the symbol and the global trigger.
   */
  onCandle(c: Candle): void {
    const st = this.bySymbol.get(c.symbol);
    if (!st) return;
    const lastClosed = st.closed[st.closed.length - 1];
    if (!c.closed) {
      if (lastClosed && c.openTimeMs <= lastClosed.openTimeMs) return;
      if (!st.forming || c.openTimeMs >= st.forming.openTimeMs) st.forming = c;
      return;
    }
    if (c.volume.lte(0)) return; // a dead minute: no trade, nothing to average or judge
    if (lastClosed && c.openTimeMs - lastClosed.openTimeMs > this.cfg.maxCandleGapMs!) {
      st.closed = []; // feed gap: the market before it says nothing about the candles after it
      st.volumeSum = st.closeSum = ZERO;
      st.forming = null;
    }
    // Closed candle: replace by openTimeMs, or insert in time order.
    const idx = st.closed.findIndex((x) => x.openTimeMs === c.openTimeMs);
    if (idx >= 0) {
      untally(st, st.closed[idx]!);
      st.closed[idx] = c;
    } else if (!lastClosed || c.openTimeMs > lastClosed.openTimeMs) {
      st.closed.push(c);
    } else if (st.closed.length > 0 && c.openTimeMs < st.closed[0]!.openTimeMs) {
      return; // older than the retained history
    } else {
      const at = st.closed.findIndex((x) => x.openTimeMs > c.openTimeMs);
      st.closed.splice(at, 0, c);
    }
    tally(st, c);
    if (st.forming && st.forming.openTimeMs <= c.openTimeMs) st.forming = null;
    const keep = this.cfg.averageWindow + 1;
    if (st.closed.length > keep) for (const old of st.closed.splice(0, st.closed.length - keep)) untally(st, old);
    this.evaluateSymbol(st);
    this.evaluateGlobal(c.openTimeMs);
  }

  /** True while the global crash guard is triggered: the engine must not open new positions. */
  get triggered(): boolean {
    return this.isTriggered;
  }

  /** Whether `symbol`'s last closed candle was a crash candle (false for unknown symbols). */
  symbolTriggered(symbol: string): boolean {
    return this.bySymbol.get(symbol)?.flagged ?? false;
  }

  /**
   * Average true range of `symbol`, quote price units: mean TR over the last ≤ `averageWindow` closed
   * candles (upstream §3.4); the candle before them (if retained) supplies the first previous close.
   * @returns null for an unknown symbol or one without closed candles.
   */
  atr(symbol: string): Dec | null {
    const st = this.bySymbol.get(symbol);
    if (!st || st.closed.length === 0) return null;
    const n = Math.min(this.cfg.averageWindow, st.closed.length);
    const from = st.closed.length - n;
    return averageTrueRange(st.closed.slice(from), from > 0 ? st.closed[from - 1]!.close : null);
  }

  /** Subscribes to global trigger transitions (triggered ↔ cleared). Returns an unsubscribe function. */
  onChange(listener: (e: RiskMonitorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private evaluateSymbol(st: SymbolState): void {
    const w = this.cfg.averageWindow;
    if (st.closed.length < w + 1) {
      st.flagged = false;
      const n = st.closed.length;
      st.lastDetail = () => `not enough closed candles (${n}/${w + 1})`;
      return;
    }
    const last = st.closed[st.closed.length - 1]!;
    // the w candles before `last` are all the others (closed holds w + 1): Σ of them = Σ closed − last
    const avgVol = st.volumeSum.minus(last.volume).div(w);
    const avgClose = st.closeSum.minus(last.close).div(w);
    const volLimit = avgVol.mul(this.cfg.volumeMultiplier);
    const crash = last.volume.gt(volLimit) && last.close.lt(avgClose);
    if (crash) st.lastCrashMs = Math.max(st.lastCrashMs, last.openTimeMs);
    st.flagged = crash || (st.flagged && last.volume.gt(avgVol.mul(this.cfg.clearVolumeMultiplier!)) && last.close.lt(avgClose));
    const mult = this.cfg.volumeMultiplier;
    const { symbol, openTimeMs, volume, close } = last;
    st.lastDetail = () => `${symbol}@${openTimeMs}: volume ${volume} vs ${volLimit} (avg ${avgVol} × ${mult}), ` + `close ${close} vs avg ${avgClose}`;
  }

  private evaluateGlobal(candleMs: number): void {
    const flagged = this.cfg.symbols.filter((s) => this.bySymbol.get(s)!.flagged).sort();
    const total = this.cfg.symbols.length;
    const condition = this.cfg.policy === 'any' ? flagged.length >= 1 : flagged.length === total;
    const unflagged = total - flagged.length;
    let next = this.isTriggered;
    if (!this.isTriggered && condition) next = true;
    else if (this.isTriggered && !condition && unflagged >= this.recoveryThreshold) {
      const lastCrash = Math.max(...this.cfg.symbols.map((s) => this.bySymbol.get(s)!.lastCrashMs));
      if (candleMs - lastCrash >= this.cfg.minTriggeredMs!) next = false;
    }
    if (next === this.isTriggered) return;
    this.isTriggered = next;
    const detail = next
      ? `crash guard triggered (policy ${this.cfg.policy}, ${flagged.length}/${total} flagged): ` +
        flagged.map((s) => this.bySymbol.get(s)!.lastDetail()).join('; ')
      : `crash guard cleared (${unflagged}/${total} un-flagged, threshold ${this.recoveryThreshold}; no crash candle for ≥ ${this.cfg.minTriggeredMs} ms)`;
    const e: RiskMonitorEvent = { triggered: next, symbols: flagged, detail };
    emitAll(this.listeners, e);
  }
}

/** Adds a candle entering `closed` to the sums (exact decimal addition). */
function tally(st: SymbolState, c: Candle): void {
  st.volumeSum = st.volumeSum.plus(c.volume);
  st.closeSum = st.closeSum.plus(c.close);
}

/** Removes a candle leaving `closed` from the sums. */
function untally(st: SymbolState, c: Candle): void {
  st.volumeSum = st.volumeSum.minus(c.volume);
  st.closeSum = st.closeSum.minus(c.close);
}
