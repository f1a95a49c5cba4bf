import { ConfigError } from './config';
import { readSecret } from './exposure';

/**
 * `NAME_FILE` support for secrets (Docker/Kubernetes secrets mounted as files): for each of `names`,
 * when `NAME_FILE` is set the file's content (surrounding whitespace trimmed) becomes `NAME`.
 * Returns a new env object; `env` is not modified. The file is read once, at start, with {@link readSecret}
 * (the one secret-file reader; tokens use it through their `*_file` config keys instead).
 * @throws ConfigError naming `NAME_FILE` when the file cannot be read or is empty, or `NAME` when both are set.
 */
export function withFileSecrets(env: NodeJS.ProcessEnv, names: readonly string[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of names) {
    const file = env[`${name}_FILE`]?.trim();
    if (!file) continue;
    if (env[name]) throw new ConfigError(name, `set either ${name} or ${name}_FILE, not both`);
    const value = readSecret(undefined, file, `${name}_FILE`);
    if (!value) throw new ConfigError(`${name}_FILE`, `${file} is empty`);
    out[name] = value;
  }
  return out;
}
