/**
 * The whole fleet as real processes, each with its own tokens (two per role: the current and the
 * one being rotated out): the server, the controller (process driver) with two real bots, and the
 * dashboard. While the bots work, a stranger (no token or an unknown one) and a token of the wrong
 * role try to read payloads, export the datalake, take over a busy bot and forge a result, and
 * fail; a bot with a token the server does not know says so in its log and backs off; a viewer
 * signed in to the dashboard cannot use a control. Admin actions leave one audit line in the log of
 * the process that did them; no page, script or cookie of the dashboard and no line of any log
 * holds a token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DashboardClient } from '../dashboard/test-support';
import { ROOT, freePort, startServer, tempDir, waitFor, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(120_000));

const token = (role: string) => `${role}-${randomBytes(12).toString('hex')}`;
/** Each role's tokens: the first is the one every process sends, the second the one being rotated out. */
const ADMIN = [token('admin'), token('admin-old')];
const BOT = [token('bot'), token('bot-old')];
const VIEWER = [token('viewer'), token('viewer-old')];
/** A bot token the server does not know. */
const INTRUDER = token('intruder');
const ALL_TOKENS = [...ADMIN, ...BOT, ...VIEWER, INTRUDER];
const TOKENS_ENV = { ADMIN_TOKEN: ADMIN.join(','), BOT_TOKEN: BOT.join(','), VIEWER_TOKEN: VIEWER.join(',') };
const UNKNOWN = token('unknown');

