import { ConfigError } from '@mm/platform';
import { loadLiveConfig } from './live.config';

describe('live config', () => {
  it('has the documented defaults', () => {
    expect(loadLiveConfig([], {})).toEqual({
      port: 8081,
      host: '127.0.0.1',
      viewer_token: '',
      allowed_origins: [],
      allowed_hosts: [],
      symbol: 'BTCUSDT',
      symbols: [],
      history_limit: 100,
      connector: { address: '127.0.0.1:50051', token: '', tls: {} },
      backoff: { initial_ms: 500, max_ms: 10_000 },
      ws: { max_buffered_bytes: 1_048_576, ping_interval_ms: 30_000, max_messages_per_sec: 20, overview_interval_ms: 500, overview_refresh_ms: 2000, max_connections: 200, max_connections_per_ip: 20 },
    });
  });

  it('applies env bindings, and --port over LIVE_PORT', () => {
    const env = { LIVE_PORT: '9001', LIVE_SYMBOL: 'ETHUSDT', EXCHANGE_GRPC_ADDRESS: 'conn:50051', CONNECTOR_TOKEN: 't0k' };
    expect(loadLiveConfig([], env)).toMatchObject({ port: 9001, symbol: 'ETHUSDT', connector: { address: 'conn:50051', token: 't0k' } });
    expect(loadLiveConfig(['--port', '9100'], env).port).toBe(9100);
    expect(loadLiveConfig(['--port=0'], env).port).toBe(0);
  });

  it('takes a symbol list from LIVE_SYMBOLS and names a bad entry', () => {
    expect(loadLiveConfig([], { LIVE_SYMBOLS: 'BTCUSDT, ETHUSDT,,SOLUSDT' }).symbols).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    expect(() => loadLiveConfig([], { LIVE_SYMBOLS: 'BTCUSDT,ETH USDT' })).toThrow(/symbols\.1: must be symbols like/);
    expect(() => loadLiveConfig([], { LIVE_SYMBOLS: Array.from({ length: 51 }, (_, i) => `S${i}USDT`).join(',') })).toThrow(/symbols: at most 50/);
  });

  it('names the bad key', () => {
    expect(() => loadLiveConfig([], { LIVE_PORT: 'x' })).toThrow(new ConfigError('port', 'Expected number, received nan (from env LIVE_PORT)'));
    expect(() => loadLiveConfig(['--port', '70000'], {})).toThrow(/config error: port: .*65535/);
    expect(() => loadLiveConfig([], { LIVE_CONFIG: '/definitely/missing.yaml' })).toThrow(/missing\.yaml: file not found/);
  });
});
