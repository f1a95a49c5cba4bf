/**
 * `npm start` with the funding arbitrage on a spot leg (issue 10): scripts/run-stack.js reads the
 * config, sees `funding_arb` with a leg on the venue `spot` and no address for it, starts a second
 * (spot) sim connector and hands its address to the market maker; grid (BTCUSDT) and arbitrage
 * (ETHUSDT: spot leg on the spot connector, perp leg on the main one) run in one market maker.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dec } from '@mm/domain';
import { BTC_CSV, freePort, httpJson, waitFor } from '@mm/testing';
import { stackEnv, startStack } from '../support/run-stack';

jest.setTimeout(180_000);
const ETH_CSV = BTC_CSV.replace('BTCUSDT', 'ETHUSDT');
const TOKEN = 'op-token-run-stack-spot-0123456789';

describe('npm start with a spot leg: a second sim connector', () => {
  it('starts the spot connector, and the market maker trades the grid and runs the arbitrage on both connectors', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-stack-spot-'));
    const config = path.join(dir, 'mm.yaml');
    fs.writeFileSync(
      config,
      `symbols:
  - symbol: BTCUSDT
funding_arb:
  enabled: true
  decision_interval_ms: 500
  funding_poll_ms: 500
  pairs:
    - symbol: ETHUSDT
      order_qty: "0.05"
      legs:
        a: { venue: spot, kind: spot, maker_fee: "0.001", taker_fee: "0.001" }
        b: { venue: exchange, kind: perp }
`,
    );
    const { env, mmPort } = await stackEnv(dir, { SIM_DATA: `BTCUSDT=${BTC_CSV},ETHUSDT=${ETH_CSV}`, SIM_MAX_CANDLES: '3000', SIM_SPEED: '120', SIM_LOCKSTEP: 'false' });
    env.CONFIG_FILE = config;
    env.OPERATOR_TOKEN = TOKEN;
    env.SPOT_PORT = String(await freePort());
    env.SPOT_METRICS_PORT = String(await freePort());
    const stack = startStack(env, mmPort);
    const status = () => httpJson<any>(`http://127.0.0.1:${mmPort}/status`).then((r) => r.body).catch(() => undefined);
    try {
      await waitFor(
        'grid running and both arbitrage legs priced',
        async () => {
          const s = await status();
          const p = s?.fundingArb?.pairs?.[0];
          return s?.symbols?.BTCUSDT?.status === 'running' && s.fundingArb.state === 'running' && !!p?.legs.a.lastPrice && !!p?.legs.b.lastPrice && p.lastDecision !== undefined;
        },
        90_000,
        500,
      );
      const s = await status();
      expect(Object.keys(s.symbols)).toEqual(['BTCUSDT']);
      expect(s.fundingArb.pairs[0].legs.a).toMatchObject({ venue: 'spot', kind: 'spot', symbol: 'ETHUSDT' });
      expect(s.fundingArb.pairs[0].legs.b).toMatchObject({ venue: 'exchange', kind: 'perp', symbol: 'ETHUSDT' });
      expect(stack.output()).toContain(`funding arbitrage: spot sim connector on 127.0.0.1:${env.SPOT_PORT} (SIM_MARKET=spot)`);
      // the spot connector is a spot market: its HTTP status is the spot sim's
      const spot = await httpJson<any>(`http://127.0.0.1:${env.SPOT_METRICS_PORT}/status`);
      expect(spot.body.marketType).toBe('spot');
      expect(spot.body.sim.balances.USDT).toBeDefined();

      // Operator exit of the arbitrage pair: token checked first, unknown pair 404, then exit pauses
      // the pair's entries (and closes its legs if any) until resume.
      const op = (p: string, token?: string) =>
        fetch(`http://127.0.0.1:${mmPort}/operator/${p}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ reason: 'e2e' }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      expect((await op('arb/ETHUSDT/exit')).status).toBe(401);
      expect((await op('arb/ETHUSDT/exit', 'wrong-token')).status).toBe(403);
      expect((await op('arb/BTCUSDT/exit', TOKEN)).status).toBe(404);
      const exit = await op('arb/ETHUSDT/exit', TOKEN);
      expect(exit.status).toBe(202);
      expect(exit.body.entriesBlocked).toContain('operator: e2e');
      await waitFor('pair flat after the operator exit', async () => {
        const p = (await status())?.fundingArb?.pairs?.[0];
        return p !== undefined && new Dec(p.legs.a.position).isZero() && new Dec(p.legs.b.position).isZero() && !p.inFlight;
      }, 60_000, 500);
      const resumed = await op('arb/ETHUSDT/resume', TOKEN);
      expect(resumed.status).toBe(200);
      expect(resumed.body.entriesBlocked ?? null).toBeNull();
    } catch (e) {
      process.stderr.write(stack.output().slice(-4000));
      throw e;
    } finally {
      expect(await stack.stop()).toBe(0);
    }
  });
});
