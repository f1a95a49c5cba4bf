/**
 * Issue 10 acceptance 3 — crash safety of the funding arbitrage, end to end: a perp sim connector
 * (BTCUSDT for the grid, ETHUSDT for the arbitrage's perp leg, a crafted hourly funding file), a spot
 * sim connector (ETHUSDT, the spot leg, margin borrowing with hourly interest), and the market maker running the grid and the arbitrage in
 * one process. The market maker is SIGKILLed 30 times — between the first and second leg (fault
 * point `arb_between_legs`: first leg journaled, hedge not sent), right after the venue answered the
 * first leg (`arb_after_first_send`: outcome not journaled) and at random instants — and restarted
 * each time on the same SQLite file. At the end, read from the venues (gRPC) and the journal:
 * no unhedged position beyond one perp step, no client order id placed twice on either venue, every
 * workflow complete or compensated. A shorter run does the same with the journal on PostgreSQL.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import Decimal from 'decimal.js';
import { BTC_CSV, type AppProcess, freePort, httpJson, startApp, stopApp, waitFor } from '@mm/testing';
import { fundingArb } from '@mm/trading';
import { TestExchangeClient } from '../support/exchange-client';

jest.setTimeout(300_000);
const ETH_CSV = BTC_CSV.replace('BTCUSDT', 'ETHUSDT');
const H = 3_600_000;
const SPEED = '3600';
const TOLERANCE = new Decimal('0.001'); // one perp step size of ETHUSDT
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connector(logDir: string, tag: string, env: Record<string, string>) {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const proc = startApp('exchange-connector', { PORT: String(grpcPort), GRPC_HOST: '127.0.0.1', METRICS_PORT: String(httpPort), RATE_LIMIT_RPS: '2000', RATE_LIMIT_BURST: '4000', ...env }, logDir, tag);
  const client = new TestExchangeClient(`127.0.0.1:${grpcPort}`);
  await waitFor(tag, () => client.call('GetName').then((r) => r.name === 'sim'), 30000, 200);
  return { proc, client, address: `127.0.0.1:${grpcPort}`, status: () => httpJson<any>(`http://127.0.0.1:${httpPort}/status`).then((r) => r.body) };
}

/**
 * The arbitrage runs on the wall clock (funding times, the lead before funding) while the sim replays
 * at SPEED × real time: the replayed klines are shifted to start 30 days after now (hour-aligned), so
 * every funding time of the replay lies ahead of the wall clock, as on a live venue.
 */
function shifted(dir: string, src: string, symbol: string, rows: number): { file: string; start: number } {
  const lines = fs.readFileSync(src, 'utf8').split('\n');
  const first = Number(lines[1].split(',')[0]);
  const start = Math.ceil((Date.now() + 30 * 24 * H) / H) * H;
  const out = [lines[0]];
  for (const l of lines.slice(1, rows + 1)) {
    if (!l) continue;
    const i = l.indexOf(',');
    out.push(`${Number(l.slice(0, i)) - first + start}${l.slice(i)}`);
  }
  const file = path.join(dir, `${symbol}-shifted.csv`);
  fs.writeFileSync(file, out.join('\n') + '\n');
  return { file, start };
}

/**
 * Hourly funding from the first data hour, in blocks of three: two hours at +5 bp (long spot + short
 * perp: enter, hold), one at 0.00001 bp (exit), two at −5 bp (short spot on margin + long perp), one
 * at 0.00001 bp (exit): both directions, entries and exits every few wall seconds.
 */
