/**
 * Shared pieces of the engine-side attack specs (preemption, storage loss): a flat/dip CSV for the
 * sim connector, the connector started with two trader tokens (ours and the attacker's), and a
 * local HTTP server playing a Slack webhook that records every alert.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AppProcess, freePort, startApp, waitFor } from '@mm/testing';
import { TestExchangeClient } from '../support/exchange-client';

const MIN = 60_000;

/** 1m candles `open_time_ms,o,h,l,c,v`: `flat` minutes at `p0`, then `rest` minutes at `p1` (a gap). */
export function writeCsv(file: string, p0: string, flatMinutes: number, p1 = p0, rest = 600): void {
  const t0 = 1_750_000_020_000 - (1_750_000_020_000 % MIN);
  const rows: string[] = [];
  for (let i = 0; i < flatMinutes + rest; i++) {
    const p = i < flatMinutes ? p0 : p1;
    rows.push(`${t0 + i * MIN},${p},${p},${p},${p},12.5`);
  }
  fs.writeFileSync(file, rows.join('\n') + '\n');
}

export const MM_TOKEN = `mm-${randomBytes(16).toString('hex')}`;
export const ATTACKER_TOKEN = `att-${randomBytes(16).toString('hex')}`;

export interface Connector {
  proc: AppProcess;
  address: string;
  /** A second trading client (its own trader token). */
  attacker: TestExchangeClient;
}

export async function startConnector(dir: string, csv: string, speed: string): Promise<Connector> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const proc = startApp(
    'exchange-connector',
    { PORT: String(grpcPort), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(httpPort), SIM_DATA: csv, SIM_SPEED: speed, CONNECTOR_TOKENS: `trader:market-maker:${MM_TOKEN},trader:attacker:${ATTACKER_TOKEN}` },
    dir,
    'connector',
  );
  await waitFor('connector health', async () => (await fetch(`http://127.0.0.1:${httpPort}/health`)).status === 200, 30_000, 100);
  const address = `127.0.0.1:${grpcPort}`;
  return { proc, address, attacker: new TestExchangeClient(address, ATTACKER_TOKEN) };
}

/** An HTTP server on 127.0.0.1 playing a Slack incoming webhook; `texts` holds every alert's text. */
export class FakeSlack {
  readonly texts: string[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        this.texts.push(JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } catch {
        this.texts.push(Buffer.concat(chunks).toString('utf8'));
      }
      res.writeHead(200).end('ok');
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/T0/B0/hook`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Our instance's client order ids: side, level in ticks, generation, keyed tag. */
export const MM1 = /^mm1([BS])(\d+)g(0|[1-9]\d*)([0-9a-z]{6})$/;
export const openOrders = async (c: TestExchangeClient) => (await c.call('GetOpenOrders', { symbol: 'BTCUSDT' })).orders as any[];
