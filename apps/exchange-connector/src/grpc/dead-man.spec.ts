import { ownsClientOrderId } from './dead-man';

describe('dead-man ownership by client order id prefix', () => {
  it('matches the prefix only at a boundary', () => {
    expect(ownsClientOrderId('mm1', 'mm1B955001g3')).toBe(true);
    expect(ownsClientOrderId('mm1', 'mm1-x')).toBe(true);
    expect(ownsClientOrderId('mm1', 'mm1')).toBe(true);
    expect(ownsClientOrderId('mm1', 'mm10B955001g3')).toBe(false);
    expect(ownsClientOrderId('mm1', 'mm1b1')).toBe(false);
    expect(ownsClientOrderId('mm1', 'evilB1')).toBe(false);
    expect(ownsClientOrderId('mm1', '')).toBe(false);
    expect(ownsClientOrderId('mm1', undefined)).toBe(false);
  });
});
