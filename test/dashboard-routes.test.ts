/**
 * Every dashboard page and control over real HTTP: the real server as a child process (its own
 * SQLite file), the dashboard app on a free port, and a controller URL that points at a closed
 * port, so the "controller is unreachable" path is exercised throughout.
 */
import {
  ADMIN_TOKEN,
  BOT_TOKEN,
  VIEWER_TOKEN,
  freePort,
  startServer,
  waitFor,
  type ServerProcess,
  TOKENS_ENV,
} from './helpers/server-process';
import { DashboardClient, startDashboard, type RunningDashboard } from '../dashboard/test-support';
import { CONTENT_SECURITY_POLICY } from '../dashboard/http-helpers';
import { testTime } from './helpers/time';

let server: ServerProcess;
let dash: RunningDashboard;

/** A call to the server: as admin, or as a bot for the bot routes. */
async function api<T = Record<string, unknown>>(
  path: string,
  method = 'GET',
  body?: unknown,
  token = ADMIN_TOKEN,
): Promise<{ status: number; body: T }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

beforeAll(async () => {
  server = await startServer();
  dash = await startDashboard({
    SERVER_URL: server.url,
    CONTROLLER_URL: `http://127.0.0.1:${await freePort()}`,
    ...TOKENS_ENV,
    VIEWER_TOKEN,
    DASHBOARD_UPSTREAM_TIMEOUT_MS: '10000', // generous: CI machines are busy; the closed controller port fails at once anyway
  });
}, testTime(60_000));

afterAll(async () => {
  await dash?.close();
  await server?.stop();
});

/** A client signed in with the viewer token: every page, no controls. */
async function viewer(): Promise<DashboardClient> {
  const c = new DashboardClient(dash.url);
  expect((await c.signIn(VIEWER_TOKEN)).status).toBe(303);
  return c;
}

