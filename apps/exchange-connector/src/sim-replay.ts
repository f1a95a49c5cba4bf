import { Logger } from '@nestjs/common';
import type { LockstepGate, SimExchange } from '@mm/sim-exchange';

/** Settings of {@link SimReplayControl} (from `ConnectorConfig.sim`). */
export interface SimReplaySettings {
  /** `on_subscribe`: replay only while a trading client is connected; `immediate`: always. */
  start: 'immediate' | 'on_subscribe';
  /** Honour lockstep acknowledgements. */
  lockstep: boolean;
  /** Wall ms a lockstep client may hold the replay before the stall handling applies. */
  stallMs: number;
  /** `continue`: stop waiting for the stalled client until it acknowledges again; `pause`: keep waiting. */
  onStall: 'continue' | 'pause';
  /** Market ms the replay may run ahead of the acknowledged time (0 = strict lockstep). */
  windowMs?: number;
}

interface LockstepClient {
  ackedMs: number;
  /** Wall ms of the last acknowledgement that moved `ackedMs` forward. */
  movedAt: number;
  stalled: boolean;
}

/**
 * Drives a file-replay sim from the connector's clients (README "Live replay and lockstep"):
 *
 * - **Trading client**: a client with an armed dead-man's switch or a lockstep acknowledgement,
 *   while the connector has at least one orders-stream subscriber (monitors subscribe to orders but
 *   never send heartbeats). With `start = on_subscribe` the replay starts when the first trading
 *   client appears and pauses (market time stands still) while there is none.
 * - **Lockstep**: a client that sent `HeartbeatRequest.processed_market_time_ms` is a lockstep client.
 *   After emitting the events of market instant T the sim waits until every lockstep client has
 *   acknowledged ≥ T. A client whose acknowledgement has not moved for `stallMs` while it holds the
 *   replay is logged (warn) and, with `onStall = continue`, no longer waited for until its next
 *   acknowledgement moves forward; with `pause` the replay keeps waiting and the warning repeats every `stallMs`.
 *
 * Wall-clock code: this is the connector, not trading code.
 */
export class SimReplayControl implements LockstepGate {
  private readonly log = new Logger('SimReplay');
  private readonly clients = new Map<string, LockstepClient>();
  private readonly armed = new Set<string>();
  private wasRunning = false;
  private everStarted = false;
  private lastStallLog = 0;

  constructor(
    private readonly sim: SimExchange,
    private readonly settings: SimReplaySettings,
    /** Current number of orders-stream subscribers. */
    private readonly orderSubscribers: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  get lockstep(): boolean {
    return this.settings.lockstep;
  }

  get windowMs(): number {
    return this.settings.windowMs ?? 0;
  }

  /** Heartbeat from `clientId`: `timeoutMs` > 0 arms (0 disarms) its switch; `processedMs` > 0 acknowledges market time. */
  heartbeat(clientId: string, timeoutMs: number, processedMs: number): void {
    if (timeoutMs > 0) this.armed.add(clientId);
    else this.armed.delete(clientId);
    if (processedMs > 0) this.ack(clientId, processedMs);
  }

  /** The switch of `clientId` fired (the client is gone). */
  switchFired(clientId: string): void {
    this.armed.delete(clientId);
    this.clients.delete(clientId);
  }

  /** Records a lockstep acknowledgement: `clientId` processed every event up to `processedMs` (market Unix ms). */
  ack(clientId: string, processedMs: number): void {
    const c = this.clients.get(clientId);
    const now = this.now();
    if (!c) {
      this.clients.set(clientId, { ackedMs: processedMs, movedAt: now, stalled: false });
      this.log.log(`lockstep client ${clientId} joined at market time ${iso(processedMs)}`);
      return;
    }
    if (processedMs > c.ackedMs) {
      c.ackedMs = processedMs;
      c.movedAt = now;
      this.wakeSoon();
      if (c.stalled) {
        c.stalled = false;
        this.log.log(`lockstep client ${clientId} caught up (market time ${iso(processedMs)}); waiting for it again`);
      }
    }
  }

  private wakePending = false;

  /** Steps the replay right after the heartbeat is answered instead of at the sim's next timer wake (coalesced). */
  private wakeSoon(): void {
    if (this.wakePending || !this.settings.lockstep) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      this.sim.wakeNow();
    });
  }

  running(): boolean {
    const run = this.settings.start === 'immediate' || ((this.armed.size > 0 || this.clients.size > 0) && this.orderSubscribers() > 0);
    if (run !== this.wasRunning) {
      this.wasRunning = run;
      const t = iso(this.sim.status().marketTimeMs);
      if (run)
        this.log.log(
          `sim replay ${this.everStarted ? 'resumed' : 'started'} at market time ${t}: ${this.settings.start === 'immediate' ? 'SIM_START=immediate' : 'trading client connected'}`,
        );
      else {
        this.log.log(`sim replay paused at market time ${t}: no trading client connected`);
        // a client that left is not waited for; it re-registers with its next acknowledgement
        this.clients.clear();
      }
      this.everStarted ||= run;
    }
    return run;
  }

  ackedMs(): number {
    if (!this.settings.lockstep || this.clients.size === 0) return Infinity;
    const now = this.now();
    const lastEmittedMs = this.sim.lastEmittedInstantMs;
    let min = Infinity;
    const slow: string[] = [];
    for (const [id, c] of this.clients) {
      if (c.stalled) continue;
      if (c.ackedMs < lastEmittedMs && now - c.movedAt > this.settings.stallMs) {
        slow.push(`${id} (acked ${iso(c.ackedMs)})`);
        if (this.settings.onStall === 'continue') {
          c.stalled = true;
          continue;
        }
      }
      if (c.ackedMs < min) min = c.ackedMs;
    }
    if (slow.length && now - this.lastStallLog >= this.settings.stallMs) {
      this.lastStallLog = now;
      this.log.warn(
        `LOCKSTEP STALL: no acknowledgement past market time ${iso(lastEmittedMs)} for ${this.settings.stallMs} ms from ${slow.join(', ')}; ` +
          (this.settings.onStall === 'continue' ? 'continuing without them until they acknowledge again' : 'still waiting (SIM_LOCKSTEP_ON_STALL=pause)'),
      );
    }
    return min;
  }

  /** Lockstep clients and their acknowledged market time (for tests and /status). */
  lockstepClients(): { clientId: string; ackedMs: number; stalled: boolean }[] {
    return [...this.clients].map(([clientId, c]) => ({ clientId, ackedMs: c.ackedMs, stalled: c.stalled }));
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
