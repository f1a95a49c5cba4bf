/** docker-compose.yml: valid for the compose tool, and carries what a safe deployment needs. */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '@mm/testing';

/** `docker compose` (plugin) or `docker-compose` (Debian package), whichever works. */
function composeCommand(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  throw new Error('neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)');
}

interface Service {
  environment?: Record<string, string>;
  volumes?: string[];
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
}

describe('docker-compose.yml', () => {
  const file = path.join(ROOT, 'docker-compose.yml');

  it('passes `compose config -q` with the .env.example settings, and refuses to run without the tokens', () => {
    const [cmd, ...pre] = composeCommand();
    // No tokens: MM_TOKEN, LIVE_TOKEN, MM_READ_TOKEN and LIVE_VIEWER_TOKEN are mandatory (`${VAR:?…}`).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MM_TOKEN|LIVE_TOKEN|MM_READ_TOKEN|LIVE_VIEWER_TOKEN)$/.test(k)));
    const bare = spawnSync(cmd, [...pre, '-f', file, 'config', '-q'], { cwd: ROOT, stdio: 'pipe', env });
    expect(bare.status).not.toBe(0);
    expect(String(bare.stderr)).toMatch(/MM_TOKEN|LIVE_TOKEN|MM_READ_TOKEN|LIVE_VIEWER_TOKEN/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-'));
    fs.copyFileSync(path.join(ROOT, '.env.example'), path.join(dir, '.env'));
    execFileSync(cmd, [...pre, '--project-directory', ROOT, '--env-file', path.join(dir, '.env'), '-f', file, 'config', '-q'], { cwd: ROOT, stdio: 'pipe' });
  });

  it('a broken file fails the same check (the check can fail)', () => {
    const [cmd, ...pre] = composeCommand();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-bad-'));
    const bad = path.join(dir, 'docker-compose.yml');
    fs.writeFileSync(bad, fs.readFileSync(file, 'utf8').replace('stop_grace_period: 30s', 'stop_grace_period: [30s]'));
    // With the tokens of .env.example, so only the broken value can fail it.
    const envFile = path.join(dir, '.env');
    fs.copyFileSync(path.join(ROOT, '.env.example'), envFile);
    expect(spawnSync(cmd, [...pre, '--project-directory', ROOT, '--env-file', envFile, '-f', file, 'config', '-q'], { cwd: ROOT, stdio: 'pipe' }).status).toBe(0);
    expect(spawnSync(cmd, [...pre, '--project-directory', ROOT, '--env-file', envFile, '-f', bad, 'config', '-q'], { cwd: ROOT, stdio: 'pipe' }).status).not.toBe(0);
  });

  it('venue keys and operator/alert tokens come from files; stop grace; sim state in a volume; probes', () => {
    const doc = parseYaml(fs.readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
    const s = doc.services;
    for (const app of ['exchange-connector', 'market-maker', 'live-server']) expect({ app, grace: s[app].stop_grace_period }).toEqual({ app, grace: '30s' });
    const conn = s['exchange-connector'];
    expect(conn.environment).toMatchObject({ API_KEY_FILE: '/run/secrets/opensqt/api_key', API_SECRET_FILE: '/run/secrets/opensqt/api_secret', SIM_STATE_FILE: '/app/state/sim-state.json' });
    expect(conn.environment?.API_KEY).toBeUndefined();
    expect(conn.volumes).toEqual(expect.arrayContaining(['./secrets:/run/secrets/opensqt:ro', 'simstate:/app/state']));
    expect(doc.volumes).toHaveProperty('simstate');
    const mm = s['market-maker'];
    expect(Object.keys(mm.environment ?? {})).toEqual(expect.arrayContaining(['OPERATOR_TOKEN_FILE', 'ALERT_TELEGRAM_BOT_TOKEN_FILE', 'DEAD_MAN_ON_SHUTDOWN', 'DEAD_MAN_SHUTDOWN_GRACE_MS']));
    expect(mm.healthcheck?.test.join(' ')).toContain('/ready');
    // /health: the page needs the viewer token.
    expect(s['live-server'].healthcheck?.test.join(' ')).toContain('8081/health');
    // Published on the host's loopback only.
    for (const app of ['exchange-connector', 'market-maker', 'live-server']) for (const p of (s[app] as { ports?: string[] }).ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
    expect(fs.readFileSync(path.join(ROOT, 'secrets/.gitignore'), 'utf8')).toContain('*');
    // Every variable the compose file interpolates is in .env.example.
    const vars = new Set([...fs.readFileSync(file, 'utf8').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    expect([...vars].filter((v) => !new RegExp(`^#? ?${v}=`, 'm').test(example))).toEqual([]);
  });
});
