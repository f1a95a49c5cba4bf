/**
 * `npm run reset` (scripts/reset-state.js) on real files: removes the sim state and the market
 * maker's SQLite database (with its side files), says what it removed, and leaves other files alone.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '@mm/testing';

function reset(env: Record<string, string>): string {
  return execFileSync(process.execPath, [path.join(ROOT, 'scripts/reset-state.js')], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
}

describe('npm run reset', () => {
  it('clears the sim account state and the SQLite database, with a clear message', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-reset-'));
    const sim = path.join(dir, 'sim-state.json');
    const db = path.join(dir, 'mm.sqlite');
    const other = path.join(dir, 'keep.txt');
    for (const f of [sim, db, `${db}-wal`, other]) fs.writeFileSync(f, 'x');
    const out = reset({ SIM_STATE_FILE: sim, SQLITE_PATH: db, DATABASE_URL: 'postgres://u@127.0.0.1/x' });
    expect(out).toContain(`removed sim account state ${sim}`);
    expect(out).toContain(`removed market maker SQLite ${db}`);
    expect(out).toContain('NOT cleared');
    expect(out).toContain('fresh sim account and an empty market maker database');
    expect([sim, db, `${db}-wal`].map((f) => fs.existsSync(f))).toEqual([false, false, false]);
    expect(fs.existsSync(other)).toBe(true);
    // a second reset has nothing to do and says so
    expect(reset({ SIM_STATE_FILE: sim, SQLITE_PATH: db })).toContain('nothing to clear');
    fs.rmSync(dir, { recursive: true });
  });
});
