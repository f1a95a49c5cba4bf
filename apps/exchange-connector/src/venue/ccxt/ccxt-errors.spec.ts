import * as path from 'node:path';
import { VenueError } from '@mm/domain';
import { parseCcxtError, venueCodeOf } from './ccxt-errors';

// ccxt's CommonJS entry pulls in ESM-only @noble/* which jest (Node < 24.9) cannot require; the
// error classes module has no dependencies, so load it by path (the real classes, same hierarchy).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ccxt = require(path.resolve(__dirname, '../../../../../node_modules/ccxt/dist/cjs/src/base/errors.js')) as Record<string, new (m: string) => Error>;

describe('parseCcxtError', () => {
  const cases: [string, Error, string, string?][] = [
    ['InvalidOrder', new ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: PRICE_FILTER"}'), 'INVALID_ARGUMENT'],
    ['BadRequest', new ccxt.BadRequest('okx {"code":"51000","msg":"Parameter px error"}'), 'INVALID_ARGUMENT'],
    ['BadSymbol', new ccxt.BadSymbol('bybit does not have market symbol FOO/BAR'), 'INVALID_ARGUMENT', 'UNKNOWN_SYMBOL'],
    ['ArgumentsRequired', new ccxt.ArgumentsRequired('fetchOrder() requires a symbol'), 'INVALID_ARGUMENT'],
    ['OrderImmediatelyFillable', new ccxt.OrderImmediatelyFillable('binance {"code":-5022}'), 'INVALID_ARGUMENT', 'POST_ONLY_WOULD_TAKE'],
    ['InsufficientFunds', new ccxt.InsufficientFunds('binance {"code":-2019,"msg":"Margin is insufficient."}'), 'FAILED_PRECONDITION', 'INSUFFICIENT_MARGIN'],
    ['OrderNotFound (extends InvalidOrder)', new ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}'), 'NOT_FOUND', 'ORDER_NOT_FOUND'],
    ['DuplicateOrderId (extends InvalidOrder)', new ccxt.DuplicateOrderId('binance {"code":-4015,"msg":"Client order id is not valid."}'), 'ALREADY_EXISTS', 'DUPLICATE_CLIENT_ORDER_ID'],
    ['AuthenticationError', new ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key"}'), 'UNAUTHENTICATED'],
    ['PermissionDenied (extends AuthenticationError)', new ccxt.PermissionDenied('bybit {"retCode":10005}'), 'PERMISSION_DENIED'],
    ['AccountSuspended', new ccxt.AccountSuspended('gate {"label":"ACCOUNT_LOCKED"}'), 'PERMISSION_DENIED'],
    ['RateLimitExceeded (extends NetworkError)', new ccxt.RateLimitExceeded('binance {"code":-1003}'), 'RESOURCE_EXHAUSTED'],
    ['DDoSProtection (extends NetworkError)', new ccxt.DDoSProtection('bitget 429'), 'RESOURCE_EXHAUSTED'],
    ['NetworkError', new ccxt.NetworkError('socket hang up'), 'UNAVAILABLE'],
    ['RequestTimeout', new ccxt.RequestTimeout('okx GET timed out'), 'UNAVAILABLE'],
    ['ExchangeNotAvailable', new ccxt.ExchangeNotAvailable('gate 503'), 'UNAVAILABLE'],
    ['OnMaintenance (extends ExchangeNotAvailable)', new ccxt.OnMaintenance('okx maintenance'), 'UNAVAILABLE'],
    ['ExchangeError', new ccxt.ExchangeError('binance {"code":-1000,"msg":"unknown"}'), 'INTERNAL'],
    ['NotSupported', new ccxt.NotSupported('gate fetchOpenInterest() is not supported yet'), 'INTERNAL'],
    ['plain Error', new Error('boom'), 'INTERNAL'],
  ];
  it.each(cases.map(([name, err, code, reason]) => ({ name, err, code, reason })))('$name', ({ err, code, reason }) => {
    const v = parseCcxtError(err, 'binance');
    expect(v).toBeInstanceOf(VenueError);
    expect(v.code).toBe(code);
    if (reason) expect(v.reason).toBe(reason);
    expect(v.message).toContain(err.message);
    expect(v.message).toContain('binance');
  });

  it('names the field for INVALID_ARGUMENT and keeps the venue code', () => {
    const v = parseCcxtError(new ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: PRICE_FILTER"}'), 'binance', 'price');
    expect(v.field).toBe('price');
    expect(v.message.startsWith('price: binance InvalidOrder code -1013:')).toBe(true);
  });

  it('passes VenueError through and retryability follows the code', () => {
    const e = new VenueError('NOT_FOUND', 'x');
    expect(parseCcxtError(e, 'okx')).toBe(e);
    expect(parseCcxtError(new ccxt.RateLimitExceeded('x'), 'okx').retryable).toBe(true);
    expect(parseCcxtError(new ccxt.InvalidOrder('x'), 'okx').retryable).toBe(false);
  });

  it('extracts venue codes from each venue style', () => {
    expect(venueCodeOf('binance {"code":-2011,"msg":"Unknown order sent."}')).toBe('-2011');
    expect(venueCodeOf('okx {"code":"1","data":[{"sCode":"51603","sMsg":"Order does not exist"}],"msg":""}')).toBe('51603');
    expect(venueCodeOf('bybit {"retCode":110001,"retMsg":"order not exists"}')).toBe('110001');
    expect(venueCodeOf('gate {"label":"ORDER_NOT_FOUND","message":"Order not found"}')).toBe('ORDER_NOT_FOUND');
    expect(venueCodeOf('no json here')).toBeUndefined();
  });
});
