#!/usr/bin/env node
// Adds stub entries to package-lock.json for optional platform packages the npm registry reached
// here does not serve (e.g. @bufbuild/buf-darwin-arm64). npm 11 drops them from the lock, and
// `npm ci` then calls the lock out of sync (npm/cli#9846). Run after any `npm install` that
// rewrote the lock: `node scripts/lockfile-stub-optional.js`. Stubs are never installed on Linux.
const fs = require('fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const entry of Object.values(pkgs)) {
  for (const [dep, range] of Object.entries(entry.optionalDependencies || {})) {
    const key = `node_modules/${dep}`;
    if (!pkgs[key]) {
      pkgs[key] = { version: range.replace(/^[\^~]/, ''), dev: true, optional: true };
      added++;
    }
  }
}
fs.writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: ${added} optional platform stubs added`);
