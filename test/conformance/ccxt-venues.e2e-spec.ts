/**
 * The conformance suite (./suite) against the connector on each ccxt venue, each backed by a local
 * fake venue (test/support/fake-venue) that speaks that venue's REST + WebSocket dialect, so ccxt's
 * real request building, signing and parsing run. Venues run one after another (2-core CI).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stopApp } from '@mm/testing';
import { type CcxtConnector, type CcxtVenueName, DIALECTS, startCcxtConnector } from '../support/fake-venue';
import { type ConformanceOptions, runConformanceSuite } from './suite';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-ccxt-conformance-'));

const VENUES: CcxtVenueName[] = ['binance', 'bitget', 'gate', 'okx', 'bybit'];

for (const venue of VENUES) {
  (DIALECTS[venue] ? describe : describe.skip)(`ccxt venue ${venue} on a fake venue`, () => {
    const trader = `trd${randomBytes(12).toString('hex')}`;
    const monitor = `mon${randomBytes(12).toString('hex')}`;
    let c: CcxtConnector | undefined;
    const opts: ConformanceOptions = { name: `${venue} (ccxt, fake venue)`, address: '', traderToken: trader, monitorToken: monitor, symbol: 'BTCUSDT', canFill: true, restingOffset: 0.05 };

    beforeAll(async () => {
      c = await startCcxtConnector(venue, logDir, { CONNECTOR_TOKENS: `trader:conformance:${trader},monitor:watcher:${monitor}` });
      opts.address = c.address;
    });
    afterAll(async () => {
      await stopApp(c?.conn);
      await c?.fake.close();
    });

    runConformanceSuite(opts);

    if (venue === 'bybit')
      it('bybit: the fake issued UUID order ids (the connector mapped them to int64)', () => {
        const ids = [...c!.fake.engine.orders.keys()];
        expect(ids.length).toBeGreaterThan(3);
        for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      });

    it('never logs the API secret', async () => {
      await stopApp(c?.conn);
      expect(c!.conn.output()).not.toContain('fake-api-secret-do-not-log');
      expect(c!.conn.output()).not.toContain('fake-passphrase');
    });
  });
}

/** Venues whose fake speaks their spot dialect too (MARKET_TYPE=spot). */
const SPOT_VENUES: CcxtVenueName[] = ['binance', 'bitget', 'gate', 'okx', 'bybit'];

for (const venue of SPOT_VENUES) {
  describe(`ccxt venue ${venue} (spot) on a fake venue`, () => {
    const trader = `trd${randomBytes(12).toString('hex')}`;
    let c: CcxtConnector | undefined;
    const opts: ConformanceOptions = { name: `${venue} spot (ccxt, fake venue)`, address: '', traderToken: trader, symbol: 'BTCUSDT', canFill: true, restingOffset: 0.05, spot: true };

    beforeAll(async () => {
      c = await startCcxtConnector(venue, logDir, { MARKET_TYPE: 'spot', CONNECTOR_TOKENS: `trader:conformance:${trader}` });
      opts.address = c.address;
    });
    afterAll(async () => {
      await stopApp(c?.conn);
      await c?.fake.close();
    });

    runConformanceSuite(opts);

    it('spot fills moved the base and quote balances on the venue', () => {
      const e = c!.fake.engine;
      expect(e.spot).toBe(true);
      expect(e.positions.size).toBe(0);
      expect(e.trades.length).toBeGreaterThanOrEqual(2);
      expect(e.spotBalance('USDT').lt(10000)).toBe(true); // fees paid in quote
    });
  });
}
