/**
 * An attempt number beyond what the databases store (a 32-bit integer column) is refused with 400
 * naming the field, on both backends and on every route that takes one (POST /jobs/next
 * {complete: {attempt: 2^32}} included), never a 500.
 */
import { adminHeaders, call, botHeaders, startInProcess } from './helpers/server-in-process';
import { describePostgres, dropSchema, freshSchemaUrl } from './helpers/postgres';

function suite(env: () => Record<string, string>, cleanup: () => Promise<void> = async () => undefined) {
  let s: Awaited<ReturnType<typeof startInProcess>>;
  beforeAll(async () => {
    s = await startInProcess(env());
  });
  afterAll(async () => {
    await s.close();
    await cleanup();
  });

  test('2^32 as the attempt of /jobs/next, complete, fail, start and release: 400 naming the field; 2^31-1 is a stale attempt (409)', async () => {
    await call(s.url, 'POST', '/bots/register', { id: 'big' }, botHeaders);
    const job = (await call(s.url, 'POST', '/jobs', { type: 'simulated' }, adminHeaders)).json;
    expect((await call(s.url, 'POST', '/jobs/next', { botId: 'big' }, botHeaders)).json.job.id).toBe(job.id);
    const huge = 2 ** 32;
    const cases: [string, unknown, string][] = [
      [
        '/jobs/next',
        { botId: 'big', complete: { jobId: job.id, attempt: huge, result: null } },
        'body.complete.attempt',
      ],
      ['/jobs/next', { botId: 'big', fail: { jobId: job.id, attempt: huge, error: 'x' } }, 'body.fail.attempt'],
      [`/jobs/${job.id}/complete`, { botId: 'big', attempt: huge }, 'body.attempt'],
      [`/jobs/${job.id}/fail`, { botId: 'big', attempt: huge, error: 'x' }, 'body.attempt'],
      [`/jobs/${job.id}/start`, { botId: 'big', attempt: huge }, 'body.attempt'],
      [`/jobs/${job.id}/release`, { botId: 'big', attempt: huge }, 'body.attempt'],
    ];
    for (const [p, body, field] of cases) {
      const r = await call(s.url, 'POST', p, body, botHeaders);
      expect({ p, status: r.status, field: r.json.error?.details?.[0]?.path }).toEqual({ p, status: 400, field });
    }
    const stale = await call(
      s.url,
      'POST',
      '/jobs/next',
      { botId: 'big', complete: { jobId: job.id, attempt: 2 ** 31 - 1, result: null } },
      botHeaders,
    );
    expect(stale.status).toBe(409);
    const staleRelease = await call(s.url, 'POST', `/jobs/${job.id}/release`, { botId: 'big', attempt: 2 ** 31 - 1 });
    expect(staleRelease.status).toBe(409);
    // Nothing was lost: the real attempt still completes.
    const ok = await call(
      s.url,
      'POST',
      '/jobs/next',
      { botId: 'big', complete: { jobId: job.id, attempt: 1, result: null } },
      botHeaders,
    );
    expect(ok.status).toBe(200);
    expect(ok.json.finished).toMatchObject({ id: job.id, status: 'completed', attempts: 1 });
  });
}

describe('attempt bounds [sqlite]', () => suite(() => ({})));

describePostgres('attempt bounds [postgres]', () => {
  const { url, schema } = freshSchemaUrl('attempts');
  suite(
    () => ({ DATABASE_URL: url }),
    () => dropSchema(schema),
  );
});
