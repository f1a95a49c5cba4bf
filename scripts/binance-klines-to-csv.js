#!/usr/bin/env node
'use strict';
/**
 * Converts Binance public-data kline CSVs (data.binance.vision, e.g.
 * futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04.zip, unzipped) into the simulator's
 * format `open_time_ms,open,high,low,close,volume_base`, printed on stdout.
 *
 *   node scripts/binance-klines-to-csv.js BTCUSDT-1m-2025-05-*.csv > btc-may.csv
 *   unzip -p BTCUSDT-1m-2025-05-04.zip | node scripts/binance-klines-to-csv.js > btc.csv
 *
 * Input columns: open_time,open,high,low,close,volume,close_time,… (header line optional).
 * Rows from all inputs are sorted by open time and de-duplicated. Open times in microseconds
 * (Binance spot files from 2025 on) are converted to milliseconds. No dependencies.
 */
const fs = require('node:fs');

function convert(text, name, rows) {
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.split(',');
    if (i === 0 && !/^\d+$/.test(f[0])) return; // header
    if (f.length < 6 || !/^\d+$/.test(f[0])) throw new Error(`${name}:${i + 1}: not a Binance kline row: "${line}"`);
    let t = Number(f[0]);
    if (t > 1e14) t = Math.floor(t / 1000); // microseconds → milliseconds
    rows.set(t, `${t},${f[1]},${f[2]},${f[3]},${f[4]},${f[5]}`);
  });
}

function main() {
  const files = process.argv.slice(2);
  if (files.includes('-h') || files.includes('--help') || (files.length === 0 && process.stdin.isTTY)) {
    process.stderr.write('usage: node scripts/binance-klines-to-csv.js FILE.csv... > out.csv   (or CSV on stdin)\n');
    process.exit(files.length === 0 ? 2 : 0);
  }
  const rows = new Map(); // open_time_ms → output line (later inputs win on duplicates)
  if (files.length === 0) convert(fs.readFileSync(0, 'utf8'), 'stdin', rows);
  for (const file of files) convert(fs.readFileSync(file, 'utf8'), file, rows);
  const out = ['open_time_ms,open,high,low,close,volume_base'];
  for (const t of [...rows.keys()].sort((a, b) => a - b)) out.push(rows.get(t));
  process.stdout.write(`${out.join('\n')}\n`);
  process.stderr.write(`${rows.size} klines\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`binance-klines-to-csv: ${err.message}\n`);
  process.exit(1);
}
