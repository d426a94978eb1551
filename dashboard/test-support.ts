/**
 * For the dashboard's end-to-end tests: runs the real dashboard app on a free port (in-process) and
 * a tiny cookie-keeping HTTP client that signs in and posts forms the way a browser does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '../core/logger';
import { createDashboardApp, type DashboardApp } from './app';
import { loadDashboardConfig } from './config';
import { ensureStylesheet } from './stylesheet';

export interface RunningDashboard {
  url: string;
  /** The Koa app (its routers list every route). */
  app: DashboardApp['app'];
  deps: DashboardApp['deps'];
  close(): Promise<void>;
}

export async function startDashboard(
  env: Record<string, string>,
  logger: Logger = silentLogger(),
): Promise<RunningDashboard> {
  const config = loadDashboardConfig({ DASHBOARD_PORT: '0', DASHBOARD_HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  ensureStylesheet(silentLogger());
  const { app, deps } = createDashboardApp(config, logger);
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    deps,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A browser-like client: keeps the session cookie, never follows redirects (tests look at them). */
export class DashboardClient {
  cookie = '';
  csrf = '';

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const res = await fetch(this.base + path, { ...init, headers, redirect: 'manual' });
    const set = res.headers.get('set-cookie');
    if (set) {
      const pair = set.split(';')[0];
      this.cookie = pair.endsWith('=') ? '' : pair;
    }
    return res;
  }

  get(path: string, accept = 'text/html'): Promise<Response> {
    return this.request(path, { headers: { accept } });
  }

  /** Posts a form, adding this client's CSRF token unless the fields say otherwise. */
  post(
    path: string,
    fields: Record<string, string> = {},
    opts: { csrf?: string | null; headers?: Record<string, string> } = {},
  ) {
    const body = new URLSearchParams(fields);
    const csrf = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (csrf !== null && csrf !== '') body.set('_csrf', csrf);
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...opts.headers },
      body: body.toString(),
    });
  }

  /** Signs in with the token and reads the CSRF token from the page's meta tag. */
  async signIn(token: string): Promise<Response> {
    const res = await this.post('/signin', { token, next: '/' }, { csrf: null });
    if (res.status === 303) {
      const page = await (await this.get('/')).text();
      this.csrf = /<meta name="csrf-token" content="([^"]*)"/.exec(page)?.[1] ?? '';
    }
    return res;
  }
}
