import { Controller, Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { type ExchangeVenue, invalidArgument } from '@mm/domain';
import type { pb } from '@mm/contracts';
import { VENUE } from '../venue/venue.provider';
import { ObserveUnaryCalls, RpcObserver } from './rpc-logging';
import { ConnectorMetrics } from '../http/connector.metrics';

/** Longest countdown a client may arm, ms (a longer one would defeat the purpose). */
export const MAX_DEAD_MAN_TIMEOUT_MS = 10 * 60_000;

interface Switch {
  clientId: string;
  symbol: string;
  deadlineMs: number;
  timer: NodeJS.Timeout;
}

/**
 * Dead-man's switches, one per (client id, symbol). Each heartbeat re-arms the countdown; when it
 * expires the connector cancels every open order of the symbol. Where the venue has a native
 * countdown (`ExchangeVenue.cancelAllAfter`) it is armed too, so the orders are cancelled even if the
 * connector itself dies; the connector's own timer is the fallback for every venue (and the only
 * mechanism on the sim).
 */
@Injectable()
export class DeadManService implements OnApplicationShutdown {
  private readonly log = new Logger('DeadMan');
  private readonly switches = new Map<string, Switch>();
  fired = 0;

  constructor(
    @Inject(VENUE) private readonly venue: ExchangeVenue,
    private readonly metrics: ConnectorMetrics,
  ) {}

  /**
   * Arms, re-arms or (timeoutMs 0) disarms a switch.
   * @returns the deadline (Unix ms, 0 when disarmed) and whether the venue enforces it natively.
   * @throws VenueError INVALID_ARGUMENT for a bad client_id, symbol or timeout.
   */
  async heartbeat(clientId: string, symbol: string, timeoutMs: number): Promise<{ deadlineMs: number; venueEnforced: boolean }> {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(clientId)) throw invalidArgument('client_id', 'must be 1–64 characters of [A-Za-z0-9_.:-]');
    if (!symbol) throw invalidArgument('symbol', 'is required');
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_DEAD_MAN_TIMEOUT_MS) {
      throw invalidArgument('timeout_ms', `must be 0 (disarm) or 1..${MAX_DEAD_MAN_TIMEOUT_MS}`);
    }
    await this.venue.getSymbolRules(symbol).catch(() => {
      throw invalidArgument('symbol', `unknown symbol ${symbol}`, 'UNKNOWN_SYMBOL');
    });
    const key = `${clientId}|${symbol}`;
    const prev = this.switches.get(key);
    if (prev) clearTimeout(prev.timer);
    let venueEnforced = false;
    if (this.venue.cancelAllAfter) {
      await this.venue.cancelAllAfter(symbol, timeoutMs);
      venueEnforced = timeoutMs > 0;
    }
    if (timeoutMs === 0) {
      this.switches.delete(key);
      this.metrics.deadManArmed.set(this.switches.size);
      return { deadlineMs: 0, venueEnforced: false };
    }
    const deadlineMs = Date.now() + timeoutMs;
    const timer = setTimeout(() => void this.fire(key), timeoutMs);
    timer.unref();
    this.switches.set(key, { clientId, symbol, deadlineMs, timer });
    this.metrics.deadManArmed.set(this.switches.size);
    return { deadlineMs, venueEnforced };
  }

  private async fire(key: string): Promise<void> {
    const sw = this.switches.get(key);
    if (!sw) return;
    this.switches.delete(key);
    this.fired++;
    this.metrics.deadManFired.inc();
    this.metrics.deadManArmed.set(this.switches.size);
    this.log.warn(`dead-man's switch of ${sw.clientId} fired: no heartbeat by ${new Date(sw.deadlineMs).toISOString()}; cancelling all ${sw.symbol} orders`);
    try {
      const cancelled = await this.venue.cancelAllOrders(sw.symbol);
      this.log.warn(`dead-man's switch cancelled ${cancelled.length} ${sw.symbol} orders`);
    } catch (e) {
      this.log.error(`dead-man's switch cancel-all failed: ${(e as Error).message}`);
    }
  }

  armed(): { clientId: string; symbol: string; deadlineMs: number }[] {
    return [...this.switches.values()].map(({ clientId, symbol, deadlineMs }) => ({ clientId, symbol, deadlineMs }));
  }

  onApplicationShutdown(): void {
    for (const s of this.switches.values()) clearTimeout(s.timer);
    this.switches.clear();
  }
}

@Controller()
@ObserveUnaryCalls()
export class DeadManController {
  constructor(
    private readonly deadMan: DeadManService,
    readonly rpcObserver: RpcObserver,
  ) {}

  @GrpcMethod('ExchangeService', 'Heartbeat')
  async heartbeat(req: pb.HeartbeatRequest): Promise<pb.HeartbeatResponse> {
    const timeout = Number(req.timeoutMs || 0);
    const r = await this.deadMan.heartbeat(req.clientId, req.symbol, timeout);
    return { deadlineMs: String(r.deadlineMs), venueEnforced: r.venueEnforced };
  }
}
