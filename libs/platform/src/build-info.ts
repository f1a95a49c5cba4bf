import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/**
 * Version of the running build: `version` of the nearest package.json above this file (the repo
 * root in development, `/app` in the image), `APP_VERSION` overriding it; "unknown" when neither exists.
 */
export function appVersion(): string {
  if (process.env.APP_VERSION) return process.env.APP_VERSION;
  if (cached) return cached;
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      try {
        cached = String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown');
        return cached;
      } catch {
        break;
      }
    }
    dir = path.dirname(dir);
  }
  cached = 'unknown';
  return cached;
}
