import { Controller, Get, Header } from '@nestjs/common';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { appVersion } from '@mm/platform';
import { ConnectorFeedService } from './connector-feed.service';
import { LiveGateway } from './live.gateway';

/**
 * `GET /metrics` of the live server (Prometheus text): WebSocket clients, connector feed state,
 * build info, process defaults. Own registry (values read at scrape time), so several apps in one
 * process (tests) do not collide. A new metric goes here and into README "Metrics".
 */
@Controller()
export class LiveMetricsController {
  private readonly registry = new Registry();

  constructor(feed: ConnectorFeedService, gateway: LiveGateway) {
    const registers = [this.registry];
    new Gauge({
      name: 'live_server_ws_clients',
      help: 'WebSocket clients connected to /ws',
      registers,
      collect() {
        this.set(gateway.clientCount);
      },
    });
    new Gauge({
      name: 'live_server_connector_connected',
      help: '1 while the feed from the exchange connector is connected',
      registers,
      collect() {
        this.set(feed.connected ? 1 : 0);
      },
    });
    new Gauge({ name: 'live_server_build_info', help: 'Build information; value is always 1', labelNames: ['version', 'node_version'], registers }).set(
      { version: appVersion(), node_version: process.version },
      1,
    );
    collectDefaultMetrics({ register: this.registry, prefix: 'live_server_' });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
