import { Dec, VirtualScheduler, dec } from '@mm/domain';
import { type FundingPoint, SimExchange, SimSpotExchange, defaultSpotRules, defaultSymbolRules } from '@mm/sim-exchange';
import { type OhlcRow, candlesFromRows } from '@mm/testing';
import { type ArbThresholds, FundingArbStrategy, InMemoryArbJournal, type LegSpec, type PairSpec, stepClientOrderId, workflowId } from './index';

/**
 * The funding-arb core with a spot leg (SimSpotExchange: spot balances, margin borrowing, hourly
 * interest) and a perp leg (SimExchange: funding at mark), both on the same market time, one
 * VirtualScheduler following it. Positive perp funding → long spot + short perp; negative → short
 * spot on margin + long perp, paying borrow interest (REQ-ARB-006/007).
 */

const H = 3_600_000;
const T0 = 1_750_000_000_000 - (1_750_000_000_000 % H);
const HISTORY = 20;
const START = T0 + HISTORY * 60_000;
const FT = T0 + 2 * H;
const SYMBOL = 'BTCUSDT';
const RATE = '0.000004166667'; // BTC borrow interest per hour (≈ 3.65 % a year)

const rows = (n: number): OhlcRow[] => Array.from({ length: n }, () => ['100000', '100020', '99980', '100000'] as OhlcRow);
const funding = (r: string): FundingPoint[] => [-16 * H, -8 * H, 2 * H, 10 * H, 18 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec(r) }));

const THRESHOLDS: ArbThresholds = {
  entryApr: dec('0.10'),
  exitApr: dec('0.02'),
  minAboveThresholdMs: 0,
  minLeadBeforeFundingMs: 10 * 60_000,
  expectedHoldMs: 7 * 24 * H,
  basisHaircutApr: dec('0.02'),
  maxLegPriceSpread: dec('0.001'),
  maxFundingAgeMs: 5 * 60_000,
};

async function setup(perpRate: string | FundingPoint[], spotLeg: Partial<LegSpec> = {}) {
  const candles = candlesFromRows(SYMBOL, T0, rows(24 * 60));
  const spot = new SimSpotExchange({
    name: 'simspot',
    symbols: [{ rules: defaultSpotRules(SYMBOL), candles }],
    balances: { USDT: dec('100000') },
    historyCandles: HISTORY,
    hourlyInterest: { BTC: dec(RATE) },
    autoBorrow: true,
  });
  const perp = new SimExchange({
    name: 'simperp',
    symbols: [{ rules: defaultSymbolRules(SYMBOL), candles, fundingRates: typeof perpRate === 'string' ? funding(perpRate) : perpRate }],
    manual: true,
    historyCandles: HISTORY,
    initialBalance: dec('100000'),
  });
  expect(spot.clock.now()).toBe(START);
  expect(perp.clock.now()).toBe(START);
  const base = { symbol: SYMBOL, execution: { type: 'MARKET' } as const, defaultFundingIntervalMs: 8 * H, canShort: true };
  const a: LegSpec = { ...base, venue: spot, kind: 'spot', makerFee: dec('0.001'), takerFee: dec('0.001'), borrowRateHourly: dec(RATE), ...spotLeg };
  const b: LegSpec = { ...base, venue: perp, kind: 'perp', makerFee: dec('0.0002'), takerFee: dec('0.0005'), borrowRateHourly: dec(0) };
  const pair: PairSpec = { symbol: SYMBOL, legs: { a, b }, orderQty: dec('0.05') };
  const scheduler = new VirtualScheduler(START);
  const journal = new InMemoryArbJournal();
  const strategy = new FundingArbStrategy(
    { pairs: [pair], thresholds: THRESHOLDS, decisionIntervalMs: 7 * 60_000, fundingPollMs: 60_000, firstLeg: 'long', maxSendAttempts: 3, retryDelayMs: 30_000, maxEntryAttemptsPerFunding: 1 },
    { scheduler, journal },
  );
  await strategy.start();
  await strategy.whenIdle();
  const step = async (ms: number, stepMs = 10_000) => {
    // both venues must stay on one market time
    for (let t = 0; t < ms; t += stepMs) {
      const d = Math.min(stepMs, ms - t);
      spot.advance(d);
      perp.advance(d);
      await scheduler.advanceToAsync(perp.clock.now(), () => strategy.whenIdle());
    }
  };
  const btc = () => spot.balances().find((x) => x.asset === 'BTC')!;
  const perpSize = async () => (await perp.getPositions(SYMBOL))[0]?.size ?? new Dec(0);
  return { spot, perp, strategy, scheduler, step, btc, perpSize };
}

