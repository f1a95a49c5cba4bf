import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Protobuf package of the OpenSQT exchange contract. */
export const EXCHANGE_PACKAGE = 'opensqt.market_maker.v1';
export const EXCHANGE_SERVICE = 'ExchangeService';
/** Fully qualified service name, as on the wire and in grpc.health.v1 checks. */
export const EXCHANGE_SERVICE_FQN = `${EXCHANGE_PACKAGE}.${EXCHANGE_SERVICE}`;

/**
 * proto-loader options shared by server and clients. They match the generated TS types:
 * camelCase fields, int64 as decimal strings, enums as names, defaults filled in.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * Directory holding `opensqt/…` and `google/type/…` protos: `$PROTO_DIR`, else the nearest
 * `proto/` folder above this file (works from sources and from `dist/`).
 * @throws Error when none is found.
 */
export function protoDir(): string {
  if (process.env.PROTO_DIR) return path.resolve(process.env.PROTO_DIR);
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'proto', 'opensqt', 'market_maker', 'v1', 'exchange.proto');
    if (fs.existsSync(candidate)) return path.join(dir, 'proto');
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('proto directory not found: set PROTO_DIR');
    dir = parent;
  }
}

/** Absolute path of exchange.proto (the entry file that imports the others). */
export function exchangeProtoPath(): string {
  return path.join(protoDir(), 'opensqt', 'market_maker', 'v1', 'exchange.proto');
}

let cachedDefinition: protoLoader.PackageDefinition | undefined;

/** The loaded package definition (cached; loading parses the .proto files). */
export function exchangePackageDefinition(): protoLoader.PackageDefinition {
  cachedDefinition ??= protoLoader.loadSync(exchangeProtoPath(), {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [protoDir()],
  });
  return cachedDefinition;
}

/** The ExchangeService client constructor for raw @grpc/grpc-js use. */
export function exchangeClientConstructor(): grpc.ServiceClientConstructor {
  const pkg = grpc.loadPackageDefinition(exchangePackageDefinition()) as unknown as {
    opensqt: { market_maker: { v1: { ExchangeService: grpc.ServiceClientConstructor } } };
  };
  return pkg.opensqt.market_maker.v1.ExchangeService;
}

/** The ExchangeService definition for `grpc.Server#addService`. */
export function exchangeServiceDefinition(): grpc.ServiceDefinition {
  return exchangeClientConstructor().service;
}
