#!/usr/bin/env node
'use strict';
/**
 * Copies the runtime tree listed in deploy/runtime-files.json into <dest> (the image's /app).
 *   node scripts/assemble-runtime.js <dest> [--link node_modules]
 * `--link name` symlinks that entry instead of copying it (tests: node_modules is large).
 * Fails naming any listed path that does not exist (e.g. `dist/…` before `npm run build`).
 * Source maps are left out. No dependencies: plain Node.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const LIST = path.join(ROOT, 'deploy', 'runtime-files.json');

function main(argv) {
  const dest = argv[0];
  if (!dest) {
    process.stderr.write('usage: assemble-runtime.js <dest> [--link <entry>]...\n');
    process.exit(2);
  }
  const link = new Set();
  for (let i = 1; i < argv.length; i++) if (argv[i] === '--link') link.add(argv[++i]);
  const { files } = JSON.parse(fs.readFileSync(LIST, 'utf8'));
  const missing = files.filter((f) => !fs.existsSync(path.join(ROOT, f)));
  if (missing.length) {
    process.stderr.write(`runtime files missing (run npm run build first?): ${missing.join(', ')}\n`);
    process.exit(1);
  }
  fs.mkdirSync(dest, { recursive: true });
  for (const f of files) {
    const from = path.join(ROOT, f);
    const to = path.join(dest, f);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    if (link.has(f)) fs.symlinkSync(from, to);
    else fs.cpSync(from, to, { recursive: true, dereference: false, filter: (src) => !src.endsWith('.js.map') && !src.endsWith('.tsbuildinfo') });
  }
  process.stdout.write(`runtime tree: ${files.length} entries → ${dest}\n`);
}

main(process.argv.slice(2));
