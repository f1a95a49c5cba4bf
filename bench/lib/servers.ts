import * as net from 'node:net';
import { type Proc, freePort, startApp, startHost, stopProc, waitFor } from './proc';
import { type RawClient, exchangeClient, unary } from './grpc-client';

export interface GrpcTarget {
  proc: Proc;
  address: string;
  /** HTTP port (/metrics) of the connector; 0 for the raw server. */
  httpPort: number;
  stop(): Promise<void>;
}

/** The real connector (dist main.js) on the sim venue, with the IPC preload (and the burst preload when `burst`). */
export async function startConnector(logDir: string, env: Record<string, string> = {}, burst = false): Promise<GrpcTarget> {
  const port = await freePort();
  const httpPort = await freePort();
  const proc = startApp(
    'exchange-connector',
    {
      PORT: String(port),
      GRPC_HOST: '127.0.0.1',
      METRICS_PORT: String(httpPort),
      SIM_SEED: '7',
      SIM_BALANCE: '1000000000',
      // measure capacity, not the per-client token bucket (200 req/s by default)
      RATE_LIMIT_RPS: '0',
      // resting orders at 50000 with the market near 100k: a wide band keeps the check in the measured path
      PRICE_BAND_PCT: '60',
      ...(burst ? { BENCH_BURST: '1' } : {}),
      ...env,
    },
    logDir,
    burst ? ['preload-ipc', 'preload-burst'] : ['preload-ipc'],
  );
  const address = `127.0.0.1:${port}`;
  await readyByGetName(address, proc, 'sim');
  return { proc, address, httpPort, stop: () => stopProc(proc) };
}

/** The raw grpc-js baseline server (bench/hosts/raw-grpc). */
export async function startRawGrpc(logDir: string): Promise<GrpcTarget> {
  const port = await freePort();
  const proc = startHost('raw-grpc', { PORT: String(port) }, logDir);
  const address = `127.0.0.1:${port}`;
  await readyByGetName(address, proc, 'raw');
  return { proc, address, httpPort: 0, stop: () => stopProc(proc) };
}

async function readyByGetName(address: string, proc: Proc, name: string): Promise<void> {
  const c: RawClient = exchangeClient(address);
  try {
    await waitFor(
      `${proc.name} at ${address}`,
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`exited: ${proc.output().slice(-2000)}`);
        return (await unary(c, 'GetName', {}, 1000)).name === name;
      },
      60_000,
      200,
    );
  } finally {
    c.close();
  }
}

/** Resolves when a TCP port on 127.0.0.1 accepts connections. */
export function waitPort(port: number, proc: Proc, timeoutMs = 60_000): Promise<boolean> {
  return waitFor(
    `${proc.name} port ${port}`,
    () =>
      new Promise<boolean>((resolve, reject) => {
        if (proc.child.exitCode !== null) return reject(new Error(`exited: ${proc.output().slice(-2000)}`));
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    timeoutMs,
    100,
  );
}
