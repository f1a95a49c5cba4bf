export * from './grid-math';
export * from './client-order-id';
export * from './slot';
export * from './planner';
