/**
 * Preloaded (`node --expose-gc -r …/preload-ipc.js app.js`) into an app process the bench starts
 * with an IPC channel. Answers `{type:'mem', gc}` with RSS and heap, after forced full GCs when
 * `gc` is true. The app itself is unchanged. Leaves when the parent goes away.
 */
const g = globalThis as unknown as { gc?: () => void };

process.on('message', (m: { type?: string; id?: number; gc?: boolean }) => {
  if (m?.type !== 'mem') return;
  const reply = (): void => {
    const u = process.memoryUsage();
    process.send?.({ id: m.id, rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external });
  };
  if (!m.gc || !g.gc) return reply();
  // several passes with turns in between, so weak callbacks and finalizers settle
  let passes = 0;
  const pass = (): void => {
    g.gc!();
    if (++passes < 4) setTimeout(pass, 20);
    else reply();
  };
  pass();
});
process.on('disconnect', () => process.exit(0));
