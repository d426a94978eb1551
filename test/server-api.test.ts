/**
 * The HTTP contract over real HTTP on an ephemeral port, against a real SQLite file: every route,
 * every error code.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  adminHeaders,
  botHeaders,
  call,
  jsonHeaders,
  startInProcess,
  viewerHeaders,
} from './helpers/server-in-process';

let s: Awaited<ReturnType<typeof startInProcess>>;
const api = (method: string, p: string, body?: unknown, headers?: Record<string, string>) =>
  call(s.url, method, p, body, headers);

beforeAll(async () => {
  // Failed tokens are limited per client address (server-limits.test.ts); here every one must get its 401.
  s = await startInProcess({ BATCH_SIZE: '3', MAX_ATTEMPTS: '2', RATE_LIMIT_AUTH_FAILURES_PER_S: '0' });
});
afterAll(async () => {
  await s.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function expectError(r: { status: number; json: any }, status: number, code?: string) {
  expect(r.status).toBe(status);
  expect(r.json).toHaveProperty('error.message');
  if (code) expect(r.json.error.code).toBe(code);
  expect(JSON.stringify(r.json)).not.toMatch(/at .*\.(ts|js):\d+|node_modules|\/work\//);
}

describe('jobs', () => {
  test('populate: 201 with BATCH_SIZE simulated jobs by default, count 1..1000', async () => {
    const r = await api('POST', '/jobs/populate', undefined, adminHeaders);
    expect(r.status).toBe(201);
    expect(r.json.items).toHaveLength(3);
    expect(r.json.items[0]).toMatchObject({ type: 'simulated', status: 'pending', maxAttempts: 2 });
    expect((await api('POST', '/jobs/populate', { count: 7 }, adminHeaders)).json.items).toHaveLength(7);
    const big = await api('POST', '/jobs/populate', { count: 1001 }, adminHeaders);
    expectError(big, 400, 'validation_failed');
    expect(big.json.error.details[0].path).toBe('body.count');
    expectError(await api('POST', '/jobs/populate', { count: 'x' }, adminHeaders), 400);
  });

  test('POST /jobs: 201, key de-duplication 200, every option, batch form', async () => {
    const r = await api(
      'POST',
      '/jobs',
      {
        type: 'hash',
        payload: { input: 'a', iterations: 2 },
        priority: 5,
        key: 'k-1',
        maxAttempts: 3,
        timeoutMs: 1000,
      },
      adminHeaders,
    );
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      type: 'hash',
      priority: 5,
      key: 'k-1',
      maxAttempts: 3,
      timeoutMs: 1000,
      payload: { input: 'a', iterations: 2 },
    });
    const again = await api('POST', '/jobs', { type: 'hash', payload: {}, key: 'k-1' }, adminHeaders);
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(r.json.id);
    const batch = await api(
      'POST',
      '/jobs',
      {
        jobs: [
          { type: 'primes', payload: { n: 10 } },
          { type: 'primes', payload: { n: 20 } },
        ],
      },
      adminHeaders,
    );
    expect(batch.status).toBe(201);
    expect(batch.json.items).toHaveLength(2);
    const later = await api('POST', '/jobs', { type: 'simulated', runAt: '2099-01-01T00:00:00Z' }, adminHeaders);
    expect(later.json.runAt).toBe('2099-01-01T00:00:00.000Z');
  });

  test('POST /jobs: bad input is a 400 naming the field; status or attempts in the body are refused', async () => {
    for (const [body, field] of [
      [{ payload: {} }, 'body.type'],
      [{ type: 'Bad Type' }, 'body.type'],
      [{ type: 'x', priority: 1.5 }, 'body.priority'],
      [{ type: 'x', runAt: 'yesterday' }, 'body.runAt'],
      [{ type: 'x', status: 'completed' }, 'body'],
      [{ type: 'x', attempts: 3 }, 'body'],
      [{ type: 'x', maxAttempts: 0 }, 'body.maxAttempts'],
      [{ type: 'x', timeoutMs: -1 }, 'body.timeoutMs'],
    ] as const) {
      const r = await api('POST', '/jobs', body, adminHeaders);
      expectError(r, 400, 'validation_failed');
      expect(r.json.error.details.map((d: { path: string }) => d.path)).toContain(field);
    }
  });

  test('GET /jobs: list, filters, keyset paging, bad limit and cursor', async () => {
    const first = await api('GET', '/jobs?limit=4');
    expect(first.status).toBe(200);
    expect(first.json.items).toHaveLength(4);
    expect(typeof first.json.nextCursor).toBe('string');
    const second = await api('GET', `/jobs?limit=4&cursor=${first.json.nextCursor}`);
    expect(second.json.items[0].createdAt <= first.json.items[3].createdAt).toBe(true);
    expect(new Set([...first.json.items, ...second.json.items].map((j: { id: string }) => j.id)).size).toBe(8);
    const hashes = await api('GET', '/jobs?type=hash');
    expect(hashes.json.items.every((j: { type: string }) => j.type === 'hash')).toBe(true);
    expect(
      (await api('GET', '/jobs?status=pending&limit=500')).json.items.every(
        (j: { status: string }) => j.status === 'pending',
      ),
    ).toBe(true);
    expectError(await api('GET', '/jobs?limit=501'), 400);
    expectError(await api('GET', '/jobs?limit=0'), 400);
    expectError(await api('GET', '/jobs?status=weird'), 400);
    expectError(await api('GET', '/jobs?cursor=garbage'), 400);
    expectError(await api('GET', '/jobs?limit=1&limit=2'), 400);
    expectError(await api('GET', '/jobs?sort=asc'), 400);
  });

  test('GET /jobs/:id: 200 with events, 404 unknown, 400 bad id', async () => {
    const list = await api('GET', '/jobs?limit=1');
    const r = await api('GET', `/jobs/${list.json.items[0].id}`);
    expect(r.status).toBe(200);
    expect(r.json.events[0]).toMatchObject({ from: null, to: 'pending' });
    expectError(await api('GET', '/jobs/does-not-exist'), 404, 'not_found');
    expectError(await api('GET', `/jobs/${'x'.repeat(300)}`), 400);
    expectError(await api('GET', '/jobs/a%20b'), 400);
  });
});

describe('a bot’s life over HTTP', () => {
  test('register → claim → start → complete; fencing 409s; fail; idempotent repeats', async () => {
    const reg = await api('POST', '/bots/register', { id: 'api-bot', name: 'API bot' });
    expect(reg.status).toBe(201);
    expect((await api('POST', '/bots/register', { id: 'api-bot' })).status).toBe(200);
    expect((await api('POST', '/bots/register', {})).status).toBe(201); // id generated
    await api('POST', '/bots/register', { id: 'other-bot' });

    // Drain what earlier tests created until a simulated job turns up.
    const claim = await api('POST', '/jobs/claim', { botId: 'api-bot' });
    expect(claim.status).toBe(200);
    const job = claim.json;
    expect(job).toMatchObject({ status: 'claimed', botId: 'api-bot', attempts: 1 });
    expectError(await api('POST', '/jobs/claim', { botId: 'api-bot' }), 409, 'bot_busy');
    expectError(await api('POST', '/jobs/claim', { botId: 'ghost' }), 404);
    expectError(await api('POST', `/jobs/${job.id}/start`, { botId: 'other-bot' }), 409);
    const started = await api('POST', `/jobs/${job.id}/start`, { botId: 'api-bot', attempt: 1 });
    expect(started.json.status).toBe('running');
    expectError(await api('POST', `/jobs/${job.id}/complete`, { botId: 'other-bot', attempt: 1 }), 409, 'not_your_job');
    expectError(await api('POST', `/jobs/${job.id}/complete`, { botId: 'api-bot', attempt: 2 }), 409);
    const done = await api('POST', `/jobs/${job.id}/complete`, { botId: 'api-bot', attempt: 1, result: { ok: true } });
    expect(done.json).toMatchObject({ status: 'completed', result: { ok: true } });
    const repeat = await api('POST', `/jobs/${job.id}/complete`, {
      botId: 'api-bot',
      attempt: 1,
      result: { ok: true },
    });
    expect(repeat.status).toBe(200);
    expectError(await api('POST', '/jobs/nope/complete', { botId: 'api-bot' }), 404);
    expectError(await api('POST', `/jobs/${job.id}/fail`, { botId: 'api-bot' }), 400); // error missing

    const next = (await api('POST', '/jobs/claim', { botId: 'api-bot' })).json;
    const failed = await api('POST', `/jobs/${next.id}/fail`, {
      botId: 'api-bot',
      attempt: next.attempts,
      error: 'broke',
    });
    expect(failed.json.status).toBe(next.maxAttempts > 1 ? 'pending' : 'failed');
    const hb = await api('POST', '/bots/heartbeat', { botId: 'api-bot' });
    expect(hb.json).toMatchObject({ id: 'api-bot', status: 'idle' });
    expectError(await api('POST', '/bots/heartbeat', { botId: 'ghost' }), 404);
    const detail = await api('GET', '/bots/api-bot');
    expect(detail.json).toMatchObject({ id: 'api-bot', jobsCompleted: 1, jobsFailed: 1 });
    expect(detail.json.recentJobs.length).toBeGreaterThan(0);
    expect((await api('GET', '/bots')).json.items.map((b: { id: string }) => b.id)).toContain('api-bot');
    expectError(await api('GET', '/bots/ghost'), 404);
  });

  test('POST /jobs/next: report the previous attempt and get the next job running, in one call', async () => {
    await api('POST', '/bots/register', { id: 'lean-bot' });
    const made = (await api('POST', '/jobs', { jobs: [{ type: 'lean' }, { type: 'lean' }] }, adminHeaders)).json.items;
    await api('POST', '/queue/pause', undefined, adminHeaders); // let only our jobs through below
    const pending = (await api('GET', '/jobs?status=pending&limit=500')).json.items.filter(
      (j: { type: string }) => j.type !== 'lean',
    );
    for (const j of pending) await api('POST', `/jobs/${j.id}/cancel`, undefined, adminHeaders);
    await api('POST', '/queue/resume', undefined, adminHeaders);
    const first = await api('POST', '/jobs/next', { botId: 'lean-bot' });
    expect(first.status).toBe(200);
    expect(first.json.finished).toBeNull();
    expect(first.json.job).toMatchObject({ id: made[0].id, status: 'running', attempts: 1 });
    const second = await api('POST', '/jobs/next', {
      botId: 'lean-bot',
      complete: { jobId: made[0].id, attempt: 1, result: 7 },
    });
    expect(second.json.finished).toMatchObject({ id: made[0].id, status: 'completed', result: 7 });
    expect(second.json.job.id).toBe(made[1].id);
    const last = await api('POST', '/jobs/next', {
      botId: 'lean-bot',
      fail: { jobId: made[1].id, attempt: 1, error: 'x' },
      waitMs: 50,
    });
    expect(last.json.finished.id).toBe(made[1].id);
    expect(last.json.job === null || last.json.job.id === made[1].id).toBe(true);
    expectError(
      await api('POST', '/jobs/next', { botId: 'lean-bot', complete: { jobId: made[0].id, attempt: 9 } }),
      409,
    );
    expectError(
      await api('POST', '/jobs/next', {
        botId: 'lean-bot',
        complete: { jobId: 'a', attempt: 1 },
        fail: { jobId: 'a', attempt: 1, error: 'e' },
      }),
      400,
    );
    expectError(
      await api('POST', '/jobs/next', { botId: 'lean-bot', complete: { jobId: 'a', attempt: 1, status: 'completed' } }),
      400,
    );
  });

  test('long-poll claim: waits, then takes a job created meanwhile within milliseconds', async () => {
    await api('POST', '/bots/register', { id: 'poller' });
    // Empty the queue first.
    await api('POST', '/queue/pause', undefined, adminHeaders);
    const t0 = Date.now();
    const empty = await api('POST', '/jobs/claim', { botId: 'poller', waitMs: 300 });
    expect(empty.status).toBe(204);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await api('POST', '/queue/resume', undefined, adminHeaders);
    const jobs = (await api('GET', '/jobs?status=pending&limit=500')).json.items;
    for (const j of jobs) await api('POST', `/jobs/${j.id}/cancel`, undefined, adminHeaders);
    const waiting = api('POST', '/jobs/claim', { botId: 'poller', waitMs: 10000 });
    await new Promise((r) => setTimeout(r, 100));
    const created = await api('POST', '/jobs', { type: 'simulated' }, adminHeaders);
    const got = await waiting;
    expect(got.status).toBe(200);
    expect(got.json.id).toBe(created.json.id);
    expectError(await api('POST', '/jobs/claim', { botId: 'poller', waitMs: 60000 }), 400);
  });

  test('a long-poll whose client went away takes no job created afterwards', async () => {
    await api('POST', '/bots/register', { id: 'vanishing' });
    const pending = (await api('GET', '/jobs?status=pending&limit=500')).json.items;
    for (const j of pending) await api('POST', `/jobs/${j.id}/cancel`, undefined, adminHeaders);
    const req = http.request(`${s.url}/jobs/claim`, { method: 'POST', headers: botHeaders });
    req.on('error', () => {});
    req.end(JSON.stringify({ botId: 'vanishing', waitMs: 5000 }));
    await new Promise((r) => setTimeout(r, 150));
    req.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const job = (await api('POST', '/jobs', { type: 'simulated' }, adminHeaders)).json;
    await new Promise((r) => setTimeout(r, 500));
    expect((await api('GET', `/jobs/${job.id}`)).json.status).toBe('pending');
    await api('POST', `/jobs/${job.id}/cancel`, undefined, adminHeaders);
  });

  test('DELETE /bots/:id: admin, 204, its job back to pending, 404 after', async () => {
    await api('POST', '/bots/register', { id: 'doomed' });
    await api('POST', '/jobs', { type: 'simulated', maxAttempts: 2 }, adminHeaders);
    const j = (await api('POST', '/jobs/claim', { botId: 'doomed' })).json;
    expectError(await api('DELETE', '/bots/doomed', undefined, jsonHeaders), 401);
    expectError(await api('DELETE', '/bots/doomed'), 403, 'forbidden'); // the bot token
    expect((await api('DELETE', '/bots/doomed', undefined, adminHeaders)).status).toBe(204);
    expect((await api('GET', `/jobs/${j.id}`)).json.status).toBe('pending');
    expectError(await api('DELETE', '/bots/doomed', undefined, adminHeaders), 404);
    expectError(await api('POST', `/jobs/${j.id}/complete`, { botId: 'doomed' }), 409);
  });

  test('POST /jobs/:id/release: a bot hands back the job it holds, the attempt not counted; a waiting claim gets it at once', async () => {
    await api('POST', '/bots/register', { id: 'leaving' });
    await api('POST', '/bots/register', { id: 'taker' });
    const pending = (await api('GET', '/jobs?status=pending&limit=500')).json.items;
    for (const j of pending) await api('POST', `/jobs/${j.id}/cancel`, undefined, adminHeaders);
    const made = (await api('POST', '/jobs', { type: 'simulated', maxAttempts: 1 }, adminHeaders)).json;
    const held = (await api('POST', '/jobs/next', { botId: 'leaving' })).json.job;
    expect(held).toMatchObject({ id: made.id, status: 'running', attempts: 1, botId: 'leaving' });
    const url = `/jobs/${held.id}/release`;
    for (const [body, field] of [
      [{ botId: 'leaving' }, 'body.attempt'],
      [{ botId: 'leaving', attempt: 0 }, 'body.attempt'],
      [{ botId: 'leaving', attempt: '1' }, 'body.attempt'],
      [{ attempt: 1 }, 'body.botId'],
      [{ botId: 'bad id', attempt: 1 }, 'body.botId'],
      [{ botId: 'leaving', attempt: 1, status: 'pending' }, 'body'],
    ] as const) {
      const r = await api('POST', url, body);
      expectError(r, 400, 'validation_failed');
      expect(r.json.error.details.map((d: { path: string }) => d.path)).toContain(field);
    }
    expectError(await api('POST', '/jobs/nope/release', { botId: 'leaving', attempt: 1 }), 404);
    expectError(await api('POST', url, { botId: 'taker', attempt: 1 }), 409, 'not_your_job');
    expectError(await api('POST', url, { botId: 'leaving', attempt: 2 }), 409, 'not_your_job');
    expect((await api('GET', `/jobs/${held.id}`)).json).toMatchObject({ status: 'running', botId: 'leaving' });
    // A claim waiting for work is woken by the hand-back, not by its 5 s re-check.
    const waiting = api('POST', '/jobs/next', { botId: 'taker', waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const back = await api('POST', url, { botId: 'leaving', attempt: 1 });
    expect(back.status).toBe(200);
    expect(back.json).toMatchObject({
      id: held.id,
      status: 'pending',
      attempts: 0,
      botId: null,
      startedAt: null,
      leaseExpiresAt: null,
    });
    const got = await waiting;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(got.json.job).toMatchObject({ id: held.id, status: 'running', attempts: 1, botId: 'taker' });
    expect((await api('GET', '/bots/leaving')).json).toMatchObject({ status: 'idle', currentJobId: null });
    const events = (await api('GET', `/jobs/${held.id}`)).json.events;
    expect(events.find((e: { note: string | null }) => e.note === 'handed back')).toMatchObject({
      from: 'running',
      to: 'pending',
      botId: 'leaving',
      attempt: 1,
    });
    expectError(await api('POST', url, { botId: 'leaving', attempt: 1 }), 409, 'not_your_job'); // no longer its job
    const done = await api('POST', '/jobs/next', {
      botId: 'taker',
      complete: { jobId: held.id, attempt: 1, result: 1 },
    });
    expect(done.json.finished).toMatchObject({ status: 'completed', attempts: 1, botId: 'taker' });
  });

  test('retry and cancel: admin only, 409 in the wrong state', async () => {
    const j = (await api('POST', '/jobs', { type: 'simulated' }, adminHeaders)).json;
    expectError(await api('POST', `/jobs/${j.id}/retry`, undefined, adminHeaders), 409);
    expectError(await api('POST', `/jobs/${j.id}/cancel`, undefined, jsonHeaders), 401);
    expectError(await api('POST', `/jobs/${j.id}/cancel`, undefined, viewerHeaders), 403, 'forbidden');
    expect((await api('POST', `/jobs/${j.id}/cancel`, undefined, adminHeaders)).json.status).toBe('cancelled');
    expectError(await api('POST', `/jobs/${j.id}/cancel`, undefined, adminHeaders), 409);
    expect((await api('POST', `/jobs/${j.id}/retry`, undefined, adminHeaders)).json.status).toBe('pending');
    expectError(await api('POST', '/jobs/missing/retry', undefined, adminHeaders), 404);
  });
});

describe('queue, metrics, datalake, health, docs', () => {
  test('pause/resume: admin; while paused claims get 204', async () => {
    expect((await api('GET', '/queue')).json).toEqual({ paused: false });
    expectError(await api('POST', '/queue/pause', undefined, jsonHeaders), 401);
    expectError(await api('POST', '/queue/pause', undefined, { ...viewerHeaders, ...jsonHeaders }), 403);
    expect((await api('POST', '/queue/pause', undefined, adminHeaders)).json).toEqual({ paused: true });
    await api('POST', '/jobs', { type: 'simulated' }, adminHeaders);
    await api('POST', '/bots/register', { id: 'paused-bot' });
    expect((await api('POST', '/jobs/claim', { botId: 'paused-bot' })).status).toBe(204);
    expect((await api('POST', '/queue/resume', undefined, adminHeaders)).json).toEqual({ paused: false });
    expect((await api('POST', '/jobs/claim', { botId: 'paused-bot' })).status).toBe(200);
  });

  test('metrics summary and Prometheus text', async () => {
    const sum = await api('GET', '/metrics/summary');
    expect(sum.json.jobs.total).toBeGreaterThan(10);
    expect(sum.json.jobs.completed).toBeGreaterThanOrEqual(1);
    expect(sum.json.throughput).toHaveLength(60);
    const prom = await api('GET', '/metrics');
    expect(prom.headers.get('content-type')).toMatch(/text\/plain/);
    for (const name of [
      'botfleet_jobs{status="pending"}',
      'botfleet_claims_total',
      'botfleet_completions_total',
      'botfleet_failures_total',
      'botfleet_lease_expiries_total',
      'botfleet_bots{status="idle"}',
      'botfleet_http_request_duration_seconds_bucket',
      'botfleet_datalake_writer 1',
    ]) {
      expect(prom.text).toContain(name);
    }
  });

  test('datalake: stats count the finished attempts; export streams NDJSON; 400 bad date; 404 no data', async () => {
    const sum = (await api('GET', '/metrics/summary')).json;
    const finished = (await api('GET', '/jobs?limit=500')).json.items.filter(
      (j: { attempts: number }) => j.attempts > 0,
    );
    expect(finished.length).toBeGreaterThan(0);
    // Wait for the writer to drain (it runs on notify and every second).
    let stats: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (let i = 0; i < 50; i++) {
      stats = (await api('GET', '/datalake/stats')).json;
      if (stats.total.results >= 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stats.total.completed).toBe(sum.jobs.completed);
    const day = stats.days[0].date;
    const exp = await api('GET', `/datalake/export/${day}`);
    expect(exp.status).toBe(200);
    expect(exp.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = exp.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBe(stats.days[0].results);
    expect(Object.keys(lines[0])).toEqual([
      'resultId',
      'jobId',
      'attempt',
      'botId',
      'type',
      'status',
      'result',
      'error',
      'createdAt',
      'claimedAt',
      'startedAt',
      'finishedAt',
      'durationMs',
    ]);
    expect(fs.readFileSync(path.join(s.dir, 'datalake', `results-${day}.ndjson`), 'utf8')).toBe(exp.text);
    expectError(await api('GET', '/datalake/export/2026-02-30'), 400);
    expectError(await api('GET', '/datalake/export/yesterday'), 400);
    expectError(await api('GET', '/datalake/export/1999-01-01'), 404);
  });

  test('no CORS: a cross-origin preflight gets no Access-Control-Allow-Origin; nosniff on every answer', async () => {
    const pre = await fetch(`${s.url}/jobs/populate`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const get = await fetch(`${s.url}/jobs`, { headers: { origin: 'https://evil.example' } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
    expect(get.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test('healthz and openapi.json', async () => {
    expect((await api('GET', '/healthz')).json).toEqual({ status: 'ok' });
    const doc = (await api('GET', '/openapi.json')).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/jobs', '/jobs/claim', '/bots/register', '/datalake/export/{date}', '/queue/pause']),
    );
    expect(doc.paths['/jobs/claim'].post.requestBody.content['application/json'].schema.properties).toHaveProperty(
      'botId',
    );
  });
});

describe('bad input never gets a 5xx', () => {
  test('malformed JSON 400, wrong content type 415, unknown route 404, wrong method 405', async () => {
    expectError(await api('POST', '/bots/register', '{"id": "x",'), 400, 'validation_failed');
    expectError(
      await api('POST', '/bots/register', 'id=x', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
    );
    expectError(await api('POST', '/bots/register', '{"id":"x"}', { 'content-type': 'text/plain' }), 415);
    expectError(await api('GET', '/no/such/route'), 404);
    expectError(await api('PUT', '/jobs'), 405);
  });

  test('ids "." and ".." are refused; a "__proto__" key is a 400, never silently dropped', async () => {
    expectError(await api('POST', '/bots/register', { id: '..' }), 400);
    expectError(await api('POST', '/bots/register', { id: '.' }), 400);
    expectError(await api('POST', '/jobs', '{"type":"simulated","payload":{"__proto__":{"x":1}}}', adminHeaders), 400);
    const ok = await api('POST', '/jobs', { type: 'simulated', payload: { name: '__proto__' } }, adminHeaders);
    expect(ok.json.payload).toEqual({ name: '__proto__' }); // a value is fine
  });

  test('JSON nested 10,000 deep is a 400 and the server stays up', async () => {
    const deep = '['.repeat(10000) + ']'.repeat(10000);
    expectError(await api('POST', '/jobs', deep, adminHeaders), 400);
    expect((await api('GET', '/healthz')).status).toBe(200);
  });

  test('a body one byte over the 1 MiB limit is a 413, exactly the limit is parsed', async () => {
    const limit = 1048576;
    const filler = (n: number) => JSON.stringify({ type: 'simulated', payload: { s: 'x'.repeat(n) } });
    const base = filler(0).length;
    const over = filler(limit - base + 1);
    expect(Buffer.byteLength(over)).toBe(limit + 1);
    expectError(await api('POST', '/jobs', over, adminHeaders), 413, 'payload_too_large');
    const exact = filler(limit - base);
    expect((await api('POST', '/jobs', exact, adminHeaders)).status).toBe(201);
  });

  test('a 413 also reaches a client that streams the body without Content-Length', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${s.url}/jobs`,
        { method: 'POST', headers: { ...adminHeaders, 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write('x'.repeat(100000));
      req.end();
    });
    expect(status).toBe(413);
  });

  test('admin token missing, wrong, or of any length 0..512 is a 401, never a 500', async () => {
    expectError(await api('POST', '/jobs/populate', undefined, jsonHeaders), 401, 'unauthorized');
    for (const len of [0, 1, 7, 16, 17, 31, 64, 255, 512]) {
      const r = await api('POST', '/jobs/populate', undefined, {
        ...jsonHeaders,
        authorization: `Bearer ${'a'.repeat(len)}`,
      });
      expectError(r, 401);
    }
    expectError(await api('POST', '/jobs/populate', undefined, { ...jsonHeaders, authorization: 'Basic abc' }), 401);
  });
});
