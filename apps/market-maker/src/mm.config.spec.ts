import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMmConfig } from './mm.config';

const REPO_CONFIG = path.resolve(__dirname, '../../../config/market-maker.yaml');

describe('market maker config is strict', () => {
  it('the shipped config/market-maker.yaml loads', () => {
    expect(loadMmConfig({ CONFIG_FILE: REPO_CONFIG }).grid.symbol).toMatch(/^[A-Z]+$/);
  });

  it('a typo in the shipped file names the key and the suggestion', () => {
    const text = fs.readFileSync(REPO_CONFIG, 'utf8');
    expect(text).toMatch(/^\s+price_interval:/m);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mmcfg-')), 'market-maker.yaml');
    fs.writeFileSync(file, text.replace(/^(\s+)price_interval:/m, '$1price_intervall:'));
    expect(() => loadMmConfig({ CONFIG_FILE: file })).toThrow('config error: grid.price_intervall: unknown key (did you mean `grid.price_interval`?)');
  });

  it('an unknown MM_ variable stops the load; every documented one is accepted', () => {
    expect(() => loadMmConfig({ CONFIG_FILE: REPO_CONFIG, MM_PROT: '1' })).toThrow(/MM_PROT: unknown environment variable \(did you mean `MM_PORT`\?\)/);
    const ok = { CONFIG_FILE: REPO_CONFIG, MM_PORT: '1', MM_HOST: 'x', MM_CRASH_POINT: 'none', MM_CRASH_PROBABILITY: '0', MM_SUMMARY_INTERVAL_MS: '0', MM_TOKEN: 't' };
    expect(loadMmConfig(ok).http.port).toBe(1);
  });
});
