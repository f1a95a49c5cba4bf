export * as pb from './wire';
export * from './codec';
export * from './proto';
export * from './errors';
