import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '@mm/testing';

/** Alert rules checked and unit-tested with Debian's real promtool (apt-get install prometheus). */
const PROMTOOL = '/usr/bin/promtool';
const DIR = path.join(ROOT, 'deploy/observability/prometheus');
const RULES = path.join(DIR, 'opensqt-alerts.yaml');
const TESTS = path.join(DIR, 'opensqt-alerts.test.yaml');

function promtool(args: string[], cwd: string): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(PROMTOOL, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as { status: number; stdout?: string; stderr?: string };
    return { code: err.status, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}
interface TestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe('Prometheus alert rules (promtool)', () => {
  const rules = parseYaml(fs.readFileSync(RULES, 'utf8')) as RuleFile;
  const alerts = rules.groups.flatMap((g) => g.rules).map((r) => r.alert).filter((a): a is string => !!a);

  it('promtool is installed', () => {
    expect(fs.existsSync(PROMTOOL)).toBe(true);
  });

  it('promtool check rules passes', () => {
    const r = promtool(['check', 'rules', RULES], DIR);
    expect(r.out).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.code).toBe(0);
  });

  it('covers breaker, feed, stream drops, divergence, connector down, dead-man, rejects and drawdown', () => {
    expect(alerts.sort()).toEqual(
      [
        'OpensqtCircuitBreakerOpen',
        'OpensqtConnectorDown',
        'OpensqtDeadManFired',
        'OpensqtDrawdown',
        'OpensqtFeedStale',
        'OpensqtOrderRejectsSpiking',
        'OpensqtReconciliationDivergence',
        'OpensqtStreamSubscribersDropped',
      ].sort(),
    );
  });

  it('every alert has a unit test where it fires and one where it does not', () => {
    const cases = (parseYaml(fs.readFileSync(TESTS, 'utf8')) as TestFile).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a);
      expect({ alert: a, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert: a, fires: true });
      expect({ alert: a, silent: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert: a, silent: true });
    }
  });

  it('promtool test rules passes', () => {
    const r = promtool(['test', 'rules', TESTS], DIR);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('the unit tests catch a broken rule (threshold changed)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
    try {
      fs.writeFileSync(path.join(tmp, 'opensqt-alerts.yaml'), fs.readFileSync(RULES, 'utf8').replace('market_maker_feed_age_seconds) > 30', 'market_maker_feed_age_seconds) > 300'));
      fs.copyFileSync(TESTS, path.join(tmp, 'opensqt-alerts.test.yaml'));
      const r = promtool(['test', 'rules', 'opensqt-alerts.test.yaml'], tmp);
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('OpensqtFeedStale');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the Helm chart ships the same rules file and dashboard (helm cannot read outside the chart)', () => {
    const same = (chartFile: string, source: string) =>
      expect(fs.readFileSync(path.join(ROOT, 'deploy/helm/opensqt/files', chartFile), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, source), 'utf8'));
    same('opensqt-alerts.yaml', 'deploy/observability/prometheus/opensqt-alerts.yaml');
    same('opensqt-dashboard.json', 'deploy/observability/grafana/opensqt-dashboard.json');
  });
});
