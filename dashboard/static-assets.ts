/**
 * The few files the pages load, served from a fixed list (no paths from the URL reach the file
 * system). Alpine (its CSP build, which evaluates expressions without eval) is streamed from
 * node_modules so no copy can go stale and nothing comes from a CDN.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Context, Next } from 'koa';

const DASHBOARD_DIR = __dirname;
export const CSS_PATH = path.join(DASHBOARD_DIR, 'public', 'app.css');

interface Asset {
  file: string;
  type: string;
}

function assetTable(): Record<string, Asset> {
  const alpineDir = path.dirname(require.resolve('@alpinejs/csp/package.json'));
  return {
    '/assets/app.css': { file: CSS_PATH, type: 'text/css; charset=utf-8' },
    '/assets/alpine.js': { file: path.join(alpineDir, 'dist', 'cdn.min.js'), type: 'text/javascript; charset=utf-8' },
    '/assets/dashboard.js': {
      file: path.join(DASHBOARD_DIR, 'public', 'dashboard.js'),
      type: 'text/javascript; charset=utf-8',
    },
    '/favicon.svg': { file: path.join(DASHBOARD_DIR, 'public', 'favicon.svg'), type: 'image/svg+xml' },
  };
}

export function staticAssets() {
  const table = assetTable();
  return async function serveAsset(ctx: Context, next: Next): Promise<void> {
    const asset = table[ctx.path];
    if (!asset || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(asset.file);
    } catch {
      return next(); // e.g. app.css not built: a 404 page rather than a crash
    }
    const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
    ctx.set('ETag', etag);
    // Short cache with revalidation: assets change only on deploy, URLs carry no version.
    ctx.set('Cache-Control', 'public, max-age=300, must-revalidate');
    if (ctx.get('if-none-match') === etag) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    ctx.type = asset.type;
    if (ctx.method === 'GET') ctx.body = fs.createReadStream(asset.file);
    ctx.length = stat.size;
  };
}
