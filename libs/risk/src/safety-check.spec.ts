import { dec } from '@mm/domain';
import { Dec } from '@mm/domain';
import { type SafetyInput, checkStartupSafety, stressTest } from './safety-check';

/** BTCUSDT at 100000, I = 100, 250 USDT × 10 levels at 5× → 500 USDT margin. */
const input = (over: Partial<SafetyInput> = {}): SafetyInput => ({
  availableBalance: dec('1000'),
  leverage: 5,
  price: dec('100000'),
  priceInterval: dec('100'),
  orderNotional: dec('250'),
  buyWindow: 10,
  makerFee: dec('0.0002'),
  takerFee: dec('0.0005'),
  maxLeverage: 10,
  existingPositionQty: dec('0'),
  ...over,
});

describe('checkStartupSafety', () => {
  it('passes a sane setup without warnings', () => {
    // maker net = 100 − 200100 × 0.0002 = 59.98; taker exit net = 100 − 20 − 100100 × 0.0005 = 29.95
    expect(checkStartupSafety(input())).toEqual({ ok: true, problems: [], warnings: [] });
  });

  it('fails a non-positive available balance', () => {
    expect(checkStartupSafety(input({ availableBalance: dec('0') })).problems).toEqual(['account available balance 0 must be > 0']);
    expect(checkStartupSafety(input({ availableBalance: dec('-5') })).ok).toBe(false);
  });

  it('fails leverage above risk.max_leverage (at the limit passes)', () => {
    expect(checkStartupSafety(input({ leverage: 10 })).ok).toBe(true);
    expect(checkStartupSafety(input({ leverage: 11 })).problems).toEqual(['leverage 11 exceeds risk.max_leverage 10']);
    expect(checkStartupSafety(input({ leverage: 0 })).problems).toEqual(['leverage 0 must be an integer ≥ 1']);
  });

  it('fails when the whole buy window does not fit the margin (exactly fitting passes)', () => {
    expect(checkStartupSafety(input({ availableBalance: dec('500') })).ok).toBe(true);
    expect(checkStartupSafety(input({ availableBalance: dec('499.99') })).problems).toEqual([
      'grid.buy_window 10 × grid.order_notional 250 / leverage 5 = 500 margin exceeds the available balance 499.99',
    ]);
  });

  it('fails an interval that does not cover maker round-trip fees (net exactly 0 fails)', () => {
    // (2 × 49995 + 10) × 0.0001 = 10 → net 0
    const r = checkStartupSafety(input({ price: dec('49995'), priceInterval: dec('10'), makerFee: dec('0.0001'), takerFee: dec('0') }));
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['grid.price_interval 10 does not cover round-trip fees at price 49995 with grid.maker_fee 0.0001: net 0 per unit (fees 10)']);
    // (2 × 49994.9 + 10) × 0.0001 = 9.99998 → net 0.00002
    expect(checkStartupSafety(input({ price: dec('49994.9'), priceInterval: dec('10'), makerFee: dec('0.0001'), takerFee: dec('0') })).ok).toBe(true);
  });

  it('warns (does not fail) when a taker exit would lose money', () => {
    // maker 0, P 99900, I 100: net = 100 − 100000 × taker; taker 0.001 → 0 → warn; 0.00099 → 1 → fine
    const w = checkStartupSafety(input({ price: dec('99900'), makerFee: dec('0'), takerFee: dec('0.001') }));
    expect(w.ok).toBe(true);
    expect(w.warnings).toEqual([
      'grid.price_interval 100 does not cover a maker entry + taker exit at price 99900 (grid.maker_fee 0, grid.taker_fee 0.001): net 0 per unit',
    ]);
    expect(checkStartupSafety(input({ price: dec('99900'), makerFee: dec('0'), takerFee: dec('0.00099') })).warnings).toEqual([]);
  });

  it('an existing position does not skip the checks (upstream skipped all of them)', () => {
    const r = checkStartupSafety(input({ existingPositionQty: dec('0.5'), leverage: 20 }));
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['leverage 20 exceeds risk.max_leverage 10']);
    expect(r.warnings).toEqual(['existing position 0.5 on the symbol; startup checks were still applied']);
    const fine = checkStartupSafety(input({ existingPositionQty: dec('-0.5') }));
    expect(fine.ok).toBe(true);
    expect(fine.warnings).toHaveLength(1);
  });

  it('reports every problem at once, each naming its key', () => {
    const r = checkStartupSafety(
      input({ availableBalance: dec('0'), leverage: 1.5, buyWindow: 0, orderNotional: dec('0'), price: dec('0'), priceInterval: dec('-1'), makerFee: dec('-0.1'), takerFee: dec('-0.1'), maxLeverage: 0 }),
    );
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      'account available balance 0 must be > 0',
      'risk.max_leverage 0 must be an integer ≥ 1',
      'leverage 1.5 must be an integer ≥ 1',
      'grid.buy_window 0 must be an integer ≥ 1',
      'grid.order_notional 0 must be > 0',
      'reference price 0 must be > 0',
      'grid.price_interval -1 must be > 0',
      'grid.maker_fee -0.1 must be ≥ 0',
      'grid.taker_fee -0.1 must be ≥ 0',
    ]);
  });

  describe('stress test (risk.stress_move)', () => {
    const stress = (equity: string) => ({ equity: dec(equity), move: dec('0.25'), maintenanceRate: dec('0.005') });
    it('one level: loss, equity left and maintenance margin at the stressed price, by hand', () => {
      // L1 = 80 000 > P_s = 75 000: q = 800 / 80 000 = 0.01; loss = 0.01 × 5 000 + 800 × 0.0002 = 50.16; MM = 0.01 × 75 000 × 0.005 = 3.75.
      const i = input({ priceInterval: dec('20000'), orderNotional: dec('800'), buyWindow: 1 });
      const r = stressTest({ ...i, stress: stress('300') });
      expect([r.stressPrice, r.position, r.loss, r.equityAfter, r.maintenance].map(String)).toEqual(['75000', '0.01', '50.16', '249.84', '3.75']);
      expect(r.survives).toBe(true);
      const bad = checkStartupSafety({ ...i, stress: stress('50') });
      expect(bad.ok).toBe(false);
      expect(bad.problems).toEqual([
        'stress test: with equity 50, if the buy window (grid.buy_window 1 × grid.order_notional 800, grid.price_interval 20000) fills and the price falls risk.stress_move 25 % from 100000 to 75000, ' +
          'the loss 50.16 leaves equity -0.16 ≤ maintenance margin 3.75 on 0.01 base: the venue would liquidate; lower grid.buy_window or grid.order_notional, or add balance',
      ]);
    });
    it('a 300 USDT account cannot start a 10 × 250 USDT buy window at a 25 % stress move; 10 000 USDT can', () => {
      // Independent sum: Σ_k 250 × (1 − 75 000 / (100 000 − 100 k)), k = 1..10, plus 2 500 × 0.0002 maker fees.
      let loss = new Dec(0);
      for (let k = 1; k <= 10; k++) loss = loss.plus(new Dec(250).mul(new Dec(1).minus(new Dec(75000).div(100000 - 100 * k))));
      loss = loss.plus(new Dec('0.5'));
      const r = stressTest({ ...input(), stress: stress('300') });
      expect(r.loss.toDecimalPlaces(8).toString()).toBe(loss.toDecimalPlaces(8).toString());
      expect(r.survives).toBe(false);
      const res = checkStartupSafety({ ...input(), stress: stress('300') });
      expect(res.ok).toBe(false);
      expect(res.problems[0]).toMatch(/^stress test: with equity 300, .* the loss 6\d\d\.\d+ leaves equity -3\d\d\.\d+ ≤ maintenance margin/);
      expect(checkStartupSafety({ ...input(), stress: stress('10000') })).toEqual({ ok: true, problems: [], warnings: [] });
    });
    it('an existing long position counts from the current price; a bad move is a problem naming the key', () => {
      const withPos = stressTest({ ...input({ existingPositionQty: dec('0.1') }), stress: stress('10000') });
      const without = stressTest({ ...input(), stress: stress('10000') });
      expect(withPos.loss.minus(without.loss).toString()).toBe('2500');
      expect(checkStartupSafety({ ...input(), stress: { ...stress('10000'), move: dec('1') } }).problems).toEqual(['risk.stress_move 1 must be in (0, 1)']);
    });
  });
});
