export * from './config';
export * from './backoff';
export * from './logging';
export * from './build-info';
export * from './file-secrets';
export * from './exposure';
export * from './grpc-client-tls';
