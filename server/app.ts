/**
 * The Koa app factory (no listen): middleware in one order, every route of docs/api.md.
 * main.ts composes it with a real store, clock and datalake; tests do the same on a free port.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { jsonBody } from '../core/http/json-body';
import { Keyring, useAuth } from '../core/http/auth';
import { errorMiddleware } from '../core/http/errors';
import { botRoutes } from './routes/bots';
import type { AppDeps } from './routes/deps';
import { jobControlRoutes } from './routes/job-control';
import { jobRoutes } from './routes/jobs';
import { scheduleRoutes } from './routes/schedules';
import { systemRoutes } from './routes/system';

export type { AppDeps } from './routes/deps';

export function createApp(d: AppDeps): Koa {
  const app = new Koa();
  // Behind one proxy (TRUST_PROXY): ctx.ip is the address that proxy put last in X-Forwarded-For.
  app.proxy = d.config.TRUST_PROXY;
  app.maxIpsCount = 1;
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

  useAuth(app, {
    keyring: new Keyring(d.config.tokens),
    log: d.log,
    failures: d.limits.authFailures,
    adminRequests: d.limits.admin,
  });
  const router = new Router();
  jobControlRoutes(router, d);
  jobRoutes(router, d);
  botRoutes(router, d);
  systemRoutes(router, d);
  scheduleRoutes(router, d);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
