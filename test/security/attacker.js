'use strict';
/**
 * Attacker process for the security suite (kept out of the test process so its own work does not
 * slow the latency probe): sends `count` gRPC requests of `bytes` bytes over raw HTTP/2 to
 * `path`, one after the other, each on a fresh connection (or all on one with
 * ATTACK_REUSE_CONNECTION=1; ATTACK_INTERVAL_MS pauses between requests), optionally with a bearer token, and
 * prints one JSON line: {startMs, endMs, results: [{status, message, ms}]} (Unix ms of the first
 * request and of the last answer, so the caller can keep only the measurements taken meanwhile).
 * Usage: node attacker.js <host:port> <path> <bytes> <count> [token]
 */
const http2 = require('node:http2');

const [address, grpcPath, bytesArg, countArg, token] = process.argv.slice(2);
const bytes = Number(bytesArg);
const body = Buffer.alloc(5 + bytes, 0);
body.writeUInt32BE(bytes, 1);

const reuse = process.env.ATTACK_REUSE_CONNECTION === '1';
let shared;

function one() {
  const started = performance.now();
  return new Promise((resolve) => {
    const fresh = () => http2.connect(`http://${address}`).on('error', () => undefined);
    const session = reuse ? (shared ??= fresh()) : fresh();
    const headers = { ':method': 'POST', ':path': grpcPath, 'content-type': 'application/grpc', te: 'trailers' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = session.request(headers);
    let done = false;
    const finish = (status, message) => {
      if (done) return;
      done = true;
      resolve({ status, message, ms: performance.now() - started });
      req.close(http2.constants.NGHTTP2_CANCEL);
      if (!reuse) session.destroy();
    };
    const onHeaders = (h) => {
      if (h['grpc-status'] !== undefined) finish(Number(h['grpc-status']), decodeURIComponent(String(h['grpc-message'] || '')));
    };
    req.on('response', onHeaders);
    req.on('trailers', onHeaders);
    req.on('error', (e) => finish(-1, String(e.message)));
    req.on('close', () => finish(-1, `closed without status (rst ${req.rstCode})`));
    req.on('data', () => undefined);
    req.end(body);
  });
}

(async () => {
  await new Promise((r) => setTimeout(r, 300)); // let process start-up settle first
  const results = [];
  const startMs = Date.now();
  const gapMs = Number(process.env.ATTACK_INTERVAL_MS || 0);
  for (let i = 0; i < Number(countArg); i++) {
    results.push(await one());
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  process.stdout.write(`${JSON.stringify({ startMs, endMs: Date.now(), results })}\n`);
  shared?.destroy();
})();
