/** The generated wire types of the OpenSQT contract, in one namespace (`pb.Order`, `pb.OrderSide`…). */
export * from './generated/opensqt/market_maker/v1/types';
export type * from './generated/opensqt/market_maker/v1/resources';
export type * from './generated/opensqt/market_maker/v1/events';
export type * from './generated/opensqt/market_maker/v1/exchange';
export type { Decimal as WireDecimal } from './generated/google/type/decimal';
export type { Timestamp } from './generated/google/protobuf/timestamp';
