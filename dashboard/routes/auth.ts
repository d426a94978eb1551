/**
 * Sign-in with the viewer token (read-only) or the admin token (with the controls), and sign-out. The session cookie is httpOnly (scripts cannot read it)
 * and SameSite=Strict (other sites cannot make the browser send it), Secure over HTTPS.
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { RateLimitedError } from '../../core/errors';
import type { DashboardDeps } from '../deps';
import { readForm, safeReturnTo } from '../http-helpers';
import { Keyring } from '../../core/http/auth';
import { SESSION_COOKIE, csrfMatches, type Session } from '../session';
import { ForbiddenError } from '../../core/errors';

/** Failed sign-ins allowed per client address per minute before it has to wait. */
const MAX_FAILURES_PER_MINUTE = 10;

export function authRoutes(d: DashboardDeps): Router {
  const r = new Router();
  const keyring = new Keyring(d.config.tokens);
  // Guessing the token by brute force: count failures per address in a one-minute window.
  const failures = new Map<string, { count: number; windowStart: number }>();

  const checkRate = (ctx: Context) => {
    const now = d.now();
    const f = failures.get(ctx.ip);
    if (f && now - f.windowStart < 60_000 && f.count >= MAX_FAILURES_PER_MINUTE) {
      throw new RateLimitedError(Math.ceil((f.windowStart + 60_000 - now) / 1000));
    }
  };
  const recordFailure = (ctx: Context) => {
    const now = d.now();
    const f = failures.get(ctx.ip);
    if (!f || now - f.windowStart >= 60_000) failures.set(ctx.ip, { count: 1, windowStart: now });
    else f.count++;
    if (failures.size > 10_000) failures.clear(); // bounded memory under a flood of addresses
  };

  r.get('/signin', (ctx) => {
    d.render(ctx, 'signin', {
      title: 'Sign in',
      nav: 'signin',
      live: false,
      next: safeReturnTo(ctx.query.next),
      error: '',
    });
  });

  r.post('/signin', async (ctx) => {
    checkRate(ctx);
    const form = await readForm(ctx);
    const next = safeReturnTo(form.next);
    const role = keyring.roleOf(form.token ?? '');
    if (role !== 'admin' && role !== 'viewer') {
      recordFailure(ctx);
      d.logger.warn({ client: ctx.ip }, 'dashboard sign-in with a wrong token');
      d.render(
        ctx,
        'signin',
        {
          title: 'Sign in',
          nav: 'signin',
          live: false,
          next,
          error: 'That is neither the viewer token nor the admin token.',
        },
        401,
      );
      return;
    }
    // A fresh session on every sign-in; an old one on this browser is dropped.
    d.sessions.destroy(ctx.cookies.get(SESSION_COOKIE));
    const session = d.sessions.create(role);
    setSessionCookie(ctx, session, d.config.sessionTtlMs);
    ctx.state.session = session;
    session.flash = { kind: 'ok', text: 'Signed in.' };
    d.logger.info({ client: ctx.ip, role }, `dashboard sign-in (${role})`);
    ctx.redirect(next);
    ctx.status = 303;
  });

  r.post('/signout', async (ctx) => {
    const form = await readForm(ctx);
    const session = ctx.state.session as Session | null;
    if (session) {
      if (!csrfMatches(session, form._csrf ?? ctx.get('x-csrf-token')))
        throw new ForbiddenError('the CSRF token is missing or wrong; reload the page');
      d.sessions.destroy(session.id);
    }
    ctx.cookies.set(SESSION_COOKIE, '', {
      httpOnly: true,
      sameSite: 'strict',
      secure: ctx.secure,
      path: '/',
      maxAge: 0,
      overwrite: true,
    });
    ctx.redirect('/');
    ctx.status = 303;
  });

  return r;
}

function setSessionCookie(ctx: Context, session: Session, ttlMs: number): void {
  ctx.cookies.set(SESSION_COOKIE, session.id, {
    httpOnly: true,
    sameSite: 'strict',
    secure: ctx.secure,
    path: '/',
    maxAge: ttlMs,
    overwrite: true,
  });
}
