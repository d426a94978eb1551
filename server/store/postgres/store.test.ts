/**
 * What only the PostgreSQL store has: servers that migrate together, one lock order under concurrent
 * calls of two servers, and what the botfleet_* functions read and lock (from pg_stat and the rows'
 * xmax). The contract tests (both databases) are in ../contract/.
 */
import type pg from 'pg';
import { AppError } from '../../../core/errors';
import { describePostgres, dropSchema, freshSchemaUrl } from '../../../test/helpers/postgres';
import { testTime } from '../../../test/helpers/time';
import { openStore } from '../open';
import { STORE_OPTS } from '../testing/stores';
import type { Store } from '../types';

/** A statement on the store's own pool (with poolMax 1: on the backend the store's calls ran on). */
async function sql<T = Record<string, unknown>>(store: Store, text: string): Promise<T[]> {
  return (await (store as unknown as { pool: pg.Pool }).pool.query(text)).rows as T[];
}

/** Index tuples read so far, by index of the store's schema (flushed from its backend first). */
async function indexReads(store: Store): Promise<Record<string, number>> {
  await sql(store, 'SELECT pg_stat_force_next_flush()');
  const rows = await sql<{ name: string; n: string }>(
    store,
    `SELECT indexrelname AS name, idx_tup_read::text AS n FROM pg_stat_user_indexes WHERE schemaname = current_schema()`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

const simulated = (n: number, extra: object = {}) =>
  Array.from({ length: n }, () => ({ type: 'simulated', payload: {}, priority: 0, maxAttempts: 1, ...extra }));

describePostgres('PostgreSQL store', () => {
  const schemas: string[] = [];
  const stores: Store[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    for (const s of schemas) await dropSchema(s);
  });
  const open = async (poolMax = 10) => {
    const { url, schema } = freshSchemaUrl('store');
    schemas.push(schema);
    const store = await openStore(url, { ...STORE_OPTS, poolMax });
    stores.push(store);
    await store.migrate();
    return { store, url };
  };

  test('servers starting together on a fresh schema migrate once, one at a time', async () => {
    const { url, schema } = freshSchemaUrl('store');
    schemas.push(schema);
    const servers = await Promise.all([1, 2, 3].map(() => openStore(url, STORE_OPTS)));
    stores.push(...servers);
    await Promise.all(servers.map((s) => s.migrate()));
    expect(await sql(servers[0], 'SELECT name FROM knex_migrations ORDER BY id')).toEqual([
      { name: '0001_initial' },
      { name: '0003_schedules' },
      { name: '0004_job_control' },
    ]);
    await servers[1].createJobs(simulated(1), 1000);
    expect((await servers[2].summary(1000)).jobs.pending).toBe(1);
  });

  test('a bare claim that finds nothing locks no row and takes no transaction id (its COMMIT flushes nothing); one that finds a job takes it', async () => {
    const { store } = await open();
    await store.registerBot({ id: 'poller' }, 1000);
    const xmax = async () =>
      (await sql<{ x: string }>(store, `SELECT xmax::text AS x FROM bots WHERE id = 'poller'`))[0].x;
    expect(await xmax()).toBe('0');
    expect(await store.claimJob('poller', 1000)).toBeNull();
    expect(await store.finishAndClaim('poller', null, 1000)).toEqual({ finished: null, job: null });
    await store.createJobs(simulated(1, { runAt: new Date(5000).toISOString() }), 1000);
    expect(await store.claimJob('poller', 1000)).toBeNull(); // pending, but not due
    expect(await xmax()).toBe('0'); // FOR UPDATE on the bot's row would have left the locker's id here
    await expect(store.claimJob('nobody', 1000)).rejects.toMatchObject({ status: 404 });
    expect(await store.claimJob('poller', 5000)).toMatchObject({ botId: 'poller', status: 'claimed' });
    await expect(store.claimJob('poller', 5000)).rejects.toMatchObject({ status: 409 }); // busy, even with nothing to take
  });

  test("a bot's reports, heartbeats, repeated report, start, complete and restart find the job it holds through its current job, never its history (index tuples read, from pg_stat)", async () => {
    const { store } = await open(1);
    await store.registerBot({ id: 'b' }, 1000);
    await store.createJobs(simulated(3000), 1000);
    // Statistics from right after a bulk enqueue, as autovacuum takes them: no job has a bot.
    await sql(store, 'ANALYZE jobs');
    // Then the bot's history: 2,000 finished jobs in its jobs_bot_seq entries.
    await sql(
      store,
      `UPDATE jobs SET status = 'completed', bot_id = 'b', attempts = 1, finished_at = 1000 WHERE seq <= 2000`,
    );
    const before = await indexReads(store);
    let held = (await store.finishAndClaim('b', null, 2000)).job!;
    for (let i = 0; i < 3; i++) {
      await store.heartbeat('b', 2000);
      const finished = { jobId: held.id, attempt: held.attempts, result: { i } };
      held = (await store.finishAndClaim('b', finished, 2000)).job!;
      if (i === 0) expect((await store.finishAndClaim('b', finished, 2000)).job!.id).toBe(held.id); // a repeat: the held job again
    }
    await store.completeJob({ jobId: held.id, botId: 'b', attempt: held.attempts }, { seed: true }, 2000);
    const claimed = (await store.claimJob('b', 2000))!;
    await store.startJob({ jobId: claimed.id, botId: 'b', attempt: claimed.attempts }, 2000);
    await store.registerBot({ id: 'b' }, 3000); // a restart takes the running job back
    expect((await store.getJob(claimed.id))!.status).toBe('failed');
    const after = await indexReads(store);
    // Walking the history would read 2,000 entries per call; each call above reads one job by its id.
    expect(after.jobs_bot_seq - before.jobs_bot_seq).toBe(0);
  });

  test('claims walk jobs_claimable in order, even with statistics from when a few jobs were pending (index tuples read, from pg_stat)', async () => {
    const { store } = await open(1);
    await store.registerBot({ id: 'c' }, 1000);
    await store.createJobs(simulated(4), 1000);
    await sql(store, 'ANALYZE jobs');
    await store.createJobs(simulated(20_000), 1000);
    const before = await indexReads(store);
    let held = (await store.finishAndClaim('c', null, 2000)).job!;
    for (let i = 0; i < 20; i++)
      held = (await store.finishAndClaim('c', { jobId: held.id, attempt: held.attempts, result: null }, 2000)).job!;
    const after = await indexReads(store);
    // Sorting the pending jobs instead would read all 20,000 of them on each claim; 21 claims read a few entries each,
    // plus the entries of the jobs claimed before them until PostgreSQL may mark those dead, which another
    // transaction open on the same server (a test running beside this one) delays: at most 1 + 2 + ... + 21 = 231.
    expect(after.jobs_status_seq - before.jobs_status_seq).toBeLessThan(50);
    expect(after.jobs_claimable - before.jobs_claimable).toBeLessThan(1000);
  });

  test(
    'two servers under concurrent reports, heartbeats, sweeps, restarts, deletions and hand-backs: no deadlock (SQLSTATE 40P01) and counts that stay exact',
    async () => {
      const { store: a, url } = await open();
      const b = await openStore(url, STORE_OPTS);
      stores.push(b);
      const servers = [a, b];
      const JOBS = 1200;
      await a.createJobs(
        Array.from({ length: JOBS }, (_, i) => ({
          type: 'simulated',
          payload: {},
          priority: i % 3,
          maxAttempts: 3,
          key: i % 10 === 0 ? `k${i}` : null,
        })),
        Date.now(),
      );
      const bots = Array.from({ length: 8 }, (_, i) => `lock-${i}`);
      for (const id of bots) await a.registerBot({ id }, Date.now());
      const unexpected: unknown[] = [];
      const counts = { reports: 0, handBacks: 0, sweptReleases: 0, refusals: 0 };
      /** A 404 or 409 is an answer (the job or bot moved on); anything else, a deadlock included, is a failure. */
      const answer = (err: unknown) => {
        if (err instanceof AppError && (err.status === 404 || err.status === 409)) counts.refusals++;
        else unexpected.push(err);
      };
      const deadline = Date.now() + testTime(15_000);
      let finished = false;
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const botLoop = async (id: string, k: number) => {
        let held: { id: string; attempts: number } | null = null;
        for (let n = k; !finished && Date.now() < deadline; n++) {
          const store = servers[n % 2];
          try {
            if (held && n % 9 === 0) {
              await store.releaseJob({ jobId: held.id, botId: id, attempt: held.attempts }, Date.now());
              counts.handBacks++;
              held = null;
              continue;
            }
            const report = held
              ? n % 4 === 0
                ? { jobId: held.id, attempt: held.attempts, error: 'no' }
                : { jobId: held.id, attempt: held.attempts, result: n }
              : null;
            const r = await store.finishAndClaim(id, report, Date.now());
            if (report) counts.reports++;
            held = r.job;
            if (!held) await sleep(2);
          } catch (err) {
            answer(err);
            held = null;
            await store.registerBot({ id }, Date.now()).catch(answer); // down, deleted or moved on: start again
          }
        }
      };
      const heartbeats = async () => {
        for (let n = 0; !finished && Date.now() < deadline; n++) {
          for (const id of bots) await servers[n % 2].heartbeat(id, Date.now()).catch(answer);
          await sleep(3);
        }
      };
      const sweeps = async () => {
        for (let n = 0; !finished && Date.now() < deadline; n++) {
          // Every third sweep sees every bot silent: down, and its job taken back while it reports.
          const at = Date.now() + (n % 3 === 2 ? STORE_OPTS.botDownAfterMs + 1 : 0);
          try {
            counts.sweptReleases += (await servers[n % 2].sweep(at)).released.length;
          } catch (err) {
            answer(err);
          }
          if (n % 10 === 5) await servers[(n + 1) % 2].deleteBot(bots[n % bots.length], Date.now()).catch(answer);
          await sleep(15);
        }
      };
      const done = async () => {
        while (!finished && Date.now() < deadline) {
          const s = await a.summary(Date.now());
          finished = s.jobs.pending + s.jobs.claimed + s.jobs.running === 0;
          await sleep(50);
        }
        finished = true;
      };
      await Promise.all([...bots.map((id, k) => botLoop(id, k)), heartbeats(), sweeps(), done()]);
      const deadlocks = unexpected.filter((e) => (e as { code?: string }).code === '40P01');
      expect(deadlocks).toEqual([]);
      expect(unexpected).toEqual([]);
      expect(counts.reports).toBeGreaterThan(JOBS / 2);
      expect(counts.handBacks).toBeGreaterThan(0);
      expect(counts.sweptReleases).toBeGreaterThan(0);
      // Quiet now: the counters agree with the rows, and every job ended.
      const s = await b.summary(Date.now());
      const [rows] = await sql<Record<string, string>>(
        a,
        `SELECT count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) AS total FROM jobs`,
      );
      expect({ completed: s.jobs.completed, failed: s.jobs.failed, total: s.jobs.total }).toEqual({
        completed: Number(rows.completed),
        failed: Number(rows.failed),
        total: JOBS,
      });
      expect(s.jobs.completed + s.jobs.failed).toBe(JOBS);
    },
    testTime(60_000),
  );
});