function fundingFile(dir: string, start: number): string {
  const rows = ['funding_time_ms,funding_rate'];
  for (let k = 1; k < 400; k++) rows.push(`${start + k * H},${k % 3 === 0 ? '0.0000001' : k % 6 < 3 ? '0.0005' : '-0.0005'}`);
  const file = path.join(dir, 'ETHUSDT-funding.csv');
  fs.writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

function config(dir: string, spotAddress: string, entryApr: string): string {
  const file = path.join(dir, `mm-${entryApr}.yaml`);
  fs.writeFileSync(
    file,
    `grid:
  symbol: BTCUSDT
venues:
  spot:
    address: ${spotAddress}
funding_arb:
  enabled: true
  decision_interval_ms: 250
  funding_poll_ms: 250
  retry_delay_ms: 300
  max_entry_attempts_per_funding: 3
  thresholds:
    entry_apr: "${entryApr}"
    exit_apr: "0.1"
    min_lead_before_funding_ms: 0
    expected_hold_ms: 86400000
    max_leg_price_spread: "0.03"
    max_funding_age_ms: 5000
  pairs:
    - symbol: ETHUSDT
      order_qty: "0.05"
      legs:
        a: { venue: spot, kind: spot, maker_fee: "0.001", taker_fee: "0.001", borrow_rate_hourly: "0.0000042", can_short: true, default_funding_interval_ms: 3600000 }
        b: { venue: exchange, kind: perp, default_funding_interval_ms: 3600000 }
`,
  );
  return file;
}

const PG_ADMIN = process.env.DATABASE_URL_TEST ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * `lives` market-maker lives killed; the journal on the SQLite file, or on PostgreSQL (`pg`: a fresh
 * database of its own). Each fault point must fire at least `minFaults` times.
 */
const cases: [string, { lives: number; minFaults: number; pg: boolean }][] = [
  ['30 SIGKILLs, journal on SQLite', { lives: 30, minFaults: 5, pg: false }],
  ['9 SIGKILLs, journal on PostgreSQL', { lives: 9, minFaults: 2, pg: true }],
];

describe.each(cases)('funding arbitrage survives %s (between the legs and at random instants)', (_name, { lives, minFaults, pg }) => {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-arbcrash-'));
  const pgDb = `arb_crash_${process.pid}`;
  const pgUrl = PG_ADMIN.replace(/\/[^/]*$/, `/${pgDb}`);
  beforeAll(async () => {
    if (!pg) return;
    const admin = await new DataSource({ type: 'postgres', url: PG_ADMIN }).initialize();
    await admin.query(`DROP DATABASE IF EXISTS ${pgDb}`);
    await admin.query(`CREATE DATABASE ${pgDb}`);
    await admin.destroy();
  });
  const procs: AppProcess[] = [];
  const clients: TestExchangeClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => stopApp(p)));
    if (pg) {
      const admin = await new DataSource({ type: 'postgres', url: PG_ADMIN }).initialize();
      await admin.query(`DROP DATABASE IF EXISTS ${pgDb}`);
      await admin.destroy();
    }
  });

  it('no unhedged position, no client order id twice, every workflow complete or compensated', async () => {
    const common = { SIM_SPEED: SPEED, SIM_TICK_MS: '10000', SIM_BALANCE: '100000' };
    const btc = shifted(logDir, BTC_CSV, 'BTCUSDT', 12000);
    const eth = shifted(logDir, ETH_CSV, 'ETHUSDT', 12000);
    const [perp, spot] = await Promise.all([
      connector(logDir, 'perp', { ...common, SIM_DATA: `BTCUSDT=${btc.file},ETHUSDT=${eth.file}`, SIM_FUNDING: `ETHUSDT=${fundingFile(logDir, eth.start)}` }),
      connector(logDir, 'spot', { ...common, SIM_MARKET: 'spot', SIM_DATA: `ETHUSDT=${eth.file}`, SIM_SPOT_AUTO_BORROW: 'true', SIM_SPOT_INTEREST: 'ETH=0.0000042' }),
    ]);
    procs.push(perp.proc, spot.proc);
    clients.push(perp.client, spot.client);
    const mmPort = await freePort();
    const sqlite = path.join(logDir, 'mm.sqlite');
    const mmEnv = (entryApr: string) => ({ CONFIG_FILE: config(logDir, spot.address, entryApr), MM_PORT: String(mmPort), MM_HOST: '127.0.0.1', EXCHANGE_GRPC_ADDRESS: perp.address, SQLITE_PATH: sqlite, ...(pg ? { DATABASE_URL: pgUrl } : {}) });
    const arbStatus = () => httpJson<any>(`http://127.0.0.1:${mmPort}/status`).then((r) => r.body.fundingArb).catch(() => undefined);

    const kills = { arb_between_legs: 0, arb_after_first_send: 0, external: 0 };
    let rng = 20261129;
    const rand = () => (rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < lives; i++) {
      // a fixed pattern (fault, fault, random instant); in the last ten lives a fault point that has
      // fired fewer than 5 times takes the random instant's turn (a life can end before a first leg)
      const short = i >= lives - 10 && i % 3 === 2 ? (kills.arb_between_legs < minFaults ? 'arb_between_legs' : kills.arb_after_first_send < minFaults ? 'arb_after_first_send' : '') : '';
      const point = i % 3 === 0 ? 'arb_between_legs' : i % 3 === 1 ? 'arb_after_first_send' : short;
      const mm = startApp('market-maker', point ? { ...mmEnv('0.5'), MM_CRASH_POINT: point, MM_CRASH_PROBABILITY: '1' } : mmEnv('0.5'), logDir, `mm-${i}`);
      procs.push(mm);
      // A fault life ends when its fault point fires: the first entry comes within seconds on an idle
      // host; a loaded CI host (the suite runs two workers) gets up to 25 s before the life counts as external.
      const died = await Promise.race([mm.exited.then(() => true), sleep(point ? 25_000 : 1000 + rand() * 2000).then(() => false)]);
      if (died && point && mm.output().includes(`fault injection: SIGKILL at ${point}`)) kills[point as 'arb_between_legs' | 'arb_after_first_send']++;
      else {
        if (died) throw new Error(`market maker ${i} exited on its own:\n${mm.output().slice(-3000)}`);
        mm.child.kill('SIGKILL');
        kills.external++;
      }
      await mm.exited;
    }
    expect(kills.arb_between_legs + kills.arb_after_first_send + kills.external).toBe(lives);
    expect(kills.arb_between_legs).toBeGreaterThanOrEqual(minFaults);
    expect(kills.arb_after_first_send).toBeGreaterThanOrEqual(minFaults);

    // Last life, no faults and no new entries (entry APR out of reach): it resumes or compensates what
    // the kills left unfinished; then it is stopped and the venues and the journal are read.
    const mm = startApp('market-maker', mmEnv('1000'), logDir, 'mm-final');
    procs.push(mm);
    await waitFor(
      'every workflow finished',
      async () => {
        const s = await arbStatus();
        return s?.state === 'running' && s.pairs[0].inFlight === null && !s.workflows.in_progress && s.pairs[0].lastDecision !== undefined;
      },
      60000,
      300,
    );
    const last = await arbStatus();
    // /status shows each leg (venue, kind, position) and each workflow's state and steps
    expect(last.pairs[0].legs.a).toMatchObject({ venue: 'spot', kind: 'spot', symbol: 'ETHUSDT' });
    expect(last.pairs[0].legs.b).toMatchObject({ venue: 'exchange', kind: 'perp', symbol: 'ETHUSDT' });
    expect(last.pairs[0].delta).toBe(new Decimal(last.pairs[0].legs.a.position).plus(last.pairs[0].legs.b.position).toString());
    const shown = last.pairs[0].recentWorkflows.at(-1);
    expect(shown.state).toMatch(/^(hedged|exited|compensated|aborted)$/);
    expect(shown.steps.length).toBeGreaterThanOrEqual(2);
    expect(shown.steps[0].clientOrderId).toBe(`${shown.id}-${shown.steps[0].step}`);
    // metrics: the arbitrage gauges per symbol (quote and base units)
    // (the gauges are refreshed every decision interval, so wait for a refresh after the last workflow)
    let metrics = '';
    const gauge = (name: string) => Number(new RegExp(`^${name}\\{symbol="ETHUSDT"[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    await waitFor(
      'gauges refreshed after the last workflow',
      async () => {
        metrics = await (await fetch(`http://127.0.0.1:${mmPort}/metrics`)).text();
        return gauge('market_maker_arb_workflow_in_flight') === 0 && Math.abs(gauge('market_maker_arb_leg_delta')) <= TOLERANCE.toNumber();
      },
      15_000,
      300,
    );
    expect(gauge('market_maker_arb_fees')).toBeGreaterThan(0);
    expect(Math.abs(gauge('market_maker_arb_leg_delta'))).toBeLessThanOrEqual(TOLERANCE.toNumber());
    expect(metrics).toMatch(/^market_maker_arb_leg_position\{symbol="ETHUSDT",leg="a"\} /m);
    expect(metrics).toMatch(/^market_maker_arb_funding_received\{symbol="ETHUSDT"\} /m);
    expect(metrics).toMatch(/^market_maker_arb_borrow_interest\{symbol="ETHUSDT"\} /m);
    // net = funding − interest − fees + basis, as the gauges show it
    const net = gauge('market_maker_arb_funding_received') - gauge('market_maker_arb_borrow_interest') - gauge('market_maker_arb_fees') + gauge('market_maker_arb_basis_pnl');
    expect(Math.abs(gauge('market_maker_arb_net_pnl') - net)).toBeLessThan(1e-6);
    expect(metrics).toMatch(/^market_maker_arb_apr_ratio\{symbol="ETHUSDT",kind="realized"\} /m);
    await stopApp(mm);

    // the journal: every workflow finished, none failed (an unwind that could not complete)
    let rows: { entry: string }[];
    if (pg) {
      const ds = await new DataSource({ type: 'postgres', url: pgUrl }).initialize();
      rows = await ds.query('SELECT entry FROM arb_journal ORDER BY seq');
      await ds.destroy();
      expect(fs.existsSync(sqlite)).toBe(false); // the journal really is on PostgreSQL
    } else {
      const db = new Database(sqlite, { readonly: true });
      rows = db.prepare('SELECT entry FROM arb_journal ORDER BY seq').all() as { entry: string }[];
      db.close();
    }
    const wfs = [...fundingArb.foldJournal(rows.map((r) => JSON.parse(r.entry))).values()];
    const results: Record<string, number> = {};
    for (const w of wfs) results[w.finished?.result ?? 'unfinished'] = (results[w.finished?.result ?? 'unfinished'] ?? 0) + 1;
    process.stdout.write(`arb crash e2e: kills ${JSON.stringify(kills)}; workflows ${JSON.stringify(results)}\n`);
    expect(results.unfinished).toBeUndefined();
    expect(results.failed).toBeUndefined();
    const least = lives >= 30 ? { hedged: 8, exited: 4, perDirection: 2 } : { hedged: 2, exited: 1, perDirection: 1 };
    expect(results.hedged).toBeGreaterThanOrEqual(least.hedged);
    expect(results.exited).toBeGreaterThanOrEqual(least.exited);
    expect(last.workflows).toEqual(results);

    // both directions were taken: short perp (long spot) and short spot on margin (long perp)
    expect(wfs.filter((w) => w.kind === 'entry' && w.finished?.result === 'hedged' && w.short === 'b').length).toBeGreaterThanOrEqual(least.perDirection);
    expect(wfs.filter((w) => w.kind === 'entry' && w.finished?.result === 'hedged' && w.short === 'a').length).toBeGreaterThanOrEqual(least.perDirection);

    // the venues: perp ETH position (gRPC GetPositions); spot ETH holding (gRPC GetBalance: free +
    // locked) and its margin debt (the spot sim's HTTP status: the gRPC balance carries no debt);
    // spot net = held − borrowed − interest. Net delta (perp + spot net) within one step of zero;
    // the journal's legs reconcile with the venues (the spot leg within the exits' rounding dust).
    const perpEth = new Decimal((await perp.client.call('GetPositions', { symbol: 'ETHUSDT' })).positions.find((p: any) => p.symbol === 'ETHUSDT')?.size?.value ?? '0');
    const spotHeld = new Decimal((await spot.client.call('GetBalance', { asset: 'ETH' })).balance?.value ?? '0');
    const spotStatus = (await spot.status()).sim;
    const ethBal = spotStatus.balances.ETH ?? { free: '0', locked: '0', borrowed: '0', interest: '0', interestAccrued: '0', net: '0' };
    expect(spotHeld.toString()).toBe(new Decimal(ethBal.free).plus(ethBal.locked).toString());
    expect(perpEth.plus(ethBal.net).abs().lte(TOLERANCE)).toBe(true);
    const legs = fundingArb.positionsFromJournal(wfs).get('ETHUSDT')!;
    // the spot connector serves the margin position over gRPC: net size, principal and interest owed (ETH)
    const spotPos = (await spot.client.call('GetPositions', { symbol: 'ETHUSDT' })).positions.find((p: any) => p.symbol === 'ETHUSDT');
    expect([spotPos?.size?.value ?? '0', spotPos?.borrowed?.value ?? '0', spotPos?.borrowInterest?.value ?? '0'].map((x: string) => new Decimal(x).toString())).toEqual(
      [ethBal.net, ethBal.borrowed, ethBal.interest].map((x) => new Decimal(x).toString()),
    );
    // an exit of a margin short buys principal + interest owed rounded up to the spot step: no debt
    // stays once the journal's spot leg is not short
    if (!legs.a.isNegative()) expect([ethBal.borrowed, ethBal.interest].map((x) => new Decimal(x).toString())).toEqual(['0', '0']);
    // the journal's spot leg is the principal view: venue net + interest owed, less the free base an
    // exit's step rounding left (< one spot step; the next short entry sells it first and borrows less)
    const spotStep = new Decimal((await spot.client.call('GetSymbolInfo', { symbol: 'ETHUSDT' })).stepSize.value);
    const dust = new Decimal(ethBal.net).plus(ethBal.interest).minus(legs.a.toString());
    expect(dust.gte(0) && dust.lt(spotStep)).toBe(true);
    expect(legs.b.toString()).toBe(perpEth.toString());

    // venue-side: no client order id placed twice on either venue
    expect((await perp.status()).sim.duplicateClientOrderIds).toBe(0);
    expect(spotStatus.duplicateClientOrderIds).toBe(0);
  });
});