describe('every page needs a sign-in; a viewer reads them all', () => {
  it('sends a stranger to sign in (and back), JSON gets 401; assets and /healthz stay open', async () => {
    const c = new DashboardClient(dash.url);
    for (const path of [
      '/',
      '/bots',
      '/bots/x',
      '/jobs?status=failed',
      '/jobs/x',
      '/schedules',
      '/datalake',
      '/no/such/page',
    ]) {
      const res = await c.get(path);
      expect([path, res.status]).toEqual([path, 302]);
      expect(res.headers.get('location')).toBe(`/signin?next=${encodeURIComponent(path)}`);
    }
    for (const path of [
      '/api/overview',
      '/api/bots',
      '/api/jobs',
      '/api/jobs/x',
      '/api/schedules',
      '/api/schedules/preview?cron=%40daily',
      '/api/datalake',
    ]) {
      const res = await c.get(path, 'application/json');
      expect([path, res.status]).toEqual([path, 401]);
      expect((await res.json()).error.code).toBe('unauthorized');
    }
    expect((await c.get('/datalake/export/2001-01-01', '*/*')).status).toBe(302);
    expect((await c.get('/signin')).status).toBe(200);
    expect((await c.get('/healthz', 'application/json')).status).toBe(200);
    expect((await c.get('/assets/app.css', 'text/css')).status).toBe(200);
  });

  it('overview answers 200 with counts, chart and a clear note that the controller is unreachable', async () => {
    await api('/jobs', 'POST', { type: 'simulated', payload: { n: 1 } });
    const c = await viewer();
    const res = await c.get('/');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('The controller is unreachable.');
    expect(html).toMatch(/data-count="pending">\s*[1-9]/);
    expect(html).toContain('<svg data-chart');
    expect(html).not.toContain('data-server-error :hidden="!m.serverError" x-text="m.serverError">The server');
    expect(html).toContain('signed in as viewer (read-only)');
    expect(html).toContain('sign in</a> with the admin token');
    expect(html).not.toContain('action="/actions/');
    const json = await (await c.get('/api/overview', 'application/json')).json();
    expect(json.controller.error).toBe('The controller is unreachable.');
    expect(json.serverError).toBe('');
    expect(json.chart.bars).toHaveLength(60);
    expect(json.jobsTotal).toBeGreaterThanOrEqual(1);
  });

  it('sends the security headers: CSP without inline scripts, nosniff, no framing', async () => {
    const res = await (await viewer()).get('/');
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    // Every script is a file from this origin: no inline code in any page.
    const html = await res.text();
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) {
      expect(tag).toMatch(/src="\/assets\/[a-z-]+\.js"|type="application\/json"/);
    }
  });

  it('serves Alpine, its own scripts and the built CSS locally', async () => {
    for (const [path, type] of [
      ['/assets/alpine.js', 'text/javascript'],
      ['/assets/dashboard.js', 'text/javascript'],
      ['/assets/app.css', 'text/css'],
      ['/favicon.svg', 'image/svg+xml'],
    ]) {
      const res = await fetch(dash.url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect((await res.text()).length).toBeGreaterThan(100);
    }
    const alpine = await (await fetch(dash.url + '/assets/alpine.js')).text();
    // Alpine's CSP build, which parses expressions instead of compiling them with eval.
    expect(alpine).toContain('prohibited in the CSP build');
  });

  it('lists bots and shows one bot with its jobs', async () => {
    const reg = await api<{ id: string }>(
      '/bots/register',
      'POST',
      { id: 'dash-bot-1', name: 'Dash Bot One' },
      BOT_TOKEN,
    );
    expect([200, 201]).toContain(reg.status);
    const c = await viewer();
    const list = await (await c.get('/bots')).text();
    expect(list).toContain('data-bot-id="dash-bot-1"');
    expect(list).toContain('Dash Bot One');
    const one = await c.get('/bots/dash-bot-1');
    expect(one.status).toBe(200);
    const html = await one.text();
    expect(html).toContain('Lost leases');
    expect(html).toContain('data-bot-status>idle');
    expect((await c.get('/bots/no-such-bot')).status).toBe(404);
  });

  it('filters and pages jobs by cursor, and shows a job with payload and timeline', async () => {
    const created = await api<{ items: { id: string }[] }>('/jobs', 'POST', {
      jobs: Array.from({ length: 5 }, (_, i) => ({ type: 'paging.test', payload: { i, note: '</script>' } })),
    });
    expect(created.status).toBe(201);
    const c = await viewer();
    const page1 = await c.get('/api/jobs?type=paging.test&limit=2', 'application/json');
    const p1 = await page1.json();
    expect(p1.rows).toHaveLength(2);
    expect(p1.nextHref).toMatch(/^\/jobs\?type=paging.test&limit=2&cursor=/);
    const p2 = await (await c.get(p1.nextHref.replace('/jobs', '/api/jobs'), 'application/json')).json();
    expect(p2.rows).toHaveLength(2);
    expect(p2.rows.map((r: { id: string }) => r.id)).not.toEqual(
      expect.arrayContaining(p1.rows.map((r: { id: string }) => r.id)),
    );
    const html = await (await c.get('/jobs?status=pending&type=paging.test&limit=2')).text();
    expect(html).toContain('data-next-page href="/jobs?status=pending&amp;type=paging.test&amp;limit=2&amp;cursor=');
    expect((await c.get('/jobs?status=bogus')).status).toBe(400);

    const id = p1.rows[0].id as string;
    const job = await c.get(`/jobs/${id}`);
    expect(job.status).toBe(200);
    const jobHtml = await job.text();
    expect(jobHtml).toContain('&lt;/script&gt;'); // the payload, escaped
    expect(jobHtml).toContain('data-job-status>pending');
    expect(jobHtml).toContain('Timeline');
    expect((await c.get('/jobs/does-not-exist')).status).toBe(404);
  });

  it('lists schedules with the cron in words and as written, the built-in batch first, read-only for a viewer; previews a cron', async () => {
    expect(
      (
        await api('/schedules', 'POST', {
          name: 'dash-weekday',
          cron: '0 6 * * 1-5',
          timezone: 'Europe/Berlin',
          job: { type: 'hash' },
        })
      ).status,
    ).toBe(201);
    const c = await viewer();
    const html = await (await c.get('/schedules')).text();
    expect(html).toContain('data-schedule="builtin:populate"');
    expect(html).toContain('data-schedule="dash-weekday"');
    expect(html).toContain('At 06:00, Monday through Friday');
    expect(html).toContain('0 6 * * 1-5');
    expect(html).toContain('<a href="/schedules" class="nav-link nav-link-current" aria-current="page">Schedules</a>');
    expect(html).not.toContain('action="/actions/schedules'); // a viewer gets no controls
    expect(html).toContain('sign in</a> with the admin token to create');
    const json = await (await c.get('/api/schedules', 'application/json')).json();
    expect(json.rows.map((r: { name: string }) => r.name)).toEqual(['builtin:populate', 'dash-weekday']);
    expect(json.rows[1]).toMatchObject({
      words: 'At 06:00, Monday through Friday',
      timezone: 'Europe/Berlin',
      enabled: true,
    });
    expect(json.rows[1].nextRuns).toHaveLength(5);
    const preview = await (
      await c.get('/api/schedules/preview?cron=30%202%20*%20*%20*&timezone=Europe%2FBerlin', 'application/json')
    ).json();
    expect(preview).toMatchObject({ error: '', words: 'At 02:30' });
    expect(preview.nextRuns).toHaveLength(5);
    for (const r of preview.nextRuns) expect(r).toMatch(/ 0[23]:[03]0:00 Europe\/Berlin · /);
    const bad = await c.get('/api/schedules/preview?cron=61%20*%20*%20*%20*', 'application/json');
    expect(bad.status).toBe(200);
    expect(await bad.json()).toMatchObject({ error: expect.stringMatching(/^cron: /), nextRuns: [] });
  });

  it('shows 404 and error pages in the same look, and JSON errors for the API', async () => {
    const c = await viewer();
    const res = await c.get('/no/such/page');
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(html).toContain('Not found');
    expect(html).toContain('/assets/app.css');
    const api404 = await c.get('/api/jobs/does-not-exist', 'application/json');
    expect(api404.status).toBe(404);
    expect((await api404.json()).error.code).toBe('not_found');
    expect((await c.get('/healthz', 'application/json')).status).toBe(200);
  });
});

