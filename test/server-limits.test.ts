/**
 * Rate limits over real HTTP: admin routes per client, refused tokens per client, empty claims per
 * bot; real work is never slowed.
 */
import { adminHeaders, call, jsonHeaders, startInProcess, viewerHeaders } from './helpers/server-in-process';

let s: Awaited<ReturnType<typeof startInProcess>>;
beforeAll(async () => {
  s = await startInProcess({
    RATE_LIMIT_ADMIN_PER_S: '2',
    RATE_LIMIT_EMPTY_CLAIMS_PER_S: '2',
    RATE_LIMIT_AUTH_FAILURES_PER_S: '0',
  });
});
afterAll(() => s.close());

/**
 * Calls `send` until it answers 429 (at most 12 times) and returns every status. A bucket refills
 * while the calls run (2 per second here), so a slow machine may see one or two more pass than the
 * burst of 4; the limiter must still refuse within a few calls.
 */
async function untilLimited(send: (i: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 12 && statuses.at(-1) !== 429; i++) statuses.push(await send(i));
  return statuses;
}

test('refused tokens: after the burst every route that needs a token answers 429 to that client, even a good token', async () => {
  const t = await startInProcess({ RATE_LIMIT_AUTH_FAILURES_PER_S: '2' });
  try {
    const statuses = await untilLimited(async (i) => {
      const headers: Record<string, string> = i % 2 === 0 ? {} : { authorization: 'Bearer guess-guess' };
      return (await call(t.url, 'GET', `/jobs?guess=${i}`, undefined, headers)).status;
    });
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.slice(0, -1).every((x) => x === 401)).toBe(true);
    expect(statuses.length).toBeGreaterThanOrEqual(5); // the burst of 4 passes first
    const limited = await call(t.url, 'GET', '/queue', undefined, viewerHeaders);
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await call(t.url, 'GET', '/healthz', undefined, jsonHeaders)).status).toBe(200); // open routes are not
    await new Promise((r) => setTimeout(r, 600)); // one attempt back
    expect((await call(t.url, 'GET', '/queue', undefined, viewerHeaders)).status).toBe(200);
    // A token of another role (403) is not a guess and costs nothing.
    for (let i = 0; i < 5; i++)
      expect((await call(t.url, 'POST', '/queue/pause', undefined, viewerHeaders)).status).toBe(403);
  } finally {
    await t.close();
  }
});

test('admin routes: the burst passes, then 429 JSON with Retry-After; wrong tokens count too', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++)
    statuses.push(
      (await call(s.url, 'POST', '/queue/pause', undefined, { authorization: 'Bearer wrong-token' })).status,
    );
  expect(statuses).toEqual([401, 401, 401]);
  let limited = await call(s.url, 'POST', '/queue/resume', undefined, adminHeaders);
  const passed: number[] = [];
  for (let i = 0; i < 12 && limited.status !== 429; i++) {
    passed.push(limited.status);
    limited = await call(s.url, 'POST', '/queue/resume', undefined, adminHeaders);
  }
  // The wrong tokens used 3 of the burst of 4: the good token gets one call (more only as the bucket refills).
  expect(passed[0]).toBe(200);
  expect(passed.every((x) => x === 200)).toBe(true);
  expect(limited.status).toBe(429);
  expect(limited.json.error.code).toBe('rate_limited');
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect((await call(s.url, 'GET', '/queue')).status).toBe(200); // reads are not limited
});

test('claims: empty answers are limited per bot; claims that get a job are not', async () => {
  await call(s.url, 'POST', '/bots/register', { id: 'greedy' });
  await call(s.url, 'POST', '/bots/register', { id: 'polite' });
  const empty = await untilLimited(async () => (await call(s.url, 'POST', '/jobs/claim', { botId: 'greedy' })).status);
  expect(empty.at(-1)).toBe(429);
  expect(empty.slice(0, -1).every((x) => x === 204)).toBe(true);
  expect(empty.length).toBeGreaterThanOrEqual(5); // the burst of 4 passes first
  expect((await call(s.url, 'POST', '/jobs/claim', { botId: 'polite' })).status).toBe(204); // per bot
  await new Promise((r) => setTimeout(r, 2100)); // admin bucket refills
  await call(s.url, 'POST', '/jobs', { jobs: Array.from({ length: 20 }, () => ({ type: 'work' })) }, adminHeaders);
  await new Promise((r) => setTimeout(r, 600)); // one token back for greedy
  let done = 0;
  let prev: { jobId: string; attempt: number } | undefined;
  for (;;) {
    const r = await call(s.url, 'POST', '/jobs/next', {
      botId: 'greedy',
      ...(prev ? { complete: { ...prev, result: null } } : {}),
    });
    expect(r.status).toBe(200);
    if (prev) done++;
    if (!r.json.job) break;
    prev = { jobId: r.json.job.id, attempt: r.json.job.attempts };
  }
  expect(done).toBe(20);
});

test('claims: a report that finds the queue empty does not spend the empty-claim budget; a bare empty claim does', async () => {
  const t = await startInProcess({ RATE_LIMIT_EMPTY_CLAIMS_PER_S: '2' });
  try {
    await call(t.url, 'POST', '/bots/register', { id: 'steady' });
    const statuses: number[] = [];
    // More reports than the budget (2/s, burst 4), each answered "nothing left", as when jobs trickle in.
    for (let i = 0; i < 8; i++) {
      const job = await call(t.url, 'POST', '/jobs', { type: 'work' }, adminHeaders);
      const got = await call(t.url, 'POST', '/jobs/next', { botId: 'steady' });
      statuses.push(got.status);
      expect(got.json.job?.id).toBe(job.json.id);
      const report = await call(t.url, 'POST', '/jobs/next', {
        botId: 'steady',
        complete: { jobId: job.json.id, attempt: got.json.job.attempts, result: null },
      });
      statuses.push(report.status);
      expect(report.json.job).toBeNull();
    }
    expect(statuses.every((c) => c === 200)).toBe(true);
    const bare: number[] = [];
    for (let i = 0; i < 6; i++) bare.push((await call(t.url, 'POST', '/jobs/next', { botId: 'steady' })).status);
    expect(bare).toContain(429);
  } finally {
    await t.close();
  }
});
