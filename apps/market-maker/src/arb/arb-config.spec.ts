import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dec } from '@mm/domain';
import { loadMmConfig } from '../mm.config';
import { pairsFromConfig, settingsFromConfig } from './arb-runner';

/** `funding_arb` and `venues`: zod-validated, errors name the key; mapping onto the library's settings. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arbcfg-'));
const load = (yaml: string, env: Record<string, string> = {}) => {
  const file = path.join(dir, `mm-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, yaml);
  return loadMmConfig({ CONFIG_FILE: file, ...env });
};

const GOOD = `
venues:
  spot:
    address: 127.0.0.1:50052
funding_arb:
  enabled: true
  decision_interval_ms: 500
  thresholds:
    entry_apr: "0.2"
    exit_apr: "0.05"
    max_funding_age_ms: 60000
  pairs:
    - symbol: ETHUSDT
      order_qty: "0.05"
      legs:
        a: { venue: spot, kind: spot, maker_fee: "0.001", taker_fee: "0.001", borrow_rate_hourly: "0.000004", can_short: true }
        b: { kind: perp }
`;

describe('funding_arb config', () => {
  it('loads a spot + perp pair on two connectors and maps it onto the strategy settings', () => {
    const c = load(GOOD);
    expect(c.venues.spot.address).toBe('127.0.0.1:50052');
    const venues = { exchange: { name: 'perp' }, spot: { name: 'spot' } } as never as Record<string, never>;
    const pairs = pairsFromConfig(c.funding_arb, (n) => venues[n]);
    expect(pairs[0].legs.a).toMatchObject({ venue: { name: 'spot' }, symbol: 'ETHUSDT', kind: 'spot', canShort: true, execution: { type: 'MARKET' } });
    expect(pairs[0].legs.a.borrowRateHourly).toEqual(dec('0.000004'));
    expect(pairs[0].legs.b).toMatchObject({ venue: { name: 'perp' }, kind: 'perp', canShort: true, defaultFundingIntervalMs: 8 * 3_600_000 });
    const s = settingsFromConfig(c.funding_arb, pairs);
    expect(s.thresholds.entryApr).toEqual(dec('0.2'));
    expect(s.thresholds.maxFundingAgeMs).toBe(60_000);
    expect(s.decisionIntervalMs).toBe(500);
    // position management is on by default; the pair's rebalance tolerance defaults to 10 % of order_qty
    expect(s.risk).toMatchObject({ emergencyLiquidationDistance: dec('0.1'), emergencyMarginRatio: dec('0.8'), pollMs: 5_000 });
    expect(pairs[0].deltaTolerance).toEqual(dec('0.005'));
    const off = load(GOOD.replace('  pairs:', '  risk: { enabled: false }\n  pairs:').replace('order_qty: "0.05"', 'order_qty: "0.05"\n      delta_tolerance: "0.01"'));
    expect(settingsFromConfig(off.funding_arb, pairsFromConfig(off.funding_arb, (n) => venues[n])).risk).toBeUndefined();
    expect(pairsFromConfig(off.funding_arb, (n) => venues[n])[0].deltaTolerance).toEqual(dec('0.01'));
  });

  it('the spot address comes from MM_SPOT_GRPC_ADDRESS and the switch from MM_FUNDING_ARB', () => {
    const c = load(GOOD.replace('enabled: true', 'enabled: false'), { MM_SPOT_GRPC_ADDRESS: '127.0.0.1:6000', MM_FUNDING_ARB: 'true' });
    expect(c.venues.spot.address).toBe('127.0.0.1:6000');
    expect(c.funding_arb.enabled).toBe(true);
  });

  it.each([
    [GOOD.replace('venue: spot', 'venue: spott'), /funding_arb\.pairs\.0\.legs\.a\.venue: unknown venue "spott" \(known: exchange, spot/],
    [GOOD.replace('max_funding_age_ms: 60000', 'max_funding_age_ms: 0'), /funding_arb\.thresholds\.max_funding_age_ms: .*greater than or equal to 1/],
    [GOOD.replace('exit_apr: "0.05"', 'exit_apr: "0.5"'), /funding_arb\.thresholds\.exit_apr: must be ≤ entry_apr 0\.2/],
    [GOOD.replace('order_qty: "0.05"', 'order_qty: "-1"'), /funding_arb\.pairs\.0\.order_qty: must be > 0/],
    [GOOD.replace('kind: perp', 'kind: perpetual'), /funding_arb\.pairs\.0\.legs\.b\.kind/],
    [GOOD.replace('kind: perp }', 'kind: spot }').replace('can_short: true', 'can_short: false'), /funding_arb\.pairs\.0\.legs: no leg may be short/],
    [GOOD.replace('symbol: ETHUSDT', 'symbol: BTCUSDT'), /funding_arb\.pairs\.0\.symbol: BTCUSDT is also a grid symbol/],
    [GOOD.replace('order_qty: "0.05"', 'order_qty: "0.05"\n      qty: 1'), /funding_arb\.pairs(\.0)?\.qty: unknown key/],
    [GOOD.replace('address: 127.0.0.1:50052', 'adress: 127.0.0.1:50052'), /venues\.spot.*adress|Unrecognized key.*adress/],
    [GOOD.replace('  pairs:', '  risk: { emergency_liquidation_distance: "0.2" }\n  pairs:'), /funding_arb\.risk\.stop_opening_liquidation_distance: must be ≥ emergency_liquidation_distance 0\.2/],
    [GOOD.replace('  pairs:', '  risk: { max_adverse_basis: "2" }\n  pairs:'), /funding_arb\.risk\.max_adverse_basis: must be ≤ 1/],
    [GOOD.replace('  pairs:', '  risk: { poll: 5 }\n  pairs:'), /funding_arb\.risk(\.poll)?: .*(unknown key|Unrecognized key).*poll|funding_arb\.risk\.poll: unknown key/],
  ])('a bad value is an error naming the key (%#)', (yaml, msg) => {
    expect(() => load(yaml)).toThrow(msg);
  });
});
