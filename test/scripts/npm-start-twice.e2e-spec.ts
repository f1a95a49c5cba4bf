/**
 * `npm start` twice in a row (issue 9 acceptance 7, first half): the stack script on its embedded
 * defaults (sim random walk, SQLite, the sim account kept in a state file), stopped with Ctrl-C
 * (SIGINT) after it has traded, then started again on the same files: the second run trades and no
 * breaker opens (the upstream failure was "venue position 0 vs local inventory …" on the second run).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { httpJson, waitFor } from '@mm/testing';
import { stackEnv, startStack } from '../support/run-stack';

jest.setTimeout(300_000);

describe('npm start twice in a row (Ctrl-C between)', () => {
  it('the second run trades on the kept sim account and database, with every breaker closed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-start-twice-'));
    // the default random walk, ten times faster than `npm start`'s 60×
    const { env, mmPort } = await stackEnv(dir, { SIM_SPEED: '600' });
    const status = () => httpJson<any>(`http://127.0.0.1:${mmPort}/status`).then((r) => r.body).catch(() => undefined);
    const fillsOf = (st: any): number => st?.symbols?.BTCUSDT?.fills ?? -1;

    // First run: trade, then Ctrl-C.
    const first = startStack(env, mmPort);
    try {
      await waitFor('first run fills', async () => fillsOf(await status()) >= 3, 180_000, 500);
    } catch (e) {
      process.stderr.write(first.output().slice(-3000));
      throw e;
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect(fs.existsSync(path.join(dir, 'sim-state.json'))).toBe(true);

    // Second run on the same files.
    const second = startStack(env, mmPort);
    const breakerStates = new Set<string>();
    try {
      let base = -1;
      await waitFor(
        'second run trades',
        async () => {
          const st = await status();
          if (!st?.symbols?.BTCUSDT) return false;
          breakerStates.add(`${st.symbols.BTCUSDT.breaker.state}${st.symbols.BTCUSDT.breaker.reason ? ` (${st.symbols.BTCUSDT.breaker.reason})` : ''}`);
          if (st.symbols.BTCUSDT.status !== 'running') return false;
          if (base < 0) base = fillsOf(st);
          return fillsOf(st) >= base + 3;
        },
        180_000,
        500,
      );
      const st = await status();
      expect(st.components.strategy.state).toBe('running');
      expect(st.symbols.BTCUSDT.breaker.state).toBe('CLOSED');
      expect([...breakerStates]).toEqual(['CLOSED']);
      expect(second.output()).not.toMatch(/breaker (TRIPPED|OPEN)/i);
    } catch (e) {
      process.stderr.write(second.output().slice(-3000));
      throw e;
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
