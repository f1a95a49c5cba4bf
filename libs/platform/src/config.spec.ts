import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError, assertKnownEnv, configKeys, loadConfig } from './config';
import { withFileSecrets } from './file-secrets';

const schema = z.object({
  grid: z.object({ price_interval: z.coerce.number().default(100), buy_window: z.coerce.number().default(10) }).default({}),
  http: z.object({ port: z.coerce.number().default(8080) }).default({}),
  labels: z.record(z.string()).default({}),
  items: z.array(z.object({ name: z.string() })).default([]),
});

function yamlFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  const file = path.join(dir, 'c.yaml');
  fs.writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('no ConfigError thrown');
}

describe('strict configuration', () => {
  it('lists every dotted key of the schema', () => {
    expect(configKeys(schema)).toEqual(['grid', 'grid.price_interval', 'grid.buy_window', 'http', 'http.port', 'labels', 'items']);
  });

  it('an unknown nested YAML key is an error naming the key and the closest valid key', () => {
    const e = errorOf(() => loadConfig(schema, { file: yamlFile('grid:\n  price_intervall: 50\n'), source: {} }));
    expect(e.key).toBe('grid.price_intervall');
    expect(e.message).toBe('config error: grid.price_intervall: unknown key (did you mean `grid.price_interval`?)');
  });

  it('an unknown top-level key and a key inside an array item are errors too', () => {
    expect(errorOf(() => loadConfig(schema, { file: yamlFile('htp:\n  port: 1\n'), source: {} })).message).toContain('htp: unknown key (did you mean `http`?)');
    expect(errorOf(() => loadConfig(schema, { file: yamlFile('items:\n  - name: a\n    nmae: b\n'), source: {} })).key).toBe('items.nmae');
  });

  it('no suggestion when nothing is close; records accept any key', () => {
    expect(errorOf(() => loadConfig(schema, { file: yamlFile('zzzzzzzzzzzz: 1\n'), source: {} })).message).toBe('config error: zzzzzzzzzzzz: unknown key');
    expect(loadConfig(schema, { file: yamlFile('labels:\n  anything: x\n'), source: {} }).labels).toEqual({ anything: 'x' });
  });

  it('valid files still load with defaults', () => {
    expect(loadConfig(schema, { file: yamlFile('grid:\n  price_interval: 50\n'), source: {} }).grid).toEqual({ price_interval: 50, buy_window: 10 });
  });

  it('an unknown env variable with an owned prefix is an error with a suggestion; other prefixes are ignored', () => {
    const env = [['MM_PORT', 'http.port']] as const;
    const e = errorOf(() => loadConfig(schema, { env, source: { MM_PROT: '9000', OTHER_X: '1' }, strictEnvPrefixes: ['MM_'], extraEnv: ['MM_CRASH_POINT'] }));
    expect(e.key).toBe('MM_PROT');
    expect(e.message).toContain('unknown environment variable (did you mean `MM_PORT`?)');
    expect(loadConfig(schema, { env, source: { MM_PORT: '9000', MM_CRASH_POINT: 'x', SIM_SPEED: '5' }, strictEnvPrefixes: ['MM_'], extraEnv: ['MM_CRASH_POINT'] }).http.port).toBe(9000);
  });

  it('assertKnownEnv lists the known names when nothing is close', () => {
    expect(errorOf(() => assertKnownEnv({ LIVE_COMPLETELY_DIFFERENT: '1' }, ['LIVE_'], ['LIVE_PORT'])).message).toBe(
      'config error: LIVE_COMPLETELY_DIFFERENT: unknown environment variable; known LIVE_* variables: LIVE_PORT',
    );
  });
});

describe('NAME_FILE secrets', () => {
  it('reads NAME from NAME_FILE (trimmed), refuses both, names the variable on a bad file', () => {
    const file = yamlFile('s3cret-token\n');
    expect(withFileSecrets({ OPERATOR_TOKEN_FILE: file }, ['OPERATOR_TOKEN']).OPERATOR_TOKEN).toBe('s3cret-token');
    expect(errorOf(() => withFileSecrets({ OPERATOR_TOKEN_FILE: file, OPERATOR_TOKEN: 'x' }, ['OPERATOR_TOKEN'])).key).toBe('OPERATOR_TOKEN');
    expect(errorOf(() => withFileSecrets({ OPERATOR_TOKEN_FILE: '/nonexistent/x' }, ['OPERATOR_TOKEN'])).message).toBe(
      'config error: OPERATOR_TOKEN_FILE: cannot read /nonexistent/x: ENOENT',
    );
    expect(withFileSecrets({ OTHER_FILE: file }, ['OPERATOR_TOKEN']).OTHER).toBeUndefined();
  });
});
