import { Dec, type ExchangeVenue, type OrderEvent, type PriceTick, type Scheduler, type StreamObserver, VenueError } from '@mm/domain';
import { LockstepAcker, ReplayClock, tapMarketEvents } from './lockstep';

/** A wall clock the test moves by hand (timers are not used by these tests). */
function fakeWall(start = 5_000_000): Scheduler & { t: number } {
  const w = {
    t: start,
    now: () => w.t,
    setTimeout: () => 0 as never,
    setInterval: () => 0 as never,
    clear: () => undefined,
  };
  return w;
}

describe('ReplayClock', () => {
  it('is the wall clock until activated', () => {
    const wall = fakeWall();
    const c = new ReplayClock(wall);
    expect(c.now()).toBe(5_000_000);
    wall.t += 10;
    expect(c.now()).toBe(5_000_010);
  });

  it('active: follows market events, runs on wall time while working, stands still while held, never goes back', () => {
    const wall = fakeWall();
    const c = new ReplayClock(wall);
    c.activate(1_000);
    wall.t += 500;
    expect(c.now()).toBe(1_000); // held from activation until the first event
    c.onMarketTime(2_000);
    expect(c.now()).toBe(2_000);
    wall.t += 30; // the engine works for 30 wall ms
    expect(c.now()).toBe(2_030);
    c.hold(); // acknowledged: the sim holds market time now
    wall.t += 60_000; // a lockstep pause / slow SIM_SPEED: no ageing
    expect(c.now()).toBe(2_030);
    c.onMarketTime(2_010); // an event older than our time: time does not go back
    expect(c.now()).toBe(2_030);
    c.onMarketTime(17_000);
    expect(c.now()).toBe(17_000);
  });
});

describe('tapMarketEvents', () => {
  it('calls onEvent with the market time after the engine observer took the event; other calls pass through', async () => {
    let priceObs: StreamObserver<PriceTick> | undefined;
    let orderObs: StreamObserver<OrderEvent> | undefined;
    const venue = {
      name: 'x',
      watchPrice: (_s: string, o: StreamObserver<PriceTick>) => ((priceObs = o), () => undefined),
      watchOrders: (o: StreamObserver<OrderEvent>) => ((orderObs = o), () => undefined),
      getLatestPrice: async () => new Dec(7),
    } as unknown as ExchangeVenue;
    const seq: string[] = [];
    const tapped = tapMarketEvents(venue, (ms) => seq.push(`tap ${ms}`));
    tapped.watchPrice('BTCUSDT', { next: (t) => seq.push(`engine ${t.timestampMs}`) });
    tapped.watchOrders({ next: () => seq.push('engine order') });
    priceObs!.next({ symbol: 'BTCUSDT', price: new Dec(1), timestampMs: 111 });
    orderObs!.next({ order: { updateTimeMs: 222 } as never, lastTrade: { timestampMs: 333 } as never });
    orderObs!.next({ order: { updateTimeMs: 444 } as never });
    expect(seq).toEqual(['engine 111', 'tap 111', 'engine order', 'tap 333', 'engine order', 'tap 444']);
    expect((await tapped.getLatestPrice('BTCUSDT')).toString()).toBe('7');
    expect(tapped.name).toBe('x');
  });
});

describe('tapMarketEvents with a barrier (lockstep)', () => {
  it('holds each price tick until the barrier answered: order events read meanwhile reach the engine first', async () => {
    let priceObs: StreamObserver<PriceTick> | undefined;
    let orderObs: StreamObserver<OrderEvent> | undefined;
    const venue = {
      watchPrice: (_s: string, o: StreamObserver<PriceTick>) => ((priceObs = o), () => undefined),
      watchOrders: (o: StreamObserver<OrderEvent>) => ((orderObs = o), () => undefined),
    } as unknown as ExchangeVenue;
    const seq: string[] = [];
    let answer: () => void = () => undefined;
    const tapped = tapMarketEvents(venue, (ms) => seq.push(`tap ${ms}`), { barrier: () => new Promise<void>((r) => (answer = r)) });
    tapped.watchPrice('BTCUSDT', { next: (t) => seq.push(`engine tick ${t.timestampMs}`) });
    tapped.watchOrders({ next: () => seq.push('engine fill') });
    priceObs!.next({ symbol: 'BTCUSDT', price: new Dec(1), timestampMs: 1000 });
    await new Promise((r) => setImmediate(r));
    expect(tapped.pendingTicks()).toBe(1);
    // the fill of the same instant, written before the price by the connector, read after it
    orderObs!.next({ order: { updateTimeMs: 1000 } as never });
    answer();
    await new Promise((r) => setTimeout(r, 5));
    expect(seq).toEqual(['engine fill', 'tap 1000', 'engine tick 1000', 'tap 1000']);
    expect(tapped.pendingTicks()).toBe(0);
  });
});

