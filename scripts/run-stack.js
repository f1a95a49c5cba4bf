#!/usr/bin/env node
'use strict';
/**
 * Runs the three built apps as one stack (used by `npm start`, after `npm run build`):
 *   exchange-connector → (its gRPC port accepts TCP) → market-maker + live-server.
 * Output lines are prefixed with a tag per app. SIGINT/SIGTERM are forwarded; the clients stop
 * first and the connector last (the market maker may still need it to cancel orders), each
 * child is killed with SIGKILL if it has not exited 15 s after the signal. If any child exits
 * on its own, the others are stopped and this script exits 1.
 *
 * Environment is passed through; defaults only when unset: EXCHANGE=sim, SIM_SPEED=60,
 * SIM_START=on_subscribe with SIM_DATA (a file replay waits for the market maker),
 * GRPC_HOST=MM_HOST=LIVE_HOST=127.0.0.1 (every app on loopback; a non-loopback address needs
 * authentication, README "Hardening"), EXCHANGE_GRPC_ADDRESS=<connector host>:<PORT or 50051>, and
 * for the sim SIM_STATE_FILE=data/sim-state.json (the sim account survives restarts like the market
 * maker's data/market-maker.sqlite does; `npm run reset` clears both; SIM_STATE_FILE= (empty) turns it off),
 * MM_LOCKSTEP=on and RATE_LIMIT_RPS=5000 / RATE_LIMIT_BURST=10000 with SIM_DATA (unless SIM_LOCKSTEP=false),
 * MM_SYMBOLS=auto when SIM_DATA names several symbols and the config file has no `symbols:` list;
 * a second, spot sim connector when the config's funding arbitrage trades a leg on the venue `spot`
 * (or SIM_SPOT=true), see `spotWanted` below.
 * Plain Node plus the `yaml` package (to read the config file).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..');
const START_TIMEOUT_MS = 30_000;
const KILL_AFTER_MS = 15_000;

const env = { ...process.env };
// The apps' Node flags, as in the image (Dockerfile NODE_OPTIONS): a 32 MB young generation.
if (!/--max-semi-space-size/.test(env.NODE_OPTIONS ?? '')) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --max-semi-space-size=32`.trim();
if (!env.EXCHANGE) env.EXCHANGE = 'sim';
if (!env.SIM_SPEED) env.SIM_SPEED = '60';
if (env.SIM_DATA && !env.SIM_START) env.SIM_START = 'on_subscribe';
for (const k of ['GRPC_HOST', 'MM_HOST', 'LIVE_HOST']) if (!env[k]) env[k] = '127.0.0.1';
if (env.EXCHANGE === 'sim' && env.SIM_STATE_FILE === undefined) {
  env.SIM_STATE_FILE = 'data/sim-state.json';
  fs.mkdirSync(path.join(ROOT, 'data'), { recursive: true });
}
if (env.SIM_STATE_FILE === '') delete env.SIM_STATE_FILE;
// lockstep: the market maker acknowledges every market instant with a Heartbeat; the connector's
// per-client request limit (default 200/s) would cap a file replay at 200 instants per second
const lockstep = env.SIM_DATA && !/^(false|0|no|off)$/i.test(env.SIM_LOCKSTEP ?? '');
if (lockstep && !env.MM_LOCKSTEP) env.MM_LOCKSTEP = 'on';
if (env.SIM_DATA && !env.RATE_LIMIT_RPS) env.RATE_LIMIT_RPS = '5000';
if (env.SIM_DATA && !env.RATE_LIMIT_BURST) env.RATE_LIMIT_BURST = '10000';
// several symbols in SIM_DATA (`BTCUSDT=btc.csv,ETHUSDT=eth.csv`): trade every one, grid scaled per
// symbol (`symbols: auto`), unless MM_SYMBOLS is set or the config file lists `symbols:` itself
const simSymbols = (env.SIM_DATA ?? '').split(',').filter((x) => x.includes('=')).length;
const configText = (() => {
  try {
    return fs.readFileSync(path.resolve(ROOT, env.CONFIG_FILE || 'config/market-maker.yaml'), 'utf8');
  } catch {
    return '';
  }
})();
if (simSymbols > 1 && !env.MM_SYMBOLS && !/^symbols\s*:/m.test(configText)) env.MM_SYMBOLS = 'auto';

const grpcPort = Number(env.PORT || 50051); // the connector's gRPC port (its PORT setting)

// Funding arbitrage with a spot leg (README "Funding-rate arbitrage in the market maker"): with the
// sim, a second connector serves the spot market (SIM_MARKET=spot) when SIM_SPOT=true, or when the
// config enables `funding_arb` (or MM_FUNDING_ARB=true) with a leg on the venue `spot` and no address
// for it is given (MM_SPOT_GRPC_ADDRESS / venues.spot.address). Its gRPC port is SPOT_PORT (default
// PORT + 1), its HTTP port SPOT_METRICS_PORT (default METRICS_PORT + 1); the market maker dials it
// through MM_SPOT_GRPC_ADDRESS. Spot prices from SIM_SPOT_DATA, else derived from SIM_DATA.
const spotWanted = (() => {
  if (env.EXCHANGE !== 'sim') return false;
  if (/^(true|1|yes|on)$/i.test(env.SIM_SPOT ?? '')) return true;
  if (/^(false|0|no|off)$/i.test(env.SIM_SPOT ?? '') || env.MM_SPOT_GRPC_ADDRESS) return false;
  let cfg = {};
  try {
    cfg = require('yaml').parse(configText) ?? {};
  } catch {
    return false; // the market maker reports the bad file itself
  }
  const arb = cfg.funding_arb ?? {};
  const enabled = env.MM_FUNDING_ARB !== undefined ? /^(true|1|yes|on)$/i.test(env.MM_FUNDING_ARB) : arb.enabled === true || arb.enabled === 'true';
  const onSpot = (arb.pairs ?? []).some((p) => ['a', 'b'].some((l) => p?.legs?.[l]?.venue === 'spot'));
  return enabled && onSpot && !cfg.venues?.spot?.address;
})();
const spotPort = Number(env.SPOT_PORT || grpcPort + 1);
const spotEnv = spotWanted
  ? {
      ...env,
      PORT: String(spotPort),
      METRICS_PORT: String(Number(env.SPOT_METRICS_PORT || Number(env.METRICS_PORT || 9090) + 1)),
      SIM_MARKET: 'spot',
      // no market maker arms a switch or acknowledges on the spot connector: it replays on its own
      SIM_START: 'immediate',
      SIM_LOCKSTEP: 'false',
      ...(env.SIM_STATE_FILE ? { SIM_STATE_FILE: env.SIM_STATE_FILE.replace(/(\.json)?$/, '-spot.json') } : {}),
    }
  : undefined;
const grpcHost = !env.GRPC_HOST || env.GRPC_HOST === '0.0.0.0' || env.GRPC_HOST === '::' ? '127.0.0.1' : env.GRPC_HOST;
if (!env.EXCHANGE_GRPC_ADDRESS) env.EXCHANGE_GRPC_ADDRESS = `${grpcHost}:${grpcPort}`; // where the clients dial it

const color = process.stdout.isTTY && !env.NO_COLOR;
// The children write to our pipes, not to the terminal: tell them to pretty-print when we are on one.
if (process.stdout.isTTY && !env.LOG_FORMAT) env.LOG_FORMAT = 'pretty';
const paint = (code, s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);

const APPS = {
  connector: { main: 'dist/apps/exchange-connector/src/main.js', color: 36 }, // cyan
  spot: { main: 'dist/apps/exchange-connector/src/main.js', color: 34, env: () => spotEnv }, // blue: the spot sim connector (funding arbitrage)
  'market-maker': { main: 'dist/apps/market-maker/src/main.js', color: 33 }, // yellow
  live: { main: 'dist/apps/live-server/src/main.js', color: 35 }, // magenta
};
const TAG_WIDTH = Math.max(...Object.keys(APPS).map((n) => n.length)) + 2;

const children = new Map(); // name -> { proc, exited: Promise<void> }
let stopping = false;
let exitCode = 0;

function log(msg) {
  process.stdout.write(`${paint(1, '[stack]'.padEnd(TAG_WIDTH))} ${msg}\n`);
}

function start(name) {
  const app = APPS[name];
  const file = path.join(ROOT, app.main);
  if (!fs.existsSync(file)) {
    log(`${file} not found: run \`npm run build\` first`);
    exitCode = 1;
    return shutdown();
  }
  // detached: the children get signals only from us, not twice from the terminal's Ctrl-C.
  const proc = spawn(process.execPath, [file], { cwd: ROOT, env: app.env?.() ?? env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const tag = paint(app.color, `[${name}]`.padEnd(TAG_WIDTH));
  for (const [stream, out] of [[proc.stdout, process.stdout], [proc.stderr, process.stderr]]) {
    readline.createInterface({ input: stream }).on('line', (line) => out.write(`${tag} ${line}\n`));
  }
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      children.delete(name);
      if (!stopping) {
        log(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the others`);
        exitCode = 1;
        shutdown();
      }
      resolve();
    });
  });
  proc.on('error', (err) => log(`${name}: ${err.message}`));
  children.set(name, { proc, exited });
}

async function stop(name, signal) {
  const child = children.get(name);
  if (!child) return;
  child.proc.kill(signal);
  const timer = setTimeout(() => {
    log(`${name} still running ${KILL_AFTER_MS / 1000} s after ${signal}: SIGKILL`);
    child.proc.kill('SIGKILL');
  }, KILL_AFTER_MS);
  await child.exited;
  clearTimeout(timer);
}

async function shutdown(signal = 'SIGTERM') {
  if (stopping) return;
  stopping = true;
  if (children.size) log(`stopping (${signal})…`);
  await Promise.all([stop('market-maker', signal), stop('live', signal)]);
  await Promise.all([stop('connector', signal), stop('spot', signal)]);
  process.exit(exitCode);
}

function portOpen(port, host) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    sock.setTimeout(1000);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => { sock.destroy(); resolve(false); });
  });
}

async function waitForPort(port, host, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!stopping && Date.now() < deadline) {
    if (await portOpen(port, host)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main() {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => shutdown(sig));
  process.on('exit', () => children.forEach((c) => c.proc.kill('SIGKILL'))); // never leave orphans

  log(`EXCHANGE=${env.EXCHANGE} SIM_SPEED=${env.SIM_SPEED}${env.SIM_DATA ? ` SIM_DATA=${env.SIM_DATA}` : ''}`);
  if (env.SIM_STATE_FILE) log(`sim account kept in ${env.SIM_STATE_FILE} across runs (\`npm run reset\` starts over)`);
  start('connector');
  if (!(await waitForPort(grpcPort, grpcHost, START_TIMEOUT_MS))) {
    if (stopping) return;
    log(`connector gRPC port ${grpcHost}:${grpcPort} not accepting connections after ${START_TIMEOUT_MS / 1000} s`);
    exitCode = 1;
    return shutdown();
  }
  if (spotWanted) {
    env.MM_SPOT_GRPC_ADDRESS = `${grpcHost}:${spotPort}`;
    log(`funding arbitrage: spot sim connector on ${env.MM_SPOT_GRPC_ADDRESS} (SIM_MARKET=spot)`);
    start('spot');
    if (!(await waitForPort(spotPort, grpcHost, START_TIMEOUT_MS))) {
      if (stopping) return;
      log(`spot connector gRPC port ${grpcHost}:${spotPort} not accepting connections after ${START_TIMEOUT_MS / 1000} s`);
      exitCode = 1;
      return shutdown();
    }
  }
  start('market-maker');
  start('live');

  const mmPort = Number(env.MM_PORT || 8080);
  const livePort = Number(env.LIVE_PORT || 8081);
  const up = await Promise.all([waitForPort(mmPort, '127.0.0.1', START_TIMEOUT_MS), waitForPort(livePort, '127.0.0.1', START_TIMEOUT_MS)]);
  if (stopping) return;
  if (!up.every(Boolean)) log(`warning: market-maker (${mmPort}) or live-server (${livePort}) port not open yet`);
  log(paint(1, 'up:'));
  const connHttp = Number(env.METRICS_PORT || 9090);
  log(`  live page          http://localhost:${livePort}`);
  log(`  market-maker       http://localhost:${mmPort}/status   (also /ready, /slots, /metrics)`);
  log(`  connector          http://localhost:${connHttp}/health   (/metrics; gRPC ${grpcHost}:${grpcPort})`);
  log(`  operator API       ${env.OPERATOR_TOKEN || env.OPERATOR_TOKEN_FILE ? `http://localhost:${mmPort}/operator/… (bearer token)` : 'off (set OPERATOR_TOKEN)'}`);
  log(`  dashboards         deploy/observability/ (Grafana JSON, Prometheus alert rules)`);
  log('below: one line per fill and round trip, a summary per minute; LOG_LEVEL=debug shows every RPC. Ctrl-C stops everything.');
}

main().catch((err) => {
  log(`error: ${err.stack ?? err}`);
  exitCode = 1;
  shutdown();
});
