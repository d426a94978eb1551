/**
 * Who may call what: every route of the server (on a SQLite file and on PostgreSQL) and of the
 * controller, called with no token, an unknown token, and the bot, viewer and admin tokens. A route
 * that needs a role answers 401 (JSON error, WWW-Authenticate: Bearer) without a known token, 403 to
 * a token of another role, and anything but 401/403/5xx to a token that has it (admin also reads).
 * The dashboard's routes are called with no session, a viewer's and an admin's. The routes come from
 * the apps' own routers: a route missing from the tables below fails this test, and so does a row of
 * docs/security.md that disagrees with them.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type Router from '@koa/router';
import type Koa from 'koa';
import { systemClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import type { Role } from '../core/http/auth';
import { Autoscaler } from '../controller/autoscaler';
import type { DesiredState } from '../controller/desired-state';
import { ProcessDriver } from '../controller/drivers/process';
import { createControllerApp } from '../controller/http/app';
import { ControllerMetrics } from '../controller/metrics';
import { ReconcileLoop } from '../controller/reconcile-loop';
import { HttpServerClient } from '../controller/server-client';
import { JsonFileStateStore } from '../controller/state/file-store';
import type { RunningServer } from '../server/runtime';
import { describePostgres, dropSchema, freshSchemaUrl } from './helpers/postgres';
import { startInProcess } from './helpers/server-in-process';
import { ADMIN_TOKEN, BOT_TOKEN, ROOT, TOKENS_ENV, VIEWER_TOKEN, tempDir } from './helpers/server-process';
import { DashboardClient, startDashboard, type RunningDashboard } from '../dashboard/test-support';

/** open: no token needed; otherwise the role a token must have (viewer routes also take the admin token). */
type Access = 'open' | Role;

/** Every route of the server: "METHOD /path" (as the router writes it) and who may call it. */
const SERVER_ROUTES: Record<string, Access> = {
  'GET /healthz': 'open',
  'GET /openapi.json': 'open',

  'POST /bots/register': 'bot',
  'POST /bots/heartbeat': 'bot',
  'POST /jobs/claim': 'bot',
  'POST /jobs/next': 'bot',
  'POST /jobs/:id/start': 'bot',
  'POST /jobs/:id/complete': 'bot',
  'POST /jobs/:id/fail': 'bot',
  'POST /jobs/:id/release': 'bot',
  'POST /jobs/:id/progress': 'bot',
  'POST /jobs/:id/logs': 'bot',

  'GET /jobs': 'viewer',
  'GET /jobs/:id': 'viewer',
  'GET /jobs/:id/logs': 'viewer',
  'GET /bots': 'viewer',
  'GET /bots/:id': 'viewer',
  'GET /metrics/summary': 'viewer',
  'GET /metrics': 'viewer',
  'GET /queue': 'viewer',
  'GET /datalake/stats': 'viewer',
  'GET /datalake/export/:date': 'viewer',
  'GET /schedules': 'viewer',
  'GET /schedules/:name': 'viewer',
  'POST /schedules/preview': 'viewer',

  'POST /jobs': 'admin',
  'POST /jobs/populate': 'admin',
  'POST /jobs/:id/retry': 'admin',
  'POST /jobs/:id/cancel': 'admin',
  'POST /jobs/retry': 'admin',
  'POST /jobs/cancel': 'admin',
  'DELETE /bots/:id': 'admin',
  'POST /queue/pause': 'admin',
  'POST /queue/resume': 'admin',
  'POST /schedules': 'admin',
  'PUT /schedules/:name': 'admin',
  'DELETE /schedules/:name': 'admin',
};

/** Every route of the controller. */
const CONTROLLER_ROUTES: Record<string, Access> = {
  'GET /healthz': 'open',
  'GET /metrics': 'viewer',
  'GET /scale': 'viewer',
  'PUT /scale': 'admin',
  'POST /scale/add': 'admin',
  'POST /scale/remove': 'admin',
  'PUT /autoscale': 'admin',
};

