import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** A configuration problem; `key` is the dotted path of the offending setting. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`config error: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Maps an environment variable onto a dotted config key (`grid.price_interval`). */
export type EnvBinding = readonly [envVar: string, key: string];

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

/** Replaces `${VAR}` and `${VAR:-default}` in YAML string values from the environment. */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, name: string, def?: string) => env[name] ?? def ?? '');
  }
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env)]));
  }
  return value;
}

/**
 * Loads configuration: YAML file (optional; `${VAR}` expanded) → environment overrides → zod schema
 * (which supplies defaults and coerces types).
 *
 * @param schema zod object schema; use `z.coerce` for numbers/booleans that may come from env.
 * @param opts.file path of the YAML file; a missing file is an error only when `required`.
 * @param opts.env environment bindings applied over the file (env wins).
 * @throws ConfigError naming the first bad key (`grid.price_interval: Number must be greater than 0`).
 */
export function loadConfig<S extends z.ZodTypeAny>(
  schema: S,
  opts: { file?: string; required?: boolean; env?: readonly EnvBinding[]; source?: NodeJS.ProcessEnv } = {},
): z.infer<S> {
  const env = opts.source ?? process.env;
  let raw: Record<string, unknown> = {};
  if (opts.file) {
    if (fs.existsSync(opts.file)) {
      let parsed: unknown;
      try {
        parsed = parseYaml(fs.readFileSync(opts.file, 'utf8'));
      } catch (e) {
        throw new ConfigError(opts.file, `invalid YAML: ${(e as Error).message}`);
      }
      if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
        throw new ConfigError(opts.file, 'top level must be a mapping');
      }
      raw = (expandEnv(parsed ?? {}, env) as Record<string, unknown>) ?? {};
    } else if (opts.required) {
      throw new ConfigError(opts.file, 'file not found');
    }
  }
  for (const [name, key] of opts.env ?? []) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, key, v);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue.path.join('.') || '(root)';
    const binding = (opts.env ?? []).find(([, k]) => k === key);
    const hint = binding && env[binding[0]] !== undefined ? ` (from env ${binding[0]})` : '';
    throw new ConfigError(key, `${issue.message}${hint}`);
  }
  return result.data;
}

/** zod helper: a decimal string (for money settings) that must parse and satisfy `check`. */
export function decimalString(check?: { gt?: number; gte?: number }) {
  return z
    .union([z.string(), z.number()])
    .transform((v) => String(v).trim())
    .refine((v) => /^[-+]?(\d+\.?\d*|\.\d+)$/.test(v), { message: 'must be a decimal number' })
    .refine((v) => (check?.gt === undefined ? true : Number(v) > check.gt), {
      message: `must be > ${check?.gt}`,
    })
    .refine((v) => (check?.gte === undefined ? true : Number(v) >= check.gte), {
      message: `must be >= ${check?.gte}`,
    });
}

/** zod helper for booleans that may come from env text ("true"/"false"/"1"/"0"). */
export const boolish = z
  .union([z.boolean(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'boolean') return v;
    const t = v.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(t)) return true;
    if (['false', '0', 'no', 'off', ''].includes(t)) return false;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be true or false' });
    return z.NEVER;
  });
