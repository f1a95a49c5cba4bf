import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** 2^63 − 1: the largest wire `order_id` (proto int64). */
const INT64_MAX = (1n << 63n) - 1n;
/** Synthetic ids live in [2^62, 2^63): above every numeric id the five venues issue today (≤ ~2·10^18). */
const SYNTHETIC_BASE = 1n << 62n;
const SYNTHETIC_MASK = SYNTHETIC_BASE - 1n;
/** Ids kept in memory (oldest dropped first); the file keeps `retentionMs` worth. */
const MAX_CACHED = 200_000;
const DEFAULT_RETENTION_MS = 30 * 24 * 3600_000;

/** True when a venue order id can travel as the contract's int64 `order_id` unchanged. */
export function isWireInt64(id: string): boolean {
  return /^[1-9]\d{0,18}$/.test(id) && BigInt(id) <= INT64_MAX;
}

/** The stable synthetic id of a non-int64 venue id: the low 62 bits of SHA-256(id), offset into [2^62, 2^63). */
export function syntheticIdOf(venueId: string, bump = 0n): string {
  const h = createHash('sha256').update(venueId).digest();
  return (SYNTHETIC_BASE + ((h.readBigUInt64BE(0) + bump) & SYNTHETIC_MASK)).toString();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = any;

/**
 * Maps venue order ids to the contract's int64 `order_id` and back.
 *
 * - Ids that already are int64 (Binance, OKX, Gate, Bitget, Bybit spot) pass through unchanged.
 * - Any other id (Bybit linear UUIDs) gets a synthetic id derived from its hash (`syntheticIdOf`),
 *   so the same venue id maps to the same wire id in every process, even without the file; a hash
 *   collision with a different id already mapped takes the next free value.
 * - With `file`, every synthetic mapping is written to a SQLite file (better-sqlite3, WAL) before
 *   the id leaves the connector, so `CancelOrder`/`GetOrder` by a synthetic id work after a
 *   connector restart. Rows older than `retentionMs` (default 30 days) are pruned at open.
 *   Without a file the reverse map is in memory only: after a restart the venue adapter recovers it
 *   from the open orders (`CcxtVenue` re-reads them on a miss).
 */
export class OrderIdMap {
  private readonly toWireMap = new Map<string, string>();
  private readonly toVenueMap = new Map<string, string>();
  private readonly db?: Db;

  constructor(
    readonly file?: string,
    opts: { retentionMs?: number; now?: () => number } = {},
  ) {
    const now = opts.now ?? Date.now;
    if (!file) return;
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Database = require('better-sqlite3') as new (f: string) => Db;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS order_ids (wire_id TEXT PRIMARY KEY, venue_id TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL)');
    this.db.prepare('DELETE FROM order_ids WHERE created_ms < ?').run(now() - (opts.retentionMs ?? DEFAULT_RETENTION_MS));
    this.insert = this.db.prepare('INSERT OR IGNORE INTO order_ids (wire_id, venue_id, created_ms) VALUES (?, ?, ?)');
    this.byWire = this.db.prepare('SELECT venue_id FROM order_ids WHERE wire_id = ?');
    this.byVenue = this.db.prepare('SELECT wire_id FROM order_ids WHERE venue_id = ?');
    this.now = now;
  }

  private insert?: { run(...a: unknown[]): unknown };
  private byWire?: { get(a: unknown): { venue_id: string } | undefined };
  private byVenue?: { get(a: unknown): { wire_id: string } | undefined };
  private now: () => number = Date.now;

  /** The wire (int64 decimal string) id of a venue order id; allocates and persists a synthetic one when needed. */
  toWire(venueId: string): string {
    if (!venueId) return venueId;
    if (isWireInt64(venueId)) {
      // A native id in the synthetic range (no venue issues such ids today) is remembered, so the
      // reverse lookup does not mistake it for an unknown synthetic id.
      if (BigInt(venueId) >= SYNTHETIC_BASE && !this.toVenueMap.has(venueId)) {
        if (!this.closed) this.insert?.run(venueId, venueId, this.now());
        this.remember(venueId, venueId);
      }
      return venueId;
    }
    const cached = this.toWireMap.get(venueId);
    if (cached) return cached;
    const stored = this.closed ? undefined : this.byVenue?.get(venueId)?.wire_id;
    if (stored) {
      this.remember(stored, venueId);
      return stored;
    }
    let bump = 0n;
    let wire = syntheticIdOf(venueId);
    for (;;) {
      const taken = this.toVenueMap.get(wire) ?? (this.closed ? undefined : this.byWire?.get(wire)?.venue_id);
      if (!taken || taken === venueId) break;
      wire = syntheticIdOf(venueId, ++bump);
    }
    if (!this.closed) this.insert?.run(wire, venueId, this.now());
    this.remember(wire, venueId);
    return wire;
  }

  /** The venue id behind a wire id: itself for pass-through ids, the mapped one for synthetic ids; undefined when unknown. */
  toVenue(wireId: string): string | undefined {
    if (!isWireInt64(wireId)) return undefined;
    const mem = this.toVenueMap.get(wireId);
    if (mem) return mem;
    const stored = this.closed ? undefined : this.byWire?.get(wireId)?.venue_id;
    if (stored) {
      this.remember(wireId, stored);
      return stored;
    }
    return BigInt(wireId) >= SYNTHETIC_BASE ? undefined : wireId;
  }

  private remember(wire: string, venueId: string): void {
    this.toWireMap.set(venueId, wire);
    this.toVenueMap.set(wire, venueId);
    if (this.toVenueMap.size > MAX_CACHED) {
      const [w, v] = this.toVenueMap.entries().next().value as [string, string];
      this.toVenueMap.delete(w);
      this.toWireMap.delete(v);
    }
  }

  private closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db?.close();
  }
}