/**
 * Every route of the dashboard. Its callers are browsers with a session: open (no session needed),
 * viewer (a viewer or admin session) or admin (an admin session, with its CSRF token).
 */
const DASHBOARD_ROUTES: Record<string, Access> = {
  'GET /signin': 'open',
  'POST /signin': 'open',
  'POST /signout': 'open',

  'GET /': 'viewer',
  'GET /bots': 'viewer',
  'GET /bots/:id': 'viewer',
  'GET /jobs': 'viewer',
  'GET /jobs/:id': 'viewer',
  'GET /schedules': 'viewer',
  'GET /datalake': 'viewer',
  'GET /datalake/export/:date': 'viewer',
  'GET /api/overview': 'viewer',
  'GET /api/bots': 'viewer',
  'GET /api/bots/:id': 'viewer',
  'GET /api/jobs': 'viewer',
  'GET /api/jobs/:id': 'viewer',
  'GET /api/jobs/:id/logs': 'viewer',
  'GET /api/datalake': 'viewer',
  'GET /api/schedules': 'viewer',
  'GET /api/schedules/preview': 'viewer',

  'POST /actions/bots/add': 'admin',
  'POST /actions/scale': 'admin',
  'POST /actions/autoscale': 'admin',
  'POST /actions/populate': 'admin',
  'POST /actions/jobs': 'admin',
  'POST /actions/schedules': 'admin',
  'POST /actions/schedules/:name/enable': 'admin',
  'POST /actions/schedules/:name/disable': 'admin',
  'POST /actions/schedules/:name/delete': 'admin',
  'POST /actions/queue/pause': 'admin',
  'POST /actions/queue/resume': 'admin',
  'POST /actions/bots/:id/delete': 'admin',
  'POST /actions/jobs/:id/retry': 'admin',
  'POST /actions/jobs/:id/cancel': 'admin',
  'POST /actions/jobs/bulk/retry': 'admin',
  'POST /actions/jobs/bulk/cancel': 'admin',
};

/** A value for each path parameter: ids that do not exist, a day with no data. */
const PARAMS: Record<string, string> = { id: 'no-such-id', name: 'no-such-schedule', date: '2001-01-01' };

const CALLERS = {
  'no token': null,
  'an unknown token': 'not-a-token-of-this-fleet',
  bot: BOT_TOKEN,
  viewer: VIEWER_TOKEN,
  admin: ADMIN_TOKEN,
} as const;
type Caller = keyof typeof CALLERS;

/** Which callers a route lets through. */
const ACCEPTS: Record<Access, readonly Caller[]> = {
  open: Object.keys(CALLERS) as Caller[],
  bot: ['bot'],
  viewer: ['viewer', 'admin'],
  admin: ['admin'],
};

