/**
 * The observability pack against a real Prometheus (Debian's /usr/bin/prometheus): the three built
 * apps run on the sim (real BTCUSDT data at 3600×), Prometheus scrapes their /metrics every second,
 * and every query of every panel of the Grafana dashboard must return at least one series through
 * Prometheus's HTTP API (template variables substituted as Grafana would with "All").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BTC_CSV, ROOT, type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';

jest.setTimeout(150_000);

const PROMETHEUS = '/usr/bin/prometheus';
const DASHBOARD = path.join(ROOT, 'deploy/observability/grafana/opensqt-dashboard.json');

interface Panel {
  title: string;
  targets: { refId: string; expr: string }[];
}

/** Grafana's variables as "All" / a sensible range for a short run. */
export function substituteVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval/g, '30s')
    .replace(/\$__interval/g, '5s')
    .replace(/\$__range/g, '5m')
    .replace(/\$\{?(symbol|job|instance)\}?/g, '.+');
}

async function query(base: string, expr: string): Promise<{ status: string; data?: { result: unknown[] }; error?: string }> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as { status: string; data?: { result: unknown[] }; error?: string };
}

describe('Grafana dashboard against a real Prometheus scraping the stack', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-prom-'));
  const procs: AppProcess[] = [];
  let prom: ChildProcess | undefined;
  let promLog = '';

  afterAll(async () => {
    prom?.kill('SIGTERM');
    await Promise.all(procs.map((p) => stopApp(p)));
    if (prom && prom.exitCode === null) await new Promise((r) => prom!.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every dashboard query returns at least one series during a sim run', async () => {
    expect(fs.existsSync(PROMETHEUS)).toBe(true);
    const panels = (JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }).panels;
    const queries = panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, ref: t.refId, expr: substituteVariables(t.expr) })));
    expect(queries.length).toBeGreaterThanOrEqual(20);

    const [grpcPort, connHttp, mmPort, livePort, promPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const connector = `127.0.0.1:${grpcPort}`;
    procs.push(
      startApp('exchange-connector', { PORT: String(grpcPort), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(connHttp), SIM_DATA: BTC_CSV, SIM_MAX_CANDLES: '1900', SIM_SPEED: '3600' }, dir),
    );
    await waitFor('connector', () => httpJson(`http://127.0.0.1:${connHttp}/health`).then((r) => r.status === 200), 30000, 200);
    procs.push(startApp('live-server', { LIVE_PORT: String(livePort), LIVE_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: connector, LIVE_SYMBOL: 'BTCUSDT' }, dir));
    procs.push(
      startApp('market-maker', {
        MM_PORT: String(mmPort),
        MM_HOST: '127.0.0.1',
        EXCHANGE_GRPC_ADDRESS: connector,
        SQLITE_PATH: path.join(dir, 'mm.sqlite'),
        CONFIG_FILE: path.join(ROOT, 'config', 'market-maker.yaml'),
      }, dir),
    );
    await waitFor('market maker ready', () => httpJson(`http://127.0.0.1:${mmPort}/ready`).then((r) => r.status === 200), 30000, 200);
    await waitFor('live server', () => httpJson(`http://127.0.0.1:${livePort}/health`).then((r) => r.status === 200), 30000, 200);

    const job = (name: string, port: number) => `  - job_name: ${name}\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`;
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${path.join(ROOT, 'deploy/observability/prometheus/opensqt-alerts.yaml')}\nscrape_configs:\n` +
        job('opensqt-exchange-connector', connHttp) +
        job('opensqt-market-maker', mmPort) +
        job('opensqt-live-server', livePort),
    );
    prom = spawn(PROMETHEUS, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prom.stdout?.on('data', (d) => (promLog += d));
    prom.stderr?.on('data', (d) => (promLog += d));
    const base = `http://127.0.0.1:${promPort}`;
    await waitFor('prometheus ready', () => fetch(`${base}/-/ready`).then((r) => r.ok), 30000, 200);

    // All three targets up, then every query has data (rates need a few scrapes).
    await waitFor('targets up', () => query(base, 'sum(up)').then((r) => (r.data?.result[0] as { value: [number, string] } | undefined)?.value[1] === '3'), 30000, 500);
    let missing: string[] = [];
    const deadline = Date.now() + 45_000;
    do {
      await new Promise((r) => setTimeout(r, 2000));
      missing = [];
      for (const q of queries) {
        const r = await query(base, q.expr);
        if (r.status !== 'success') missing.push(`${q.panel} [${q.ref}] error ${r.error}: ${q.expr}`);
        else if ((r.data?.result.length ?? 0) === 0) missing.push(`${q.panel} [${q.ref}] no series: ${q.expr}`);
      }
    } while (missing.length > 0 && Date.now() < deadline);
    if (missing.length) console.log(promLog.slice(-2000));
    expect(missing).toEqual([]);

    // The numbers are the apps' own: realized PnL and fills as /metrics shows them right now.
    const mmText = await (await fetch(`http://127.0.0.1:${mmPort}/metrics`)).text();
    expect(mmText).toMatch(/market_maker_build_info\{version="[^"]+",node_version="v\d+/);
    const fills = await query(base, 'sum(market_maker_orders_filled_total)');
    expect(Number((fills.data?.result[0] as { value: [number, string] }).value[1])).toBeGreaterThan(0);
    // The alert rules load and evaluate against live data without errors.
    const rules = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: { rules: { health: string; name: string }[] }[] } };
    const ruleList = rules.data.groups.flatMap((g) => g.rules);
    expect(ruleList.length).toBe(8);
    expect(ruleList.filter((r) => r.health !== 'ok').map((r) => r.name)).toEqual([]);
  });
});
