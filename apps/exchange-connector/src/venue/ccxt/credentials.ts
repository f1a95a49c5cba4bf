import * as fs from 'node:fs';

/** API credentials of one venue account. Never logged, never sent to clients. */
export interface Credentials {
  apiKey: string;
  apiSecret: string;
  /** OKX and Bitget call it passphrase; ccxt calls it `password`. */
  passphrase?: string;
}

/** Where credentials come from: a value (env `API_KEY`…) or a file (`API_KEY_FILE`…) per field; a file wins. */
export interface CredentialSources {
  apiKey?: string;
  apiSecret?: string;
  passphrase?: string;
  apiKeyFile?: string;
  apiSecretFile?: string;
  passphraseFile?: string;
}

function readField(value: string | undefined, file: string | undefined, name: string): string | undefined {
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').trim() || undefined;
    } catch (e) {
      throw new Error(`cannot read ${name} file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return value?.trim() || undefined;
}

/**
 * Reads credentials from values or files (files re-read on every call).
 * @throws Error naming the missing field (never its value) when key or secret is absent, or
 *   when `needsPassphrase` and no passphrase is given, or a file cannot be read.
 */
export function readCredentials(src: CredentialSources, venue: string, needsPassphrase: boolean): Credentials {
  const apiKey = readField(src.apiKey, src.apiKeyFile, 'API_KEY');
  const apiSecret = readField(src.apiSecret, src.apiSecretFile, 'API_SECRET');
  const passphrase = readField(src.passphrase, src.passphraseFile, 'PASSPHRASE');
  if (!apiKey) throw new Error(`${venue}: API_KEY (or API_KEY_FILE) is required`);
  if (!apiSecret) throw new Error(`${venue}: API_SECRET (or API_SECRET_FILE) is required`);
  if (needsPassphrase && !passphrase) throw new Error(`${venue}: PASSPHRASE (or PASSPHRASE_FILE) is required`);
  return { apiKey, apiSecret, passphrase };
}

/**
 * Keeps credentials current without a restart: re-reads the files when they change (polled with
 * `fs.watchFile`, which survives atomic replace by rename as Kubernetes secret mounts do) and on
 * SIGHUP, then calls `apply`. A failed re-read keeps the old credentials and reports `onError`.
 * @returns a stop function.
 */
export function watchCredentials(
  src: CredentialSources,
  venue: string,
  needsPassphrase: boolean,
  apply: (c: Credentials) => void,
  onError: (msg: string) => void,
  onReload: (why: string) => void,
  intervalMs = 1000,
): () => void {
  const reload = (why: string) => {
    try {
      apply(readCredentials(src, venue, needsPassphrase));
      onReload(why);
    } catch (e) {
      onError((e as Error).message);
    }
  };
  const files = [src.apiKeyFile, src.apiSecretFile, src.passphraseFile].filter((f): f is string => !!f);
  const listeners = files.map((f) => {
    const l = (cur: fs.Stats, prev: fs.Stats) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) reload(`file ${f} changed`);
    };
    fs.watchFile(f, { interval: intervalMs, persistent: false }, l);
    return [f, l] as const;
  });
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    for (const [f, l] of listeners) fs.unwatchFile(f, l);
    process.off('SIGHUP', onHup);
  };
}
