/**
 * Guarantees that need no long fault injection, each on SQLite and on PostgreSQL where the
 * store is involved: 200 concurrent claimers, a stale bot after its lease expired, repeated completes,
 * a second server on one SQLite file, one batch per period with a clock stepped back.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ManualClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { loadServerConfig } from '../server/config';
import { runServer, type RunningServer } from '../server/runtime';
import { describePostgres, dropSchema, freshSchemaUrl, PG_AVAILABLE } from './helpers/postgres';
import { adminHeaders, call } from './helpers/server-in-process';
import { ROOT, startServer, tempDir, waitFor, TOKENS_ENV } from './helpers/server-process';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(60_000));

type Backend = { name: string; env: () => { env: Record<string, string>; cleanup: () => Promise<void> } };
const backends: Backend[] = [
  {
    name: 'SQLite',
    env: () => {
      const dir = tempDir('guar-');
      return {
        env: { DATABASE_URL: `sqlite://${path.join(dir, 'jobs.db')}`, DATALAKE_DIR: path.join(dir, 'lake') },
        cleanup: async () => {},
      };
    },
  },
];
if (PG_AVAILABLE || process.env.CI === 'true') {
  backends.push({
    name: 'PostgreSQL',
    env: () => {
      const { url, schema } = freshSchemaUrl('guar');
      return {
        env: { DATABASE_URL: url, DATALAKE_DIR: path.join(tempDir('guar-'), 'lake') },
        cleanup: () => dropSchema(schema),
      };
    },
  });
}

async function serverWith(env: Record<string, string>, clock?: ManualClock): Promise<RunningServer> {
  const config = loadServerConfig({
    SERVER_PORT: '0',
    SERVER_HOST: '127.0.0.1',
    ...TOKENS_ENV,
    POPULATE_INTERVAL_MS: '0',
    RATE_LIMIT_EMPTY_CLAIMS_PER_S: '0',
    ...env,
  });
  return runServer(config, silentLogger(), clock);
}

function lakeLines(dir: string): { resultId: string }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
}

describe.each(backends)('$name', ({ env: makeEnv }) => {
  test('200 concurrent claimers on 1,000 jobs: each job claimed exactly once, no 5xx, no SQLITE_BUSY', async () => {
    const { env, cleanup } = makeEnv();
    const s = await serverWith(env);
    try {
      await call(
        s.url,
        'POST',
        '/jobs',
        { jobs: Array.from({ length: 1000 }, () => ({ type: 'simulated' })) },
        adminHeaders,
      );
      const claimedBy = new Map<string, string>();
      const twice: string[] = [];
      const bad: string[] = [];
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const botId = `claimer-${i}`;
          await call(s.url, 'POST', '/bots/register', { id: botId });
          for (;;) {
            const r = await call(s.url, 'POST', '/jobs/claim', { botId });
            if (r.status === 204) return;
            if (r.status !== 200) {
              bad.push(`${r.status} ${r.text}`);
              return;
            }
            if (claimedBy.has(r.json.id)) twice.push(r.json.id);
            claimedBy.set(r.json.id, botId);
            const c = await call(s.url, 'POST', `/jobs/${r.json.id}/complete`, { botId, attempt: r.json.attempts });
            if (c.status !== 200) bad.push(`${c.status} ${c.text}`);
          }
        }),
      );
      expect(bad).toEqual([]);
      expect(twice).toEqual([]);
      expect(claimedBy.size).toBe(1000);
    } finally {
      await s.close();
      await cleanup();
    }
  });

  test('a stale bot completing after its lease expired and the job was claimed again: 409, the newer attempt untouched, one result and one line', async () => {
    const { env, cleanup } = makeEnv();
    const clock = new ManualClock(Date.now());
    const s = await serverWith(
      { ...env, BOT_DOWN_AFTER_MS: '1000', SWEEP_INTERVAL_MS: '20', MAX_ATTEMPTS: '3' },
      clock,
    );
    try {
      const job = (await call(s.url, 'POST', '/jobs', { type: 'simulated' }, adminHeaders)).json;
      await call(s.url, 'POST', '/bots/register', { id: 'stale' });
      await call(s.url, 'POST', '/bots/register', { id: 'fresh' });
      const first = await call(s.url, 'POST', '/jobs/next', { botId: 'stale' });
      expect(first.json.job.id).toBe(job.id);
      clock.advance(1500);
      await call(s.url, 'POST', '/bots/heartbeat', { botId: 'fresh' });
      await waitFor(async () => (await call(s.url, 'GET', `/jobs/${job.id}`)).json.status === 'pending', 5000, 20);
      const second = await call(s.url, 'POST', '/jobs/next', { botId: 'fresh' });
      expect(second.json.job).toMatchObject({ id: job.id, attempts: 2, botId: 'fresh' });
      const late = await call(s.url, 'POST', `/jobs/${job.id}/complete`, {
        botId: 'stale',
        attempt: 1,
        result: 'stale',
      });
      expect(late.status).toBe(409);
      expect((await call(s.url, 'GET', `/jobs/${job.id}`)).json).toMatchObject({
        status: 'running',
        botId: 'fresh',
        attempts: 2,
        result: null,
      });
      const done = await call(s.url, 'POST', `/jobs/${job.id}/complete`, {
        botId: 'fresh',
        attempt: 2,
        result: 'fresh',
      });
      expect(done.json).toMatchObject({ status: 'completed', result: 'fresh' });
      // Attempt 1 ended as "lease expired", attempt 2 completed: one line each, none from the stale bot's answer.
      await waitFor(() => lakeLines(env.DATALAKE_DIR).length === 2, 5000, 20);
      const lines = lakeLines(env.DATALAKE_DIR).filter((l) => l.resultId.startsWith(job.id));
      expect(lines.map((l) => [l.resultId, (l as unknown as { status: string }).status])).toEqual([
        [`${job.id}:1`, 'failed'],
        [`${job.id}:2`, 'completed'],
      ]);
    } finally {
      await s.close();
      await cleanup();
    }
  });

  test('a bot repeating complete 5 times after a lost response: the same 200 each time, one result, one line', async () => {
    const { env, cleanup } = makeEnv();
    const s = await serverWith(env);
    try {
      const job = (await call(s.url, 'POST', '/jobs', { type: 'simulated' }, adminHeaders)).json;
      await call(s.url, 'POST', '/bots/register', { id: 'repeater' });
      await call(s.url, 'POST', '/jobs/next', { botId: 'repeater' });
      const answers = [];
      for (let i = 0; i < 5; i++)
        answers.push(
          await call(s.url, 'POST', `/jobs/${job.id}/complete`, { botId: 'repeater', attempt: 1, result: { v: 1 } }),
        );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(new Set(answers.map((a) => a.text)).size).toBe(1);
      await waitFor(() => lakeLines(env.DATALAKE_DIR).length >= 1, 5000, 20);
      await new Promise((r) => setTimeout(r, 200));
      expect(lakeLines(env.DATALAKE_DIR).map((l) => l.resultId)).toEqual([`${job.id}:1`]);
    } finally {
      await s.close();
      await cleanup();
    }
  });
});

test('a second server on the same SQLite file refuses to start, with a clear message and a non-zero exit', async () => {
  const first = await startServer();
  try {
    const second = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'server', 'main.ts')],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: `sqlite://${path.join(first.dir, 'jobs.db')}`,
          SERVER_PORT: '0',
          LOG_PRETTY: 'false',
        },
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/another server is already using .*jobs\.db/);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
  } finally {
    await first.stop();
  }
});

describePostgres('two servers on PostgreSQL with a clock stepped back', () => {
  test('exactly one scheduler batch per period', async () => {
    const { url, schema } = freshSchemaUrl('clock');
    const period = 60_000;
    const start = Math.ceil(Date.now() / period) * period + 5_000;
    const clockA = new ManualClock(start);
    const clockB = new ManualClock(start);
    const env = { DATABASE_URL: url, POPULATE_INTERVAL_MS: String(period), BATCH_SIZE: '2' };
    const a = await serverWith(env, clockA);
    const b = await serverWith(env, clockB);
    try {
      const total = async () => (await call(a.url, 'GET', '/metrics/summary')).json.jobs.total as number;
      // Scheduler ticks each second of real time; move the clocks instead of waiting for minutes.
      await waitFor(async () => (await total()) === 2, 5000, 50);
      clockA.advance(period);
      clockB.advance(period);
      await waitFor(async () => (await total()) === 4, 5000, 50);
      // Whichever server leads the scheduler, its clock now steps back two periods.
      clockA.advance(-2 * period);
      clockB.advance(-2 * period);
      await new Promise((r) => setTimeout(r, 2500));
      expect(await total()).toBe(4);
      clockA.advance(period); // still before the last period taken
      clockB.advance(period);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await total()).toBe(4);
      clockA.advance(2 * period); // both in the next period now
      clockB.advance(2 * period);
      await waitFor(async () => (await total()) === 6, 5000, 50);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await total()).toBe(6);
    } finally {
      await a.close();
      await b.close();
      await dropSchema(schema);
    }
  });
});
