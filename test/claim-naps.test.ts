/**
 * How a waiting long-poll claim spends its wait. On SQLite this server is the only writer and wakes
 * its waiting claims itself, so an idle claim does not look again every 250 ms: it sleeps until the
 * next runAt comes due (at most 5 s). On PostgreSQL other servers create jobs too: they wake this
 * one through NOTIFY, and while its wake-up connection is down its claims look every 250 ms. A bot
 * that hangs up is not claimed for.
 */
import http from 'node:http';
import pg from 'pg';
import { applicationName, WAKE_CHANNEL } from '../server/pg-wakeups';
import type { Store } from '../server/store/types';
import { describePostgres, dropSchema, freshSchemaUrl, PG_BASE_URL } from './helpers/postgres';
import { adminHeaders, botHeaders, call, startInProcess } from './helpers/server-in-process';
import { waitFor } from './helpers/server-process';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(30_000));

/** Counts the store's claim calls (the routes call the store object's methods at call time). */
function countClaims(store: Store): { n: () => number } {
  let n = 0;
  const next = store.finishAndClaim.bind(store);
  const claim = store.claimJob.bind(store);
  store.finishAndClaim = (...a) => (n++, next(...a));
  store.claimJob = (...a) => (n++, claim(...a));
  return { n: () => n };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SQLite', () => {
  let s: Awaited<ReturnType<typeof startInProcess>>;
  let claims: { n: () => number };
  beforeAll(async () => {
    s = await startInProcess();
    claims = countClaims(s.store);
    for (const id of ['nap-1', 'nap-2', 'nap-3', 'nap-4', 'nap-5'])
      expect((await call(s.url, 'POST', '/bots/register', { id })).status).toBe(201);
  });
  afterAll(() => s.close());

  test.each([
    ['/jobs/next', 'nap-1'],
    ['/jobs/claim', 'nap-2'],
  ])(
    'an idle %s long-poll of 1.5 s claims when it comes in and when its wait ends, not every 250 ms',
    async (route, botId) => {
      const before = claims.n();
      const r = await call(s.url, 'POST', route, { botId, waitMs: 1500 });
      expect(r.status).toBe(route === '/jobs/next' ? 200 : 204);
      if (route === '/jobs/next') expect(r.json.job).toBeNull();
      expect(claims.n() - before).toBe(2); // a look every 250 ms would be 7 claims
    },
  );

  test('a job whose runAt comes due during the wait is picked up when it comes due, not at the 5 s re-check', async () => {
    const runAt = Date.now() + 700;
    const job = await call(
      s.url,
      'POST',
      '/jobs',
      { type: 'simulated', runAt: new Date(runAt).toISOString() },
      adminHeaders,
    );
    expect(job.status).toBe(201);
    const before = claims.n();
    const r = await call(s.url, 'POST', '/jobs/next', { botId: 'nap-3', waitMs: 20_000 });
    const at = Date.now();
    expect(r.json.job?.id).toBe(job.json.id);
    expect(at).toBeGreaterThanOrEqual(runAt);
    expect(at - runAt).toBeLessThan(3000); // the failure is the 5 s re-check, or the full 20 s wait
    expect(claims.n() - before).toBeLessThanOrEqual(3);
    expect(
      (
        await call(s.url, 'POST', '/jobs/next', {
          botId: 'nap-3',
          complete: { jobId: job.json.id, attempt: 1, result: null },
        })
      ).status,
    ).toBe(200);
  });

  test('a job that comes due between the claim that missed it and the read of the next runAt is picked up at once, not at the 5 s re-check', async () => {
    // On a loaded machine the claim can look just before the runAt and read the next runAt just after
    // it; read as of the later time that job would not be "to come" and the claim would sleep the full
    // 5 s. Here the first claim's answer is held until the job is due, which makes that order certain.
    const runAt = Date.now() + testTime(500); // time enough for the first claim to look before it, even on a starved machine
    const job = await call(
      s.url,
      'POST',
      '/jobs',
      { type: 'simulated', runAt: new Date(runAt).toISOString() },
      adminHeaders,
    );
    expect(job.status).toBe(201);
    const finishAndClaim = s.store.finishAndClaim;
    const lookedAt: number[] = [];
    s.store.finishAndClaim = async (botId, finished, nowMs) => {
      const out = await finishAndClaim(botId, finished, nowMs);
      if (botId === 'nap-5' && lookedAt.push(nowMs) === 1) await sleep(runAt - Date.now() + 50);
      return out;
    };
    try {
      const r = await call(s.url, 'POST', '/jobs/next', { botId: 'nap-5', waitMs: 20_000 });
      const at = Date.now();
      expect(lookedAt[0]).toBeLessThan(runAt); // the first claim looked before the job was due
      expect(r.json.job?.id).toBe(job.json.id);
      expect(at - runAt).toBeLessThan(3000); // the 5 s re-check would be 5,000 ms
    } finally {
      s.store.finishAndClaim = finishAndClaim;
    }
    expect(
      (
        await call(s.url, 'POST', '/jobs/next', {
          botId: 'nap-5',
          complete: { jobId: job.json.id, attempt: 1, result: null },
        })
      ).status,
    ).toBe(200);
  });

  test('a job created while the claim reads the next runAt wakes it all the same', async () => {
    // The wake-up comes before the claim is waiting; wait() sees it by the generation taken before the claim.
    const nextRunAt = s.store.nextRunAt.bind(s.store);
    let reading = false;
    s.store.nextRunAt = async (now) => {
      reading = true;
      await sleep(300);
      return nextRunAt(now);
    };
    try {
      const poll = call(s.url, 'POST', '/jobs/next', { botId: 'nap-4', waitMs: 20_000 });
      await waitFor(() => reading, 5000, 2);
      const job = await call(s.url, 'POST', '/jobs', { type: 'simulated' }, adminHeaders);
      const t0 = Date.now();
      const r = await poll;
      expect(r.json.job?.id).toBe(job.json.id);
      expect(Date.now() - t0).toBeLessThan(3000); // lost, it would wait for the 5 s re-check
      expect(
        (
          await call(s.url, 'POST', '/jobs/next', {
            botId: 'nap-4',
            complete: { jobId: job.json.id, attempt: 1, result: null },
          })
        ).status,
      ).toBe(200);
    } finally {
      s.store.nextRunAt = nextRunAt;
    }
  });

  test.each([
    ['/jobs/next', 'nap-1'],
    ['/jobs/claim', 'nap-2'],
  ])(
    'a bot that hangs up during a %s wait is not claimed for: a job created after it stays pending',
    async (route, botId) => {
      const before = claims.n();
      const req = http.request(`${s.url}${route}`, { method: 'POST', headers: botHeaders });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ botId, waitMs: 20_000 }));
      await waitFor(() => claims.n() > before, 5000, 5);
      req.destroy();
      await sleep(300); // the server sees the socket close
      const job = await call(s.url, 'POST', '/jobs', { type: 'work' }, adminHeaders);
      await sleep(700); // longer than a waiting claim's 250 ms re-check
      expect(claims.n() - before).toBe(1); // the claim made when the request came in, no other
      const after = await call(s.url, 'GET', `/jobs/${job.json.id}`);
      expect({ status: after.json.status, botId: after.json.botId }).toEqual({ status: 'pending', botId: null });
      expect((await call(s.url, 'POST', `/jobs/${job.json.id}/cancel`, {}, adminHeaders)).status).toBe(200);
    },
  );
});

