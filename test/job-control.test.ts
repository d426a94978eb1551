/**
 * Watching and stopping long jobs with a real server process and real bot processes, on SQLite and
 * on PostgreSQL: a running job cancelled from the API stops its bot's handler (which logs it and
 * claims again), the attempt becomes one cancelled datalake line and later reports change nothing;
 * progress and log lines from the handler reach GET /jobs/:id and GET /jobs/:id/logs; bad input
 * and calls for a job the bot does not hold are 4xx naming the field, with nothing stored; bulk
 * retry and cancel act on every job of a filter.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startBot, serverApi, type BotProcess } from '../bot/testing/bot-process';
import type { Job, JobLogLine } from '../core/types';
import { describePostgres, dropSchema, freshSchemaUrl } from './helpers/postgres';
import { BOT_TOKEN, startServer, waitFor, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(90_000));

type Logs = { attempt: number; items: JobLogLine[]; dropped: number; nextCursor: string | null; more: boolean };

function scenarios(dbName: string, database: () => { env: Record<string, string>; cleanup: () => Promise<void> }) {
  let sp: ServerProcess;
  let api: ReturnType<typeof serverApi>;
  let cleanup: () => Promise<void>;
  const bots: BotProcess[] = [];

  const asBot = async (p: string, body: unknown) => {
    const res = await fetch(`${sp.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BOT_TOKEN}` },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { error?: { message: string } },
    };
  };
  const logs = async (id: string, query = '') => (await api.call<Logs>('GET', `/jobs/${id}/logs${query}`)).body;
  const datalakeLines = () => {
    const dir = path.join(sp.dir, 'datalake');
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.ndjson'))
      .flatMap((n) => fs.readFileSync(path.join(dir, n), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as { jobId: string; attempt: number; status: string; error: string | null });
  };

  beforeEach(async () => {
    const db = database();
    cleanup = db.cleanup;
    sp = await startServer({ env: { MAX_ATTEMPTS: '3', SWEEP_INTERVAL_MS: '200', ...db.env } });
    api = serverApi(sp.url);
  });

  afterEach(async () => {
    const exits = await Promise.all(bots.splice(0).map((b) => b.signal('SIGTERM')));
    await sp.kill();
    await cleanup();
    expect(exits.map((e) => e.code)).toEqual(exits.map(() => 0));
  });

  const bot = (id: string, env: Record<string, string> = {}) => {
    const b = startBot(sp.url, id, { HEARTBEAT_INTERVAL_MS: '1000', ...env });
    bots.push(b);
    return b;
  };

  test(`${dbName}: a running job shows progress and its log, is cancelled at once, its bot stops it and claims again`, async () => {
    const b = bot('ctl-1');
    await b.waitForEvent('registered');
    const long = await api.createJob('simulated', { durationMs: 60_000 });
    // Progress after each tenth (6 s here), and the handler's first line, reach the server.
    const watched = await api.waitForJob(long.id, ['running']);
    expect(watched.progress).toBeNull();
    await waitFor(async () => (await logs(long.id)).items.length > 0);
    const first = await logs(long.id);
    expect(first).toMatchObject({ attempt: 1, dropped: 0 });
    expect(first.items[0]).toMatchObject({
      attempt: 1,
      level: 'info',
      line: 'simulating 60000 ms of work in 10 steps',
    });
    await waitFor(async () => (await api.job(long.id)).progress !== null, 20_000);
    expect((await api.job(long.id)).progress).toMatchObject({ fraction: 0.1, message: 'step 1 of 10' });
    // The line also went to the bot's stdout, with its level and time.
    expect(b.events('job log')[0]).toMatchObject({ jobId: long.id, msg: 'simulating 60000 ms of work in 10 steps' });

    const cancelled = await api.call<Job>('POST', `/jobs/${long.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', botId: 'ctl-1', attempts: 1 });
    const events = (await api.job(long.id)).events;
    expect(events.at(-1)).toMatchObject({
      from: 'running',
      to: 'cancelled',
      botId: 'ctl-1',
      note: 'cancelled by admin',
    });

    // The bot learns it from its heartbeat, stops the handler and logs it, then claims the next job.
    const stopped = await b.waitForEvent('stopped by server', (l) => l.jobId === long.id);
    expect(stopped).toMatchObject({ reason: 'cancelled by admin', level: 40 });
    const next = await api.createJob('simulated', { durationMs: 50 });
    expect(await api.waitForJob(next.id, ['completed'])).toMatchObject({ botId: 'ctl-1' });
    expect(b.events('completed').filter((l) => l.jobId === long.id)).toEqual([]);

    // Whatever it reports about that attempt now changes nothing.
    const call = { botId: 'ctl-1', attempt: 1 };
    expect((await asBot(`/jobs/${long.id}/complete`, { ...call, result: 1 })).status).toBe(409);
    expect((await asBot(`/jobs/${long.id}/progress`, { ...call, fraction: 0.5 })).status).toBe(409);
    const late = { at: new Date().toISOString(), level: 'info', line: 'late' };
    expect((await asBot(`/jobs/${long.id}/logs`, { ...call, lines: [late] })).status).toBe(409);
    expect((await asBot('/jobs/next', { botId: 'ctl-1', complete: { jobId: long.id, attempt: 1 } })).status).toBe(409);
    expect(await api.job(long.id)).toMatchObject({ status: 'cancelled', result: null });
    expect((await logs(long.id)).items.map((l) => l.line)).not.toContain('late');

    // One datalake line for the cancelled attempt.
    await waitFor(() => datalakeLines().some((l) => l.jobId === next.id));
    expect(datalakeLines().filter((l) => l.jobId === long.id)).toEqual([
      expect.objectContaining({ attempt: 1, status: 'cancelled', error: 'cancelled by admin' }),
    ]);
  });

  test(`${dbName}: bad progress and log input is a 400 naming the field; calls for a job not held are 409; nothing stored`, async () => {
    await asBot('/bots/register', { id: 'fake' });
    const j = await api.createJob('simulated', {});
    const got = await asBot('/jobs/next', { botId: 'fake' });
    expect(got.body.job).toMatchObject({ id: j.id, attempts: 1 });
    const at = new Date().toISOString();
    const field = (r: { body: { error?: { message: string } } }) => r.body.error?.message ?? '';
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['progress', { botId: 'fake', attempt: 1, fraction: 1.5 }, /fraction/],
      ['progress', { botId: 'fake', attempt: 1, fraction: -0.1 }, /fraction/],
      ['progress', { botId: 'fake', attempt: 1, fraction: 0.5, message: 'm'.repeat(201) }, /message/],
      ['progress', { botId: 'fake', fraction: 0.5 }, /attempt/],
      ['logs', { botId: 'fake', attempt: 1, lines: [{ at, level: 'info', line: 'x'.repeat(4097) }] }, /lines\.0\.line/],
      ['logs', { botId: 'fake', attempt: 1, lines: [{ at, level: 'loud', line: 'x' }] }, /lines\.0\.level/],
      ['logs', { botId: 'fake', attempt: 1, lines: Array(501).fill({ at, level: 'info', line: 'x' }) }, /lines/],
    ];
    for (const [route, body, name] of cases) {
      const r = await asBot(`/jobs/${j.id}/${route}`, body);
      expect([route, r.status]).toEqual([route, 400]);
      expect(field(r)).toMatch(name);
    }
    expect((await asBot(`/jobs/${j.id}/progress`, { botId: 'fake', attempt: 2, fraction: 0.5 })).status).toBe(409);
    await asBot('/bots/register', { id: 'other' });
    const notMine = await asBot(`/jobs/${j.id}/logs`, {
      botId: 'other',
      attempt: 1,
      lines: [{ at, level: 'info', line: 'x' }],
    });
    expect(notMine.status).toBe(409);
    expect((await asBot('/jobs/nope/progress', { botId: 'fake', attempt: 1, fraction: 0.5 })).status).toBe(404);
    expect((await api.job(j.id)).progress).toBeNull();
    expect((await logs(j.id)).items).toEqual([]);

    // The holder's calls are taken; after the job finished, the same calls are 409.
    const ok = await asBot(`/jobs/${j.id}/progress`, { botId: 'fake', attempt: 1, fraction: 0.5, message: 'half' });
    expect(ok).toMatchObject({ status: 200, body: { progress: { fraction: 0.5, message: 'half' } } });
    const lines = Array.from({ length: 3 }, (_, i) => ({ at, level: 'warn', line: `line ${i}` }));
    const stored = await asBot(`/jobs/${j.id}/logs`, { botId: 'fake', attempt: 1, lines });
    expect(stored).toMatchObject({ status: 200, body: { stored: 3, dropped: 0, full: false } });
    expect((await logs(j.id, '?attempt=1&limit=2')).items.map((l) => l.line)).toEqual(['line 0', 'line 1']);
    const page = await logs(j.id, '?limit=2');
    expect((await logs(j.id, `?limit=2&cursor=${page.nextCursor}`)).items.map((l) => l.line)).toEqual(['line 2']);
    expect((await api.call('GET', `/jobs/${j.id}/logs?attempt=0`)).status).toBe(400);
    expect((await api.call('GET', `/jobs/${j.id}/logs?cursor=bad`)).status).toBe(400);
    await asBot('/jobs/next', { botId: 'fake', complete: { jobId: j.id, attempt: 1, result: null } });
    expect((await asBot(`/jobs/${j.id}/progress`, { botId: 'fake', attempt: 1, fraction: 1 })).status).toBe(409);
    expect((await api.job(j.id)).progress).toMatchObject({ fraction: 0.5 });
  });

  test(`${dbName}: bulk cancel and retry act on every job of the filter and answer the count`, async () => {
    const made = await api.createJobs([
      ...Array.from({ length: 5 }, () => ({ type: 'hash', payload: { input: 'a' } })),
      ...Array.from({ length: 3 }, () => ({ type: 'simulated' })),
    ]);
    const bad = await api.call('POST', '/jobs/cancel', { status: 'bogus' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/status/);
    expect((await api.call('POST', '/jobs/cancel', { type: 'hash' })).body).toEqual({ count: 5 });
    expect((await api.call('POST', '/jobs/cancel', { type: 'hash' })).body).toEqual({ count: 0 });
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await api.call('POST', '/jobs/retry', { createdAfter: later })).body).toEqual({ count: 0 });
    expect((await api.call('POST', '/jobs/retry', { status: 'cancelled', type: 'hash' })).body).toEqual({ count: 5 });
    const jobs = await Promise.all(made.items.map((j) => api.job(j.id)));
    expect(jobs.map((j) => j.status)).toEqual(Array(8).fill('pending'));
    expect((await api.call('POST', '/jobs/cancel', {})).body).toEqual({ count: 8 });
    expect((await api.call('POST', '/jobs/retry', { type: 'simulated' })).body).toEqual({ count: 3 });
  });
}

describe('job control on SQLite', () => {
  scenarios('SQLite', () => ({ env: {}, cleanup: async () => undefined }));
});

describePostgres('job control on PostgreSQL', () => {
  scenarios('PostgreSQL', () => {
    const { url, schema } = freshSchemaUrl('jobctl');
    return { env: { DATABASE_URL: url }, cleanup: () => dropSchema(schema) };
  });
});
