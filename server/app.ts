/**
 * The Koa app factory (no listen): middleware in one order, every route of docs/api.md.
 * main.ts composes it with a real store, clock and datalake; tests do the same on a free port.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { jsonBody } from '../core/http/json-body';
import { requireAdmin } from '../core/http/admin-auth';
import { rateLimit } from './http/rate-limit';
import { errorMiddleware } from '../core/http/errors';
import { botRoutes } from './routes/bots';
import type { AppDeps } from './routes/deps';
import { jobRoutes } from './routes/jobs';
import { systemRoutes } from './routes/system';

export type { AppDeps } from './routes/deps';

export function createApp(d: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true; // errors are logged by errorMiddleware, once

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      d.metrics.httpDuration.observe({ method: ctx.method, route: String(route), status: String(ctx.status) }, seconds);
      if (d.log.isLevelEnabled('debug'))
        d.log.debug(
          { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(seconds * 1e4) / 10 },
          'request',
        );
    }
  });
  app.use(errorMiddleware(d.log));
  app.use(jsonBody(d.config.BODY_LIMIT_BYTES));

  const router = new Router();
  // Limited before the token check, so guessing tokens is slowed as well.
  const adminLimit = rateLimit(d.limits.admin);
  const checkToken = requireAdmin(d.config.ADMIN_TOKEN);
  const admin: Koa.Middleware = (ctx, next) => adminLimit(ctx, () => checkToken(ctx, next));
  jobRoutes(router, admin, d);
  botRoutes(router, admin, d);
  systemRoutes(router, admin, d);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
