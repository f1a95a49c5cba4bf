import * as fs from 'node:fs';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Identity of a file: device and inode. */
interface FileId {
  dev: number;
  ino: number;
}

/**
 * Storage fault detection for `/health` (README "Hardening"): for SQLite, the database file at its
 * path must still be the one that was opened (same device and inode; a deleted or replaced file means
 * writes go to an unlinked file or a different database) and a write must succeed
 * (`PRAGMA user_version` re-written with its own value, inside a transaction); for PostgreSQL, a
 * round trip. `check()` never throws; it returns the problem.
 */
@Injectable()
export class StorageProbe {
  private readonly path?: string;
  private opened?: FileId;

  constructor(private readonly ds: DataSource) {
    const o = ds.options as { type: string; database?: unknown };
    if (o.type === 'better-sqlite3' && typeof o.database === 'string' && o.database !== ':memory:') {
      this.path = o.database;
      this.opened = this.stat();
    }
  }

  private stat(): FileId | undefined {
    try {
      const s = fs.statSync(this.path!);
      return { dev: s.dev, ino: s.ino };
    } catch {
      return undefined;
    }
  }

  /** `undefined` when storage is healthy, else the problem. */
  async check(): Promise<string | undefined> {
    if (this.path) {
      const now = this.stat();
      if (!now) return `database file ${this.path} is gone (deleted while open)`;
      if (!this.opened) this.opened = now;
      if (now.dev !== this.opened.dev || now.ino !== this.opened.ino) return `database file ${this.path} was replaced (not the file that was opened)`;
      try {
        const rows = (await this.ds.query('PRAGMA user_version')) as { user_version: number }[];
        await this.ds.query(`PRAGMA user_version = ${Number(rows[0]?.user_version ?? 0)}`);
      } catch (e) {
        return `database write probe failed: ${(e as Error).message}`;
      }
      return undefined;
    }
    try {
      await this.ds.query('SELECT 1');
      return undefined;
    } catch (e) {
      return `database query failed: ${(e as Error).message}`;
    }
  }
}
