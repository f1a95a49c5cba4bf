/** Acceptance: a typo in config/market-maker.yaml stops the start with the key and the suggestion. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, freePort, startApp, stopApp } from '@mm/testing';

describe('market maker refuses a config with an unknown key', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-typo-'));

  it('exits 1 naming grid.price_intervall and suggesting grid.price_interval', async () => {
    const file = path.join(dir, 'market-maker.yaml');
    fs.writeFileSync(file, fs.readFileSync(path.join(ROOT, 'config/market-maker.yaml'), 'utf8').replace(/^(\s+)price_interval:/m, '$1price_intervall:'));
    const p = startApp('market-maker', { CONFIG_FILE: file, MM_PORT: String(await freePort()), MM_HOST: '127.0.0.1', SQLITE_PATH: path.join(dir, 'x.sqlite') }, dir);
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 20000).unref())]);
    await stopApp(p);
    expect(code).toBe(1);
    expect(p.output()).toContain('config error: grid.price_intervall: unknown key (did you mean `grid.price_interval`?)');
  });

  it('exits 1 on an unknown SIM_ variable at the connector', async () => {
    const p = startApp('exchange-connector', { PORT: String(await freePort()), METRICS_PORT: String(await freePort()), SIM_SPEEED: '60' }, dir);
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 20000).unref())]);
    await stopApp(p);
    expect(code).toBe(1);
    expect(p.output()).toContain('SIM_SPEEED: unknown environment variable (did you mean `SIM_SPEED`?)');
  });
});
