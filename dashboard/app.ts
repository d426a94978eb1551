/**
 * The dashboard's Koa app factory (no listen): security headers, assets, sessions, pages, JSON for
 * the live parts, and the controls. main.ts and the tests both build it with createDashboardApp.
 */
import Koa, { type Context, type Next } from 'koa';
import { AppError, ForbiddenError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { DashboardConfig } from './config';
import { createControllerClient } from './controller-client';
import type { DashboardDeps } from './deps';
import { securityHeaders, wantsJson } from './http-helpers';
import { createRenderer } from './render';
import { actionRoutes } from './routes/actions';
import { apiRoutes } from './routes/api';
import { authRoutes } from './routes/auth';
import { pageRoutes } from './routes/pages';
import { createServerClient } from './server-client';
import { SESSION_COOKIE, SessionStore } from './session';
import { staticAssets } from './static-assets';
import { UpstreamHttpError, UpstreamUnreachableError } from './upstream';

export interface DashboardApp {
  app: Koa;
  deps: DashboardDeps;
}

export function createDashboardApp(
  config: DashboardConfig,
  logger: Logger,
  opts: { now?: () => number } = {},
): DashboardApp {
  const now = opts.now ?? Date.now;
  const upstream = { adminToken: config.adminToken, timeoutMs: config.upstreamTimeoutMs };
  const deps: DashboardDeps = {
    config,
    logger,
    now,
    server: createServerClient({ ...upstream, baseUrl: config.serverUrl }),
    controller: createControllerClient({ ...upstream, baseUrl: config.controllerUrl }),
    sessions: new SessionStore({ ttlMs: config.sessionTtlMs, now }),
    render: createRenderer({ refreshMs: config.refreshMs, adminTokenIsDefault: config.adminTokenIsDefault }),
  };

  const app = new Koa();
  app.use(async (ctx: Context, next: Next) => {
    // Debug level: the live parts poll every few seconds, which would drown an info log.
    const started = performance.now();
    await next();
    logger.debug(
      { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) },
      'request',
    );
  });
  app.use(errorPages(deps));
  app.use(securityHeaders);
  app.use(staticAssets());
  app.use(async (ctx: Context, next: Next) => {
    ctx.state.session = deps.sessions.get(ctx.cookies.get(SESSION_COOKIE));
    await next();
  });
  app.use(sameOriginPosts);
  app.use(async (ctx: Context, next: Next) => {
    if (ctx.path !== '/healthz') return next();
    ctx.body = { status: 'ok' };
  });
  for (const router of [pageRoutes(deps), apiRoutes(deps), authRoutes(deps), actionRoutes(deps)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use(async (ctx: Context) => {
    // Nothing matched: the same 404 look for pages and JSON.
    throw new AppError(404, 'not_found', `there is no page at ${ctx.path}`);
  });
  return { app, deps };
}

/**
 * A browser sends Origin on every POST. One from another site is refused even before the CSRF
 * check: defence in depth next to SameSite=Strict and the token.
 */
async function sameOriginPosts(ctx: Context, next: Next): Promise<void> {
  if (ctx.method === 'POST') {
    // Koa 3's ctx.origin is the request's Origin header, not this site: compare with our own.
    const origin = ctx.get('origin');
    if (origin && origin !== `${ctx.protocol}://${ctx.host}`) {
      throw new ForbiddenError('requests from another site are not accepted');
    }
  }
  await next();
}

const HEADINGS: Record<number, string> = {
  400: 'That request is not valid',
  401: 'Sign in first',
  403: 'Not allowed',
  404: 'Not found',
  413: 'Too large',
  415: 'Unsupported body',
  429: 'Too many attempts',
  502: 'An upstream service is unreachable',
};

/** Maps every error to one status and message, rendered as a page in the site's look or as JSON. */
function errorPages(d: DashboardDeps) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      let status = 500;
      let code = 'internal';
      let message = 'Something went wrong on our side; it has been logged.';
      if (err instanceof AppError) {
        ({ status, code, message } = err);
        for (const [k, v] of Object.entries(err.headers ?? {})) ctx.set(k, v);
      } else if (err instanceof UpstreamHttpError) {
        // The server's 404 (unknown job or bot) and 400 are the user's; other failures are upstream's.
        status = err.status === 404 || err.status === 400 ? err.status : 502;
        code = err.code;
        message = err.status === 404 ? err.message : `The ${err.upstream} said: ${err.message}`;
      } else if (err instanceof UpstreamUnreachableError) {
        status = 502;
        code = 'upstream_unreachable';
        message = `The ${err.upstream} is unreachable; this page will work again when it is back.`;
      } else {
        d.logger.error({ err, path: ctx.path }, 'dashboard request failed');
      }
      ctx.status = status;
      if (wantsJson(ctx)) {
        ctx.body = { error: { code, message } };
        return;
      }
      d.render(
        ctx,
        'error',
        {
          title: HEADINGS[status] ?? 'Error',
          live: false,
          status,
          heading: HEADINGS[status] ?? 'Something went wrong',
          message,
        },
        status,
      );
    }
  };
}
