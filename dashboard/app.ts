/**
 * The dashboard's Koa app factory (no listen): security headers, assets, sessions (every page needs
 * one), pages, JSON for the live parts, and the controls (admin sessions only). main.ts and the tests both build it with createDashboardApp.
 */
import Koa, { type Context, type Next } from 'koa';
import { AppError, ForbiddenError, UnauthorizedError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { DashboardConfig } from './config';
import { createControllerClient } from './controller-client';
import type { DashboardDeps } from './deps';
import { safeReturnTo, securityHeaders, wantsJson } from './http-helpers';
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
  const upstream = {
    tokens: { viewer: config.tokens.viewer[0], admin: config.tokens.admin[0] },
    timeoutMs: config.upstreamTimeoutMs,
  };
  const deps: DashboardDeps = {
    config,
    logger,
    now,
    server: createServerClient({ ...upstream, baseUrl: config.serverUrl }),
    controller: createControllerClient({ ...upstream, baseUrl: config.controllerUrl }),
    sessions: new SessionStore({ ttlMs: config.sessionTtlMs, now }),
    render: createRenderer({ refreshMs: config.refreshMs, defaultTokens: config.tokenWarnings.length > 0 }),
  };

  const app = new Koa();
  // Behind one TLS proxy (TRUST_PROXY): protocol, host and client address from its X-Forwarded-* headers.
  app.proxy = config.trustProxy;
  app.maxIpsCount = 1;
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
    if (ctx.path !== '/healthz') return next();
    ctx.body = { status: 'ok' };
  });
  app.use(async (ctx: Context, next: Next) => {
    ctx.state.session = deps.sessions.get(ctx.cookies.get(SESSION_COOKIE));
    await next();
  });
  app.use(signInFirst);
  app.use(sameOriginPosts);
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

/** Where a stranger may go: the sign-in page itself, and signing out. */
const OPEN_PATHS = new Set(['/signin', '/signout']);

/**
 * Every page, JSON route and control needs a session. A browser is sent to sign in first, and back
 * afterwards (to the page it asked for, or for a form the page it was posted from); JSON gets 401.
 */
async function signInFirst(ctx: Context, next: Next): Promise<void> {
  if (ctx.state.session || OPEN_PATHS.has(ctx.path)) return next();
  if (wantsJson(ctx)) throw new UnauthorizedError('sign in to the dashboard first');
  const read = ctx.method === 'GET' || ctx.method === 'HEAD';
  const back = read ? ctx.originalUrl : samePageOf(ctx);
  ctx.redirect(`/signin?next=${encodeURIComponent(safeReturnTo(back))}`);
  if (!read) ctx.status = 303;
}

/** The path of the page a form was posted from (its Referer, when it is this site), else "/". */
function samePageOf(ctx: Context): string {
  try {
    const from = new URL(ctx.get('referer'));
    return from.origin === `${ctx.protocol}://${ctx.host}` ? `${from.pathname}${from.search}` : '/';
  } catch {
    return '/';
  }
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
