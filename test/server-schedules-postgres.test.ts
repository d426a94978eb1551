/**
 * Two real server processes on one real PostgreSQL database, a schedule every 2 seconds
 * for a minute. Both servers tick (no leader); each firing must make exactly one job: as many jobs
 * as firings, none twice (by schedule and firing time), none missed, none skipped.
 */
import pg from 'pg';
import { firingsAfter } from '../core/schedule';
import { describePostgres, dropSchema, freshSchemaUrl, PG_BASE_URL } from './helpers/postgres';
import { ADMIN_TOKEN, startServer, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(150_000));

const RUN_MS = 60_000;
const CRON = '*/2 * * * * *';

async function request(base: string, method: string, p: string, body: unknown) {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** The log lines of a server with this message. */
const logged = (s: ServerProcess, msg: string) =>
  s
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; schedule?: string })
    .filter((l) => l.msg === msg);

describePostgres('a schedule every 2 s on two servers of one PostgreSQL database', () => {
  const servers: ServerProcess[] = [];
  const { url, schema } = freshSchemaUrl('sched_two');

  beforeAll(async () => {
    // Ticks five times as often as the default, so the two servers often reach a firing together.
    const env = { DATABASE_URL: url, SCHEDULE_TICK_MS: '200', LOG_LEVEL: 'info' };
    servers.push(await startServer({ env }), await startServer({ env }));
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await dropSchema(schema);
  });

  test('for a minute: one job per firing, none twice, none missed', async () => {
    const created = await request(servers[0].url, 'POST', '/schedules', {
      name: 'two-seconds',
      cron: CRON,
      job: { type: 'hash', payload: { n: 1 } },
    });
    expect(created.status).toBe(201);
    await new Promise((r) => setTimeout(r, RUN_MS));
    const off = await request(servers[1].url, 'PUT', '/schedules/two-seconds', {
      cron: CRON,
      job: { type: 'hash', payload: { n: 1 } },
      enabled: false,
    });
    expect(off.status).toBe(200);

    const c = new pg.Client({ connectionString: PG_BASE_URL });
    await c.connect();
    let rows: { run_at: number; n: number }[];
    try {
      await c.query(`SET search_path TO ${schema}`);
      const r = await c.query(
        `SELECT run_at::float8 AS run_at, COUNT(*)::int AS n FROM jobs WHERE schedule = 'two-seconds'
         GROUP BY run_at ORDER BY run_at`,
      );
      rows = r.rows as { run_at: number; n: number }[];
    } finally {
      await c.end();
    }
    const start = Date.parse(created.json.createdAt);
    const end = Date.parse(off.json.updatedAt);
    // Every firing after the schedule was made and before it was disabled, but the last one when it
    // came due less than a tick and a round trip before the disabling (no server had its turn yet).
    const firings = firingsAfter(CRON, 'UTC', start, 100).filter((t) => t <= end);
    const expected = firings.filter((t) => t <= end - 1000);
    const fired = rows.map((r) => r.run_at);
    const twice = rows.filter((r) => r.n > 1);
    const skipped = servers.flatMap((s) => logged(s, 'schedule skipped missed firings'));
    const perServer = servers.map((s) => logged(s, 'schedule fired').length);
    const report = { twice, skipped, perServer, fired: fired.length, firings: firings.length };
    expect({ ...report, missed: expected.filter((t) => !fired.includes(t)) }).toEqual({
      ...report,
      missed: [],
      twice: [],
      skipped: [],
    });
    expect(fired.every((t) => firings.includes(t))).toBe(true);
    expect(fired.length).toBeGreaterThanOrEqual(29);
    // Each job was made, and logged, by exactly one of the two servers.
    expect(perServer[0] + perServer[1]).toBe(fired.length);
    expect((await request(servers[0].url, 'GET', '/schedules/two-seconds', undefined)).json.lastRunAt).toBe(
      new Date(fired[fired.length - 1]).toISOString(),
    );
  });
});