interface Child {
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Runs a main.ts as a child process with JSON logs, collecting both streams. */
function runMain(main: string, env: Record<string, string>): Child {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'].includes(k)),
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, main)], {
    cwd: ROOT,
    env: { ...clean, LOG_PRETTY: 'false', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  return { proc, output: () => out, stop };
}

/** The JSON log lines of an output (a bot's lines under the controller carry an "<id> | " prefix). */
const jsonLines = (out: string): Record<string, unknown>[] =>
  out
    .split('\n')
    .map((l) => l.replace(/^[\w.-]+ \| /, ''))
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

async function api(base: string, method: string, p: string, tok: string | null, body?: unknown) {
  const headers: Record<string, string> = tok === null ? {} : { authorization: `Bearer ${tok}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, text, json };
}

/** Every header of an answer, Set-Cookie included, one per line. */
function headerText(res: Response): string {
  const lines: string[] = [];
  res.headers.forEach((v, k) => lines.push(`${k}: ${v}`));
  return lines.join('\n');
}

let server: ServerProcess;
let controller: Child;
let dashboard: Child;
let intruder: Child | undefined;
let controllerUrl: string;
let dashboardUrl: string;
/** Every answer the dashboard gave a browser: status line, headers and body. */
const browserSaw: string[] = [];

const admin = (method: string, p: string, body?: unknown) => api(server.url, method, p, ADMIN[0], body);
const jobOf = async (id: string) => (await admin('GET', `/jobs/${id}`)).json;

beforeAll(async () => {
  const dir = tempDir('security-e2e-');
  server = await startServer({
    env: { ...TOKENS_ENV, LOG_LEVEL: 'debug', RATE_LIMIT_AUTH_FAILURES_PER_S: '0' },
  });
  const controllerPort = await freePort();
  controllerUrl = `http://127.0.0.1:${controllerPort}`;
  controller = runMain('controller/main.ts', {
    ...TOKENS_ENV,
    CONTROLLER_PORT: String(controllerPort),
    CONTROLLER_HOST: '127.0.0.1',
    SERVER_URL: server.url,
    SCALE_DRIVER: 'process',
    BOT_REPLICAS: '2',
    BOT_ID_PREFIX: 'sec',
    CONTROLLER_STATE_FILE: path.join(dir, 'state.json'),
    RECONCILE_INTERVAL_MS: '500',
    BOT_STOP_GRACE_MS: '5000',
    // Passed on to the bots:
    HEARTBEAT_INTERVAL_MS: '500',
    FAILURE_RATE: '0',
    CLAIM_WAIT_MS: '2000',
    BOT_SHUTDOWN_GRACE_MS: '1000',
    BOT_NICE: '0',
  });
  const dashboardPort = await freePort();
  dashboardUrl = `http://127.0.0.1:${dashboardPort}`;
  dashboard = runMain('dashboard/main.ts', {
    ...TOKENS_ENV,
    DASHBOARD_PORT: String(dashboardPort),
    DASHBOARD_HOST: '127.0.0.1',
    SERVER_URL: server.url,
    CONTROLLER_URL: controllerUrl,
    DASHBOARD_UPSTREAM_TIMEOUT_MS: '10000',
  });
  await waitFor(async () => (await fetch(`${dashboardUrl}/healthz`)).status === 200, 30_000);
  await waitFor(async () => {
    const bots = (await admin('GET', '/bots')).json.items as { id: string; status: string }[];
    return bots.filter((b) => b.id.startsWith('sec-') && b.status === 'idle').length === 2;
  }, 60_000);
}, testTime(120_000));

afterAll(async () => {
  await intruder?.stop();
  await dashboard?.stop();
  await controller?.stop();
  await server?.stop();
});

let longJob: { id: string; botId: string; attempts: number };
/** The short jobs the bots finished. */
const done: string[] = [];

describe('a stranger gets nothing while the fleet works', () => {
  it('the bots take and finish jobs with their tokens', async () => {
    const long = await admin('POST', '/jobs', { type: 'simulated', payload: { durationMs: 600_000, secret: 'p-1' } });
    expect(long.status).toBe(201);
    await waitFor(async () => (await jobOf(long.json.id)).status === 'running', 30_000);
    longJob = await jobOf(long.json.id);
    for (let i = 0; i < 3; i++) {
      const r = await admin('POST', '/jobs', {
        type: 'simulated',
        payload: { durationMs: 10, secret: `p-short-${i}` },
      });
      done.push(r.json.id);
    }
    await waitFor(async () => {
      const all = await Promise.all(done.map(jobOf));
      return all.every((j) => j.status === 'completed');
    }, 30_000);
  });

  it('the controller gave its bots BOT_TOKEN and neither the admin nor the viewer token', () => {
    const envs: string[][] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
        if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== controller.proc.pid) continue;
        envs.push(fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0'));
      } catch {
        /* gone meanwhile */
      }
    }
    // Two bots, and for a moment a third while a replaced child is still exiting: every one is checked.
    expect(envs.length).toBeGreaterThanOrEqual(2);
    for (const env of envs) {
      expect(env.filter((v) => v.startsWith('BOT_TOKEN='))).toEqual([`BOT_TOKEN=${BOT[0]}`]);
      expect(env.filter((v) => /^(ADMIN|VIEWER)_TOKEN=/.test(v))).toEqual([]);
      for (const t of [...ADMIN, ...VIEWER]) expect(env.join('\n')).not.toContain(t);
    }
  });

  it('cannot read a payload: GET /jobs and GET /jobs/:id answer 401, and 403 to the bot token', async () => {
    for (const p of ['/jobs', `/jobs/${longJob.id}`]) {
      for (const tok of [null, UNKNOWN, INTRUDER]) {
        const r = await api(server.url, 'GET', p, tok);
        expect([p, r.status]).toEqual([p, 401]);
        expect(r.json.error.code).toBe('unauthorized');
        expect(r.text).not.toContain('p-1');
      }
      const asBot = await api(server.url, 'GET', p, BOT[0]);
      expect([p, asBot.status]).toEqual([p, 403]);
      expect(asBot.text).not.toContain('p-1');
      // The rotated-out viewer token still reads.
      expect((await api(server.url, 'GET', p, VIEWER[1])).text).toContain('p-1');
    }
  });

  it('cannot export the datalake, which the viewer can', async () => {
    const day = new Date().toISOString().slice(0, 10);
    await waitFor(async () => {
      const r = await api(server.url, 'GET', `/datalake/export/${day}`, VIEWER[0]);
      return r.status === 200 && done.every((id) => r.text.includes(id));
    }, 30_000);
    for (const tok of [null, UNKNOWN]) {
      const r = await api(server.url, 'GET', `/datalake/export/${day}`, tok);
      expect(r.status).toBe(401);
      expect(r.text).not.toContain('p-short');
    }
    expect((await api(server.url, 'GET', `/datalake/export/${day}`, BOT[0])).status).toBe(403);
  });

  it("cannot fail a running job by registering under its bot's id, nor forge its result", async () => {
    const forged = { botId: longJob.botId, attempt: longJob.attempts, result: { forged: true } };
    for (const tok of [null, UNKNOWN]) {
      expect((await api(server.url, 'POST', '/bots/register', tok, { id: longJob.botId })).status).toBe(401);
      expect((await api(server.url, 'POST', `/jobs/${longJob.id}/complete`, tok, forged)).status).toBe(401);
      expect((await api(server.url, 'POST', `/jobs/${longJob.id}/fail`, tok, { ...forged, error: 'x' })).status).toBe(
        401,
      );
    }
    // Tokens of the other roles are no bot token either.
    for (const tok of [VIEWER[0], ADMIN[0]]) {
      expect((await api(server.url, 'POST', '/bots/register', tok, { id: longJob.botId })).status).toBe(403);
      expect((await api(server.url, 'POST', `/jobs/${longJob.id}/complete`, tok, forged)).status).toBe(403);
    }
    const after = await jobOf(longJob.id);
    expect(after).toMatchObject({ status: 'running', botId: longJob.botId, attempts: longJob.attempts, result: null });
    const bot = (await admin('GET', `/bots/${longJob.botId}`)).json;
    expect(bot).toMatchObject({ status: 'busy', currentJobId: longJob.id });
  });

  it('a bot whose token the server does not know says so in its log and retries with backoff', async () => {
    intruder = runMain('bot/main.ts', {
      SERVER_URL: server.url,
      BOT_TOKEN: INTRUDER,
      BOT_ID: 'intruder-1',
      BACKOFF_MIN_MS: '100',
      BACKOFF_MAX_MS: '400',
      BOT_NICE: '0',
    });
    const refused = () => jsonLines(intruder!.output()).filter((l) => l.event === 'token refused');
    await waitFor(() => refused().length >= 4, 30_000);
    await intruder.stop();
    const lines = jsonLines(intruder.output());
    for (const l of refused()) {
      expect(l).toMatchObject({ level: 50, status: 401 });
      expect(l.msg).toMatch(/^the server refused BOT_TOKEN \(401\)/);
    }
    // Every refusal but the last is followed by a wait before the next attempt; the waits' ceiling
    // doubles from BACKOFF_MIN_MS to BACKOFF_MAX_MS.
    const events = lines.filter((l) => l.event === 'token refused' || l.event === 'retry');
    const waits: number[] = [];
    for (const [i, l] of events.entries()) {
      if (l.event !== 'token refused' || i === events.length - 1) continue;
      expect(events[i + 1].event).toBe('retry');
      waits.push(events[i + 1].waitMs as number);
    }
    expect(waits.length).toBeGreaterThanOrEqual(3);
    waits.forEach((w, i) => expect(w).toBeLessThan(Math.min(400, 100 * 2 ** i)));
    expect((await admin('GET', '/bots/intruder-1')).status).toBe(404);
  });
});

