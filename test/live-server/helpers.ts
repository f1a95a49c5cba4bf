import type { NestExpressApplication } from '@nestjs/platform-express';
import { type AccountSnapshot, type Candle, type Fill, type Order, type OrderStatus, type Position, type Side, dec } from '@mm/domain';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { ConnectorFeedService } from '../../apps/live-server/src/connector-feed.service';
import { type LiveConfig, liveConfigSchema } from '../../apps/live-server/src/live.config';
import { LiveGateway } from '../../apps/live-server/src/live.gateway';
import { createLiveApp } from '../../apps/live-server/src/live.module';
import type { LiveMessage } from '../../apps/live-server/src/messages';
import { FakeConnector } from '@mm/testing';

export const SYMBOL = 'BTCUSDT';
/** Open time of the first scripted candle (a minute boundary), Unix ms. */
export const T0 = Date.UTC(2025, 4, 20, 12, 0, 0);
export const MIN = 60_000;

export function candle(i: number, close: string, extra: Partial<Candle> = {}): Candle {
  const c = dec(close);
  return {
    symbol: SYMBOL,
    openTimeMs: T0 + i * MIN,
    open: c.minus('1.5'),
    high: c.plus('2.25'),
    low: c.minus('3'),
    close: c,
    volume: dec('12.345'),
    closed: true,
    ...extra,
  };
}

export function order(id: string, side: Side, price: string, status: OrderStatus = 'NEW', extra: Partial<Order> = {}): Order {
  return {
    orderId: id,
    clientOrderId: `grid-${id}`,
    symbol: SYMBOL,
    side,
    type: 'LIMIT',
    timeInForce: 'GTC',
    price: dec(price),
    quantity: dec('0.010'),
    executedQty: status === 'FILLED' ? dec('0.010') : dec('0'),
    avgPrice: status === 'FILLED' ? dec(price) : dec('0'),
    status,
    reduceOnly: false,
    postOnly: false,
    createdAtMs: T0,
    updateTimeMs: T0,
    trades: [],
    ...extra,
  };
}

export function fill(o: Order, tradeId: string, timeMs: number, realizedPnl = '0', fee = '0.012'): Fill {
  return {
    tradeId,
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    price: o.price,
    quantity: o.quantity,
    fee: dec(fee),
    feeAsset: 'USDT',
    timestampMs: timeMs,
    realizedPnl: dec(realizedPnl),
    maker: true,
  };
}

export function position(size: string, entry: string, upnl: string): Position {
  return {
    symbol: SYMBOL,
    size: dec(size),
    entryPrice: dec(entry),
    markPrice: dec('64010.5'),
    unrealizedPnl: dec(upnl),
    leverage: 5,
    marginType: 'cross',
    liquidationPrice: dec('51000'),
  };
}

export function account(wallet: string, positions: Position[] = []): AccountSnapshot {
  return {
    asset: 'USDT',
    totalWalletBalance: dec(wallet),
    totalMarginBalance: dec(wallet).plus('12.5'),
    availableBalance: dec(wallet).minus('1000'),
    positions,
    leverage: 5,
    realizedPnl: dec('0'),
  };
}

/** Polls `pred` every 20 ms until true. @throws Error after `timeoutMs`. */
export async function waitFor(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The `data` of a message type. */
export type DataOf<T extends LiveMessage['type']> = Extract<LiveMessage, { type: T }>['data'];

/** A real `ws` client recording every parsed message. */
export class LiveClient {
  readonly messages: LiveMessage[] = [];
  closeCode: number | undefined;
  readonly ws: WebSocket;
  readonly opened: Promise<void>;

  /** @param autoPong false = never answer pings (a dead peer). */
  constructor(url: string, autoPong = true) {
    // The page's own origin: a foreign Origin is refused at the handshake (test/security/surfaces.e2e-spec.ts).
    const u = new URL(url);
    this.ws = new WebSocket(url, { headers: { Origin: `http://${u.host}` }, autoPong });
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('binary frame received');
      this.messages.push(JSON.parse(data.toString()) as LiveMessage);
    });
    this.ws.on('close', (code) => (this.closeCode = code));
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  of<T extends LiveMessage['type']>(type: T): Array<DataOf<T>> {
    return this.messages.filter((m) => m.type === type).map((m) => m.data as DataOf<T>);
  }

  /** Waits for at least `n` messages in total. */
  async count(n: number, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.messages.length >= n, timeoutMs, `${n} messages`);
  }

  /** Waits until a message of `type` arrives after index `from`, and returns its data. */
  async next<T extends LiveMessage['type']>(type: T, from: number, timeoutMs = 5000): Promise<DataOf<T>> {
    let found: LiveMessage | undefined;
    await waitFor(() => (found = this.messages.slice(from).find((m) => m.type === type)) !== undefined, timeoutMs, `a ${type} message`);
    return (found as LiveMessage).data as DataOf<T>;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A live server booted in-process on a free port against a scripted connector. */
export interface LiveHarness {
  fake: FakeConnector;
  app: NestExpressApplication;
  feed: ConnectorFeedService;
  gateway: LiveGateway;
  config: LiveConfig;
  port: number;
  httpUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

/** Starts the fake connector with 120 candles, two open orders and an account, then the live server. */
export async function startHarness(overrides: Record<string, unknown> = {}): Promise<LiveHarness> {
  const fake = new FakeConnector();
  fake.candles = Array.from({ length: 120 }, (_, i) => candle(i, (64000 + i * 2.5).toFixed(2)));
  fake.openOrders = [
    order('9007199254740993', 'BUY', '63900.00'),
    order('1002', 'SELL', '64400.00'),
    order('2001', 'SELL', '3100.00', 'NEW', { symbol: 'ETHUSDT' }),
  ];
  fake.account = account('12345.67', [position('0.030', '63950.00', '1.8150')]);
  await fake.start();
  const config = liveConfigSchema.parse({
    port: 0,
    host: '127.0.0.1',
    symbol: SYMBOL,
    connector: { address: fake.address, token: 's3cret' },
    backoff: { initial_ms: 100, max_ms: 1000 },
    ...overrides,
  });
  const app = await createLiveApp(config, { logging: false });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const feed = app.get(ConnectorFeedService);
  await waitFor(() => feed.connected, 10_000, 'feed connected');
  return {
    fake,
    app,
    feed,
    gateway: app.get(LiveGateway),
    config,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async close() {
      await app.close();
      await fake.stop();
    },
  };
}
