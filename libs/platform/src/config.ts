import * as fs from 'node:fs';
import { closest, distance } from 'fastest-levenshtein';
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

/** Strips wrappers (default, optional, nullable, effects, pipeline) down to the shape-bearing schema. */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let s: z.ZodTypeAny = schema;
  for (let i = 0; i < 20; i++) {
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s._def.schema;
    else if (s instanceof z.ZodPipeline) s = s._def.in;
    else if (s instanceof z.ZodCatch) s = s._def.innerType;
    else return s;
  }
  return s;
}

/** Every dotted key path a schema accepts (objects only; records and passthrough objects accept any key below). */
export function configKeys(schema: z.ZodTypeAny, prefix = ''): string[] {
  const s = unwrap(schema);
  if (!(s instanceof z.ZodObject)) return [];
  const out: string[] = [];
  for (const [k, child] of Object.entries(s.shape as Record<string, z.ZodTypeAny>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    out.push(key, ...configKeys(child, key));
  }
  return out;
}

/** "did you mean `x`?" for the valid name closest to `name` (Levenshtein), or '' when none is close. */
export function suggestion(name: string, valid: readonly string[]): string {
  if (valid.length === 0) return '';
  const best = closest(name, valid as string[]);
  // Compare the last segments too: `grid.price_intervall` vs `grid.price_interval`.
  const last = (x: string) => x.slice(x.lastIndexOf('.') + 1);
  const near = (a: string, b: string) => {
    const d = distance(a, b);
    return d <= Math.max(2, Math.floor(Math.max(a.length, b.length) / 3));
  };
  return near(name, best) || near(last(name), last(best)) ? ` (did you mean \`${best}\`?)` : '';
}

/**
 * Rejects keys the schema does not know, recursively (a typo like `price_intervall` would otherwise
 * be dropped silently and the default used).
 * @throws ConfigError naming the unknown key and the closest valid key.
 */
export function assertKnownKeys(schema: z.ZodTypeAny, raw: unknown, prefix = '', all: readonly string[] = configKeys(schema)): void {
  const s = unwrap(schema);
  if (raw === null || typeof raw !== 'object') return;
  if (Array.isArray(raw)) {
    if (s instanceof z.ZodArray) for (const item of raw) assertKnownKeys(s._def.type, item, prefix, all);
    return;
  }
  if (!(s instanceof z.ZodObject) || s._def.unknownKeys === 'passthrough') return;
  const shape = s.shape as Record<string, z.ZodTypeAny>;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (!(k in shape)) throw new ConfigError(key, `unknown key${suggestion(key, all)}`);
    assertKnownKeys(shape[k], v, key, all);
  }
}

/**
 * Rejects environment variables with one of `prefixes` (e.g. `MM_`) that the app does not read:
 * a typo like `MM_PROT=9000` would otherwise be ignored silently.
 * @param known every name the app reads: its env bindings plus its explicit extra list.
 * @throws ConfigError naming the variable and the closest known name.
 */
export function assertKnownEnv(env: NodeJS.ProcessEnv, prefixes: readonly string[], known: readonly string[]): void {
  const knownSet = new Set(known);
  for (const name of Object.keys(env).sort()) {
    if (!prefixes.some((p) => name.startsWith(p)) || knownSet.has(name)) continue;
    const candidates = known.filter((k) => prefixes.some((p) => k.startsWith(p)));
    throw new ConfigError(name, `unknown environment variable${suggestion(name, candidates)}; known ${prefixes.join('/')}* variables: ${candidates.join(', ')}`);
  }
}

/**
 * Loads configuration: YAML file (optional; `${VAR}` expanded) → environment overrides → zod schema
 * (which supplies defaults and coerces types).
 *
 * @param schema zod object schema; use `z.coerce` for numbers/booleans that may come from env.
 * @param opts.file path of the YAML file; a missing file is an error only when `required`.
 * @param opts.env environment bindings applied over the file (env wins).
 * @throws ConfigError naming the first bad key (`grid.price_interval: Number must be greater than 0`), an
 *   unknown YAML key or an unknown env variable with one of `strictEnvPrefixes`, with the closest valid name.
 */
export function loadConfig<S extends z.ZodTypeAny>(
  schema: S,
  opts: {
    file?: string;
    required?: boolean;
    env?: readonly EnvBinding[];
    source?: NodeJS.ProcessEnv;
    /** Env name prefixes this app owns (`MM_`); an unknown variable with one of them is an error. */
    strictEnvPrefixes?: readonly string[];
    /** Names with those prefixes the app reads outside its bindings (fault injection, paths, compose variables). */
    extraEnv?: readonly string[];
  } = {},
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
      assertKnownKeys(schema, raw);
    } else if (opts.required) {
      throw new ConfigError(opts.file, 'file not found');
    }
  }
  if (opts.strictEnvPrefixes?.length) {
    assertKnownEnv(env, opts.strictEnvPrefixes, [...(opts.env ?? []).map(([name]) => name), ...(opts.extraEnv ?? [])]);
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
