export * from './config';
export * from './backoff';
export * from './logging';
export * from './exposure';
export * from './grpc-client-tls';
