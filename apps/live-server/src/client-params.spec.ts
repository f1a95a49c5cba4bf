import { CLOSE_BAD_PARAMETER, CLOSE_TRY_AGAIN, CLOSE_UNKNOWN_SYMBOL, type SymbolLookup, parseClientParams } from './client-params';

function lookup(symbols: string[], resolved = true): SymbolLookup {
  return { symbol: symbols[0], symbols, symbolsResolved: resolved, has: (s) => symbols.includes(s) };
}

describe('parseClientParams (/ws opt-in parameters)', () => {
  const two = lookup(['BTCUSDT', 'ETHUSDT']);

  it('no parameters (the OpenSQT page) → the default symbol, no overview; token and other parameters ignored', () => {
    expect(parseClientParams('/ws', two)).toEqual({ symbol: 'BTCUSDT', overview: false });
    expect(parseClientParams(undefined, two)).toEqual({ symbol: 'BTCUSDT', overview: false });
    expect(parseClientParams('/ws?token=abc&t=123', two)).toEqual({ symbol: 'BTCUSDT', overview: false });
  });

  it('selects a monitored symbol and the overview', () => {
    expect(parseClientParams('/ws?symbol=ETHUSDT', two)).toEqual({ symbol: 'ETHUSDT', overview: false });
    expect(parseClientParams('/ws?symbol=ETHUSDT&overview=1', two)).toEqual({ symbol: 'ETHUSDT', overview: true });
    expect(parseClientParams('/ws?overview=true', two)).toEqual({ symbol: 'BTCUSDT', overview: true });
    expect(parseClientParams('/ws?overview', two)).toEqual({ symbol: 'BTCUSDT', overview: true });
    expect(parseClientParams('/ws?overview=0', two)).toEqual({ symbol: 'BTCUSDT', overview: false });
  });

  it('refuses an unknown symbol with 4404 naming the monitored ones, and a malformed one with 4400', () => {
    expect(parseClientParams('/ws?symbol=DOGEUSDT', two)).toEqual({ code: CLOSE_UNKNOWN_SYMBOL, reason: 'unknown symbol DOGEUSDT; monitored: BTCUSDT,ETHUSDT' });
    expect(parseClientParams('/ws?symbol=ethusdt', two)).toMatchObject({ code: CLOSE_UNKNOWN_SYMBOL }); // exact spelling
    expect(parseClientParams('/ws?symbol=%3Cscript%3E', two)).toEqual({ code: CLOSE_BAD_PARAMETER, reason: 'symbol: must be a symbol like BTCUSDT' });
    expect(parseClientParams(`/ws?symbol=${'A'.repeat(500)}`, two)).toMatchObject({ code: CLOSE_BAD_PARAMETER });
    expect(parseClientParams('/ws?symbol=', two)).toMatchObject({ code: CLOSE_BAD_PARAMETER });
    expect(parseClientParams('/ws?symbol=BTCUSDT&symbol=ETHUSDT', two)).toEqual({ code: CLOSE_BAD_PARAMETER, reason: 'symbol: given more than once' });
    expect(parseClientParams('/ws?overview=yes', two)).toEqual({ code: CLOSE_BAD_PARAMETER, reason: 'overview: must be 1, true, 0 or false' });
  });

  it('keeps the close reason within the 123 bytes of RFC 6455', () => {
    const many = lookup(Array.from({ length: 50 }, (_, i) => `SYMBOL${i}USDT`));
    const r = parseClientParams('/ws?symbol=NOPEUSDT', many);
    expect(r).toMatchObject({ code: CLOSE_UNKNOWN_SYMBOL });
    expect(Buffer.byteLength((r as { reason: string }).reason)).toBeLessThanOrEqual(123);
  });

  it('asks to retry (1013) for another symbol before the list is known; the default always works', () => {
    const early = lookup(['BTCUSDT'], false);
    expect(parseClientParams('/ws?symbol=ETHUSDT', early)).toMatchObject({ code: CLOSE_TRY_AGAIN });
    expect(parseClientParams('/ws?symbol=BTCUSDT', early)).toEqual({ symbol: 'BTCUSDT', overview: false });
  });
});
