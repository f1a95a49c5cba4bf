/**
 * Helm chart checks that need no helm binary (none on CI): values.yaml against values.schema.json
 * (ajv), a bad value and an unknown key rejected, template delimiters balanced, and the probe and
 * secret wiring the chart promises (readiness /ready, liveness /live, secrets as files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '@mm/testing';

const CHART = path.join(ROOT, 'deploy/helm/opensqt');
const read = (f: string) => fs.readFileSync(path.join(CHART, f), 'utf8');

describe('Helm chart', () => {
  const schema = JSON.parse(read('values.schema.json'));
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const values = () => parseYaml(read('values.yaml')) as Record<string, any>;

  it('values.yaml satisfies values.schema.json', () => {
    const ok = validate(values());
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema rejects a bad shutdown policy, an unknown key and a bad port', () => {
    const bad1 = values();
    bad1.marketMaker.shutdown.policy = 'keep-armed';
    expect(validate(bad1)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('/marketMaker/shutdown/policy');
    const bad2 = values();
    bad2.marketMaker.operatorTokn = { existingSecret: 'x' };
    expect(validate(bad2)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('operatorTokn');
    const bad3 = values();
    bad3.connector.grpcPort = 70000;
    expect(validate(bad3)).toBe(false);
  });

  it('every template has balanced {{ }} delimiters and if/range/with/define blocks', () => {
    for (const f of fs.readdirSync(path.join(CHART, 'templates'))) {
      const t = read(`templates/${f}`);
      expect({ f, open: (t.match(/\{\{/g) ?? []).length }).toEqual({ f, open: (t.match(/\}\}/g) ?? []).length });
      const opens = (t.match(/\{\{-?\s*(if|range|with|define)\b/g) ?? []).length;
      const ends = (t.match(/\{\{-?\s*end\s*-?\}\}/g) ?? []).length;
      expect({ f, blocks: opens }).toEqual({ f, blocks: ends });
    }
  });

  it('probes: readiness /ready (not /status), liveness /live, startup probes everywhere', () => {
    const mm = read('templates/market-maker.yaml');
    expect(mm).toMatch(/readinessProbe:\s+httpGet:\s+path: \/ready/);
    expect(mm).toMatch(/livenessProbe:\s+httpGet:\s+path: \/live/);
    expect(mm).not.toMatch(/path: \/status/);
    expect(read('templates/exchange-connector.yaml')).toMatch(/livenessProbe:\s+httpGet:\s+path: \/live/);
    // The live page needs the viewer token: its probes must not ask for `/`.
    expect(read('templates/live-server.yaml')).not.toMatch(/path: \/\n/);
    for (const f of ['market-maker.yaml', 'exchange-connector.yaml', 'live-server.yaml']) expect(read(`templates/${f}`)).toContain('startupProbe:');
  });

  it('secrets are mounted as files, never put in env', () => {
    const all = fs.readdirSync(path.join(CHART, 'templates')).map((f) => read(`templates/${f}`)).join('\n');
    for (const v of ['API_KEY_FILE', 'API_SECRET_FILE', 'CONNECTOR_TOKENS_FILE', 'CONNECTOR_TOKEN_FILE', 'OPERATOR_TOKEN_FILE', 'ALERT_TELEGRAM_BOT_TOKEN_FILE', 'MM_READ_TOKEN_FILE', 'LIVE_VIEWER_TOKEN_FILE']) expect(all).toContain(`name: ${v}`);
    expect(all).not.toMatch(/name: (API_KEY|API_SECRET|PASSPHRASE|CONNECTOR_TOKENS?|OPERATOR_TOKEN|MM_READ_TOKEN|LIVE_VIEWER_TOKEN)\n/);
    expect(all).not.toContain('secretKeyRef: { name: {{ include "opensqt.connectorAuthSecret"');
    // Stable generated tokens: the existing Secret is looked up and reused.
    expect(read('templates/connector-auth-secret.yaml')).toMatch(/lookup "v1" "Secret" \.Release\.Namespace \$name/);
  });

  it('TLS and the read/viewer tokens are wired (pods listen on 0.0.0.0 only with authentication)', () => {
    const v = values();
    expect(v.connectorTls).toEqual({ serverSecret: '', clientSecret: '' });
    expect(typeof v.marketMaker.metricsOpen).toBe('boolean');
    const bad = values();
    bad.connectorTls.serverSecrett = 'x';
    expect(validate(bad)).toBe(false);
    const conn = read('templates/exchange-connector.yaml');
    for (const e of ['GRPC_HOST', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_CA_FILE', 'TLS_REQUIRE_CLIENT_CERT']) expect(conn).toContain(`name: ${e}`);
    for (const f of ['market-maker.yaml', 'live-server.yaml']) {
      const t = read(`templates/${f}`);
      expect(t).toContain('opensqt.clientTlsEnv');
      expect(t).toContain('opensqt.clientTlsVolume');
    }
    expect(read('templates/market-maker.yaml')).toContain('name: MM_METRICS_OPEN');
    const secret = read('templates/connector-auth-secret.yaml');
    expect(secret).toContain('$a.readTokenKey');
    expect(secret).toContain('$a.viewerTokenKey');
  });

  it('NetworkPolicy, PodDisruptionBudget, PrometheusRule and dashboard ConfigMap templates exist and are switchable', () => {
    expect(read('templates/networkpolicy.yaml')).toContain('kind: NetworkPolicy');
    expect(read('templates/pdb.yaml')).toContain('kind: PodDisruptionBudget');
    expect(read('templates/prometheusrule.yaml')).toContain('.Files.Get "files/opensqt-alerts.yaml"');
    expect(read('templates/dashboard-configmap.yaml')).toContain('.Files.Get "files/opensqt-dashboard.json"');
    const v = values();
    expect([v.networkPolicy.enabled, v.podDisruptionBudget.enabled, v.prometheusRule.enabled, v.grafanaDashboard.enabled]).toEqual([true, true, false, false]);
  });
});
