/**
 * Eta set-up and the one function every page goes through, so each page gets the same layout data
 * (who is signed in and with which role, CSRF token, flash message, refresh period) and nothing is rendered unescaped
 * except the JSON data block, which is escaped for a script element here.
 */
import path from 'node:path';
import { Eta } from 'eta';
import type { Context } from 'koa';
import type { Flash, Session, SessionRole } from './session';

const VIEWS_DIR = path.join(__dirname, 'views');

interface LayoutData {
  title: string;
  /** Which nav entry is current: overview, bots, jobs, schedules, datalake, signin. */
  nav: string;
  /** The signed-in session's role, or null on the sign-in page. */
  role: SessionRole | null;
  /** Whether to show the controls: an admin session. */
  canControl: boolean;
  csrfToken: string;
  flash: Flash | null;
  refreshMs: number;
  /** A published default token is in use: every page says so. */
  defaultTokens: boolean;
  /** This request's path and query, for "come back here" after a control or sign-in. */
  here: string;
  json: (value: unknown) => string;
}

/**
 * JSON for a <script type="application/json"> data block: "<" is escaped so "</script>" or "<!--"
 * inside a job payload cannot end the element early.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value ?? null)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function createRenderer(opts: { refreshMs: number; defaultTokens: boolean; cache?: boolean }) {
  const eta = new Eta({ views: VIEWS_DIR, cache: opts.cache ?? true, autoEscape: true });
  return function render(
    ctx: Context,
    view: string,
    data: Record<string, unknown> & { title: string; nav?: string },
    status = 200,
  ) {
    const session = (ctx.state.session as Session | null) ?? null;
    const flash = session?.flash ?? null;
    if (session) session.flash = null; // shown once
    const layout: LayoutData = {
      nav: '',
      ...data,
      role: session?.role ?? null,
      canControl: session?.role === 'admin',
      csrfToken: session?.csrfToken ?? '',
      flash,
      refreshMs: opts.refreshMs,
      defaultTokens: opts.defaultTokens,
      here: ctx.originalUrl,
      json: jsonForScript,
    };
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = eta.render(view, { ...data, ...layout });
  };
}
export type Render = ReturnType<typeof createRenderer>;
