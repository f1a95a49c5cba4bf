#!/usr/bin/env node
// Prints the market maker's configuration as a Markdown table (key, env var, default), from the
// zod schema itself, so the README cannot drift from the code. Needs `npm run build` first.
const { mmConfigSchema, MM_ENV } = require('../dist/apps/market-maker/src/mm.config');
const defaults = mmConfigSchema.parse({});
const env = new Map(MM_ENV.map(([e, k]) => [k, e]));
const rows = [];
(function walk(obj, prefix) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, key);
    else rows.push(`| \`${key}\` | ${env.has(key) ? `\`${env.get(key)}\`` : ''} | \`${Array.isArray(v) ? JSON.stringify(v) : v === '' ? '""' : v}\` |`);
  }
})(defaults, '');
console.log(['| key | env | default |', '|---|---|---|', ...rows].join('\n'));
