/**
 * Shared pieces of the attack suite: real built apps on loopback, self-signed certificates made by
 * openssl at test time, connector memory read over IPC after forced GCs (bench/hosts/preload-ipc),
 * CPU time from /proc, raw HTTP/2 gRPC requests (to send what a normal client would not).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ROOT, freePort, waitFor } from '@mm/testing';

export { freePort, waitFor };

/** CA, a server certificate for localhost/127.0.0.1, a client certificate from the CA. Files in `dir`. */
export function makeCerts(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  fs.writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=opensqt-sec-ca');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.cnf');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=market-maker');
  ossl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2');
  const f = (n: string) => path.join(dir, n);
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

export interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

/** Starts a built app; `nodeArgs` go before the script (e.g. --expose-gc); `ipc` opens an IPC channel. */
export function spawnApp(app: 'exchange-connector' | 'market-maker' | 'live-server', env: Record<string, string>, dir: string, tag: string, nodeArgs: string[] = [], ipc = false): Proc {
  const logFile = path.join(dir, `${tag}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/apps', app, 'src/main.js')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', NODE_ENV: 'test', ...env },
    stdio: ipc ? ['ignore', out, out, 'ipc'] : ['ignore', out, out],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => fs.readFileSync(logFile, 'utf8') };
}

/** SIGTERM, SIGKILL after `graceMs`. */
export async function stop(p: Proc | undefined, graceMs = 8000): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

/** Connector started with --expose-gc and the IPC memory probe. */
export interface Connector extends Proc {
  port: number;
  http: number;
  address: string;
  /** Heap and RSS in bytes, after full GCs when `gc`. */
  mem(gc?: boolean): Promise<{ rss: number; heapUsed: number }>;
}

export async function startConnector(env: Record<string, string>, dir: string, tag: string, nodeArgs: string[] = []): Promise<Connector> {
  const port = await freePort();
  const http = await freePort();
  const preload = path.join(ROOT, 'dist/bench/hosts/preload-ipc.js');
  const p = spawnApp('exchange-connector', { PORT: String(port), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(http), ...env }, dir, tag, ['--expose-gc', ...nodeArgs, '-r', preload], true);
  let seq = 0;
  const mem = (gc = true) =>
    new Promise<{ rss: number; heapUsed: number }>((resolve, reject) => {
      const id = ++seq;
      const onMsg = (m: { id?: number; rss: number; heapUsed: number }) => {
        if (m?.id !== id) return;
        p.child.off('message', onMsg);
        resolve(m);
      };
      p.child.on('message', onMsg);
      if (!p.child.send?.({ type: 'mem', id, gc })) reject(new Error('no IPC channel'));
    });
  await waitFor(`${tag} health`, async () => (await fetch(`http://127.0.0.1:${http}/health`).catch(() => undefined))?.status === 200, 30_000, 200);
  return { ...p, port, http, address: `127.0.0.1:${port}`, mem };
}

/** User + system CPU time of a process so far, ms (Linux /proc; clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return ticks * 10;
}

/** Resident set size of a process, bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Sends one gRPC request over raw HTTP/2 with a `payloadBytes` message body (zeros are a valid
 * empty-ish proto for most requests; here only the length prefix matters) and resolves with the
 * grpc-status the server answered with (headers or trailers) and the time it took.
 */
export function rawGrpc(session: http2.ClientHttp2Session, grpcPath: string, payloadBytes: number, headers: Record<string, string> = {}): Promise<{ status: number; message: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': grpcPath, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let done = false;
    const finish = (h: http2.IncomingHttpHeaders) => {
      if (done || h['grpc-status'] === undefined) return;
      done = true;
      resolve({ status: Number(h['grpc-status']), message: decodeURIComponent(String(h['grpc-message'] ?? '')), ms: performance.now() - started });
      req.close(http2.constants.NGHTTP2_CANCEL);
    };
    req.on('response', finish);
    req.on('trailers', finish);
    req.on('error', () => undefined);
    req.on('close', () => {
      if (!done) {
        done = true;
        resolve({ status: -1, message: 'closed without status', ms: performance.now() - started });
      }
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(payloadBytes, 1);
    req.write(prefix);
    req.end(Buffer.alloc(payloadBytes, 0x00));
  });
}

/** Median of numbers. */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

/** A generic grpc-js client for hand-made calls (health with huge names, etc.). */
export function genericClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure());
}

/** Encodes a `HealthCheckRequest{service}` (field 1, length-delimited). */
export function healthRequest(service: string): Buffer {
  const body = Buffer.from(service, 'utf8');
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    len.push(b);
  } while (n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), body]);
}

/** One Health/Watch call; resolves with the final status code, or -1 when it is still open after `ms` (then cancelled unless `keep`). */
export function watch(client: grpc.Client, service: string, ms = 3000, keep?: grpc.ClientReadableStream<Buffer>[]): Promise<number> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (b: Buffer) => b, (b: Buffer) => b, healthRequest(service), new grpc.Metadata(), {});
    let settled = false;
    const t = setTimeout(() => {
      if (settled) return;
      settled = true;
      if (keep) keep.push(call);
      else call.cancel();
      resolve(-1);
    }, ms);
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      resolve(e.code);
    });
    call.on('end', () => undefined);
  });
}

/** JSON over HTTP with optional bearer token. */
export async function getJson(url: string, token?: string): Promise<{ status: number; body: any }> {
  let res: Response | undefined;
  for (let attempt = 0; !res; attempt++) {
    try {
      res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    } catch (e) {
      // A kept-alive socket the server closed while idle ("other side closed"): retry once on a new one.
      if (attempt === 0) continue;
      throw new Error(`GET ${url}: ${(e as Error).message}: ${String((e as { cause?: Error }).cause?.message ?? '')}`);
    }
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* text */
  }
  return { status: res.status, body };
}
