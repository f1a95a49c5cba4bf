import type { WebSocket } from 'ws';
import { toLiveCandle, toLiveOrder } from '../../apps/live-server/src/messages';
import type { Bench } from '../lib/context';
import { type LiveTarget, closeClient, connectClient, inBatches, seqCandle, seqOf, seqOrder, startLive, startRawWs } from '../lib/live-setup';
import { memOf } from '../lib/proc';
import { type Row, row, side } from '../lib/results';
import { Samples, round, sleep, summarize, wallMs } from '../lib/stats';

interface LiveCase {
  latency: Samples;
  delivered: number;
  expected: number;
  seconds: number;
  rssPerClient: number;
  heapPerClient: number;
  closedEarly: number;
}

/**
 * `clients` WebSocket clients receive n = rate × seconds messages (kline and orders alternating),
 * each carrying a sequence number; latency = arrival wall time − the time this process pushed it
 * (into the fake connector's gRPC stream for the live server, into the control socket for raw ws).
 */
async function liveCase(target: LiveTarget, clients: number, rate: number, seconds: number): Promise<LiveCase> {
  const n = Math.max(2, Math.round(rate * seconds));
  const sentAt = new Float64Array(n + 1);
  const latency = new Samples(clients * n);
  let delivered = 0;
  let closedEarly = 0;
  const before = await memOf(target.proc);
  const sockets: WebSocket[] = [];
  const onMessage = (text: string) => {
    const seq = seqOf(text);
    if (seq === undefined || !(seq >= 1 && seq <= n)) return;
    latency.add(wallMs() - sentAt[seq]);
    delivered++;
  };
  await inBatches(clients, 50, async () => {
    const ws = await connectClient(target.url, onMessage);
    ws.on('close', () => closedEarly++);
    sockets.push(ws);
  });
  await sleep(300);
  const start = wallMs();
  for (let seq = 1; seq <= n; seq++) {
    const due = start + ((seq - 1) * 1000) / rate;
    const wait = due - wallMs();
    if (wait > 0) await sleep(wait);
    sentAt[seq] = wallMs();
    if (target.fake) {
      if (seq % 2) target.fake.pushCandle(seqCandle(seq));
      else target.fake.pushOrderUpdate({ order: seqOrder(seq) });
    } else {
      const text = JSON.stringify(seq % 2 ? { type: 'kline', data: toLiveCandle(seqCandle(seq)) } : { type: 'orders', data: toLiveOrder(seqOrder(seq)) });
      target.ctl!.send(text);
    }
  }
  const deadline = Date.now() + 10_000;
  while (delivered < n * clients && Date.now() < deadline) await sleep(10);
  const end = wallMs();
  const after = await memOf(target.proc);
  for (const s of sockets) s.removeAllListeners('close');
  await inBatches(sockets.length, 200, (i) => closeClient(sockets[i]));
  return {
    latency,
    delivered,
    expected: n * clients,
    seconds: (end - start) / 1000,
    rssPerClient: (after.rss - before.rss) / clients,
    heapPerClient: (after.heapUsed - before.heapUsed) / clients,
    closedEarly,
  };
}

export const liveBench: Bench = {
  name: 'live',
  title: 'Live server broadcast to 100–2000 WebSocket clients vs raw ws',
  async run(ctx) {
    const sc = ctx.scale.live;
    const rows: Row[] = [];
    const targets = [];
    for (const clients of sc.clients) {
      const live = await startLive(ctx.workDir);
      let p: LiveCase;
      try {
        p = await liveCase(live, clients, sc.rate, sc.seconds);
      } finally {
        await live.stop();
      }
      const raw = await startRawWs(ctx.workDir);
      let b: LiveCase;
      try {
        b = await liveCase(raw, clients, sc.rate, sc.seconds);
      } finally {
        await raw.stop();
      }
      const thr = (c: LiveCase) => c.delivered / c.seconds;
      const r = row(`${clients} clients × ${sc.rate} msg/s`, side(summarize(p.latency.values()), thr(p)), side(summarize(b.latency.values()), thr(b)), 'deliveries/s', {
        drops: p.expected - p.delivered,
        baselineDrops: b.expected - b.delivered,
        KBPerClient: round(p.rssPerClient / 1024, 1),
        baselineKBPerClient: round(b.rssPerClient / 1024, 1),
        heapKBPerClient: round(p.heapPerClient / 1024, 1),
        closedEarly: p.closedEarly,
      });
      rows.push(r);
      ctx.log(`live ${r.case}: p99 ${r.product.p99} vs raw ${r.baseline!.p99} ms, ${round(p.rssPerClient / 1024, 1)} KB/client`);
      if (clients === 1000 || sc.clients.length === 1) {
        targets.push({ what: `live server, ${clients} clients: p99 delivery latency vs raw ws`, target: '≤ 1.3×', value: `${r.ratio!.p99}× (${r.product.p99} vs ${r.baseline!.p99} ms)`, pass: r.ratio!.p99 <= 1.3 });
        targets.push({ what: `live server, ${clients} clients: memory per client (RSS delta / clients)`, target: '< 100 KB', value: `${round(p.rssPerClient / 1024, 1)} KB`, pass: p.rssPerClient < 100 * 1024 });
      }
    }
    return {
      method: `Product: the real live server (dist main.js) fed by a fake connector (real grpc-js server in the bench process) and read by ws clients in the bench process; each message is a forming-candle update (→ \`kline\`) or an order update (→ \`orders\`) alternating, with a sequence number in close/price. Baseline: a raw \`ws\` server (bench/hosts/raw-ws) broadcasting the same JSON texts, fed through a control WebSocket. ${sc.rate} msg/s for ${sc.seconds} s per case; fresh server processes per case. Latency = client arrival − push time in the bench process (includes the gRPC hop for the product, the control-socket hop for the baseline). Memory per client = (RSS after forced GC with clients connected and messages sent − RSS after forced GC before connecting) ÷ clients.`,
      rows,
      targets,
      notes: [],
    };
  },
};
