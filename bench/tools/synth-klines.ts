/**
 * Writes a synthetic 1-minute kline CSV (seeded, reproducible; for benchmarks, never committed):
 * `node dist/bench/tools/synth-klines.js <out.csv> [days=365] [seed=7]`. A geometric random walk
 * around 100 000 (BTCUSDT-like: tick 0.1, ~0.05 % per minute), each candle's high/low a little
 * outside its open/close, volume 1–30.
 */
import * as fs from 'node:fs';
import { mulberry32 } from '@mm/sim-exchange';

export function writeSyntheticKlines(file: string, days = 365, seed = 7, startMs = Date.UTC(2024, 0, 1)): number {
  const rnd = mulberry32(seed);
  const n = days * 1440;
  const fd = fs.openSync(file, 'w');
  let buf = 'open_time_ms,open,high,low,close,volume_base\n';
  let px = 1_000_000; // in ticks of 0.1
  for (let i = 0; i < n; i++) {
    const o = px;
    px = Math.max(10_000, Math.round(px * Math.exp(0.0005 * (rnd() + rnd() + rnd() - 1.5) * 2)));
    const h = Math.max(o, px) + Math.floor(rnd() * 150);
    const l = Math.min(o, px) - Math.floor(rnd() * 150);
    const t = (x: number) => `${Math.floor(x / 10)}.${x % 10}`;
    buf += `${startMs + i * 60_000},${t(o)},${t(h)},${t(l)},${t(px)},${(1 + rnd() * 29).toFixed(3)}\n`;
    if (buf.length > 1 << 20) {
      fs.writeSync(fd, buf);
      buf = '';
    }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
  return n;
}

if (require.main === module) {
  const [out, days, seed] = process.argv.slice(2);
  if (!out) {
    process.stderr.write('usage: node dist/bench/tools/synth-klines.js <out.csv> [days=365] [seed=7]\n');
    process.exit(2);
  }
  const n = writeSyntheticKlines(out, days ? Number(days) : 365, seed ? Number(seed) : 7);
  process.stdout.write(`wrote ${n} candles to ${out}\n`);
}
