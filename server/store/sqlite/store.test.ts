/**
 * What only the SQLite store has: one server per file, WAL with checkpoints in a background thread,
 * the query plans of the statements it runs, the migrator's record. The contract tests (both
 * databases) are in ../contract/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testTime } from '../../../test/helpers/time';
import { openStore, parseDatabaseUrl } from '../open';
import { STORE_OPTS } from '../testing/stores';
import { StoreOpenError } from '../types';
import type { SqliteStore } from './store';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function freshFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
  dirs.push(dir);
  return path.join(dir, 'jobs.db');
}

async function openFresh(): Promise<SqliteStore> {
  const store = (await openStore(`sqlite://${freshFile()}`, STORE_OPTS)) as SqliteStore;
  await store.migrate();
  return store;
}

test('a second store on the same file is refused with a clear message; free again after close', async () => {
  const url = `sqlite://${freshFile()}`;
  const first = await openStore(url, STORE_OPTS);
  await expect(openStore(url, STORE_OPTS)).rejects.toThrow(/another server is already using .*jobs\.db/);
  await expect(openStore(url, STORE_OPTS)).rejects.toBeInstanceOf(StoreOpenError);
  await first.close();
  const second = await openStore(url, STORE_OPTS);
  await second.close();
});

test('WAL journal mode and the bundled SQLite is new enough', async () => {
  const store = await openFresh();
  expect(store.steps.db.pragma('journal_mode', { simple: true })).toBe('wal');
  await store.close();
});

test('WAL checkpoints run in the background thread: the database file fills while the server only appends to the WAL', async () => {
  const file = freshFile();
  const store = (await openStore(`sqlite://${file}`, STORE_OPTS)) as SqliteStore;
  await store.migrate();
  // The server's own connection would checkpoint only past the fallback size (file.ts), far above this test's WAL.
  const fallback = store.steps.db.pragma('wal_autocheckpoint', { simple: true }) as number;
  expect(fallback).toBe(40_000);
  const before = fs.statSync(file).size;
  await store.createJobs(
    Array.from({ length: 3000 }, () => ({ type: 'simulated', payload: { pad: 'x'.repeat(200) }, priority: 0 })),
    Date.now(),
  );
  const walFrames = Math.floor(fs.statSync(`${file}-wal`).size / 4120);
  expect(walFrames).toBeGreaterThan(100);
  expect(walFrames).toBeLessThan(fallback);
  // Within a few intervals the thread has copied the pages back into the database file.
  const deadline = Date.now() + testTime(5000);
  while (fs.statSync(file).size < before + 100 * 4096 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  expect(fs.statSync(file).size).toBeGreaterThan(before + 100 * 4096);
  await store.close();
  // Closed: the last connection checkpointed and removed the WAL, so the thread's connection is gone too.
  expect(fs.existsSync(`${file}-wal`)).toBe(false);
});

test('migrations run through Knex: each recorded once, and migrating again (a restart) changes nothing', async () => {
  const file = freshFile();
  let store = (await openStore(`sqlite://${file}`, STORE_OPTS)) as SqliteStore;
  await store.migrate();
  await store.createJobs([{ type: 'simulated', payload: {}, priority: 0 }], 1000);
  await store.migrate();
  await store.close();
  store = (await openStore(`sqlite://${file}`, STORE_OPTS)) as SqliteStore;
  await store.migrate();
  expect(store.steps.db.prepare('SELECT name FROM knex_migrations ORDER BY id').all()).toEqual([
    { name: '0001_initial' },
    { name: '0003_schedules' },
    { name: '0004_job_control' },
  ]);
  expect((await store.summary(1000)).jobs.pending).toBe(1);
  await store.close();
});

test('every statement of claims, reports, starts, heartbeats, sweeps, restarts and hand-backs reaches jobs through an index and sorts nothing', async () => {
  const store = await openFresh();
  const db = store.steps.db;
  // Every statement the store prepares from here on, with how many values it binds.
  const seen = new Set<string>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => (seen.add(sql), prepare(sql))) as typeof db.prepare;
  const now = 1_000_000;
  await store.createJobs(
    Array.from({ length: 300 }, (_, i) => ({ type: 'simulated', payload: {}, priority: i % 3, maxAttempts: 2 })),
    now,
  );
  await store.createJobs(
    [{ type: 'simulated', payload: {}, priority: 0, runAt: new Date(now + 5000).toISOString() }],
    now,
  );
  // A bot's history: finished jobs in its jobs_bot_seq entries.
  for (const bot of ['a', 'b']) await store.registerBot({ id: bot }, now);
  let held = (await store.finishAndClaim('a', null, now)).job!;
  for (let i = 0; i < 100; i++) {
    const report = { jobId: held.id, attempt: held.attempts, ...(i % 5 ? { result: i } : { error: 'e' }) };
    held = (await store.finishAndClaim('a', report, now)).job!;
    if (i === 0) await store.finishAndClaim('a', report, now); // repeated: the held job again
  }
  await store.heartbeat('a', now);
  await store.releaseJob({ jobId: held.id, botId: 'a', attempt: held.attempts }, now);
  const claimed = (await store.claimJob('b', now))!;
  await store.startJob({ jobId: claimed.id, botId: 'b', attempt: claimed.attempts }, now);
  await store.completeJob({ jobId: claimed.id, botId: 'b', attempt: claimed.attempts }, null, now);
  await store.claimJob('b', now);
  await store.nextRunAt(now);
  await store.registerBot({ id: 'b' }, now); // restarted: its job taken back
  await store.finishAndClaim('a', null, now);
  await store.sweep(now + STORE_OPTS.botDownAfterMs + 1); // silent: down, its job taken back
  await store.registerBot({ id: 'b' }, now + STORE_OPTS.botDownAfterMs + 1);
  await store.finishAndClaim('b', null, now + STORE_OPTS.botDownAfterMs + 1);
  await store.sweep(now + STORE_OPTS.botDownAfterMs + 2); // b's lease is fine
  db.prepare = prepare;
  const plans = [...seen]
    .filter((sql) => /^\s*(SELECT|UPDATE|DELETE)/i.test(sql))
    .map((sql) => {
      const args = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 1);
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[];
      return { sql: sql.replace(/\s+/g, ' '), plan: plan.map((p) => p.detail).join('; ') };
    });
  expect(plans.length).toBeGreaterThan(10);
  const bad = plans.filter(({ plan }) => /SCAN (jobs|job_events|results)\b/.test(plan) || plan.includes('TEMP B-TREE'));
  expect(bad).toEqual([]);
  const planOf = (part: string) => plans.find((p) => p.sql.includes(part))!.plan;
  expect(planOf("WHERE status = 'pending' AND (run_at IS NULL")).toContain('USING INDEX jobs_claimable');
  expect(planOf('run_at > ? ORDER BY run_at')).toMatch(/USING (COVERING )?INDEX jobs_delayed/);
  // The job a bot holds is its current job, found by the job's id: never through the bot's history.
  expect(planOf('(SELECT current_job_id FROM bots WHERE id = ?)')).toContain('USING INDEX sqlite_autoindex_jobs_1');
  expect(plans.filter((p) => p.plan.includes('jobs_bot_seq'))).toEqual([]);
  await store.close();
});

test('DATABASE_URL parsing', () => {
  expect(parseDatabaseUrl('sqlite://./data/jobs.db', '/srv')).toEqual({ kind: 'sqlite', file: '/srv/data/jobs.db' });
  expect(parseDatabaseUrl('sqlite:///abs/x.db')).toEqual({ kind: 'sqlite', file: '/abs/x.db' });
  expect(parseDatabaseUrl('postgres://u@h:5432/db?schema=s1')).toEqual({
    kind: 'postgres',
    url: 'postgres://u@h:5432/db',
    schema: 's1',
  });
  expect(() => parseDatabaseUrl('mysql://x')).toThrow(/sqlite:\/\/ or postgres:\/\//);
  expect(() => parseDatabaseUrl('postgres://u@h/db?schema=Bad-Name')).toThrow(StoreOpenError);
});
