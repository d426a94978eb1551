/**
 * The /schedules API over real HTTP, on SQLite and on PostgreSQL: create (201 with the next 5
 * firings), 409 for a taken name, 400 naming the field for a bad cron, time zone or job, GET one and
 * all (the seed's batch first, as builtin:populate), PUT, DELETE 204, the preview, the roles (admin
 * writes, viewer reads and previews), and a firing's job naming its schedule.
 */
import {
  adminHeaders,
  botHeaders,
  call,
  jsonHeaders,
  startInProcess,
  viewerHeaders,
} from './helpers/server-in-process';
import { describePostgres, dropSchema, freshSchemaUrl } from './helpers/postgres';
import { waitFor } from './helpers/server-process';

const HOUR = 3600_000;

function suite(env: () => Record<string, string>, cleanup: () => Promise<void> = async () => undefined) {
  let s: Awaited<ReturnType<typeof startInProcess>>;
  const admin = (method: string, p: string, body?: unknown) => call(s.url, method, p, body, adminHeaders);
  const viewer = (method: string, p: string, body?: unknown) =>
    call(s.url, method, p, body, { ...viewerHeaders, ...jsonHeaders });
  const as = (headers: Record<string, string>, method: string, p: string, body?: unknown) =>
    call(s.url, method, p, body, { ...headers, ...jsonHeaders });
  const field = (r: { json: { error?: { details?: { path: string }[] } } }) => r.json.error?.details?.[0]?.path;

  beforeAll(async () => {
    s = await startInProcess({ SCHEDULE_TICK_MS: '100', POPULATE_INTERVAL_MS: String(HOUR), ...env() });
  });
  afterAll(async () => {
    await s.close();
    await cleanup();
  });

  test('POST /schedules: 201 with the schedule and its next 5 firings; 409 for a taken name', async () => {
    const body = { name: 'weekday-6', cron: '0 6 * * 1-5', timezone: 'Europe/Berlin', job: { type: 'hash' } };
    const r = await admin('POST', '/schedules', body);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      name: 'weekday-6',
      cron: '0 6 * * 1-5',
      timezone: 'Europe/Berlin',
      job: { type: 'hash', payload: {}, priority: 0 },
      enabled: true,
      catchUp: false,
      lastRunAt: null,
      lastJobId: null,
      builtin: false,
    });
    expect(r.json.nextRuns).toHaveLength(5);
    expect(r.json.nextRuns[0]).toBe(r.json.nextRunAt);
    for (const t of r.json.nextRuns as string[]) {
      const local = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
      }).format(new Date(t));
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 06:00$/);
    }
    const again = await admin('POST', '/schedules', { ...body, cron: '@daily' });
    expect(again.status).toBe(409);
    expect(again.json.error.message).toContain('weekday-6');
    expect((await admin('GET', '/schedules/weekday-6')).json.cron).toBe('0 6 * * 1-5');
  });

  test('400 naming the field: a bad cron, an unknown time zone, a bad job, a builtin: name, an unknown field', async () => {
    const ok = { name: 'bad', cron: '* * * * *', job: { type: 'hash' } };
    const cases: [unknown, string][] = [
      [{ ...ok, cron: '61 * * * *' }, 'body.cron'],
      [{ ...ok, cron: '* * * * * * *' }, 'body.cron'],
      [{ ...ok, cron: '@reboot' }, 'body.cron'],
      [{ ...ok, cron: '0 0 30 2 *' }, 'body.cron'],
      [{ ...ok, timezone: 'Europe/Atlantis' }, 'body.timezone'],
      [{ ...ok, job: { type: 'Not A Type' } }, 'body.job.type'],
      [{ ...ok, job: { type: 'hash', maxAttempts: 0 } }, 'body.job.maxAttempts'],
      [{ ...ok, job: { type: 'hash', runAt: '2030-01-01T00:00:00Z' } }, 'body.job'],
      [{ ...ok, job: undefined }, 'body.job'],
      [{ ...ok, name: 'builtin:mine' }, 'body.name'],
      [{ ...ok, name: 'a/b' }, 'body.name'],
      [{ ...ok, every: 5 }, 'body'],
    ];
    for (const [body, path] of cases) {
      const r = await admin('POST', '/schedules', body);
      expect({ body, status: r.status, code: r.json.error?.code, path: field(r) }).toEqual({
        body,
        status: 400,
        code: 'validation_failed',
        path,
      });
    }
    expect((await admin('GET', '/schedules/bad')).status).toBe(404);
  });

  test('every write needs the admin token (none 401, viewer or bot 403); reading and the preview need a viewer', async () => {
    const body = { name: 'x', cron: '@hourly', job: { type: 'hash' } };
    const writes: [string, string, unknown][] = [
      ['POST', '/schedules', body],
      ['PUT', '/schedules/weekday-6', { cron: '@hourly', job: { type: 'hash' } }],
      ['DELETE', '/schedules/weekday-6', undefined],
    ];
    for (const [method, p, b] of writes) {
      expect([method, (await as({}, method, p, b)).status]).toEqual([method, 401]);
      expect([method, (await as(viewerHeaders, method, p, b)).status]).toEqual([method, 403]);
      expect([method, (await as(botHeaders, method, p, b)).status]).toEqual([method, 403]);
    }
    for (const p of ['/schedules', '/schedules/weekday-6']) {
      expect((await as({}, 'GET', p)).status).toBe(401);
      expect((await as(botHeaders, 'GET', p)).status).toBe(403);
      expect((await viewer('GET', p)).status).toBe(200);
      expect((await admin('GET', p)).status).toBe(200);
    }
    expect((await as({}, 'POST', '/schedules/preview', { cron: '@daily' })).status).toBe(401);
    expect((await as(botHeaders, 'POST', '/schedules/preview', { cron: '@daily' })).status).toBe(403);
    expect((await admin('GET', '/schedules/weekday-6')).json.cron).toBe('0 6 * * 1-5'); // nothing changed
    const preview = await viewer('POST', '/schedules/preview', { cron: '30 2 * * *', timezone: 'Europe/Berlin' });
    expect(preview.status).toBe(200);
    expect(preview.json.nextRuns).toHaveLength(5);
    expect(preview.json.timezone).toBe('Europe/Berlin');
    const bad = await viewer('POST', '/schedules/preview', { cron: '* *' });
    expect([bad.status, field(bad)]).toEqual([400, 'body.cron']);
    expect(field(await viewer('POST', '/schedules/preview', { cron: '@daily', timezone: 'Nope/Never' }))).toBe(
      'body.timezone',
    );
  });

  test('GET /schedules lists the seed batch first as builtin:populate (read-only), then every schedule by name', async () => {
    await waitFor(async () => (await viewer('GET', '/schedules/builtin:populate')).json.lastRunAt !== null, 20_000);
    const list = (await viewer('GET', '/schedules')).json.items as { name: string }[];
    expect(list[0]).toMatchObject({
      name: 'builtin:populate',
      builtin: true,
      cron: null,
      everyMs: HOUR,
      batchSize: 5,
      enabled: true,
      job: { type: 'simulated' },
    });
    const b = (await viewer('GET', '/schedules/builtin:populate')).json;
    expect(Date.parse(b.nextRunAt) - Date.parse(b.lastRunAt)).toBe(HOUR);
    expect(Date.parse(b.nextRunAt) % HOUR).toBe(0);
    expect(b.nextRuns).toHaveLength(5);
    expect(list.map((i) => i.name)).toContain('weekday-6');
    const put = await admin('PUT', '/schedules/builtin:populate', { cron: '@hourly', job: { type: 'hash' } });
    expect([put.status, put.json.error.code]).toEqual([409, 'builtin_schedule']);
    expect(put.json.error.message).toMatch(/POPULATE_INTERVAL_MS/);
    expect((await admin('DELETE', '/schedules/builtin:populate')).status).toBe(409);
  });

  test('PUT replaces the whole schedule (defaults for what it leaves out); 404 unknown; DELETE 204, then 404', async () => {
    await admin('POST', '/schedules', {
      name: 'to-change',
      cron: '@daily',
      catchUp: true,
      job: { type: 'hash', priority: 3, maxAttempts: 2 },
    });
    const r = await admin('PUT', '/schedules/to-change', { cron: '15 * * * *', job: { type: 'fib' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ name: 'to-change', cron: '15 * * * *', catchUp: false, job: { type: 'fib' } });
    expect(new Date(r.json.nextRunAt).getUTCMinutes()).toBe(15);
    const off = await admin('PUT', '/schedules/to-change', {
      cron: '15 * * * *',
      job: { type: 'fib' },
      enabled: false,
    });
    expect(off.json).toMatchObject({ enabled: false, nextRunAt: null, nextRuns: [] });
    const bad = await admin('PUT', '/schedules/to-change', { cron: '15 * * *', job: { type: 'fib' } });
    expect([bad.status, field(bad)]).toEqual([400, 'body.cron']);
    expect((await admin('PUT', '/schedules/nobody', { cron: '@daily', job: { type: 'fib' } })).status).toBe(404);
    const del = await admin('DELETE', '/schedules/to-change');
    expect([del.status, del.text]).toEqual([204, '']);
    expect((await admin('DELETE', '/schedules/to-change')).status).toBe(404);
    expect((await viewer('GET', '/schedules/to-change')).status).toBe(404);
  });

  test("a firing's job names its schedule and its firing; the schedule shows it as its last run", async () => {
    const r = await admin('POST', '/schedules', { name: 'every-second', cron: '* * * * * *', job: { type: 'fib' } });
    expect(r.status).toBe(201);
    await waitFor(async () => (await viewer('GET', '/schedules/every-second')).json.lastJobId !== null, 15_000);
    const sch = (
      await admin('PUT', '/schedules/every-second', { cron: '* * * * * *', job: { type: 'fib' }, enabled: false })
    ).json;
    const job = (await viewer('GET', `/jobs/${sch.lastJobId}`)).json;
    expect(job).toMatchObject({ type: 'fib', schedule: 'every-second', runAt: sch.lastRunAt, status: 'pending' });
    expect(Date.parse(job.runAt) % 1000).toBe(0);
    expect(Date.parse(job.createdAt)).toBeGreaterThanOrEqual(Date.parse(job.runAt));
    const mine = (await viewer('GET', '/jobs?type=fib&limit=500')).json.items.filter(
      (j: { schedule: string }) => j.schedule === 'every-second',
    );
    const firings = mine.map((j: { runAt: string }) => j.runAt);
    expect(new Set(firings).size).toBe(firings.length);
    // Plain jobs name no schedule.
    expect((await admin('POST', '/jobs', { type: 'hash' })).json.schedule).toBeNull();
  });
}

describe('schedules API [sqlite]', () => suite(() => ({})));

describePostgres('schedules API [postgres]', () => {
  const { url, schema } = freshSchemaUrl('sched_api');
  suite(
    () => ({ DATABASE_URL: url }),
    () => dropSchema(schema),
  );
});