/** "METHOD /path" of every route an app's routers hold (HEAD comes with GET). */
function routesOf(app: Koa): string[] {
  const routers = app.middleware
    .map((mw) => (mw as unknown as { router?: Router }).router)
    .filter((r): r is Router => r !== undefined);
  const found = routers.flatMap((r) =>
    r.stack.flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${String(layer.path)}`)),
  );
  return [...new Set(found)].sort();
}

/** The role column of one "## ..." section of docs/security.md: "METHOD /path" -> access. */
function documented(section: string): Record<string, string> {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'security.md'), 'utf8');
  const start = text.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`docs/security.md has no "## ${section}" section`);
  const body = text.slice(start + 1).split(/\n## /)[0];
  const rows: Record<string, string> = {};
  for (const m of body.matchAll(/^\| `([A-Z]+ [^`]+)` \| (\w+)/gm)) rows[m[1]] = m[2];
  return rows;
}

async function call(base: string, route: string, token: string | null) {
  const [method, pattern] = route.split(' ');
  const url = base + withParams(pattern);
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  let body: string | undefined;
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    body = '{}';
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  return { status: res.status, text, www: res.headers.get('www-authenticate') };
}

/** Calls the route as every caller and checks each answer. */
async function checkRoute(base: string, route: string, access: Access): Promise<void> {
  for (const [caller, token] of Object.entries(CALLERS) as [Caller, string | null][]) {
    const r = await call(base, route, token);
    const what = `${route} as ${caller}: ${r.status} ${r.text.slice(0, 200)}`;
    if (ACCEPTS[access].includes(caller)) {
      expect([what, r.status !== 401 && r.status !== 403 && r.status < 500]).toEqual([what, true]);
    } else {
      const want = token === null || caller === 'an unknown token' ? 401 : 403;
      expect([what, r.status]).toEqual([what, want]);
      expect(JSON.parse(r.text).error.code).toBe(want === 401 ? 'unauthorized' : 'forbidden');
      if (want === 401) expect(r.www).toBe('Bearer');
    }
  }
}

const withParams = (pattern: string) => pattern.replace(/:(\w+)/g, (_, p: string) => PARAMS[p] ?? 'x');

/**
 * Calls a dashboard route with no session, a viewer's and an admin's. Refused without a session: 401
 * (JSON) or a redirect to /signin; with a viewer's session on a control: 403; let through: anything
 * but 401/403/5xx and no redirect to /signin. An open route only has to answer below 500.
 */
async function checkDashboardRoute(base: string, route: string, access: Access): Promise<void> {
  const [method, pattern] = route.split(' ');
  const url = withParams(pattern);
  for (const session of ['none', 'viewer', 'admin'] as const) {
    const c = new DashboardClient(base);
    if (session !== 'none') expect((await c.signIn(session === 'admin' ? ADMIN_TOKEN : VIEWER_TOKEN)).status).toBe(303);
    const res = method === 'GET' ? await c.get(url) : await c.post(url);
    const toSignIn = (res.headers.get('location') ?? '').startsWith('/signin');
    const what = `${route} with ${session === 'none' ? 'no session' : `a ${session} session`}: ${res.status}`;
    const allowed = access === 'open' || (session !== 'none' && ACCEPTS[access].includes(session));
    if (access === 'open') expect([what, res.status < 500]).toEqual([what, true]);
    else if (allowed)
      expect([what, res.status !== 401 && res.status !== 403 && res.status < 500 && !toSignIn]).toEqual([what, true]);
    else if (session === 'none') expect([what, res.status === 401 || toSignIn]).toEqual([what, true]);
    else expect([what, res.status]).toEqual([what, 403]);
    await res.arrayBuffer();
  }
}

/** No limit on failed attempts or admin requests: this test makes many of both from one address. */
const NO_LIMITS = {
  RATE_LIMIT_AUTH_FAILURES_PER_S: '0',
  RATE_LIMIT_ADMIN_PER_S: '0',
  RATE_LIMIT_EMPTY_CLAIMS_PER_S: '0',
};

const DATABASES = [
  { name: 'SQLite file', describe, env: () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    describe: describePostgres,
    env: () => {
      const { url, schema } = freshSchemaUrl('roles');
      return { env: { DATABASE_URL: url }, drop: () => dropSchema(schema) };
    },
  },
];

for (const db of DATABASES) {
  db.describe(`server routes and roles on ${db.name}`, () => {
    let server: RunningServer;
    let drop: () => Promise<void>;

    beforeAll(async () => {
      const fresh = db.env();
      drop = fresh.drop;
      server = await startInProcess({ ...NO_LIMITS, ...fresh.env });
    });
    afterAll(async () => {
      await server?.close();
      await drop?.();
    });

    it('the table lists every route of the server, and nothing else', () => {
      expect(routesOf(server.app)).toEqual(Object.keys(SERVER_ROUTES).sort());
    });

    it('GET /openapi.json names the same roles for the same routes', async () => {
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { security: Record<string, unknown>[] }>>;
      };
      const roles: Record<string, string[]> = {};
      for (const [p, ops] of Object.entries(doc.paths))
        for (const [method, op] of Object.entries(ops))
          roles[`${method.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`] = op.security
            .flatMap((s) => Object.keys(s))
            .sort();
      const expected = Object.fromEntries(
        Object.entries(SERVER_ROUTES).map(([route, access]) => [
          route,
          access === 'open' ? [] : ACCEPTS[access].filter((c) => c !== 'an unknown token').sort(),
        ]),
      );
      expect(roles).toEqual(expected);
    });

    it.each(Object.entries(SERVER_ROUTES))('%s (%s)', async (route, access) => {
      await checkRoute(server.url, route, access);
    });
  });
}

