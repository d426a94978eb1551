/**
 * Eta set-up and the one function every page goes through, so each page gets the same layout data
 * (who is signed in, CSRF token, flash message, refresh period) and nothing is rendered unescaped
 * except the JSON data block, which is escaped for a script element here.
 */
import path from 'node:path';
import { Eta } from 'eta';
import type { Context } from 'koa';
import type { Flash, Session } from './session';

export const VIEWS_DIR = path.join(__dirname, 'views');

export interface LayoutData {
  title: string;
  /** Which nav entry is current: overview, bots, jobs, datalake, signin. */
  nav: string;
  signedIn: boolean;
  csrfToken: string;
  flash: Flash | null;
  refreshMs: number;
  adminTokenIsDefault: boolean;
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

export function createRenderer(opts: { refreshMs: number; adminTokenIsDefault: boolean; cache?: boolean }) {
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
      signedIn: session !== null,
      csrfToken: session?.csrfToken ?? '',
      flash,
      refreshMs: opts.refreshMs,
      adminTokenIsDefault: opts.adminTokenIsDefault,
      here: ctx.originalUrl,
      json: jsonForScript,
    };
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = eta.render(view, { ...data, ...layout });
  };
}
export type Render = ReturnType<typeof createRenderer>;
