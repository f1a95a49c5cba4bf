export * from './money';
export * from './types';
export * from './errors';
export * from './venue.port';
export * from './clock';
