/**
 * @mm/testing: helpers shared by test/ and bench/ (never imported by the apps' runtime code): a
 * scripted gRPC ExchangeService (`FakeConnector`) and child-process helpers for built apps.
 */
export * from './fake-connector';
export * from './processes';
export * from './engine';