describe('LockstepAcker', () => {
  /** An engine whose idleness the test controls. */
  function engine() {
    let release: () => void = () => undefined;
    let busy: Promise<void> = Promise.resolve();
    return {
      whenIdle: () => busy,
      work() {
        busy = new Promise<void>((r) => (release = r));
      },
      done: () => release(),
    };
  }
  const tick = () => new Promise<void>((r) => setImmediate(r));

  it('acknowledges only after the engine is idle, the latest market time, one in flight, coalesced', async () => {
    const e = engine();
    const sent: number[] = [];
    let answer: () => void = () => undefined;
    const clock = new ReplayClock(fakeWall());
    clock.activate(1);
    const a = new LockstepAcker({ clock, whenIdle: () => e.whenIdle(), send: (ms) => (sent.push(ms), new Promise<void>((r) => (answer = r))) });
    e.work();
    a.onEvent(1000);
    await tick();
    await tick();
    expect(sent).toEqual([]); // engine busy: nothing acknowledged
    e.done();
    await tick();
    await tick();
    expect(sent).toEqual([1000]);
    // two more instants' events while the acknowledgement is in flight: one more acknowledgement, for the latest
    a.onEvent(2000);
    a.onEvent(3000);
    await tick();
    expect(sent).toEqual([1000]);
    answer();
    await tick();
    await tick();
    await tick();
    expect(sent).toEqual([1000, 3000]);
    answer();
    await tick();
    expect(a.ackedMs).toBe(3000);
    expect(a.sent).toBe(2);
  });

  it('does not acknowledge a time whose events arrived while it waited for the engine until those are processed too', async () => {
    const e = engine();
    const sent: number[] = [];
    const clock = new ReplayClock(fakeWall());
    clock.activate(1);
    const a = new LockstepAcker({ clock, whenIdle: () => e.whenIdle(), send: async (ms) => void sent.push(ms) });
    e.work();
    a.onEvent(1000);
    await tick();
    a.onEvent(2000); // e.g. an order event of the next instant... engine still busy
    e.done();
    e.work(); // ...which queued more work
    await tick();
    await tick();
    expect(sent).toEqual([]);
    e.done();
    for (let i = 0; i < 4; i++) await tick();
    expect(sent).toEqual([2000]);
  });

  it('sends nothing while a tick is held at the barrier (blocked)', async () => {
    const sent: number[] = [];
    let blocked = true;
    const clock = new ReplayClock(fakeWall());
    clock.activate(1);
    const a = new LockstepAcker({ clock, whenIdle: async () => undefined, blocked: () => blocked, send: async (ms) => void sent.push(ms) });
    a.onEvent(1000); // an order event of the instant whose tick waits at the barrier
    for (let i = 0; i < 4; i++) await tick();
    expect(sent).toEqual([]);
    blocked = false;
    a.onEvent(1000); // the tick is delivered
    for (let i = 0; i < 4; i++) await tick();
    expect(sent).toEqual([1000]);
  });

  it('retries a failed acknowledgement (the sim waits and sends nothing that would trigger one)', async () => {
    const sent: number[] = [];
    let fail = 1;
    const errors: string[] = [];
    const clock = new ReplayClock(fakeWall());
    clock.activate(1);
    const a = new LockstepAcker({
      clock,
      whenIdle: async () => undefined,
      retryMs: 5,
      onError: (err) => errors.push(err.message),
      send: async (ms) => {
        sent.push(ms);
        if (fail-- > 0) throw new VenueError('UNAVAILABLE', 'connector restarting');
      },
    });
    a.onEvent(1000);
    await new Promise((r) => setTimeout(r, 60));
    expect(sent).toEqual([1000, 1000]);
    expect(errors).toEqual(['connector restarting']);
    expect(a.ackedMs).toBe(1000);
    a.stop();
  });

  it('join acknowledges the venue time the engine started from and holds the clock there', async () => {
    const sent: number[] = [];
    const wall = fakeWall();
    const clock = new ReplayClock(wall);
    clock.activate(1_000);
    const a = new LockstepAcker({ clock, whenIdle: async () => undefined, send: async (ms) => void sent.push(ms) });
    await a.join(90_000);
    wall.t += 5000;
    expect(sent).toEqual([90_000]);
    expect(clock.now()).toBe(90_000);
    expect(a.ackedMs).toBe(90_000);
  });
});
