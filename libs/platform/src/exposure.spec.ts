import { ConfigError } from './config';
import { GuessLimiter, TokenDigest, assertExposureAllowed, assertNotDevToken, isLoopbackHost } from './exposure';

describe('exposure rules', () => {
  it('knows loopback addresses (0.0.0.0 and :: are all interfaces, not loopback)', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('refuses a non-loopback bind without authentication, naming the key', () => {
    expect(() => assertExposureAllowed('0.0.0.0', false, 'http.host', 'http.read_token')).toThrow(new ConfigError('http.host', 'listening on 0.0.0.0 (not loopback) requires authentication: set http.read_token, or bind to 127.0.0.1'));
    expect(() => assertExposureAllowed('0.0.0.0', true, 'http.host', 'x')).not.toThrow();
    expect(() => assertExposureAllowed('127.0.0.1', false, 'http.host', 'x')).not.toThrow();
  });

  it('refuses development tokens only in production', () => {
    expect(() => assertNotDevToken('dev-market-maker-token', 'exchange.token', { NODE_ENV: 'production' })).toThrow(/exchange\.token: is a documented development token/);
    expect(() => assertNotDevToken('dev-market-maker-token', 'exchange.token', { NODE_ENV: 'development' })).not.toThrow();
    expect(() => assertNotDevToken('a-real-token-0123456789', 'exchange.token', { NODE_ENV: 'production' })).not.toThrow();
  });

  it('TokenDigest: minimum length, exact match only', () => {
    expect(() => new TokenDigest('short', 'operator.token')).toThrow(/operator\.token: must be at least 16 characters/);
    const d = new TokenDigest('0123456789abcdef', 'operator.token');
    expect(d.matches('0123456789abcdef')).toBe(true);
    for (const c of ['0123456789abcdeF', '0123456789abcde', '0123456789abcdef0', '']) expect(d.matches(c)).toBe(false);
  });

  it('GuessLimiter: blocks a key after max failures within the window, others unaffected, then forgets', () => {
    let now = 0;
    const g = new GuessLimiter(3, 1000, 2, () => now);
    for (let i = 0; i < 3; i++) g.fail('a');
    expect(g.blockedFor('a')).toBe(1000);
    expect(g.blockedFor('b')).toBe(0);
    now = 600;
    expect(g.blockedFor('a')).toBe(400);
    now = 1000;
    expect(g.blockedFor('a')).toBe(0);
    g.fail('x');
    g.fail('y');
    g.fail('z'); // maxKeys 2: the oldest window is dropped
    expect(g.blockedFor('x')).toBe(0);
  });
});
