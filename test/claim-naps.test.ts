/**
 * How a waiting long-poll claim spends its wait. On SQLite this server is the only writer and wakes
 * its waiting claims itself, so an idle claim does not look again every 250 ms: it sleeps until the
 * next runAt comes due (at most 5 s). On PostgreSQL other servers create jobs without waking this
 * one, so a claim still looks every 250 ms. A bot that hangs up is not claimed for.
 */
import http from 'node:http';
import type { Store } from '../server/store/types';
import { describePostgres, dropSchema, freshSchemaUrl } from './helpers/postgres';
import { adminHeaders, call, jsonHeaders, startInProcess } from './helpers/server-in-process';
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
    for (const id of ['nap-1', 'nap-2', 'nap-3', 'nap-4']) expect((await call(s.url, 'POST', '/bots/register', { id })).status).toBe(201);
  });
  afterAll(() => s.close());

  test.each([
    ['/jobs/next', 'nap-1'],
    ['/jobs/claim', 'nap-2'],
  ])('an idle %s long-poll of 1.5 s claims when it comes in and when its wait ends, not every 250 ms', async (route, botId) => {
    const before = claims.n();
    const r = await call(s.url, 'POST', route, { botId, waitMs: 1500 });
    expect(r.status).toBe(route === '/jobs/next' ? 200 : 204);
    if (route === '/jobs/next') expect(r.json.job).toBeNull();
    expect(claims.n() - before).toBe(2); // it looked every 250 ms before: 7 claims
  });

  test('a job whose runAt comes due during the wait is picked up when it comes due, not at the 5 s re-check', async () => {
    const runAt = Date.now() + 700;
    const job = await call(s.url, 'POST', '/jobs', { type: 'simulated', runAt: new Date(runAt).toISOString() }, adminHeaders);
    expect(job.status).toBe(201);
    const before = claims.n();
    const r = await call(s.url, 'POST', '/jobs/next', { botId: 'nap-3', waitMs: 20_000 });
    const at = Date.now();
    expect(r.json.job?.id).toBe(job.json.id);
    expect(at).toBeGreaterThanOrEqual(runAt);
    expect(at - runAt).toBeLessThan(3000); // the failure is the 5 s re-check, or the full 20 s wait
    expect(claims.n() - before).toBeLessThanOrEqual(3);
    expect((await call(s.url, 'POST', '/jobs/next', { botId: 'nap-3', complete: { jobId: job.json.id, attempt: 1, result: null } })).status).toBe(200);
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
      expect((await call(s.url, 'POST', '/jobs/next', { botId: 'nap-4', complete: { jobId: job.json.id, attempt: 1, result: null } })).status).toBe(200);
    } finally {
      s.store.nextRunAt = nextRunAt;
    }
  });

  test('a bot that hangs up during the wait is not claimed for', async () => {
    const before = claims.n();
    const req = http.request(`${s.url}/jobs/next`, { method: 'POST', headers: jsonHeaders });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ botId: 'nap-1', waitMs: 20_000 }));
    await waitFor(() => claims.n() > before, 5000, 5);
    req.destroy();
    await sleep(300);
    expect(claims.n() - before).toBe(1); // the hang-up ended the wait; before, one more claim followed it
  });
});

describePostgres('PostgreSQL', () => {
  test('a claim waiting on one server picks up a job created through another within about 250 ms', async () => {
    const fresh = freshSchemaUrl('naps');
    const env = { DATABASE_URL: fresh.url };
    const a = await startInProcess(env);
    const b = await startInProcess(env);
    try {
      expect((await call(a.url, 'POST', '/bots/register', { id: 'pg-nap' })).status).toBe(201);
      const poll = call(a.url, 'POST', '/jobs/next', { botId: 'pg-nap', waitMs: 20_000 });
      await sleep(300);
      const job = await call(b.url, 'POST', '/jobs', { type: 'simulated' }, adminHeaders);
      const t0 = Date.now();
      const r = await poll;
      expect(r.json.job?.id).toBe(job.json.id);
      expect(Date.now() - t0).toBeLessThan(testTime(2000)); // server b cannot wake a's claim; a looks every 250 ms
    } finally {
      await a.close();
      await b.close();
      await dropSchema(fresh.schema);
    }
  });
});
