import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { engineSettingsFromConfig } from './engine/engine.factory';
import { loadMmConfig } from './mm.config';

const REPO_CONFIG = path.resolve(__dirname, '../../../config/market-maker.yaml');

describe('market maker config is strict', () => {
  it('the shipped config/market-maker.yaml loads', () => {
    expect(loadMmConfig({ CONFIG_FILE: REPO_CONFIG }).grid.symbol).toMatch(/^[A-Z]+$/);
  });

  it('a typo in the shipped file names the key and the suggestion', () => {
    const text = fs.readFileSync(REPO_CONFIG, 'utf8');
    expect(text).toMatch(/^\s+price_interval:/m);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mmcfg-')), 'market-maker.yaml');
    fs.writeFileSync(file, text.replace(/^(\s+)price_interval:/m, '$1price_intervall:'));
    expect(() => loadMmConfig({ CONFIG_FILE: file })).toThrow('config error: grid.price_intervall: unknown key (did you mean `grid.price_interval`?)');
  });

  it('an unknown MM_ variable stops the load; every documented one is accepted', () => {
    expect(() => loadMmConfig({ CONFIG_FILE: REPO_CONFIG, MM_PROT: '1' })).toThrow(/MM_PROT: unknown environment variable \(did you mean `MM_PORT`\?\)/);
    const ok = { CONFIG_FILE: REPO_CONFIG, MM_PORT: '1', MM_HOST: 'x', MM_CRASH_POINT: 'none', MM_CRASH_PROBABILITY: '0', MM_SUMMARY_INTERVAL_MS: '0', MM_TOKEN: 't' };
    expect(loadMmConfig(ok).http.port).toBe(1);
  });

  it('risk condition recovery and crash-guard hysteresis keys: defaults, mapping into the engine settings, bad values named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmcfg-'));
    const write = (risk: string) => {
      const file = path.join(dir, `mm-${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(file, `${fs.readFileSync(REPO_CONFIG, 'utf8')}\nrisk:\n${risk}`);
      return file;
    };
    const def = engineSettingsFromConfig(loadMmConfig({ CONFIG_FILE: REPO_CONFIG }));
    expect(def.risk.breaker.conditionRecoveryMs).toBe(60_000);
    expect(def.risk.monitor).toMatchObject({ minTriggeredMs: 600_000, maxCandleGapMs: 300_000, clearVolumeMultiplier: undefined });
    expect(fs.readFileSync(REPO_CONFIG, 'utf8')).not.toMatch(/^risk:/m); // so the block below can be appended
    const custom = engineSettingsFromConfig(
      loadMmConfig({ CONFIG_FILE: write('  breaker:\n    condition_recovery_ms: 120000\n  monitor:\n    clear_volume_multiplier: "1.5"\n    min_triggered_ms: 0\n    max_candle_gap_ms: 120000\n') }),
    );
    expect(custom.risk.breaker.conditionRecoveryMs).toBe(120_000);
    expect(custom.risk.monitor!.clearVolumeMultiplier!.toString()).toBe('1.5');
    expect(custom.risk.monitor).toMatchObject({ minTriggeredMs: 0, maxCandleGapMs: 120_000 });
    expect(() => loadMmConfig({ CONFIG_FILE: write('  breaker:\n    condition_recovery_ms: -1\n') })).toThrow(/risk\.breaker\.condition_recovery_ms/);
  });

  it('margin breakers, stress test and %-of-equity exposure keys: defaults, mapping, bad values named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmcfg-'));
    const write = (risk: string) => {
      const file = path.join(dir, `mm-${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(file, `${fs.readFileSync(REPO_CONFIG, 'utf8')}\nrisk:\n${risk}`);
      return file;
    };
    const def = engineSettingsFromConfig(loadMmConfig({ CONFIG_FILE: REPO_CONFIG }));
    expect(def.stressCheck).toEqual({ move: expect.anything(), maintenanceRate: expect.anything() });
    expect([def.stressCheck!.move.toString(), def.stressCheck!.maintenanceRate.toString()]).toEqual(['0.25', '0.005']);
    const m = def.risk.margin!;
    expect([m.stopOpeningMarginRatio, m.reduceMarginRatio, m.stopOpeningLiquidationDistance, m.reduceLiquidationDistance, m.reduceFraction, m.exitSlippage].map(String)).toEqual(['0.5', '0.7', '0.15', '0.08', '0.25', '0.005']);
    expect([m.checkIntervalMs, m.recoveryMs]).toEqual([5000, 300_000]);
    expect(def.risk.exposurePctOfEquity).toBeUndefined();
    expect(def.risk.exposure.maxPositionNotional.toString()).toBe('5000');

    const custom = engineSettingsFromConfig(
      loadMmConfig({ CONFIG_FILE: write('  stress_move: 0\n  margin:\n    enabled: false\n  exposure:\n    max_position_notional: "300%"\n    max_total_notional: 800\n') }),
    );
    expect(custom.stressCheck).toBeNull();
    expect(custom.risk.margin).toBeNull();
    expect(custom.risk.exposure.maxPositionNotional.toString()).toBe('0');
    expect(custom.risk.exposurePctOfEquity!.maxPositionNotional!.toString()).toBe('300');
    expect(custom.risk.exposure.maxTotalNotional.toString()).toBe('800');
    const env = engineSettingsFromConfig(loadMmConfig({ CONFIG_FILE: REPO_CONFIG, MM_STRESS_MOVE: '0.3', MM_MARGIN_ENABLED: 'false', MM_MAX_POSITION_NOTIONAL: '150%' }));
    expect(env.stressCheck!.move.toString()).toBe('0.3');
    expect(env.risk.margin).toBeNull();
    expect(env.risk.exposurePctOfEquity!.maxPositionNotional!.toString()).toBe('150');

    expect(() => loadMmConfig({ CONFIG_FILE: write('  exposure:\n    max_total_notional: "lots"\n') })).toThrow(/risk\.exposure\.max_total_notional.*percentage of equity/);
    expect(() => loadMmConfig({ CONFIG_FILE: write('  stress_move: 1\n') })).toThrow(/risk\.stress_move/);
    expect(() => loadMmConfig({ CONFIG_FILE: write('  margin:\n    reduce_margin_ratio: 0.4\n') })).toThrow(/risk\.margin\.reduce_margin_ratio.*stop_opening_margin_ratio 0\.5/);
    expect(() => loadMmConfig({ CONFIG_FILE: write('  margin:\n    stop_opening_liquidation_distance: 0.05\n') })).toThrow(/risk\.margin\.reduce_liquidation_distance/);
    expect(() => loadMmConfig({ CONFIG_FILE: write('  margin:\n    check_intervall_ms: 5\n') })).toThrow(/risk\.margin\.check_intervall_ms: unknown key/);
  });

  it('account risk keys (risk.account.*): defaults, env bindings, bad and unknown keys named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmcfg-'));
    const write = (risk: string) => {
      const file = path.join(dir, `mm-${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(file, `${fs.readFileSync(REPO_CONFIG, 'utf8')}\nrisk:\n${risk}`);
      return file;
    };
    const def = loadMmConfig({ CONFIG_FILE: REPO_CONFIG }).risk.account;
    expect(def).toEqual({ max_drawdown: '0', max_stale_ms: 60_000 });
    expect(loadMmConfig({ CONFIG_FILE: write('  account:\n    max_drawdown: 0.2\n    max_stale_ms: 30000\n') }).risk.account).toEqual({ max_drawdown: '0.2', max_stale_ms: 30_000 });
    expect(loadMmConfig({ CONFIG_FILE: REPO_CONFIG, MM_ACCOUNT_MAX_DRAWDOWN: '0.15', MM_ACCOUNT_MAX_STALE_MS: '0' }).risk.account).toEqual({ max_drawdown: '0.15', max_stale_ms: 0 });
    expect(() => loadMmConfig({ CONFIG_FILE: write('  account:\n    max_drawdown: 1\n') })).toThrow(/risk\.account\.max_drawdown/);
    expect(() => loadMmConfig({ CONFIG_FILE: write('  account:\n    max_stale_ms: -1\n') })).toThrow(/risk\.account\.max_stale_ms/);
    expect(() => loadMmConfig({ CONFIG_FILE: write('  account:\n    max_drawdwn: 0.1\n') })).toThrow(/risk\.account\.max_drawdwn: unknown key/);
  });

  it('symbols: a list with grid overrides, auto, or MM_SYMBOLS; unknown or bad keys are named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmcfg-'));
    const load = (yaml: string, env: Record<string, string> = {}) => {
      const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(file, yaml);
      return loadMmConfig({ CONFIG_FILE: file, ...env });
    };
    const c = load('symbols:\n  - symbol: BTCUSDT\n  - symbol: ETHUSDT\n    price_interval: "4"\n');
    expect(c.symbols).toEqual([{ symbol: 'BTCUSDT' }, { symbol: 'ETHUSDT', price_interval: '4' }]);
    expect(load('symbols: auto\n').symbols).toBe('auto');
    expect(load('grid:\n  symbol: BTCUSDT\n').symbols).toBeUndefined();
    expect(load('', { MM_SYMBOLS: 'BTCUSDT, ETHUSDT' }).symbols).toEqual([{ symbol: 'BTCUSDT' }, { symbol: 'ETHUSDT' }]);
    expect(() => load('symbols:\n  - symbol: ETHUSDT\n    price_intervall: "4"\n')).toThrow(/symbols\.0: Unrecognized key\(s\) in object: 'price_intervall'/);
    expect(() => load('symbols:\n  - symbol: ETHUSDT\n    price_interval: "-4"\n')).toThrow(/symbols\.0\.price_interval: must be > 0/);
    expect(() => load('symbols:\n  - symbol: ethusdt\n')).toThrow(/symbols\.0\.symbol: must be an upper-case symbol/);
    expect(load('risk:\n  exposure:\n    max_total_open_order_notional: "700"\n').risk.exposure.max_total_open_order_notional).toBe('700');
  });
});
