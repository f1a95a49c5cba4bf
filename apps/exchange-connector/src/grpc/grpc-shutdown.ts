import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { Server } from '@grpc/grpc-js';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';

/**
 * Ends the gRPC server on shutdown within `grpc.shutdownGraceMs`: `tryShutdown` (no new calls,
 * running ones may finish), then `forceShutdown` (cancels open streams and calls) when the grace
 * period is over. Without it a streaming client keeps the connector alive until it leaves.
 */
@Injectable()
export class GrpcShutdown implements BeforeApplicationShutdown {
  private readonly log = new Logger('GrpcShutdown');
  /** Set by main.ts once the server exists (ServerGrpc's onLoadPackageDefinition). */
  server?: Server;

  constructor(@Inject(CONNECTOR_CONFIG) private readonly config: ConnectorConfig) {}

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const graceMs = this.config.grpc.shutdownGraceMs;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn(`gRPC calls still open ${graceMs} ms after shutdown began: ending them`);
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
