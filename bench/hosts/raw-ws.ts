/**
 * Baseline: a raw `ws` broadcast server on 127.0.0.1:$PORT. A client connected at `/ctl` is the
 * feed: every text frame it sends is broadcast as-is to every other open client (same send path
 * as the live gateway: readyState check, bufferedAmount cap, `send(text)`). Run with the
 * `preload-ipc` preload for memory readings.
 */
import * as http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const port = Number(process.env.PORT);
const maxBuffered = 1024 * 1024;
const server = http.createServer((_req, res) => res.end('raw ws'));
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1 << 20 });
const clients = new Set<WebSocket>();
wss.on('connection', (ws, req) => {
  if (req.url === '/ctl') {
    ws.on('message', (data) => {
      const text = data.toString();
      for (const c of clients) {
        if (c.readyState !== WebSocket.OPEN) continue;
        if (c.bufferedAmount > maxBuffered) {
          c.terminate();
          continue;
        }
        c.send(text);
      }
    });
    return;
  }
  clients.add(ws);
  ws.on('close', () => clients.delete(ws));
  ws.on('error', () => ws.terminate());
  ws.send(JSON.stringify({ type: 'history', data: [] }));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  for (const c of clients) c.terminate();
  server.close();
  process.exit(0);
});
