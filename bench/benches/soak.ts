import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WebSocket } from 'ws';
import type { Bench } from '../lib/context';
import { exchangeClient, unary } from '../lib/grpc-client';
import { closeClient, connectClient } from '../lib/live-setup';
import { BTC_CSV, type Proc, ROOT, freePort, memOf, startApp, startNode, stopProc, waitFor } from '../lib/proc';
import { row, side } from '../lib/results';
import { startConnector, waitPort } from '../lib/servers';
import { round, sleep, summarize } from '../lib/stats';

/** CPU time (user + system) of a process in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

interface Sample {
  t: number;
  app: string;
  rssMB: number;
  heapMB: number;
  cpuPct: number;
}

/** A self-contained HTML page (inline SVG) of RSS and heap over time per app. */
function plotHtml(title: string, samples: Sample[], apps: string[]): string {
  const W = 900;
  const H = 260;
  const pad = 40;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const colors = ['#1f77b4', '#d62728', '#2ca02c'];
  const chart = (metric: 'rssMB' | 'heapMB') => {
    const vMax = Math.max(1, ...samples.map((s) => s[metric])) * 1.1;
    const x = (t: number) => pad + (t / tMax) * (W - 2 * pad);
    const y = (v: number) => H - pad + -(v / vMax) * (H - 2 * pad);
    const lines = apps
      .map((a, i) => {
        const pts = samples.filter((s) => s.app === a).map((s) => `${x(s.t).toFixed(1)},${y(s[metric]).toFixed(1)}`);
        return `<polyline fill="none" stroke="${colors[i % 3]}" stroke-width="1.5" points="${pts.join(' ')}"/><text x="${W - pad - 150}" y="${pad + 14 * i}" fill="${colors[i % 3]}" font-size="12">${a}</text>`;
      })
      .join('');
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="2" y="${y(vMax * f).toFixed(1)}" font-size="10">${round(vMax * f, 0)}</text><text x="${x(tMax * f).toFixed(1)}" y="${H - 22}" font-size="10">${round(tMax * f, 0)} s</text>`).join('');
    return `<h2>${metric === 'rssMB' ? 'RSS (MB)' : 'heap used (MB)'}</h2><svg width="${W}" height="${H}" style="border:1px solid #ccc"><line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#888"/>${ticks}${lines}</svg>`;
  };
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif"><h1>${title}</h1>${chart('rssMB')}${chart('heapMB')}<p>Samples every 10 s (no forced GC); x = seconds since the apps started.</p></body></html>`;
}

/**
 * Compressed soak (opt-in: `npm run bench -- --only soak`): connector (sim replaying the whole
 * 50-day BTCUSDT file at SIM_SPEED), market maker (SQLite) and live server, 100 WebSocket clients on
 * the live page's /ws; RSS, heap and CPU % of every app every 10 s; heap after forced GC at the end
 * of warm-up and at the end; then the live server's CPU with the clients connected and no market data.
 */
