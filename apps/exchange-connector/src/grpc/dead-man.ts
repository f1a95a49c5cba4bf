import { Controller, Inject, Injectable, Logger, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { type Metadata, status } from '@grpc/grpc-js';
import { type ExchangeVenue, invalidArgument } from '@mm/domain';
import type { pb } from '@mm/contracts';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import { SIM_REPLAY, VENUE } from '../venue/venue.provider';
import type { SimReplayControl } from '../sim-replay';
import { AuthService } from './auth';
import { GrpcStatusException } from './grpc-errors';
import { ObserveUnaryCalls, type RpcCall, RpcObserver } from './rpc-logging';
import { ConnectorMetrics } from '../http/connector.metrics';

/** Most client ids one caller (token identity) may own (one per strategy instance in practice). */
export const MAX_DEAD_MAN_CLIENTS_PER_CALLER = 64;
/** Most client ids the connector remembers an owner for, over all callers. */
export const MAX_DEAD_MAN_CLIENTS = 10_000;

/**
 * True when `clientOrderId` belongs to the client `clientId`: it starts with `clientId` and the next
 * character (if any) is not a lower-case letter or digit, so `mm1` owns `mm1B955001g3` and
 * `mm1-x`, but not `mm10B…`.
 */
export function ownsClientOrderId(clientId: string, clientOrderId: string | undefined): boolean {
  if (!clientOrderId || !clientOrderId.startsWith(clientId)) return false;
  const next = clientOrderId.charAt(clientId.length);
  return next === '' || !/[a-z0-9]/.test(next);
}

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
 * expires the connector cancels the open orders of the symbol whose client order id belongs to the
 * client that armed it ({@link ownsClientOrderId}: the id starts with the heartbeat's `client_id`),
 * never other clients' orders. A `client_id` is bound to the authenticated identity that first armed
 * it (another token arming it is PERMISSION_DENIED). The venue's native cancel-all countdown
 * (`ExchangeVenue.cancelAllAfter`) cancels every order of the symbol on the account, so it is armed
 * only with `deadMan.venueNative` (DEAD_MAN_VENUE_NATIVE=true), for accounts used by one client.
 */
@Injectable()
export class DeadManService implements OnApplicationShutdown {
  private readonly log = new Logger('DeadMan');
  private readonly switches = new Map<string, Switch>();
  private readonly owners = new Map<string, string>();
  private readonly ownedBy = new Map<string, number>();
  private readonly venueNative: boolean;
  fired = 0;

  constructor(
    @Inject(VENUE) private readonly venue: ExchangeVenue,
    private readonly metrics: ConnectorMetrics,
    @Optional() @Inject(CONNECTOR_CONFIG) config?: ConnectorConfig,
    @Optional() @Inject(SIM_REPLAY) private readonly replay?: SimReplayControl | null,
  ) {
    this.venueNative = config?.deadMan?.venueNative ?? false;
  }

  /**
   * Arms, re-arms or (timeoutMs 0) disarms a switch.
   * @returns the deadline (Unix ms, 0 when disarmed) and whether the venue enforces it natively.
   * @throws VenueError INVALID_ARGUMENT for a bad client_id, symbol or timeout.
   */
  async heartbeat(clientId: string, symbol: string, timeoutMs: number, caller = 'anonymous'): Promise<{ deadlineMs: number; venueEnforced: boolean }> {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(clientId)) throw invalidArgument('client_id', 'must be 1–64 characters of [A-Za-z0-9_.:-]');
    const owner = this.owners.get(clientId);
    if (owner !== undefined && owner !== caller) {
      throw new GrpcStatusException(status.PERMISSION_DENIED, `client_id ${clientId} belongs to another client`);
    }
    if (!symbol) throw invalidArgument('symbol', 'is required');
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_DEAD_MAN_TIMEOUT_MS) {
      throw invalidArgument('timeout_ms', `must be 0 (disarm) or 1..${MAX_DEAD_MAN_TIMEOUT_MS}`);
    }
    await this.venue.getSymbolRules(symbol).catch(() => {
      throw invalidArgument('symbol', `unknown symbol ${symbol}`, 'UNKNOWN_SYMBOL');
    });
    if (owner === undefined) {
      const mine = this.ownedBy.get(caller) ?? 0;
      if (mine >= MAX_DEAD_MAN_CLIENTS_PER_CALLER || this.owners.size >= MAX_DEAD_MAN_CLIENTS) {
        throw new GrpcStatusException(status.RESOURCE_EXHAUSTED, `client_id: at most ${MAX_DEAD_MAN_CLIENTS_PER_CALLER} dead-man client ids per client`);
      }
      this.owners.set(clientId, caller);
      this.ownedBy.set(caller, mine + 1);
    }
    const key = `${clientId}|${symbol}`;
    const prev = this.switches.get(key);
    if (prev) clearTimeout(prev.timer);
    let venueEnforced = false;
    if (this.venueNative && this.venue.cancelAllAfter) {
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
    this.replay?.switchFired(sw.clientId);
    this.log.warn(`dead-man's switch of ${sw.clientId} fired: no heartbeat by ${new Date(sw.deadlineMs).toISOString()}; cancelling its ${sw.symbol} orders`);
    try {
      const mine = (await this.venue.getOpenOrders(sw.symbol)).filter((o) => ownsClientOrderId(sw.clientId, o.clientOrderId));
      let cancelled = 0;
      for (const o of mine) {
        try {
          await this.venue.cancelOrder(sw.symbol, o.orderId);
          cancelled++;
        } catch (e) {
          this.log.error(`dead-man's switch: cancel ${o.clientOrderId} failed: ${(e as Error).message}`);
        }
      }
      this.log.warn(`dead-man's switch cancelled ${cancelled} ${sw.symbol} orders of ${sw.clientId}`);
    } catch (e) {
      this.log.error(`dead-man's switch cancel-all failed: ${(e as Error).message}`);
    }
  }

  /** Passes a heartbeat's arming and lockstep acknowledgement to the sim replay (no-op on other venues). */
  lockstepAck(clientId: string, timeoutMs: number, processedMs: number): void {
    this.replay?.heartbeat(clientId, timeoutMs, processedMs);
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
    private readonly auth: AuthService,
  ) {}

  @GrpcMethod('ExchangeService', 'Heartbeat')
  async heartbeat(req: pb.HeartbeatRequest, _md?: Metadata, call?: RpcCall): Promise<pb.HeartbeatResponse> {
    const timeout = Number(req.timeoutMs || 0);
    const processed = Number(req.processedMarketTimeMs || 0);
    if (!Number.isSafeInteger(processed) || processed < 0)
      throw invalidArgument('processed_market_time_ms', 'must be 0 (no acknowledgement) or a Unix ms market time');
    const caller = call ? this.auth.identify(call).id : 'anonymous';
    const r = await this.deadMan.heartbeat(req.clientId, req.symbol, timeout, caller);
    this.deadMan.lockstepAck(req.clientId, timeout, processed);
    return { deadlineMs: String(r.deadlineMs), venueEnforced: r.venueEnforced };
  }
}
