import * as fs from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ExchangeVenue, Unsubscribe } from '@mm/domain';

/** A venue whose account state can be saved and restored: the sim and the paper venue. */
interface PersistableVenue {
  snapshotState(): { orders: unknown[]; marketTimeMs?: number };
  restoreState(raw: unknown): void;
  onStateChange(cb: () => void): Unsubscribe;
}

function isPersistable(v: unknown): v is PersistableVenue {
  const p = v as Partial<PersistableVenue>;
  return typeof p.snapshotState === 'function' && typeof p.restoreState === 'function' && typeof p.onStateChange === 'function';
}
import { CONNECTOR_CONFIG, type ConnectorConfig } from './connector.config';
import { VENUE } from './venue/venue.provider';

/** Debounce of state writes after an account/order change, ms. */
export const SIM_STATE_DEBOUNCE_MS = 50;
/** Period of the replay-position save when nothing else changes, ms. */
export const SIM_STATE_PERIOD_MS = 1000;

/**
 * `SIM_STATE_FILE` (config `simStateFile`, sim and paper venues): restores the sim's account, orders,
 * trades, positions and replay position from that JSON file at construction (before the venue starts
 * and before any port listens), then saves it within 50 ms of every account/order change, every
 * second (replay position) and at shutdown. Writes are atomic (temp file + rename), so a SIGKILL
 * leaves the last complete state; at most the last 50 ms of changes and 1 s of replay progress are lost.
 */
@Injectable()
export class SimStatePersistence implements OnApplicationShutdown {
  private readonly log = new Logger('SimState');
  private readonly file?: string;
  private readonly sim?: PersistableVenue;
  private pending?: NodeJS.Timeout;
  private periodic?: NodeJS.Timeout;
  private failedOnce = false;
  private dataset = '';

  /** @throws Error when the file exists but cannot be parsed or restored (the connector must not silently start empty). */
  constructor(@Inject(VENUE) venue: ExchangeVenue, @Inject(CONNECTOR_CONFIG) config: ConnectorConfig) {
    if (!config.simStateFile) return;
    if (!isPersistable(venue)) {
      this.log.warn('simStateFile is set but the venue is neither the simulator nor paper: ignored');
      return;
    }
    this.file = path.resolve(config.simStateFile);
    this.sim = venue;
    this.dataset = simDataset(config);
    if (fs.existsSync(this.file)) {
      const state = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { dataset?: unknown };
      if (typeof state?.dataset === 'string' && state.dataset !== this.dataset)
        throw new Error(
          `sim state file ${this.file} belongs to another sim setup (${state.dataset}), not this one (${this.dataset}): ` +
            '`npm run reset` clears it and the market maker state, or set SIM_STATE_FILE to another file',
        );
      venue.restoreState(state);
      const s = venue.snapshotState();
      this.log.log(`restored ${venue.name} state from ${this.file}: ${s.orders.length} orders${s.marketTimeMs ? `, market time ${new Date(s.marketTimeMs).toISOString()}` : ''}`);
    } else {
      this.log.log(`sim state file ${this.file} not found: starting fresh`);
    }
    venue.onStateChange(() => this.schedule());
    this.periodic = setInterval(() => this.save(), SIM_STATE_PERIOD_MS);
    this.periodic.unref();
    this.save();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.save();
    }, SIM_STATE_DEBOUNCE_MS);
  }

  /** Writes the current state now (atomically). */
  save(): void {
    if (!this.sim || !this.file) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify({ ...this.sim.snapshotState(), dataset: this.dataset }));
      fs.renameSync(tmp, this.file);
      this.failedOnce = false;
    } catch (e) {
      if (!this.failedOnce) this.log.error(`cannot save sim state to ${this.file}: ${(e as Error).message}`);
      this.failedOnce = true;
    }
  }

  onApplicationShutdown(): void {
    if (this.pending) clearTimeout(this.pending);
    if (this.periodic) clearInterval(this.periodic);
    this.pending = undefined;
    this.save();
  }
}

/**
 * What a saved sim state belongs to: the price data setting (`SIM_DATA`), or the random walk's
 * symbol and seed. A state saved for another setup is refused at start (its replay position and
 * positions would be meaningless), never silently mixed in.
 */
export function simDataset(config: ConnectorConfig): string {
  const s = config.sim;
  return s.data ? `SIM_DATA=${s.data}` : `random walk ${s.symbol} seed ${s.seed}`;
}