describePostgres('PostgreSQL, two servers on one database', () => {
  let fresh: ReturnType<typeof freshSchemaUrl>;
  let a: Awaited<ReturnType<typeof startInProcess>>;
  let b: Awaited<ReturnType<typeof startInProcess>>;
  let claims: { n: () => number };
  const pgq = async <T>(sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: PG_BASE_URL });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  const listeners = async () =>
    // Connections of that name past their LISTEN (its last query, or a NOTIFY sent on it since).
    Number(
      (
        await pgq<{ n: string | number }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND (query = 'LISTEN ${WAKE_CHANNEL}' OR query LIKE 'SELECT pg_notify%')`,
          [applicationName(fresh.schema)],
        )
      )[0].n,
    ); // a string, or a number once a store in this process has set pg's bigint parser

  beforeAll(async () => {
    fresh = freshSchemaUrl('naps');
    a = await startInProcess({ DATABASE_URL: fresh.url });
    b = await startInProcess({ DATABASE_URL: fresh.url });
    claims = countClaims(a.store);
    expect((await call(a.url, 'POST', '/bots/register', { id: 'pg-nap' })).status).toBe(201);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await dropSchema(fresh.schema);
  });

  /** A bot long-polls server a; after `quietMs` a job is created through server b. */
  async function pickupAcross(quietMs: number): Promise<{ claimsWhileQuiet: number; pickupMs: number }> {
    const before = claims.n();
    const poll = call(a.url, 'POST', '/jobs/next', { botId: 'pg-nap', waitMs: 20_000 });
    await sleep(quietMs);
    const claimsWhileQuiet = claims.n() - before;
    const job = await call(b.url, 'POST', '/jobs', { type: 'simulated' }, adminHeaders);
    const t0 = Date.now();
    const r = await poll;
    const pickupMs = Date.now() - t0;
    expect(r.json.job?.id).toBe(job.json.id);
    expect(
      (
        await call(a.url, 'POST', '/jobs/next', {
          botId: 'pg-nap',
          complete: { jobId: job.json.id, attempt: 1, result: null },
        })
      ).status,
    ).toBe(200);
    return { claimsWhileQuiet, pickupMs };
  }

  test('while both listen, a claim waiting on one server sleeps, and a job created through the other wakes it (NOTIFY)', async () => {
    await waitFor(async () => (await listeners()) === 2, 10_000, 50);
    const r = await pickupAcross(1500);
    expect(r.claimsWhileQuiet).toBe(1); // polling every 250 ms: 7
    expect(r.pickupMs).toBeLessThan(3000); // not woken, it would sleep 5 s
  });

  test('while the wake-up connections are down, waiting claims poll every 250 ms; they come back and listen again', async () => {
    await waitFor(async () => (await listeners()) === 2, 10_000, 50);
    await pgq(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [
      applicationName(fresh.schema),
    ]);
    await waitFor(async () => (await listeners()) === 0, 5000, 10);
    await sleep(50); // the servers see their connections end
    const down = await pickupAcross(800);
    expect(down.claimsWhileQuiet).toBeGreaterThanOrEqual(2); // polling again
    expect(down.pickupMs).toBeLessThan(testTime(2000));
    await waitFor(async () => (await listeners()) === 2, 10_000, 50); // reconnected (every second)
    const back = await pickupAcross(1500);
    expect(back.claimsWhileQuiet).toBe(1);
    expect(back.pickupMs).toBeLessThan(3000);
  });
});
