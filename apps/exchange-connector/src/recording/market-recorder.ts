import { closeSync, openSync, writeSync } from 'node:fs';
import { Logger } from '@nestjs/common';

/** Stream kinds that are recorded (market data, not account data). */
export const RECORDED_STREAMS: ReadonlySet<string> = new Set(['price', 'klines', 'funding']);

/**
 * Appends market-data stream messages to a JSON Lines file (README "Recording"), one line each:
 *
 * `{"t":<recv_ms>,"stream":"price"|"klines"|"funding","symbol":"BTCUSDT","data":<wire message>}`
 *
 * `t` is the connector's wall clock (Unix ms) when it published the message; `data` is the
 * `opensqt.market_maker.v1` message exactly as sent to clients (proto3 JSON field names in
 * lowerCamelCase, decimals as `{"value":"<decimal string>"}`, int64 as strings): `PriceChange`,
 * `Candle` or `FundingUpdate`. The file is opened for append (existing content is kept).
 *
 * Lines are buffered and appended every `flushMs` (default 200) with one synchronous write, and at
 * once when more than `maxBufferBytes` (default 4 MiB) are waiting, so memory stays bounded and no
 * line is lost or reordered. `close()` writes what is left. A write error is logged
 * once and stops the recording (the connector keeps serving).
 */
export class MarketRecorder {
  private readonly log = new Logger('Recorder');
  private fd: number | undefined;
  private buf: string[] = [];
  private bytes = 0;
  private timer?: ReturnType<typeof setInterval>;
  /** Lines handed to the OS so far. */
  written = 0;

  constructor(
    readonly path: string,
    private readonly opts: { flushMs?: number; maxBufferBytes?: number; now?: () => number } = {},
  ) {
    this.fd = openSync(path, 'a');
    this.timer = setInterval(() => this.flush(), opts.flushMs ?? 200);
    this.timer.unref?.();
    this.log.log(`recording market data to ${path} (JSON Lines, append)`);
  }

  /** Records one published message of `stream` (ignored for non-market streams). */
  record(stream: string, msg: object): void {
    if (this.fd === undefined || !RECORDED_STREAMS.has(stream)) return;
    const symbol = (msg as { symbol?: string }).symbol ?? '';
    const line = `{"t":${(this.opts.now ?? Date.now)()},"stream":"${stream}","symbol":${JSON.stringify(symbol)},"data":${JSON.stringify(msg)}}\n`;
    this.buf.push(line);
    this.bytes += line.length;
    if (this.bytes > (this.opts.maxBufferBytes ?? 4 << 20)) this.flush();
  }

  private take(): string {
    const s = this.buf.join('');
    this.buf = [];
    this.bytes = 0;
    return s;
  }

  private flush(): void {
    if (this.fd === undefined || this.buf.length === 0) return;
    const n = this.buf.length;
    try {
      // synchronous: lines reach the file whole and in publish order (a few hundred kB per flush at most)
      writeSync(this.fd, this.take());
      this.written += n;
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private fail(err: Error): void {
    this.log.error(`recording to ${this.path} stopped: ${err.message}`);
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    this.fd = undefined;
    this.buf = [];
  }

  /** Writes what is buffered and closes the file. */
  close(): void {
    this.flush();
    this.stop();
  }
}
