import { Metadata, status } from '@grpc/grpc-js';
import { ConfigError } from '@mm/platform';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ConnectorConfig, connectorConfigSchema } from '../connector.config';
import { AuthService, isReadOnlyRpc, loadTokens, parseTokenSpec } from './auth';
import { GrpcStatusException } from './grpc-errors';

const T1 = 'tok_trader_0123456789';
const T2 = 'tok_monitor_0123456789';

function config(auth: Partial<ConnectorConfig['auth']>): ConnectorConfig {
  return connectorConfigSchema.parse({ auth });
}

function call(authorization?: string | string[], peer = 'ipv4:10.1.2.3:4567') {
  const metadata = new Metadata();
  for (const a of [authorization ?? []].flat()) metadata.add('authorization', a);
  return { metadata, getPeer: () => peer, getPath: () => '/opensqt.market_maker.v1.ExchangeService/GetName' };
}

function denied(fn: () => unknown): GrpcStatusException {
  try {
    fn();
  } catch (e) {
    return e as GrpcStatusException;
  }
  throw new Error('expected an exception');
}

describe('token spec', () => {
  it('parses role:token and role:name:token, commas and lines, comments', () => {
    const t = parseTokenSpec(`trader:mm:${T1}, monitor:${T2}\n# comment\n\n`, 'auth.tokens');
    expect(t.map((e) => `${e.role}/${e.name}`)).toEqual(['trader/mm', 'monitor/monitor-1']);
    expect(t[0].digest.length).toBe(32);
  });

  it('rejects bad entries with the key and position, never echoing the token', () => {
    const bad = ['admin:' + T1, 'trader:short', `trader:a:b:${T1}`, `trader:bad name:${T1}`, `trader:${T1},monitor:${T1}`];
    for (const spec of bad) {
      let err: unknown;
      try {
        parseTokenSpec(spec, 'auth.tokens');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toMatch(/^config error: auth\.tokens: entry \d/);
      expect((err as ConfigError).message).not.toContain(T1);
      expect((err as ConfigError).message).not.toContain('short');
    }
  });

  it('merges env tokens with a tokens file; a token in both is an error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokens-'));
    const file = path.join(dir, 'tokens');
    fs.writeFileSync(file, `monitor:live:${T2}\n`);
    expect(loadTokens({ tokens: `trader:${T1}`, tokensFile: file }).map((e) => e.name)).toEqual(['trader-1', 'live']);
    fs.writeFileSync(file, `monitor:${T1}\n`);
    expect(() => loadTokens({ tokens: `trader:${T1}`, tokensFile: file })).toThrow(/auth\.tokensFile: a token is listed in both/);
    expect(() => loadTokens({ tokens: '', tokensFile: path.join(dir, 'missing') })).toThrow(/auth\.tokensFile: cannot read .*ENOENT/);
  });
});

describe('AuthService', () => {
  const env = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = env;
  });

  it('identifies callers by bearer token and rejects missing, malformed and unknown tokens', () => {
    const auth = new AuthService(config({ tokens: `trader:mm:${T1},monitor:${T2}` }));
    expect(auth.open).toBe(false);
    expect(auth.identify(call(`Bearer ${T1}`))).toEqual({ id: 'trader/mm', role: 'trader', bucket: 'client:trader/mm' });
    expect(auth.identify(call(`bearer ${T2}`)).role).toBe('monitor');
    for (const a of [undefined, T1, `Basic ${T1}`, `Bearer ${T1}x`, `Bearer ${T1.slice(0, -1)}`, [`Bearer ${T1}`, `Bearer ${T2}`]]) {
      const e = denied(() => auth.identify(call(a)));
      expect(e).toBeInstanceOf(GrpcStatusException);
      expect(e.code).toBe(status.UNAUTHENTICATED);
      expect(e.details).not.toContain(T1);
    }
  });

  it('runs open without tokens (identity by peer IP, not by connection), but refuses that in production and off loopback', () => {
    process.env.NODE_ENV = 'development';
    const open = new AuthService(config({}));
    expect(open.open).toBe(true);
    expect(open.identify(call(undefined, 'ipv4:10.1.2.3:4567'))).toEqual({ id: 'anonymous', role: 'open', bucket: 'peer:10.1.2.3' });
    expect(open.identify(call(undefined, '10.1.2.3:9999')).bucket).toBe('peer:10.1.2.3');
    expect(open.identify(call(undefined, 'ipv6:[::1]:4567')).bucket).toBe('peer:::1');
    expect(() => new AuthService(connectorConfigSchema.parse({ host: '0.0.0.0' }))).toThrow(/config error: host: listening on 0\.0\.0\.0 \(not loopback\) requires authentication/);
    expect(new AuthService(connectorConfigSchema.parse({ host: '0.0.0.0', auth: { tokens: `trader:${T1}` } })).open).toBe(false);
    process.env.NODE_ENV = 'production';
    expect(() => new AuthService(config({}))).toThrow(/config error: auth\.tokens: no connector tokens configured; refusing/);
    expect(new AuthService(config({ tokens: `trader:${T1}` })).open).toBe(false);
    expect(() => new AuthService(config({ tokens: 'trader:mm:dev-market-maker-token' }))).toThrow(/development token/);
  });

  it('classifies RPCs: monitors get queries and streams only, unknown RPCs fail closed', () => {
    for (const m of ['GetName', 'GetOrder', 'GetOpenOrders', 'FetchExchangeInfo', 'SubscribeOrders', 'SubscribePrice']) expect(isReadOnlyRpc(m)).toBe(true);
    for (const m of ['PlaceOrder', 'BatchPlaceOrders', 'CancelOrder', 'BatchCancelOrders', 'CancelAllOrders', 'Heartbeat', 'Getaway', 'unknown']) {
      expect(isReadOnlyRpc(m)).toBe(false);
    }
  });
});
