import { prettyLogs } from './logging';

describe('prettyLogs', () => {
  it('pretty on a terminal, JSON otherwise; LOG_FORMAT decides when set', () => {
    expect(prettyLogs({}, true)).toBe(true);
    expect(prettyLogs({}, false)).toBe(false);
    expect(prettyLogs({ LOG_FORMAT: 'json' }, true)).toBe(false);
    expect(prettyLogs({ LOG_FORMAT: 'pretty' }, false)).toBe(true);
  });
});
