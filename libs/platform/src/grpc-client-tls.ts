import * as fs from 'node:fs';
import { type ChannelCredentials, credentials } from '@grpc/grpc-js';
import { ConfigError } from './config';

/** PEM file paths of a gRPC client's TLS settings (env `CONNECTOR_TLS_CA_FILE`, `CONNECTOR_TLS_CERT_FILE`, `CONNECTOR_TLS_KEY_FILE`). */
export interface ClientTlsFiles {
  /** CA bundle the connector's server certificate must chain to; enables TLS. */
  ca?: string;
  /** Client certificate for mutual TLS (with `key`). */
  cert?: string;
  /** Private key of `cert`. */
  key?: string;
}

function read(path: string, key: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Channel credentials towards the exchange connector: plaintext when no file is set; TLS verified
 * against `ca`; mutual TLS when `cert` and `key` are also given.
 * @param keyPrefix config key prefix reported in errors (e.g. `exchange.tls`).
 * @throws ConfigError naming the key (unreadable file, cert without key, cert without ca).
 */
export function grpcClientCredentials(tls: ClientTlsFiles, keyPrefix: string): { credentials: ChannelCredentials; mode: 'plaintext' | 'tls' | 'mtls' } {
  if (!tls.ca && !tls.cert && !tls.key) return { credentials: credentials.createInsecure(), mode: 'plaintext' };
  if (!tls.ca) throw new ConfigError(`${keyPrefix}.ca`, 'is required for TLS (CA of the connector certificate)');
  if (!!tls.cert !== !!tls.key) throw new ConfigError(`${keyPrefix}.${tls.cert ? 'key' : 'cert'}`, 'client certificate and key go together');
  const ca = read(tls.ca, `${keyPrefix}.ca`);
  if (!tls.cert || !tls.key) return { credentials: credentials.createSsl(ca), mode: 'tls' };
  return { credentials: credentials.createSsl(ca, read(tls.key, `${keyPrefix}.key`), read(tls.cert, `${keyPrefix}.cert`)), mode: 'mtls' };
}
