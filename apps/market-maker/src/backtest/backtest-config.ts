import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '@mm/platform';
import type { GridEngineSettings } from '@mm/trading';
import { type MmConfig, mmConfigSchema } from '../mm.config';
import { engineSettingsFromConfig } from '../engine/engine.factory';

/**
 * The market maker's config for a backtest: the same YAML format and zod schema as the app
 * (`config/market-maker.yaml`), mapped onto engine settings by the app's own `engineSettingsFromConfig`.
 * Differences from the live app: environment variables are NOT applied (a backtest depends only on
 * its files and flags; `${VAR:-default}` in the YAML takes its default), and an unknown key is an
 * error (`config error: grid.price_intervall: unknown key`), so a typo never silently runs defaults.
 */

function unwrap(t: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (t instanceof z.ZodDefault) t = t._def.innerType;
    else if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t._def.innerType;
    else if (t instanceof z.ZodEffects) t = t._def.schema;
    else return t;
  }
}

/**
 * Throws ConfigError for the first key of `raw` the schema does not define (depth-first, in file order).
 * @throws ConfigError `<dotted.key>: unknown key`
 */
export function assertKnownKeys(schema: z.ZodTypeAny, raw: unknown, prefix = ''): void {
  const t = unwrap(schema);
  if (!(t instanceof z.ZodObject) || raw === null || typeof raw !== 'object' || Array.isArray(raw)) return;
  const shape = t.shape as Record<string, z.ZodTypeAny>;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (!(k in shape)) throw new ConfigError(key, 'unknown key');
    assertKnownKeys(shape[k], v, key);
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

/** The effective config of a backtest and the engine settings it maps to. */
export interface BacktestConfig {
  config: MmConfig;
  settings: GridEngineSettings;
  /** The config echoed into the report: the trading-relevant sections only (no addresses, paths or tokens). */
  echo: Record<string, unknown>;
}

/**
 * Loads the market maker's YAML (or only defaults when `file` is undefined), applies `overrides`
 * (dotted keys, e.g. from the optimizer's `--param grid.price_interval=…`), validates with the app's
 * schema and maps to engine settings.
 * @throws ConfigError naming the file (missing, invalid YAML) or the bad key (unknown, invalid value).
 */
export function loadBacktestConfig(file: string | undefined, overrides: Record<string, string> = {}): BacktestConfig {
  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    if (!fs.existsSync(file)) throw new ConfigError(file, 'file not found');
    let parsed: unknown;
    try {
      parsed = parseYaml(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(file, `invalid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new ConfigError(file, 'top level must be a mapping');
    raw = (parsed as Record<string, unknown>) ?? {};
  }
  assertKnownKeys(mmConfigSchema, raw);
  for (const [k, v] of Object.entries(overrides)) {
    const probe: Record<string, unknown> = {};
    setPath(probe, k, v);
    assertKnownKeys(mmConfigSchema, probe);
  }
  const tmp = structuredClone(raw);
  for (const [k, v] of Object.entries(overrides)) setPath(tmp, k, v);
  const expanded = expandDefaults(tmp);
  const result = mmConfigSchema.safeParse(expanded);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(issue.path.join('.') || '(root)', issue.message);
  }
  const cfg = result.data;
  return { config: cfg, settings: engineSettingsFromConfig(cfg), echo: { instance_id: cfg.instance_id, grid: cfg.grid, risk: cfg.risk, executor: cfg.executor, engine: cfg.engine } };
}

/** `${VAR}` → '' and `${VAR:-default}` → default (no environment in a backtest). */
function expandDefaults(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, _n: string, def?: string) => def ?? '');
  if (Array.isArray(v)) return v.map(expandDefaults);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandDefaults(x)]));
  return v;
}
