/**
 * A local fake venue on 127.0.0.1: one HTTP + WebSocket port that speaks the REST and WebSocket
 * dialect of one real venue closely enough for ccxt's own parsers and signers to run unchanged.
 * Market lists come from recorded real responses (`../shared/fixtures/recorded-rest`), trading state
 * from `FakeEngine`. Signatures are not verified; the API key is (a wrong key gets the venue's own
 * authentication error, so credential validation can be tested).
 *
 * Test controls: `pauseWs()` stops every WebSocket push (connections stay open) until `resumeWs()`;
 * `requests` records `METHOD path` of every REST call, `calls` the same with the parameters received
 * (query string and body merged; signature and timestamp fields included as sent).
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { FakeEngine, FakeError, type FInstrument } from './engine';

const ctx0Spot = (t: 'swap' | 'spot' | undefined) => t === 'spot';

export const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures');

/** Reads a recorded REST file (`[{url, recorded_at, body}]`). */
export function recorded(file: string): { url: string; body: unknown }[] {
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, 'recorded-rest', file))).toString('utf8'));
}

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Parsed JSON or form body merged with nothing; raw text in `raw`. */
  body: Record<string, unknown>;
  raw: string;
  headers: http.IncomingHttpHeaders;
}

export interface FakeResponse {
  status?: number;
  body: unknown;
}

/** A WebSocket client connection; `send` is suppressed while pushes are paused. */
export interface FakeSocket {
  path: string;
  ws: WebSocket;
  send(msg: unknown): void;
  /** Sends even while paused (subscription acks, login replies). */
  reply(msg: unknown): void;
  /** Per-connection state of the dialect. */
  state: Record<string, unknown>;
}

/**
 * Builds a dialect's `error()` from a table: the venue's answer for each `FakeError` kind (a kind
 * not listed gets `other(message)`), and `internal(message)` for any other exception.
 */
export function errorMapper(
  answers: { [K in FakeError['kind']]?: FakeResponse } & { other: (msg: string) => FakeResponse; internal: (msg: string) => FakeResponse },
): (e: Error) => FakeResponse {
  return (e) => (e instanceof FakeError ? (answers[e.kind] ?? answers.other(e.message)) : answers.internal(e.message));
}

export interface FakeDialect {
  venue: string;
  /** Order id format the venue issues (default numeric; Bybit: UUIDs like the real venue). */
  orderIds?: 'numeric' | 'uuid';
  /** Instruments the engine trades (from the recorded market list) for the market type. */
  instruments(marketType: 'swap' | 'spot'): FInstrument[];
  /** Handles a REST call; `undefined` = 404. May throw `FakeError` (mapped by `error`). */
  rest(req: FakeRequest, ctx: FakeContext): FakeResponse | undefined | Promise<FakeResponse | undefined>;
  /** Maps an engine error to the venue's error response. */
  error(e: Error, req: FakeRequest): FakeResponse;
  /** The venue's response to a request with a wrong API key. */
  authError(req: FakeRequest): FakeResponse;
  /** True when the request carries the (right or wrong) API key; undefined key = public call. */
  apiKeyOf(req: FakeRequest): string | undefined;
  onConnection(sock: FakeSocket, ctx: FakeContext): void;
  onMessage(sock: FakeSocket, msg: unknown, ctx: FakeContext): void;
}

export interface FakeContext {
  engine: FakeEngine;
  apiKey: string;
  sockets: Set<FakeSocket>;
  marketType: 'swap' | 'spot';
}

/** One REST call a fake venue received. */
export interface FakeCall {
  method: string;
  path: string;
  params: Record<string, string>;
}

export interface FakeVenue {
  url: string;
  port: number;
  engine: FakeEngine;
  requests: string[];
  /** Every REST call with its parameters (query + form/JSON body, as strings), in arrival order. */
  calls: FakeCall[];
  pauseWs(): void;
  resumeWs(): void;
  /** Closes every WebSocket connection (clients must reconnect). */
  dropConnections(): void;
  /** Stream names WebSocket clients are subscribed to (dialects keeping `state.subs`). */
  subscriptions(): string[];
  close(): Promise<void>;
}

/** Starts a fake venue for `dialect` on a free port of 127.0.0.1. */
export async function startFakeVenue(dialect: FakeDialect, opts: { apiKey: string; marketType?: 'swap' | 'spot'; tickMs?: number }): Promise<FakeVenue> {
  const engine = new FakeEngine(dialect.instruments(opts.marketType ?? 'swap'));
  if (dialect.orderIds) engine.orderIds = dialect.orderIds;
  engine.spot = ctx0Spot(opts.marketType);
  const sockets = new Set<FakeSocket>();
  const ctx: FakeContext = { engine, apiKey: opts.apiKey, sockets, marketType: opts.marketType ?? 'swap' };
  const requests: string[] = [];
  const calls: FakeCall[] = [];
  let paused = false;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const u = new URL(req.url ?? '/', 'http://127.0.0.1');
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        if (raw) {
          try {
            body = JSON.parse(raw) as Record<string, unknown>;
          } catch {
            body = Object.fromEntries(new URLSearchParams(raw));
          }
        }
        const fr: FakeRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, body, raw, headers: req.headers };
        requests.push(`${fr.method} ${fr.path}`);
        calls.push({ method: fr.method, path: fr.path, params: { ...Object.fromEntries(fr.query), ...Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)])) } });
        let out: FakeResponse | undefined;
        try {
          const key = dialect.apiKeyOf(fr);
          if (key !== undefined && key !== ctx.apiKey) out = dialect.authError(fr);
          else out = await dialect.rest(fr, ctx);
        } catch (e) {
          out = dialect.error(e as Error, fr);
        }
        if (!out) out = { status: 404, body: { code: 404, msg: `fake ${dialect.venue}: no route ${fr.method} ${fr.path}` } };
        res.writeHead(out.status ?? 200, { 'content-type': 'application/json' });
        res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body));
      })();
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    const sock: FakeSocket = {
      path: new URL(req.url ?? '/', 'http://127.0.0.1').pathname,
      ws,
      state: {},
      send: (m) => {
        if (!paused && ws.readyState === ws.OPEN) ws.send(typeof m === 'string' ? m : JSON.stringify(m));
      },
      reply: (m) => {
        if (ws.readyState === ws.OPEN) ws.send(typeof m === 'string' ? m : JSON.stringify(m));
      },
    };
    sockets.add(sock);
    if (process.env.FAKE_DEBUG) process.stderr.write(`fake ws connect ${sock.path}\n`);
    ws.on('close', () => sockets.delete(sock));
    ws.on('message', (data) => {
      const text = data.toString();
      if (process.env.FAKE_DEBUG) process.stderr.write(`fake ws <- ${sock.path} ${text.slice(0, 300)}\n`);
      let msg: unknown = text;
      try {
        msg = JSON.parse(text);
      } catch {
        /* plain text (e.g. "ping") */
      }
      try {
        dialect.onMessage(sock, msg, ctx);
      } catch (e) {
        process.stderr.write(`fake ${dialect.venue} ws error: ${(e as Error).stack}\n`);
      }
    });
    dialect.onConnection(sock, ctx);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  engine.start(opts.tickMs ?? 200);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    engine,
    requests,
    calls,
    pauseWs: () => {
      paused = true;
    },
    resumeWs: () => {
      paused = false;
    },
    subscriptions: () => [...sockets].flatMap((s) => [...((s.state.subs as Set<string> | undefined) ?? [])]),
    dropConnections: () => {
      for (const s of sockets) s.ws.terminate();
    },
    close: async () => {
      engine.stop();
      for (const s of sockets) s.ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
