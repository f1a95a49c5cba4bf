/**
 * The conformance suite against any running connector, configured by environment:
 *
 *   CONFORMANCE_ADDRESS=host:port            (required; the suite is skipped without it)
 *   CONFORMANCE_TRADER_TOKEN=…               trader token, if the connector has access control
 *   CONFORMANCE_MONITOR_TOKEN=…              monitor token: enables the role checks
 *   CONFORMANCE_SYMBOL=BTCUSDT               instrument (default BTCUSDT)
 *   CONFORMANCE_CAN_FILL=1                   the suite may open and close a small position
 *   CONFORMANCE_TLS_CA=ca.pem                TLS (PEM file); with CONFORMANCE_TLS_CERT/KEY also mutual TLS
 *   CONFORMANCE_TLS_SERVER_NAME=…            expected certificate name when it differs from the host
 *
 * See test/conformance/README.md.
 */
import { runConformanceSuite } from './suite';

const env = process.env;
if (!env.CONFORMANCE_ADDRESS) {
  describe('ExchangeService conformance (external connector)', () => {
    it.skip('skipped: set CONFORMANCE_ADDRESS=host:port (and CONFORMANCE_TRADER_TOKEN, …) to run the suite against a connector', () => undefined);
  });
} else {
  runConformanceSuite({
    name: `external connector ${env.CONFORMANCE_ADDRESS}`,
    address: env.CONFORMANCE_ADDRESS,
    traderToken: env.CONFORMANCE_TRADER_TOKEN || undefined,
    monitorToken: env.CONFORMANCE_MONITOR_TOKEN || undefined,
    symbol: env.CONFORMANCE_SYMBOL || 'BTCUSDT',
    canFill: ['1', 'true', 'yes'].includes((env.CONFORMANCE_CAN_FILL ?? '').toLowerCase()),
    tls: env.CONFORMANCE_TLS_CA
      ? { ca: env.CONFORMANCE_TLS_CA, cert: env.CONFORMANCE_TLS_CERT, key: env.CONFORMANCE_TLS_KEY, serverName: env.CONFORMANCE_TLS_SERVER_NAME }
      : undefined,
  });
}
