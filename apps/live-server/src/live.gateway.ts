import { Inject, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  type OnGatewayConnection,
  type OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { WebSocket, type WebSocketServer as WsServer } from 'ws';
import { ConnectorFeedService, type FeedEvent } from './connector-feed.service';
import { LIVE_CONFIG, type LiveConfig } from './live.config';
import { LiveAccess } from './access';
import { type ClientParams, parseClientParams } from './client-params';
import {
  type LiveMessage,
  quoteAssetOf,
  snapshotMessages,
  toAccountOverview,
  toLiveAccount,
  toLiveCandle,
  toLiveOrder,
  toLivePosition,
  toLiveTrade,
} from './messages';

/** Largest client frame accepted (the page sends nothing); bigger frames close the socket (1009). */
export const MAX_CLIENT_FRAME_BYTES = 4096;

interface ClientState {
  alive: boolean;
  windowStart: number;
  received: number;
}

/** Clients of one symbol. */
type Group = Set<WebSocket>;

/**
 * Read-only WebSocket feed at `/ws` on the HTTP port. The handshake is refused (before any data is
 * sent) for an unknown Host (421), a foreign Origin (403), a missing/wrong viewer token when one is
 * set (401/403), more than `ws.max_connections_per_ip` connections from one IP (429) or
 * `ws.max_connections` in total (503) — see {@link LiveAccess}.
 *
 * New connection → snapshot (`history`, `account`, `orders` array, `position` if known); then every
 * feed change is broadcast as one text frame `{type, data}` (see messages.ts), serialized once per
 * broadcast. `/ws` without parameters gets exactly that for the default symbol (the OpenSQT page's
 * protocol). Opt-in parameters (see {@link parseClientParams}): `?symbol=ETHUSDT` → the same messages
 * for that symbol; `?overview=1` → also `symbols` (first) and `account_overview` (after the snapshot,
 * then at most every `ws.overview_interval_ms`, coalesced). A bad parameter closes the socket right
 * after the handshake with 4400/4404/1013 and a reason, before any data or state is allocated. Client messages are ignored; a client sending more than `ws.max_messages_per_sec`
 * frames per second is terminated, as is one whose unsent data exceeds `ws.max_buffered_bytes` or
 * that misses a pong within `ws.ping_interval_ms`. Never places or cancels orders.
 */
@WebSocketGateway({ path: '/ws', maxPayload: MAX_CLIENT_FRAME_BYTES, perMessageDeflate: false })
export class LiveGateway implements OnGatewayInit<WsServer>, OnGatewayConnection<WebSocket>, OnModuleDestroy {
  @WebSocketServer() private server?: WsServer;
  private readonly log = new Logger(LiveGateway.name);
  private readonly state = new WeakMap<WebSocket, ClientState>();
  private pingTimer?: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly perIp = new Map<string, number>();
  private connections = 0;
  /** Clients by the symbol they watch. */
  private readonly groups = new Map<string, Group>();
  /** Clients that opted into `account_overview`. */
  private readonly overviewClients = new Set<WebSocket>();
  private overviewTimer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;
  private overviewSentAt = 0;
  /** Handshakes refused, by HTTP status. */
  readonly refused: Record<number, number> = {};

  constructor(
    private readonly feed: ConnectorFeedService,
    @Inject(LIVE_CONFIG) private readonly cfg: LiveConfig,
    private readonly access: LiveAccess,
  ) {
    this.unsubscribe = feed.onEvent((e) => this.onFeedEvent(e));
  }

  /** Number of connected WebSocket clients. */
  get clientCount(): number {
    return this.server?.clients.size ?? 0;
  }

  afterInit(server: WsServer): void {
    this.server = server;
    // ws reads options.verifyClient at each handshake (handleUpgrade); the WsAdapter builds the server.
    (server as unknown as { options: Record<string, unknown> }).options.verifyClient = (
      info: { req: IncomingMessage },
      cb: (ok: boolean, code?: number, message?: string) => void,
    ) => {
      const refusal = this.admit(info.req);
      if (refusal) {
        this.refused[refusal.status] = (this.refused[refusal.status] ?? 0) + 1;
        cb(false, refusal.status, refusal.reason);
      } else cb(true);
    };
    this.pingTimer = setInterval(() => this.pingAll(), this.cfg.ws.ping_interval_ms);
    this.pingTimer.unref();
  }

  /** Access and connection caps of one handshake; counts the connection when admitted (released when its socket closes). */
  private admit(req: IncomingMessage): { status: number; reason: string } | undefined {
    const refusal = this.access.check(req, true);
    if (refusal) return refusal;
    const ip = req.socket.remoteAddress ?? 'unknown';
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.cfg.ws.max_connections_per_ip) return { status: 429, reason: `at most ${this.cfg.ws.max_connections_per_ip} connections per client` };
    if (this.connections >= this.cfg.ws.max_connections) return { status: 503, reason: `at most ${this.cfg.ws.max_connections} connections` };
    this.perIp.set(ip, n + 1);
    this.connections++;
    req.socket.once('close', () => {
      this.connections--;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    return undefined;
  }

  handleConnection(client: WebSocket, req?: IncomingMessage): void {
    const params = parseClientParams(req?.url, this.feed);
    if ('code' in params) {
      this.log.warn(`closing /ws client ${req?.socket.remoteAddress ?? '?'}: ${params.reason}`);
      client.close(params.code, params.reason);
      setTimeout(() => client.terminate(), 1000).unref();
      return;
    }
    const st: ClientState = { alive: true, windowStart: Date.now(), received: 0 };
    this.state.set(client, st);
    client.on('pong', () => (st.alive = true));
    client.on('error', () => client.terminate());
    client.on('message', () => {
      const now = Date.now();
      if (now - st.windowStart >= 1000) {
        st.windowStart = now;
        st.received = 0;
      }
      if (++st.received > this.cfg.ws.max_messages_per_sec) {
        this.log.warn(`dropping client ${req?.socket.remoteAddress ?? '?'}: message flood`);
        client.close(1008, 'read-only feed');
        setTimeout(() => client.terminate(), 1000).unref();
      }
    });
    this.join(client, params);
    if (params.overview) {
      this.sendTo(client, JSON.stringify({ type: 'symbols', data: { symbols: [...this.feed.symbols], default: this.feed.symbol, current: params.symbol } } satisfies LiveMessage));
    }
    for (const m of snapshotMessages(this.feed.snapshot(params.symbol))) this.sendTo(client, JSON.stringify(m));
    if (params.overview) this.sendTo(client, JSON.stringify(this.overviewMessage()));
  }

  /** Number of clients watching `symbol`. */
  clientsOf(symbol: string): number {
    return this.groups.get(symbol)?.size ?? 0;
  }

  /** Number of clients that receive `account_overview`. */
  get overviewClientCount(): number {
    return this.overviewClients.size;
  }

  /** Sends one message to every open client of `symbol` (default: the default symbol); the JSON text is built once. */
  broadcast(message: LiveMessage, symbol: string = this.feed.symbol): void {
    const group = this.groups.get(symbol);
    if (!group || group.size === 0) return;
    const text = JSON.stringify(message);
    for (const c of group) this.sendTo(c, text);
  }

  /** Sends one message to every open client of every symbol. */
  broadcastAll(message: LiveMessage): void {
    if (!this.server || this.server.clients.size === 0) return;
    const text = JSON.stringify(message);
    for (const c of this.server.clients) this.sendTo(c, text);
  }

  /** Closes every client connection (clients are expected to reconnect). */
  disconnectAll(code = 1001, reason = 'server going away'): void {
    for (const c of this.server?.clients ?? []) c.close(code, reason);
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    clearInterval(this.pingTimer);
    clearTimeout(this.overviewTimer);
    clearInterval(this.refreshTimer);
  }

  private join(client: WebSocket, params: ClientParams): void {
    let group = this.groups.get(params.symbol);
    if (!group) this.groups.set(params.symbol, (group = new Set()));
    group.add(client);
    if (params.overview) {
      this.overviewClients.add(client);
      this.updateRefresh();
    }
    client.once('close', () => {
      group.delete(client);
      if (group.size === 0 && this.groups.get(params.symbol) === group) this.groups.delete(params.symbol);
      if (this.overviewClients.delete(client)) this.updateRefresh();
    });
  }

  /** Account re-reads run only while someone watches the overview. */
  private updateRefresh(): void {
    const want = this.overviewClients.size > 0 && this.cfg.ws.overview_refresh_ms > 0;
    if (want && !this.refreshTimer) {
      this.refreshTimer = setInterval(() => this.feed.refreshAccount(), this.cfg.ws.overview_refresh_ms);
      this.refreshTimer.unref();
    } else if (!want && this.refreshTimer) {
      clearInterval(this.refreshTimer);
      this.refreshTimer = undefined;
    }
  }

  private overviewMessage(): LiveMessage {
    return { type: 'account_overview', data: toAccountOverview(this.feed.overview(), quoteAssetOf(this.feed.symbol)) };
  }

  /** Sends the overview to its clients now if the last one is older than the interval, else once when it is (coalesced). */
  private scheduleOverview(): void {
    if (this.overviewClients.size === 0 || this.overviewTimer) return;
    const wait = Math.max(0, this.overviewSentAt + this.cfg.ws.overview_interval_ms - Date.now());
    this.overviewTimer = setTimeout(() => {
      this.overviewTimer = undefined;
      this.overviewSentAt = Date.now();
      if (this.overviewClients.size === 0) return;
      const text = JSON.stringify(this.overviewMessage());
      for (const c of this.overviewClients) this.sendTo(c, text);
    }, wait);
    this.overviewTimer.unref();
  }

  private sendTo(client: WebSocket, text: string): void {
    if (client.readyState !== WebSocket.OPEN) return;
    if (client.bufferedAmount > this.cfg.ws.max_buffered_bytes) {
      this.log.warn(`terminating slow client (${client.bufferedAmount} bytes unsent)`);
      client.terminate();
      return;
    }
    client.send(text);
  }

  private pingAll(): void {
    for (const c of this.server?.clients ?? []) {
      const st = this.state.get(c);
      if (!st || !st.alive) {
        c.terminate();
        continue;
      }
      st.alive = false;
      c.ping();
    }
  }

  private onFeedEvent(e: FeedEvent): void {
    switch (e.kind) {
      case 'candle':
        if (e.latest) this.broadcast({ type: 'kline', data: toLiveCandle(e.candle) }, e.symbol);
        this.scheduleOverview();
        return;
      case 'order':
        this.broadcast({ type: 'orders', data: toLiveOrder(e.event.order) }, e.symbol);
        if (e.event.lastTrade) this.broadcast({ type: 'trade_event', data: toLiveTrade(e.event.lastTrade) }, e.symbol);
        return;
      case 'account':
        for (const symbol of e.symbol !== undefined ? [e.symbol] : [...this.groups.keys()]) {
          if (!this.clientsOf(symbol)) continue;
          const t = this.feed.totals(symbol);
          this.broadcast({ type: 'account', data: toLiveAccount(e.account, symbol, t.realizedPnl, t.fees) }, symbol);
        }
        this.scheduleOverview();
        return;
      case 'position':
        this.broadcast({ type: 'position', data: toLivePosition(e.position, e.realizedPnl) }, e.symbol);
        this.scheduleOverview();
        return;
      case 'resync':
        if (e.part === 'klines') {
          if (this.clientsOf(e.symbol)) this.broadcast({ type: 'history', data: this.feed.candlesOf(e.symbol).map(toLiveCandle) }, e.symbol);
        } else {
          for (const symbol of this.groups.keys()) this.broadcast({ type: 'orders', data: this.feed.openOrders(symbol).map(toLiveOrder) }, symbol);
        }
        return;
      case 'refreshed':
        this.scheduleOverview();
        return;
      case 'connector':
        this.broadcastAll({ type: 'connector', data: { state: e.connected ? 'connected' : 'disconnected' } });
        return;
    }
  }
}
