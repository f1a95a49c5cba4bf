#!/usr/bin/env node
'use strict';
/**
 * `npm run reset`: deletes what `npm start` keeps between runs, so the next start begins fresh on
 * both sides: the sim account (SIM_STATE_FILE, default data/sim-state.json) and the market maker's
 * SQLite database (SQLITE_PATH, default data/market-maker.sqlite, with its -wal/-shm/-journal files).
 * A PostgreSQL DATABASE_URL is never touched (it is named, so the operator can clear it on purpose).
 * Plain Node, no dependencies.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const env = process.env;
const simState = env.SIM_STATE_FILE || 'data/sim-state.json';
const sqlite = env.SQLITE_PATH || 'data/market-maker.sqlite';

const targets = [
  ['sim account state', simState],
  ['market maker SQLite', sqlite],
  ['', `${sqlite}-wal`],
  ['', `${sqlite}-shm`],
  ['', `${sqlite}-journal`],
];
let removed = 0;
for (const [what, rel] of targets) {
  const file = path.resolve(ROOT, rel);
  if (fs.existsSync(file)) {
    fs.rmSync(file);
    removed++;
    process.stdout.write(`reset: removed ${what || 'SQLite side file'} ${rel}\n`);
  } else if (what) process.stdout.write(`reset: no ${what} at ${rel} (nothing to remove)\n`);
}
if (env.DATABASE_URL && /^postgres/.test(env.DATABASE_URL))
  process.stdout.write('reset: DATABASE_URL points at PostgreSQL; it was NOT cleared (drop its tables yourself if you mean to)\n');
process.stdout.write(
  removed
    ? 'reset: done. The next `npm start` begins with a fresh sim account and an empty market maker database.\n'
    : 'reset: nothing to clear; the next `npm start` begins fresh.\n',
);
