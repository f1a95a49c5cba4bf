import * as fs from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import { ConfigError } from '@mm/platform';
import type { ConnectorConfig } from '../connector.config';

function read(path: string, key: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * gRPC server credentials from `tls`: plaintext when no certificate is configured; TLS with
 * `tls.cert` + `tls.key` (PEM files); mutual TLS when `tls.ca` is also given (client certificates
 * must chain to that CA; `tls.requireClientCert: false` accepts clients without one).
 * @throws ConfigError naming the key (only one of cert/key, unreadable file, ca without cert).
 */
export function grpcServerCredentials(tls: ConnectorConfig['tls']): { credentials: ServerCredentials; mode: 'plaintext' | 'tls' | 'mtls' } {
  if (!tls.cert && !tls.key) {
    if (tls.ca) throw new ConfigError('tls.ca', 'needs tls.cert and tls.key');
    return { credentials: ServerCredentials.createInsecure(), mode: 'plaintext' };
  }
  if (!tls.cert) throw new ConfigError('tls.cert', 'is required with tls.key');
  if (!tls.key) throw new ConfigError('tls.key', 'is required with tls.cert');
  const pair = { cert_chain: read(tls.cert, 'tls.cert'), private_key: read(tls.key, 'tls.key') };
  const ca = tls.ca ? read(tls.ca, 'tls.ca') : null;
  const requireClient = ca !== null && tls.requireClientCert !== false;
  return { credentials: ServerCredentials.createSsl(ca, [pair], requireClient), mode: ca ? 'mtls' : 'tls' };
}