describe('signing in', () => {
  it('refuses a wrong token and sets an httpOnly SameSite=Strict session cookie for the right one', async () => {
    const c = new DashboardClient(dash.url);
    for (const token of ['wrong-token-value', BOT_TOKEN, `${ADMIN_TOKEN}x`, '']) {
      const wrong = await c.post('/signin', { token, next: '/' }, { csrf: null });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toContain('That is neither the viewer token nor the admin token.');
      expect(c.cookie).toBe('');
    }
    const ok = await c.post('/signin', { token: ADMIN_TOKEN, next: '//evil.example/' }, { csrf: null });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).toMatch(/samesite=strict/i);
    expect(cookie).toMatch(/path=\//i);
    const page = await (await c.get('/')).text();
    expect(page).toContain('signed in as admin');
    expect(page).toContain('action="/actions/bots/add"');
    expect(page).toContain('data-flash="ok"');
  });

  it('signs in a viewer read-only: no controls on any page, and a posted control is refused with 403', async () => {
    const job = (await api<{ id: string }>('/jobs', 'POST', { type: 'viewer.sees', payload: {} })).body;
    const c = await viewer();
    for (const path of ['/', '/bots', '/jobs', `/jobs/${job.id}`, '/bots/dash-bot-1', '/datalake']) {
      const html = await (await c.get(path)).text();
      expect([path, html.includes('action="/actions/')]).toEqual([path, false]);
      expect(html).toContain('data-signed-in-as="viewer"');
    }
    for (const path of CONTROLS) {
      const res = await c.post(path, { count: '1', replicas: '1', type: 'x', returnTo: '/' });
      expect([path, res.status]).toEqual([path, 403]);
      expect(await res.text()).toContain('controls need a sign-in with the admin token');
    }
    expect((await api<{ status: string }>(`/jobs/${job.id}`)).body.status).toBe('pending');
  });

  it('signs out with the CSRF token, after which controls need sign-in again', async () => {
    const c = new DashboardClient(dash.url);
    await c.signIn(ADMIN_TOKEN);
    const stolenCookie = c.cookie;
    expect((await c.post('/signout', {}, { csrf: 'nope' })).status).toBe(403);
    const out = await c.post('/signout');
    expect(out.status).toBe(303);
    c.cookie = stolenCookie; // the old session id is dead on the server too
    const res = await c.post('/actions/populate', { count: '1' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/signin\?next=/);
    expect((await c.get('/')).status).toBe(302);
  });
});

const CONTROLS = [
  '/actions/bots/add',
  '/actions/scale',
  '/actions/autoscale',
  '/actions/populate',
  '/actions/jobs',
  '/actions/queue/pause',
  '/actions/queue/resume',
  '/actions/bots/dash-bot-1/delete',
  '/actions/jobs/some-job/retry',
  '/actions/jobs/some-job/cancel',
  '/actions/schedules',
  '/actions/schedules/some-schedule/enable',
  '/actions/schedules/some-schedule/disable',
  '/actions/schedules/some-schedule/delete',
];

describe('controls are guarded', () => {
  it.each(CONTROLS)('%s without a session redirects to sign-in, then back (JSON callers get 401)', async (path) => {
    const c = new DashboardClient(dash.url);
    const res = await c.post(path, { returnTo: '/bots' }, { csrf: null, headers: { referer: `${dash.url}/bots` } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/signin?next=%2Fbots');
    const elsewhere = await c.post(path, {}, { csrf: null, headers: { referer: 'https://evil.example/bots' } });
    expect(elsewhere.headers.get('location')).toBe('/signin?next=%2F');
    const json = await c.request(path, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(401);
  });

  it.each(CONTROLS)('%s with a wrong or missing CSRF token answers 403 and changes nothing', async (path) => {
    const c = new DashboardClient(dash.url);
    await c.signIn(ADMIN_TOKEN);
    const other = new DashboardClient(dash.url);
    await other.signIn(ADMIN_TOKEN);
    expect((await c.post(path, { count: '7' }, { csrf: null })).status).toBe(403);
    expect((await c.post(path, { count: '7' }, { csrf: other.csrf })).status).toBe(403);
    const forbidden = await c.post(path, { count: '7' }, { csrf: 'x'.repeat(43) });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toContain('CSRF token');
  });

  it('refuses a POST from another origin even with a valid token', async () => {
    const c = new DashboardClient(dash.url);
    await c.signIn(ADMIN_TOKEN);
    const res = await c.post('/actions/populate', { count: '1' }, { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
  });
});

describe('controls work after signing in', () => {
  let c: DashboardClient;
  beforeAll(async () => {
    c = new DashboardClient(dash.url);
    expect((await c.signIn(ADMIN_TOKEN)).status).toBe(303);
  });

  const flashOf = async (res: Response) => {
    expect(res.status).toBe(303);
    const page = await (await c.get(res.headers.get('location') ?? '/')).text();
    return /data-flash="(ok|error)">([^<]*)</.exec(page)?.slice(1) ?? [];
  };

  it('populates a batch and enqueues a job of any type', async () => {
    const before = (await api<{ items: unknown[] }>('/jobs?type=simulated&limit=500')).body.items.length;
    const [kind, text] = await flashOf(await c.post('/actions/populate', { count: '3', returnTo: '/jobs' }));
    expect(kind).toBe('ok');
    expect(text).toBe('Created 3 jobs.');
    expect((await api<{ items: unknown[] }>('/jobs?type=simulated&limit=500')).body.items.length).toBe(before + 3);

    const res = await c.post('/actions/jobs', {
      type: 'email.send',
      payload: '{"to":"a@example.com"}',
      maxAttempts: '3',
      priority: '5',
    });
    const [k2, t2] = await flashOf(res);
    expect(k2).toBe('ok');
    const id = /Enqueued job (\S+) /.exec(t2)![1];
    const job = (await api<{ type: string; payload: unknown; maxAttempts: number; priority: number }>(`/jobs/${id}`))
      .body;
    expect(job).toMatchObject({ type: 'email.send', payload: { to: 'a@example.com' }, maxAttempts: 3, priority: 5 });
  });

  it('explains bad input instead of failing', async () => {
    const [kind, text] = await flashOf(await c.post('/actions/jobs', { type: 'email.send', payload: '{not json' }));
    expect(kind).toBe('error');
    expect(text).toContain('payload must be valid JSON');
    const [k2, t2] = await flashOf(await c.post('/actions/autoscale', { min: '5', max: '2', jobsPerBot: '1' }));
    expect(k2).toBe('error');
    expect(t2).toContain('min must not exceed max');
  });

  it('pauses and resumes claiming', async () => {
    await flashOf(await c.post('/actions/queue/pause'));
    expect((await api<{ paused: boolean }>('/queue')).body.paused).toBe(true);
    expect((await (await c.get('/api/overview', 'application/json')).json()).queue.label).toBe('paused');
    await flashOf(await c.post('/actions/queue/resume'));
    expect((await api<{ paused: boolean }>('/queue')).body.paused).toBe(false);
  });

  it('cancels a pending job and retries it', async () => {
    const job = (await api<{ id: string }>('/jobs', 'POST', { type: 'cancel.me', payload: {} })).body;
    const [k1] = await flashOf(await c.post(`/actions/jobs/${job.id}/cancel`, { returnTo: `/jobs/${job.id}` }));
    expect(k1).toBe('ok');
    expect((await api<{ status: string }>(`/jobs/${job.id}`)).body.status).toBe('cancelled');
    const [k2, t2] = await flashOf(await c.post(`/actions/jobs/${job.id}/cancel`));
    expect(k2).toBe('error'); // not pending any more: the server's 409, said in words
    expect(t2).toMatch(/^Not done: The server said: /);
    const [k3] = await flashOf(await c.post(`/actions/jobs/${job.id}/retry`));
    expect(k3).toBe('ok');
    expect((await api<{ status: string }>(`/jobs/${job.id}`)).body.status).toBe('pending');
  });

  it('creates a schedule, turns it off and on, and deletes it; a bad cron is explained', async () => {
    const form = {
      name: 'dash-yearly',
      cron: '@yearly',
      timezone: 'Asia/Tokyo',
      type: 'hash',
      payload: '{"n":2}',
      priority: '4',
      catchUp: 'on',
      returnTo: '/schedules',
    };
    const [k1, t1] = await flashOf(await c.post('/actions/schedules', form));
    expect([k1, t1]).toEqual(['ok', expect.stringMatching(/^Schedule dash-yearly created: next run /)]);
    const made = (await api<Record<string, unknown>>('/schedules/dash-yearly')).body;
    expect(made).toMatchObject({
      cron: '@yearly',
      timezone: 'Asia/Tokyo',
      catchUp: true,
      enabled: true,
      job: { type: 'hash', payload: { n: 2 }, priority: 4 },
    });
    const page = await (await c.get('/schedules')).text();
    expect(page).toContain('action="/actions/schedules/dash-yearly/disable"');
    expect(page).toContain('x-data="scheduleForm"');
    const [k2, t2] = await flashOf(await c.post('/actions/schedules/dash-yearly/disable'));
    expect([k2, t2]).toEqual(['ok', 'Schedule dash-yearly disabled.']);
    expect((await api<Record<string, unknown>>('/schedules/dash-yearly')).body).toMatchObject({
      enabled: false,
      nextRunAt: null,
      catchUp: true,
    });
    const [k3] = await flashOf(await c.post('/actions/schedules/dash-yearly/enable'));
    expect(k3).toBe('ok');
    expect((await api<Record<string, unknown>>('/schedules/dash-yearly')).body).toMatchObject({
      enabled: true,
      timezone: 'Asia/Tokyo',
    });
    const [k4, t4] = await flashOf(
      await c.post('/actions/schedules', { ...form, name: 'dash-bad', cron: '99 * * * *' }),
    );
    expect(k4).toBe('error');
    expect(t4).toMatch(/^Not done: The server said: .*body\.cron/);
    const [k5] = await flashOf(await c.post('/actions/schedules/builtin:populate/disable'));
    expect(k5).toBe('error');
    const [k6, t6] = await flashOf(await c.post('/actions/schedules/dash-yearly/delete'));
    expect([k6, t6]).toEqual(['ok', 'Schedule dash-yearly deleted; the jobs it made stay.']);
    expect((await api('/schedules/dash-yearly')).status).toBe(404);
  });

  it('deletes a bot', async () => {
    await api('/bots/register', 'POST', { id: 'dash-bot-delete-me' }, BOT_TOKEN);
    const [kind] = await flashOf(await c.post('/actions/bots/dash-bot-delete-me/delete', { returnTo: '/bots' }));
    expect(kind).toBe('ok');
    expect((await api('/bots/dash-bot-delete-me')).status).toBe(404);
  });

  it('says the controller is unreachable for pool controls, and the rest keeps working', async () => {
    for (const [path, fields] of [
      ['/actions/bots/add', {}],
      ['/actions/scale', { replicas: '2' }],
      ['/actions/autoscale', { enabled: 'on', min: '1', max: '3', jobsPerBot: '5' }],
    ] as const) {
      const [kind, text] = await flashOf(await c.post(path, fields));
      expect(kind).toBe('error');
      expect(text).toBe('Not done: The controller is unreachable.');
    }
    expect((await c.get('/')).status).toBe(200);
  });

  it('downloads a day of the datalake through the dashboard', async () => {
    // Run one job to completion as a bot would, so the datalake gets a line.
    await api('/bots/register', 'POST', { id: 'dash-bot-worker' }, BOT_TOKEN);
    let claimed: { id: string; attempts: number } | null = null;
    await waitFor(async () => {
      const r = await api<{ id: string; attempts: number }>(
        '/jobs/claim',
        'POST',
        { botId: 'dash-bot-worker' },
        BOT_TOKEN,
      );
      claimed = r.status === 200 ? r.body : null;
      return claimed !== null;
    });
    const j = claimed!;
    expect((await api(`/jobs/${j.id}/start`, 'POST', { botId: 'dash-bot-worker' }, BOT_TOKEN)).status).toBe(200);
    const done = await api(
      `/jobs/${j.id}/complete`,
      'POST',
      { botId: 'dash-bot-worker', result: { ok: 1 } },
      BOT_TOKEN,
    );
    expect(done.status).toBe(200);
    const day = new Date().toISOString().slice(0, 10);
    await waitFor(
      async () => (await (await c.get('/api/datalake', 'application/json')).json()).total.results >= 1,
      15_000,
      100,
    );
    const page = await (await c.get('/datalake')).text();
    expect(page).toContain(`href="/datalake/export/${day}"`);
    const res = await c.get(`/datalake/export/${day}`, '*/*');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.jobId === j.id && l.status === 'completed')).toBe(true);
    expect((await c.get('/datalake/export/2001-01-01', '*/*')).status).toBe(404);
    expect((await c.get('/datalake/export/2001-02-30', '*/*')).status).toBe(400);
    // The job's page shows its result and timeline with the bot.
    const jobPage = await (await c.get(`/jobs/${j.id}`)).text();
    expect(jobPage).toContain('data-job-status>completed');
    expect(jobPage).toContain('href="/bots/dash-bot-worker"');
  });
});