describe('controller and dashboard routes and roles', () => {
  let server: RunningServer;
  let dash: RunningDashboard;
  let loop: ReconcileLoop;
  let app: Koa;
  let httpServer: http.Server;
  let base: string;

  beforeAll(async () => {
    server = await startInProcess(NO_LIMITS);
    const logger = silentLogger();
    const serverClient = new HttpServerClient(server.url, 5000, { viewer: VIEWER_TOKEN, admin: ADMIN_TOKEN });
    // MAX_BOTS 0: no scale change goes through, so no bot is ever started.
    const defaults: DesiredState = { replicas: 0, autoscale: { enabled: false, min: 0, max: 0, jobsPerBot: 5 } };
    const driver = new ProcessDriver({
      command: ['node', '-e', 'setInterval(() => {}, 1000)'],
      cwd: ROOT,
      env: {},
      idPrefix: 'roles',
      serverUrl: server.url,
      botToken: BOT_TOKEN,
      server: serverClient,
      logger,
      stopGraceMs: 1000,
      restartBackoffMs: 1000,
      restartBackoffMaxMs: 1000,
    });
    loop = new ReconcileLoop({
      store: new JsonFileStateStore(path.join(tempDir('roles-controller-'), 'state.json'), 0, defaults),
      driver,
      server: serverClient,
      autoscaler: new Autoscaler(systemClock, 0),
      defaults,
      maxBots: 0,
      intervalMs: 3_600_000,
      logger,
    });
    await loop.start();
    app = createControllerApp({
      loop,
      driver,
      tokens: { admin: [ADMIN_TOKEN], bot: [BOT_TOKEN], viewer: [VIEWER_TOKEN] },
      maxBots: 0,
      bodyLimitBytes: 16384,
      metrics: new ControllerMetrics(),
      logger,
    });
    httpServer = http.createServer(app.callback());
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    dash = await startDashboard({ ...TOKENS_ENV, SERVER_URL: server.url, CONTROLLER_URL: base });
  });
  afterAll(async () => {
    await dash?.close();
    await new Promise((r) => httpServer?.close(r));
    await loop?.stop();
    await server?.close();
  });

  it('the table lists every route of the controller, and nothing else', () => {
    expect(routesOf(app)).toEqual(Object.keys(CONTROLLER_ROUTES).sort());
  });

  it.each(Object.entries(CONTROLLER_ROUTES))('controller: %s (%s)', async (route, access) => {
    await checkRoute(base, route, access);
  });

  it('the table lists every route of the dashboard, and nothing else', () => {
    expect(routesOf(dash.app)).toEqual(Object.keys(DASHBOARD_ROUTES).sort());
  });

  it.each(Object.entries(DASHBOARD_ROUTES))('dashboard: %s (%s)', async (route, access) => {
    await checkDashboardRoute(dash.url, route, access);
  });

  it('the dashboard signs in with the viewer or admin token only', async () => {
    for (const t of [BOT_TOKEN, 'not-a-token-of-this-fleet', '']) {
      const res = await new DashboardClient(dash.url).signIn(t);
      expect(res.status).toBe(401);
    }
  });
});

describe('docs/security.md', () => {
  it('names every route of the server and of the controller with the role this test checks', () => {
    expect(documented('Server routes')).toEqual(SERVER_ROUTES);
    expect(documented('Controller routes')).toEqual(CONTROLLER_ROUTES);
    expect(documented('Dashboard routes')).toEqual(DASHBOARD_ROUTES);
  });
});
