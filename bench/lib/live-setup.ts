import { WebSocket } from 'ws';
import { Dec, type AccountSnapshot, type Candle, type Order } from '@mm/domain';
import { FakeConnector } from '@mm/testing';
import { type Proc, freePort, startApp, startHost, stopProc, waitFor } from './proc';
import { waitPort } from './servers';

export const T0 = Date.UTC(2025, 4, 4);

export function history(n = 100): Candle[] {
  const p = new Dec(100000);
  return Array.from({ length: n }, (_, i) => ({ symbol: 'BTCUSDT', openTimeMs: T0 + i * 60_000, open: p, high: p, low: p, close: p, volume: new Dec(1), closed: true }));
}

export const ACCOUNT: AccountSnapshot = {
  asset: 'USDT',
  totalWalletBalance: new Dec(10000),
  totalMarginBalance: new Dec(10000),
  availableBalance: new Dec(10000),
  positions: [],
  leverage: 10,
  realizedPnl: new Dec(0),
};

/** The forming candle carrying `seq` in its close (the live server forwards it as `kline`). */
export function seqCandle(seq: number): Candle {
  const p = new Dec(100000);
  return { symbol: 'BTCUSDT', openTimeMs: T0 + 100 * 60_000, open: p, high: p, low: p, close: new Dec(seq), volume: new Dec(1), closed: false };
}

/** An open order carrying `seq` in its price (the live server forwards it as `orders`). Same id every time. */
export function seqOrder(seq: number): Order {
  return {
    orderId: '1',
    clientOrderId: 'bench-1',
    symbol: 'BTCUSDT',
    side: 'BUY',
    type: 'LIMIT',
    timeInForce: 'GTC',
    price: new Dec(seq),
    quantity: new Dec('0.001'),
    executedQty: new Dec(0),
    avgPrice: new Dec(0),
    status: 'NEW',
    reduceOnly: false,
    postOnly: false,
    createdAtMs: T0,
    updateTimeMs: T0,
    trades: [],
  };
}

/** Sequence number of a live message (`kline` close or single `orders` price), else undefined. */
export function seqOf(text: string): number | undefined {
  const m = JSON.parse(text) as { type: string; data: any };
  if (m.type === 'kline') return Number(m.data.close);
  if (m.type === 'orders' && !Array.isArray(m.data)) return Number(m.data.price);
  return undefined;
}

export interface LiveTarget {
  proc: Proc;
  url: string;
  fake?: FakeConnector;
  ctl?: WebSocket;
  stop(): Promise<void>;
}

/** The real live server (dist main.js + preload-ipc) fed by a fake connector in this process. */
export async function startLive(logDir: string): Promise<LiveTarget> {
  const fake = new FakeConnector();
  fake.candles = history();
  fake.account = ACCOUNT;
  await fake.start();
  const port = await freePort();
  // The bench opens up to 2000 WebSockets from one IP: lift the connection caps (capacity, not the per-IP limit).
  const proc = startApp('live-server', { LIVE_PORT: String(port), LIVE_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: fake.address, LIVE_MAX_CONNECTIONS: '100000', LIVE_MAX_CONNECTIONS_PER_IP: '100000' }, logDir);
  await waitPort(port, proc);
  await waitFor('live server streams', () => (['SubscribeKlines', 'SubscribeOrders', 'SubscribeAccount', 'SubscribePositions'] as const).every((s) => fake.openStreams(s) === 1), 30_000, 50);
  // let the snapshots load
  await new Promise((r) => setTimeout(r, 500));
  return {
    proc,
    url: `ws://127.0.0.1:${port}/ws`,
    fake,
    async stop() {
      await stopProc(proc);
      fake.stop();
    },
  };
}

/** The raw `ws` broadcast baseline with its control connection. */
export async function startRawWs(logDir: string): Promise<LiveTarget> {
  const port = await freePort();
  const proc = startHost('raw-ws', { PORT: String(port) }, logDir);
  await waitPort(port, proc);
  const ctl = new WebSocket(`ws://127.0.0.1:${port}/ctl`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ctl.once('open', () => resolve());
    ctl.once('error', reject);
  });
  return {
    proc,
    url: `ws://127.0.0.1:${port}/`,
    ctl,
    async stop() {
      ctl.terminate();
      await stopProc(proc);
    },
  };
}

/** Opens a client and resolves once it received its first message (the snapshot). */
export function connectClient(url: string, onMessage?: (text: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let first = true;
    ws.on('message', (data) => {
      if (first) {
        first = false;
        resolve(ws);
      }
      onMessage?.(data.toString());
    });
    ws.once('error', reject);
  });
}

export function closeClient(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
    setTimeout(() => {
      ws.terminate();
      resolve();
    }, 3000).unref();
  });
}

/** Runs `total` async jobs, `inFlight` at a time. */
export async function inBatches(total: number, inFlight: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total) await job(next++);
    }),
  );
}