describe('funding-arb with a spot leg (SimSpotExchange) and a perp leg (SimExchange)', () => {
  it('positive perp funding: long spot (bought with quote) + short perp; the perp leg receives funding at FT', async () => {
    const h = await setup('0.0005');
    await h.step(60_000);
    const id = workflowId(SYMBOL, 'entry', 'b', FT, 1);
    const first = await h.spot.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(id, 'f') });
    expect(first).toMatchObject({ side: 'BUY', type: 'MARKET', status: 'FILLED', reduceOnly: false });
    expect(first.executedQty.toString()).toBe('0.05');
    expect((await h.perpSize()).toString()).toBe('-0.05');
    expect(h.btc().free.toString()).toBe('0.05');
    expect(h.btc().borrowed.isZero()).toBe(true);
    // quote spent: 0.05 × price + taker fee (independent of the venue's books)
    const px = first.avgPrice;
    expect((await h.spot.getBalance('USDT')).eq(dec('100000').sub(px.mul('0.05')).sub(px.mul('0.05').mul('0.001').toDecimalPlaces(8)))).toBe(true);
    expect(h.strategy.listWorkflows()[0].finished).toEqual({ result: 'hedged', detail: 'both legs 0.05' });
    await h.step(FT - h.scheduler.now() + 10_000);
    // short perp receives 0.05 × 100000 × 0.0005 = 2.5 USDT at FT (mark = 100000)
    expect(h.perp.fundingPnl().toString()).toBe('2.5');
    h.strategy.stop();
  });

  it('negative perp funding: short spot on margin (borrowed base) + long perp; borrow interest booked exactly every hour', async () => {
    const h = await setup('-0.0005');
    await h.step(60_000);
    const id = workflowId(SYMBOL, 'entry', 'a', FT, 1);
    const hedge = await h.spot.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(id, 'h') });
    expect(hedge).toMatchObject({ side: 'SELL', status: 'FILLED', reduceOnly: false });
    expect(hedge.executedQty.toString()).toBe('0.05');
    expect((await h.perpSize()).toString()).toBe('0.05');
    const entryAt = h.scheduler.now();
    expect(h.btc().borrowed.toString()).toBe('0.05');
    expect(h.btc().interest.isZero()).toBe(true);
    // run 5 h: the boundaries passed since the sale, each books ceil(0.05 × RATE, 8 dp)
    await h.step(5 * H, 60_000);
    const boundaries = Math.floor(h.scheduler.now() / H) - Math.floor(entryAt / H);
    expect(boundaries).toBe(5);
    // 0.05 × 0.000004166667 = 0.00000020833335 → rounded up to 0.00000021 per hour
    expect(h.btc().interest.toString()).toBe(dec('0.00000021').mul(boundaries).toString());
    // the long perp received funding at FT: 0.05 × 100000 × 0.0005 = 2.5
    expect(h.perp.fundingPnl().toString()).toBe('2.5');
    h.strategy.stop();
  });

  it('a maker (post-side LIMIT) spot leg rests on the spot path and fills at its price with the maker fee; the perp hedge follows', async () => {
    const h = await setup('0.0005', { execution: { type: 'LIMIT', offset: dec('0.0001'), timeoutMs: 150_000 } });
    await h.step(5 * 60_000);
    const id = workflowId(SYMBOL, 'entry', 'b', FT, 1);
    const first = await h.spot.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(id, 'f') });
    // last 100000 × (1 − 0.0001) = 99990 on the 0.01 tick; the path's low 99980 reaches it
    expect(first).toMatchObject({ side: 'BUY', type: 'LIMIT', status: 'FILLED' });
    expect(first.price.toString()).toBe('99990');
    expect(first.trades[0].maker).toBe(true);
    expect(first.trades[0].fee.toString()).toBe('4.9995'); // 99990 × 0.05 × 0.001
    expect(h.btc().free.toString()).toBe('0.05');
    expect((await h.perpSize()).toString()).toBe('-0.05');
    h.strategy.stop();
  });

  it('exit of a margin short when the spread decays: the spot BUY repays principal + interest (venue figure), no debt left, interest booked exactly', async () => {
    // −0.05 % per 8 h until FT + 8 h, then +0.001 %: the long-perp/short-spot spread decays → exit
    const rates: FundingPoint[] = [...[-16 * H, -8 * H, 2 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec('-0.0005') })), ...[10 * H, 18 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec('0.00001') }))];
    const h = await setup(rates);
    await h.step(60_000);
    const entryAt = h.scheduler.now();
    await h.step(FT + 8 * H - h.scheduler.now() + 20 * 60_000, 60_000);
    const wf = h.strategy.listWorkflows();
    expect(wf.map((w) => [w.kind, w.finished?.result])).toEqual([
      ['entry', 'hedged'],
      ['exit', 'exited'],
    ]);
    expect((await h.perpSize()).isZero()).toBe(true);
    expect(await h.spot.getOpenOrders(SYMBOL)).toHaveLength(0);
    const spotSteps = Object.values(wf[1].steps).filter((x) => x?.intent.leg === 'a');
    expect(spotSteps).toHaveLength(1);
    const exitBuyOrder = await h.spot.getOrder(SYMBOL, { clientOrderId: spotSteps[0]!.intent.clientOrderId });
    expect(exitBuyOrder).toMatchObject({ side: 'BUY', status: 'FILLED' });
    const sale = await h.spot.getOrder(SYMBOL, { clientOrderId: stepClientOrderId(wf[0].id, 'h') });
    expect(sale.createdAtMs).toBeGreaterThanOrEqual(entryAt - 60_000);
    // interest booked for every hour boundary H with sale < H ≤ buy-back (a boundary at the buy-back
    // instant is booked before the fill), ⌈0.05 × RATE⌉ = 0.00000021 each
    const hours = Math.floor(exitBuyOrder.createdAtMs / H) - Math.floor(sale.createdAtMs / H);
    expect(hours).toBeGreaterThan(8);
    const interest = dec('0.00000021').mul(hours);
    const btc = h.btc();
    expect(btc.interestAccrued.toString()).toBe(interest.toString());
    // the exit BUY = principal 0.05 + interest owed (the venue's figure), rounded UP to the 0.00001 step
    const want = dec('0.05').add(interest).div('0.00001').ceil().mul('0.00001');
    expect(want.gt('0.05')).toBe(true);
    expect(exitBuyOrder.executedQty.toString()).toBe(want.toString());
    expect(spotSteps[0]!.intent).toMatchObject({ quantity: want.toString(), closes: '0.05', interest: interest.toString(), interestSource: 'venue' });
    // no debt left: principal and interest repaid; the step-rounding excess stays a free balance (< one step)
    expect(btc.borrowed.isZero()).toBe(true);
    expect(btc.interest.isZero()).toBe(true);
    expect(btc.free.toString()).toBe(want.sub('0.05').sub(interest).toString());
    expect(btc.free.gt(0) && btc.free.lt('0.00001')).toBe(true);
    const [pos] = await h.spot.getPositions(SYMBOL);
    expect([pos.size.toString(), pos.borrowed?.toString(), pos.borrowInterest?.toString()]).toEqual([btc.free.toString(), '0', '0']);
    // the strategy sees the spot leg flat (the interest and the excess are not a long), delta 0, no rebalance
    const st = h.strategy.status()[0];
    expect(st).toMatchObject({ position: { a: '0', b: '0' }, netDelta: '0', state: 'flat', inFlight: null });
    const acc = await h.strategy.accounting(SYMBOL);
    expect(acc.borrowInterest).toMatchObject({ asset: 'BTC', base: interest.toString(), paidBase: interest.toString(), source: 'estimate' });
    expect(acc.legs.a.position).toBe('0');
    // basis PnL of the spot leg counts the 0.05 sold and the 0.05 bought back, not the interest base
    expect(acc.legs.a.pricePnl).toBe(sale.avgPrice.mul('0.05').sub(exitBuyOrder.avgPrice.mul('0.05')).toString());
    await h.step(2 * H, 60_000);
    expect(h.strategy.listWorkflows().filter((w) => w.kind === 'rebalance')).toHaveLength(0);
    expect(h.btc().interestAccrued.toString()).toBe(interest.toString());
    h.strategy.stop();
  });

  it('operator exit of a margin short: the BUY repays principal + interest, no debt left, the leg flat in the journal', async () => {
    const h = await setup('-0.0005');
    await h.step(60_000);
    await h.step(3 * H, 60_000);
    const owed = h.btc().interest;
    expect(owed.gt(0)).toBe(true);
    h.strategy.requestExit(SYMBOL, 'test');
    await h.step(60_000);
    const wf = h.strategy.listWorkflows();
    expect(wf.map((w) => [w.kind, w.exitReason, w.finished?.result])).toEqual([
      ['entry', undefined, 'hedged'],
      ['exit', 'operator', 'exited'],
    ]);
    const buy = Object.values(wf[1].steps).find((x) => x?.intent.leg === 'a')!;
    const btc = h.btc();
    // no hour boundary between the venue's reading and the fill here: the interest paid is the interest owed
    expect(btc.interestAccrued.toString()).toBe(owed.toString());
    expect(buy.intent).toMatchObject({ side: 'BUY', closes: '0.05', interest: owed.toString(), interestSource: 'venue' });
    expect(buy.outcome!.executedQty).toBe(dec('0.05').add(owed).div('0.00001').ceil().mul('0.00001').toString());
    expect([btc.borrowed.toString(), btc.interest.toString()]).toEqual(['0', '0']);
    expect(btc.free.toString()).toBe(new Dec(buy.outcome!.executedQty).sub('0.05').sub(owed).toString());
    expect((await h.perpSize()).isZero()).toBe(true);
    expect(h.strategy.status()[0]).toMatchObject({ position: { a: '0', b: '0' }, netDelta: '0', state: 'flat' });
    const acc = await h.strategy.accounting(SYMBOL);
    expect(acc.borrowInterest).toMatchObject({ base: owed.toString(), paidBase: owed.toString() });
    h.strategy.stop();
  });

  it('a second margin short after an exit sells the rounding dust first; its exit repays the venue principal, so the dust stays below one step', async () => {
    const h = await setup('-0.0005');
    await h.step(60_000);
    await h.step(3 * H, 60_000);
    h.strategy.requestExit(SYMBOL, 'first cycle');
    await h.step(60_000);
    const dust1 = h.btc().free;
    expect(dust1.gt(0) && dust1.lt('0.00001')).toBe(true);
    h.strategy.resumeEntries(SYMBOL);
    await h.step(10 * 60_000, 60_000);
    expect(h.strategy.listWorkflows().filter((w) => w.kind === 'entry' && w.finished?.result === 'hedged')).toHaveLength(2);
    // the SELL of 0.05 used the free dust: the venue lent 0.05 − dust
    expect(h.btc().borrowed.toString()).toBe(dec('0.05').sub(dust1).toString());
    await h.step(3 * H, 60_000);
    const owed = h.btc().interest;
    h.strategy.requestExit(SYMBOL, 'second cycle');
    await h.step(60_000);
    const wfs = h.strategy.listWorkflows();
    expect(wfs.map((w) => [w.kind, w.finished?.result])).toEqual([
      ['entry', 'hedged'],
      ['exit', 'exited'],
      ['entry', 'hedged'],
      ['exit', 'exited'],
    ]);
    const buy = Object.values(wfs[3].steps).find((x) => x?.intent.leg === 'a')!;
    // principal 0.05 − dust (venue) + interest, rounded up to the step
    expect(buy.intent).toMatchObject({ closes: '0.05', interest: owed.toString(), interestSource: 'venue' });
    expect(buy.intent.quantity).toBe(dec('0.05').sub(dust1).add(owed).div('0.00001').ceil().mul('0.00001').toString());
    const btc = h.btc();
    expect([btc.borrowed.toString(), btc.interest.toString()]).toEqual(['0', '0']);
    expect(btc.free.gte(0) && btc.free.lt('0.00001')).toBe(true);
    expect(h.strategy.status()[0]).toMatchObject({ position: { a: '0', b: '0' }, netDelta: '0', state: 'flat' });
    const acc = await h.strategy.accounting(SYMBOL);
    expect(acc.borrowInterest).toMatchObject({ base: btc.interestAccrued.toString(), paidBase: btc.interestAccrued.toString() });
    h.strategy.stop();
  });

  it('without a venue figure (the venue reports no margin position) the exit BUY repays the journal estimate of the interest', async () => {
    const rates: FundingPoint[] = [...[-16 * H, -8 * H, 2 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec('-0.0005') })), ...[10 * H, 18 * H].map((o) => ({ fundingTimeMs: T0 + o, rate: dec('0.00001') }))];
    const h = await setup(rates);
    // hide the margin position: the strategy falls back to estimateBorrowInterest over the journal
    h.spot.getPositions = async () => [];
    await h.step(60_000);
    await h.step(FT + 8 * H - h.scheduler.now() + 20 * 60_000, 60_000);
    const wf = h.strategy.listWorkflows();
    expect(wf.map((w) => [w.kind, w.finished?.result])).toEqual([
      ['entry', 'hedged'],
      ['exit', 'exited'],
    ]);
    const sale = wf[0].steps.h!;
    const buy = Object.values(wf[1].steps).find((x) => x?.intent.leg === 'a')!;
    // the estimate: ⌈0.05 × RATE⌉ at each hour boundary between the journal times of the sale and of the exit's decision
    const estimate = dec('0.00000021').mul(Math.floor(buy.outcomeAtMs! / H) - Math.floor(sale.outcomeAtMs! / H));
    expect(estimate.gt(0)).toBe(true);
    const want = dec('0.05').add(estimate).div('0.00001').ceil().mul('0.00001');
    expect(buy.intent).toMatchObject({ quantity: want.toString(), closes: '0.05', interest: estimate.toString(), interestSource: 'estimate' });
    // this harness steps the venues first, so the exit decided at scheduler time 60 s before the
    // boundary the venue had just charged: the estimate is one hour short, and the step rounding
    // (0.05 + interest → 0.05001) repaid it all the same
    const btc = h.btc();
    expect(btc.interestAccrued.toString()).toBe(estimate.add('0.00000021').toString());
    expect(btc.borrowed.isZero() && btc.interest.isZero()).toBe(true);
    expect(btc.free.toString()).toBe(want.sub('0.05').sub(btc.interestAccrued).toString());
    expect(h.strategy.status()[0]).toMatchObject({ position: { a: '0', b: '0' }, netDelta: '0', state: 'flat' });
    h.strategy.stop();
  });
});