export const soakBench: Bench = {
  name: 'soak',
  title: 'Compressed soak: the three apps over the whole 50-day BTCUSDT replay, 100 live WebSocket clients',
  optIn: true,
  async run(ctx) {
    const sc = ctx.scale.soak;
    const conn = await startConnector(ctx.workDir, { SIM_DATA: BTC_CSV, SIM_SPEED: String(sc.speed), ...(sc.maxCandles ? { SIM_MAX_CANDLES: String(sc.maxCandles) } : {}) });
    const mmPort = await freePort();
    const livePort = await freePort();
    const mm = startNode('market-maker', path.join(ROOT, 'dist/apps/market-maker/src/main.js'), {
      env: { MM_PORT: String(mmPort), MM_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: conn.address, SQLITE_PATH: path.join(ctx.workDir, `soak-${Date.now()}.sqlite`), DEAD_MAN_ENABLED: 'false' },
      preload: ['preload-ipc'],
      logDir: ctx.workDir,
    });
    const live = startApp('live-server', { LIVE_PORT: String(livePort), LIVE_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: conn.address, LIVE_MAX_CONNECTIONS_PER_IP: String(sc.clients + 10) }, ctx.workDir);
    const apps: [string, Proc][] = [
      ['exchange-connector', conn.proc],
      ['market-maker', mm],
      ['live-server', live],
    ];
    const clients: WebSocket[] = [];
    const grpc = exchangeClient(conn.address);
    const samples: Sample[] = [];
    let wsMessages = 0;
    try {
      await waitPort(mmPort, mm);
      await waitPort(livePort, live);
      for (let i = 0; i < sc.clients; i++) clients.push(await connectClient(`ws://127.0.0.1:${livePort}/ws`, () => wsMessages++));
      const t0 = Date.now();
      const lastCpu = new Map(apps.map(([a, p]) => [a, { t: Date.now(), cpu: cpuSeconds(p.child.pid!) }]));
      const sample = async () => {
        for (const [a, p] of apps) {
          const m = await memOf(p, false);
          const now = Date.now();
          const cpu = cpuSeconds(p.child.pid!);
          const prev = lastCpu.get(a)!;
          samples.push({ t: (now - t0) / 1000, app: a, rssMB: round(m.rss / 1048576, 1), heapMB: round(m.heapUsed / 1048576, 1), cpuPct: round(((cpu - prev.cpu) / ((now - prev.t) / 1000)) * 100, 1) });
          lastCpu.set(a, { t: now, cpu });
        }
      };
      const mmStatus = async () => (await fetch(`http://127.0.0.1:${mmPort}/status`).then((r) => r.json())) as any;
      // warm-up, then heap after GC as the reference
      await waitFor('market maker running', async () => (await mmStatus().catch(() => ({})))?.components?.strategy?.state === 'running', 60_000, 500);
      await sleep(sc.warmupSec * 1000);
      const heapWarm = Object.fromEntries(await Promise.all(apps.map(async ([a, p]) => [a, (await memOf(p, true)).heapUsed] as const)));
      let last = Date.now();
      let finished = false;
      let lastVenueTs: string | undefined;
      let checks = 0;
      let priceBehind = 0;
      while (!finished && Date.now() - t0 < sc.maxSec * 1000) {
        await sleep(Math.max(0, sc.sampleSec * 1000 - (Date.now() - last)));
        last = Date.now();
        await sample();
        // keeping up: the market maker's last price vs the venue's latest (same tick when it keeps up)
        const [p, s] = await Promise.all([unary(grpc, 'GetLatestPrice', { symbol: 'BTCUSDT' }).catch(() => undefined), mmStatus().catch(() => undefined)]);
        const venuePrice = p?.price?.value as string | undefined;
        const mmPrice = s?.components?.priceFeed?.lastPrice as string | undefined;
        if (venuePrice !== undefined) {
          checks++;
          if (venuePrice !== mmPrice) priceBehind++;
        }
        // replay over: the venue's latest price time stopped moving (or the market maker calls its feed stale)
        const ts = p?.timestamp ? `${p.timestamp.seconds}.${p.timestamp.nanos}` : undefined;
        finished = samples.length > 3 && ((ts !== undefined && ts === lastVenueTs) || Boolean(s?.components?.priceFeed?.stale));
        lastVenueTs = ts;
      }
      const runSec = (Date.now() - t0) / 1000;
      const heapEnd = Object.fromEntries(await Promise.all(apps.map(async ([a, p]) => [a, (await memOf(p, true)).heapUsed] as const)));
      // idle: no market data (replay over), clients still connected
      const idleCpu0 = cpuSeconds(live.child.pid!);
      const idleT0 = Date.now();
      const wsBefore = wsMessages;
      await sleep(sc.idleSec * 1000);
      const liveIdlePct = ((cpuSeconds(live.child.pid!) - idleCpu0) / ((Date.now() - idleT0) / 1000)) * 100;
      const status = await mmStatus().catch(() => undefined);
      const finalVenue = (await unary(grpc, 'GetLatestPrice', { symbol: 'BTCUSDT' }).catch(() => undefined))?.price?.value;
      const finalSame = finalVenue !== undefined && finalVenue === status?.components?.priceFeed?.lastPrice;
      const rows = apps.map(([a]) => {
        const ss = samples.filter((s) => s.app === a);
        const cpu = summarize(ss.map((s) => s.cpuPct));
        return row(`${a}: CPU % (per 10 s sample; p50/p90/p99/max)`, side(cpu, cpu.mean), undefined, '% of one core (mean)', {
          rssMaxMB: Math.max(...ss.map((s) => s.rssMB)),
          heapWarmMB: round(heapWarm[a] / 1048576, 2),
          heapEndMB: round(heapEnd[a] / 1048576, 2),
          heapGrowthMB: round((heapEnd[a] - heapWarm[a]) / 1048576, 2),
        });
      });
      const html = plotHtml(`OpenSQT soak ${new Date(t0).toISOString()} (SIM_SPEED ${sc.speed})`, samples, apps.map(([a]) => a));
      const outDir = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(ROOT, 'bench', 'results'), 'history');
      fs.mkdirSync(outDir, { recursive: true });
      const htmlFile = path.join(outDir, `soak-${new Date(t0).toISOString().replace(/[:.]/g, '-')}.html`);
      fs.writeFileSync(htmlFile, html);
      fs.writeFileSync(htmlFile.replace(/\.html$/, '.json'), JSON.stringify({ speed: sc.speed, samples, heapWarm, heapEnd, checks, priceBehind, liveIdlePct, status }, null, 1));
      const targets = [
        ...apps.map(([a]) => ({ what: `soak: heap growth after warm-up, ${a}`, target: '< 10 MB', value: `${round((heapEnd[a] - heapWarm[a]) / 1048576, 2)} MB`, pass: heapEnd[a] - heapWarm[a] < 10 * 1048576 })),
        { what: `live server idle CPU (${sc.clients} clients, no market data)`, target: '< 10 % of one core', value: `${round(liveIdlePct, 2)} %`, pass: liveIdlePct < 10 },
        {
          what: 'market maker kept up with the replay (strategy running; its last price = the venue last price at the end)',
          target: 'yes',
          value: `${status?.components?.strategy?.state ?? 'unknown'}; final price ${finalSame ? 'same' : `differs (${finalVenue} vs ${status?.components?.priceFeed?.lastPrice})`}; samples with a different last price ${priceBehind}/${checks}`,
          pass: status?.components?.strategy?.state === 'running' && finalSame,
        },
      ];
      return {
        method: `Three apps from dist as processes (with bench/hosts/preload-ipc for heap): the connector's sim replays ${sc.maxCandles ?? 'all'} candles of ${path.basename(BTC_CSV)} at SIM_SPEED=${sc.speed} (market time × wall time); the market maker (SQLite, dead-man's switch off) trades it through gRPC; the live server is fed by the same connector and has ${sc.clients} WebSocket clients on /ws. Every ${sc.sampleSec} s: RSS and heap used (no forced GC) and CPU % (from /proc utime+stime) per app. Heap growth = heap after forced GC at the end − heap after forced GC after ${sc.warmupSec} s of warm-up. The run ends when the venue's latest price time stops moving between two samples or the market maker reports its price feed stale (replay over), or after ${sc.maxSec} s; then the live server's CPU over ${sc.idleSec} s with the clients connected and no market data. Plot: ${path.relative(ROOT, htmlFile)}.`,
        rows,
        targets,
        notes: [`run ${round(runSec, 0)} s, ${samples.length / apps.length} samples per app, ${wsMessages} WebSocket messages (${wsMessages - wsBefore} during idle)`, `plot ${htmlFile}`],
      };
    } finally {
      grpc.close();
      await Promise.all(clients.map((c) => closeClient(c)));
      await stopProc(live);
      await stopProc(mm);
      await conn.stop();
    }
  },
};