describe('the dashboard', () => {
  /** Fetches a page as the client and records everything a browser would see of the answer. */
  async function see(c: DashboardClient, p: string, accept = 'text/html'): Promise<string> {
    const res = await c.get(p, accept);
    const text = await res.text();
    browserSaw.push(`${res.status} ${p}\n${headerText(res)}\n\n${text}`);
    return text;
  }

  /** Every page, the scripts and styles they load, and the JSON the pages poll. */
  async function crawl(c: DashboardClient): Promise<void> {
    const jobs = (await admin('GET', '/jobs')).json.items as { id: string; botId: string | null }[];
    const pages = ['/', '/bots', `/bots/${jobs.find((j) => j.botId)!.botId}`, '/jobs', `/jobs/${jobs[0].id}`];
    pages.push('/schedules', '/datalake');
    const assets = new Set<string>();
    for (const p of pages) {
      const html = await see(c, p);
      for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) assets.add(m[1]);
    }
    expect(assets.size).toBeGreaterThan(2);
    for (const a of assets) await see(c, a, '*/*');
    for (const p of ['/api/overview', '/api/bots', '/api/jobs', '/api/schedules', '/api/datalake'])
      await see(c, p, 'application/json');
  }

  it('a viewer reads every page and cannot use a control', async () => {
    const c = new DashboardClient(dashboardUrl);
    const signIn = await c.signIn(VIEWER[1]);
    browserSaw.push(`${headerText(signIn)}`);
    expect(signIn.status).toBe(303);
    await crawl(c);
    const before = await (
      await fetch(`${controllerUrl}/scale`, { headers: { authorization: `Bearer ${VIEWER[0]}` } })
    ).json();
    const r = await c.post('/actions/scale', { replicas: '5' });
    expect(r.status).toBe(403);
    const after = await (
      await fetch(`${controllerUrl}/scale`, { headers: { authorization: `Bearer ${VIEWER[0]}` } })
    ).json();
    expect(after.desired).toBe(before.desired);
  });

  it('an admin uses the controls; each leaves one audit line in the log of the dashboard and of the service', async () => {
    const c = new DashboardClient(dashboardUrl);
    const signIn = await c.signIn(ADMIN[1]);
    browserSaw.push(`${headerText(signIn)}`);
    expect(signIn.status).toBe(303);
    await crawl(c);
    // Claiming paused, so the job enqueued next stays pending and can be cancelled.
    expect((await c.post('/actions/queue/pause')).status).toBe(303);
    expect((await c.post('/actions/jobs', { type: 'simulated', payload: '{"secret":"p-2"}' })).status).toBe(303);
    const pending = (await admin('GET', '/jobs?status=pending')).json.items as { id: string }[];
    expect(pending).toHaveLength(1);
    const id = pending[0].id;
    expect((await c.post(`/actions/jobs/${id}/cancel`, { returnTo: '/jobs' })).status).toBe(303);
    expect((await jobOf(id)).status).toBe('cancelled');
    expect((await c.post('/actions/queue/resume')).status).toBe(303);
    expect((await c.post('/actions/scale', { replicas: '1' })).status).toBe(303);
    await waitFor(() => jsonLines(server.output()).some((l) => l.action === 'POST /queue/resume'), 10_000);
    await waitFor(() => jsonLines(controller.output()).some((l) => l.msg === 'audit'), 10_000);
    // The controller removes the bot it stopped from the server with the admin token: one more audit line there.
    await waitFor(() => jsonLines(server.output()).some((l) => l.action === 'DELETE /bots/:id'), 20_000);

    const audits = (out: string) => jsonLines(out).filter((l) => l.msg === 'audit');
    const line = (action: string, target: unknown, status = 200) => ({
      role: 'admin',
      client: '127.0.0.1',
      action,
      target,
      status,
    });
    const pick = ({ role, client, action, target, status }: Record<string, unknown>) => ({
      role,
      client,
      action,
      target,
      status,
    });
    const created = (await admin('GET', '/jobs?limit=100')).json.items as { id: string }[];
    const byTest = [longJob.id, ...done];
    expect(audits(server.output()).map(pick)).toEqual([
      ...byTest.map((j) => line('POST /jobs', j, 201)),
      line('POST /queue/pause', '/queue/pause'),
      line('POST /jobs', id, 201),
      line('POST /jobs/:id/cancel', id),
      line('POST /queue/resume', '/queue/resume'),
      line('DELETE /bots/:id', expect.stringMatching(/^sec-/), 204),
    ]);
    expect(created.map((j) => j.id)).toEqual(expect.arrayContaining([...byTest, id]));
    expect(audits(controller.output()).map(pick)).toEqual([line('PUT /scale', '/scale')]);
    expect(audits(dashboard.output()).map(pick)).toEqual([
      line('POST /actions/queue/pause', '/actions/queue/pause'),
      line('POST /actions/jobs', '/actions/jobs'),
      line('POST /actions/jobs/:id/cancel', id),
      line('POST /actions/queue/resume', '/actions/queue/resume'),
      line('POST /actions/scale', '/actions/scale'),
    ]);
  });

  it('never hands a token to the browser: no page, script, JSON answer, header or cookie holds one', () => {
    expect(browserSaw.length).toBeGreaterThan(20);
    const seen = browserSaw.join('\n');
    for (const t of ALL_TOKENS) expect(seen.includes(t) ? t : null).toBeNull();
  });
});

describe('logs', () => {
  it('no line of the server, controller, bots, dashboard or refused bot holds a token', async () => {
    await dashboard.stop();
    await controller.stop();
    await server.stop();
    const logs = {
      server: server.output(),
      controller: controller.output(),
      dashboard: dashboard.output(),
      intruder: intruder?.output() ?? '',
    };
    // They said something: the bots' lines come through the controller; the server and the dashboard
    // log every request's path at debug level, so no token went in a URL to either.
    expect(logs.controller).toMatch(/^sec-1 \| /m);
    const paths = (out: string) => jsonLines(out).flatMap((l) => (l.msg === 'request' ? [l.path] : []));
    expect(paths(logs.server)).toContain('/jobs/next');
    expect(paths(logs.dashboard)).toContain('/signin');
    for (const [name, out] of Object.entries(logs)) {
      expect([name, out.length > 0]).toEqual([name, true]);
      for (const t of ALL_TOKENS) expect([name, out.includes(t) ? t : null]).toEqual([name, null]);
    }
  });
});
