import { Controller, Get, Header, HttpCode, Logger, Res } from '@nestjs/common';
import type { Response } from 'express';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConnectorFeedService } from './connector-feed.service';
import { LiveGateway } from './live.gateway';

/** `GET /health` body. `time` is Unix seconds. */
export interface HealthBody {
  status: 'ok' | 'degraded';
  clients: number;
  time: number;
  connector: 'connected' | 'disconnected';
}

/**
 * Folder of the page (`index.html`, `app.js`): `$LIVE_PUBLIC_DIR`, else the nearest
 * `apps/live-server/public` above this file (works from sources and from `dist/`);
 * undefined when there is none (the page then answers 404, `/ws` and `/health` still work).
 */
export function publicDir(): string | undefined {
  if (process.env.LIVE_PUBLIC_DIR) return path.resolve(process.env.LIVE_PUBLIC_DIR);
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'apps', 'live-server', 'public');
    if (fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}

/** The lightweight-charts 4.1.3 standalone build from node_modules (served locally, no CDN). */
export function chartsScriptPath(): string {
  return path.join(path.dirname(require.resolve('lightweight-charts/package.json')), 'dist', 'lightweight-charts.standalone.production.js');
}

/** HTTP side: health and the static page. Read-only. */
@Controller()
export class LiveController {
  private readonly dir = publicDir();
  private readonly charts = chartsScriptPath();

  constructor(
    private readonly feed: ConnectorFeedService,
    private readonly gateway: LiveGateway,
  ) {
    if (!this.dir) new Logger(LiveController.name).error('page folder apps/live-server/public not found (set LIVE_PUBLIC_DIR): / answers 404');
  }

  /** 200 `{status:"ok"}` while the connector link is up, else 503 `{status:"degraded"}`. */
  @Get('health')
  @Header('Cache-Control', 'no-store')
  health(@Res({ passthrough: true }) res: Response): HealthBody {
    const up = this.feed.connected;
    res.status(up ? 200 : 503);
    return {
      status: up ? 'ok' : 'degraded',
      clients: this.gateway.clientCount,
      time: Math.floor(Date.now() / 1000),
      connector: up ? 'connected' : 'disconnected',
    };
  }

  @Get()
  index(@Res() res: Response): void {
    this.send(res, this.dir && path.join(this.dir, 'index.html'), 'text/html; charset=utf-8');
  }

  @Get('app.js')
  app(@Res() res: Response): void {
    this.send(res, this.dir && path.join(this.dir, 'app.js'), 'text/javascript; charset=utf-8');
  }

  @Get('vendor/lightweight-charts.js')
  chartsLib(@Res() res: Response): void {
    this.send(res, this.charts, 'text/javascript; charset=utf-8', 'public, max-age=86400');
  }

  @Get('favicon.ico')
  @HttpCode(204)
  favicon(): void {}

  private send(res: Response, file: string | undefined, type: string, cache = 'no-cache'): void {
    if (!file) {
      res.status(404).type('text/plain').send('live page not installed (apps/live-server/public missing)');
      return;
    }
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', cache);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.sendFile(file);
  }
}
