import { type AccountSnapshot, Dec, VirtualScheduler, dec } from '@mm/domain';
import { AccountView } from './account-view';

/** AccountView alone on a virtual scheduler, fed by a scripted venue account. */
const T0 = 1_700_000_000_000;
const account = (equity: string, extra: Partial<AccountSnapshot> = {}): AccountSnapshot => ({
  asset: 'USDT',
  totalWalletBalance: dec(equity),
  totalMarginBalance: dec(equity),
  availableBalance: dec(equity),
  positions: [],
  leverage: 10,
  realizedPnl: dec('0'),
  ...extra,
});

function setup(cfg: { maxDrawdown?: string; maxStaleMs?: number } = {}) {
  const scheduler = new VirtualScheduler(T0);
  const venue = { equity: '1000', fail: false, calls: 0, extra: {} as Partial<AccountSnapshot> };
  const view = new AccountView(
    {
      getAccount: async () => {
        venue.calls++;
        if (venue.fail) throw new Error('connector gone');
        return account(venue.equity, venue.extra);
      },
    },
    scheduler,
    { pollIntervalMs: 5000, maxDrawdown: dec(cfg.maxDrawdown ?? '0'), maxStaleMs: cfg.maxStaleMs ?? 0 },
  );
  return { scheduler, venue, view };
}

describe('AccountView', () => {
  it('refuses bad settings, naming the field', () => {
    const s = new VirtualScheduler(T0);
    const v = { getAccount: async () => account('1') };
    expect(() => new AccountView(v, s, { pollIntervalMs: 0, maxDrawdown: dec('0'), maxStaleMs: 0 })).toThrow(/pollIntervalMs/);
    expect(() => new AccountView(v, s, { pollIntervalMs: 1000, maxDrawdown: dec('1'), maxStaleMs: 0 })).toThrow(/maxDrawdown/);
    expect(() => new AccountView(v, s, { pollIntervalMs: 1000, maxDrawdown: dec('0'), maxStaleMs: -1 })).toThrow(/maxStaleMs/);
  });

  it('polls at most once per period however many engines ask, and fans each reading out to every listener', async () => {
    const { scheduler, venue, view } = setup();
    const seen: number[][] = [[], []];
    view.subscribe((r) => seen[0].push(r.atMs));
    view.subscribe((r) => seen[1].push(r.atMs));
    await view.start();
    expect(venue.calls).toBe(1);
    // three engines ask in the same period: no new poll
    await Promise.all([view.refresh(T0 + 1000), view.refresh(T0 + 2000), view.refresh(T0 + 4999)]);
    expect(venue.calls).toBe(1);
    scheduler.advanceTo(T0 + 5000);
    await Promise.all([view.refresh(T0 + 5000), view.refresh(T0 + 5000)]);
    expect(venue.calls).toBe(2);
    expect(seen[0]).toEqual([T0, T0 + 5000]);
    expect(seen[1]).toEqual(seen[0]);
  });

  it('account drawdown from the peak margin balance opens at the limit, stays open on recovery, closes on reset', async () => {
    const { scheduler, venue, view } = setup({ maxDrawdown: '0.1' });
    await view.start();
    venue.equity = '1200'; // new peak
    scheduler.advanceTo(T0 + 5000);
    await view.refresh(scheduler.now());
    venue.equity = '1081'; // 9.9 % below 1 200
    scheduler.advanceTo(T0 + 10_000);
    await view.refresh(scheduler.now());
    expect(view.drawdown.open).toBe(false);
    expect(view.blocksOpening(scheduler.now())).toBeNull();
    venue.equity = '1080'; // exactly 10 %
    scheduler.advanceTo(T0 + 15_000);
    await view.refresh(scheduler.now());
    expect(view.drawdownFraction()!.toString()).toBe('0.1');
    expect(view.drawdown.open).toBe(true);
    expect(view.blocksOpening(scheduler.now())).toMatch(/account drawdown breaker: account drawdown 0.1 ≥ 0.1 \(equity 1080, peak 1200\)/);
    venue.equity = '1200';
    scheduler.advanceTo(T0 + 20_000);
    await view.refresh(scheduler.now());
    expect(view.drawdown.open).toBe(true);
    view.reset();
    expect(view.blocksOpening(scheduler.now())).toBeNull();
    expect(view.snapshot(scheduler.now()).peakEquity).toBe('1200');
  });

  it('a stale reading blocks opening after maxStaleMs of failed polls and clears with the next good one', async () => {
    const { scheduler, venue, view } = setup({ maxStaleMs: 12_000 });
    await view.start();
    venue.fail = true;
    for (let t = 5000; t <= 10_000; t += 5000) {
      scheduler.advanceTo(T0 + t);
      await view.refresh(scheduler.now());
    }
    expect(view.blocksOpening(scheduler.now())).toBeNull(); // 10 s old ≤ 12 s
    scheduler.advanceTo(T0 + 15_000);
    await view.refresh(scheduler.now());
    expect(view.pollFailures).toBe(3);
    expect(view.blocksOpening(scheduler.now())).toBe('account reading stale: 15000 ms old > 12000 ms (last poll error: connector gone)');
    venue.fail = false;
    scheduler.advanceTo(T0 + 20_000);
    await view.refresh(scheduler.now());
    expect(view.blocksOpening(scheduler.now())).toBeNull();
    expect(view.ageMs(scheduler.now())).toBe(0);
  });

  it('funding per symbol from the positions, the account total from the account; /status snapshot', async () => {
    const { view, venue, scheduler } = setup();
    const pos = (symbol: string, f: string) => ({ symbol, size: dec('1'), entryPrice: dec('1'), markPrice: dec('1'), unrealizedPnl: dec('0'), leverage: 10, marginType: 'cross' as const, liquidationPrice: dec('0'), fundingPnl: dec(f) });
    venue.extra = { positions: [pos('BTCUSDT', '-1.5'), pos('ETHUSDT', '0.25')], fundingPnl: dec('-1.25'), totalMaintenanceMargin: dec('50') };
    await view.start();
    expect(view.fundingOf('BTCUSDT')!.toString()).toBe('-1.5');
    expect(view.fundingOf('ETHUSDT')!.toString()).toBe('0.25');
    expect(view.fundingOf('SOLUSDT')).toBeNull();
    expect(view.accountFunding()!.toString()).toBe('-1.25');
    const snap = view.snapshot(scheduler.now());
    expect(snap).toMatchObject({ equity: '1000', marginRatio: '0.05', fundingPnl: '-1.25', fundingBySymbol: { BTCUSDT: '-1.5', ETHUSDT: '0.25' }, drawdown: '0', openingBlocked: null, polls: 1 });
    expect(new Dec(snap.fundingBySymbol.BTCUSDT).plus(snap.fundingBySymbol.ETHUSDT).toString()).toBe(snap.fundingPnl);
  });
});
