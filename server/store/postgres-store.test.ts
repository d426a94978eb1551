import { describePostgres, dropSchema, freshSchemaUrl } from '../../test/helpers/postgres';
import { PRE_V4_INDEXES, storeContract, STORE_OPTS } from './store.contract';
import { openStore } from './open';
import type { SqlStore } from './sql-store';

describePostgres('PostgreSQL store', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const s of schemas) await dropSchema(s);
  });
  const open = async () => {
    const { url, schema } = freshSchemaUrl('store');
    schemas.push(schema);
    return openStore(url, STORE_OPTS);
  };
  storeContract('PostgreSQL', open);

  test('a database made before migration 2 gets botfleet_next at start-up, and claims work on it', async () => {
    const store = (await open()) as SqlStore;
    try {
      await store.migrate();
      // As a version-1 database: no function, no record of version 2.
      await store.db.run('DROP FUNCTION botfleet_next');
      await store.db.run('DELETE FROM schema_migrations WHERE version = 2');
      await expect(store.claimJob('nobody', 0)).rejects.toThrow(/botfleet_next/);
      await store.migrate();
      const versions = (
        await store.db.run<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
      ).rows.map((r) => Number(r.version));
      expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7]);
      await store.createJobs([{ type: 'simulated', payload: {}, priority: 0, maxAttempts: 1 }], 1000);
      await store.registerBot({ id: 'b' }, 1000);
      expect(await store.finishAndClaim('b', null, 1000)).toMatchObject({
        finished: null,
        job: { status: 'running', botId: 'b' },
      });
    } finally {
      await store.close();
    }
  });

  test('a bare claim that finds nothing locks no row and takes no transaction id (its COMMIT flushes nothing); one that finds a job takes it', async () => {
    const store = (await open()) as SqlStore;
    try {
      await store.migrate();
      await store.registerBot({ id: 'poller' }, 1000);
      const xmax = async () =>
        (await store.db.run<{ x: string }>(`SELECT xmax::text AS x FROM bots WHERE id = 'poller'`)).rows[0].x;
      expect(await xmax()).toBe('0');
      expect(await store.claimJob('poller', 1000)).toBeNull();
      expect(await store.finishAndClaim('poller', null, 1000)).toEqual({ finished: null, job: null });
      await store.createJobs(
        [{ type: 'simulated', payload: {}, priority: 0, maxAttempts: 1, runAt: new Date(5000).toISOString() }],
        1000,
      );
      expect(await store.claimJob('poller', 1000)).toBeNull(); // pending, but not due
      expect(await xmax()).toBe('0'); // FOR UPDATE on the bot's row would have left the locker's id here
      await expect(store.claimJob('nobody', 1000)).rejects.toMatchObject({ status: 404 });
      expect(await store.claimJob('poller', 5000)).toMatchObject({ botId: 'poller', status: 'claimed' });
      await expect(store.claimJob('poller', 5000)).rejects.toMatchObject({ status: 409 }); // busy, even with nothing to take
    } finally {
      await store.close();
    }
  });

  test("a bot's report, heartbeat, repeated report, seed-route calls and restart find the job it holds without reading its history (index tuples read, from pg_stat)", async () => {
    // One connection, so every statement below runs on the backend whose statistics are flushed.
    const { url, schema } = freshSchemaUrl('store');
    schemas.push(schema);
    const store = (await openStore(url, { ...STORE_OPTS, poolMax: 1 })) as SqlStore;
    try {
      await store.migrate();
      await store.registerBot({ id: 'b' }, 1000);
      await store.createJobs(
        Array.from({ length: 3000 }, () => ({ type: 'simulated', payload: {}, priority: 0, maxAttempts: 1 })),
        1000,
      );
      // Statistics from right after a bulk enqueue, as autovacuum takes them: no job has a bot.
      await store.db.run('ANALYZE jobs');
      // Then the bot's history: 2,000 finished jobs in its jobs_bot_seq entries.
      await store.db.run(
        `UPDATE jobs SET status = 'completed', bot_id = 'b', attempts = 1, finished_at = 1000 WHERE seq <= 2000`,
      );
      const historyReads = async () => {
        await store.db.run('SELECT pg_stat_force_next_flush()'); // flushed as the backend goes idle
        const r = await store.db.run<{ n: string }>(
          `SELECT idx_tup_read::text AS n FROM pg_stat_user_indexes WHERE schemaname = current_schema() AND indexrelname = 'jobs_bot_seq'`,
        );
        return Number(r.rows[0].n);
      };
      const before = await historyReads();
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
      const read = (await historyReads()) - before;
      // Walking the history would read 2,000 entries per call; the calls above find their job by id or status.
      expect(read).toBeLessThan(50);
    } finally {
      await store.close();
    }
  });

  test('migration 4 drops the sweeper-only indexes of a database made before it', async () => {
    const store = (await open()) as SqlStore;
    try {
      await store.migrate();
      const indexes = async () =>
        (
          await store.db.run<{ indexname: string }>(
            `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ('jobs_active_lease', 'jobs_active_deadline', 'bots_heartbeat')`,
          )
        ).rows.length;
      for (const ddl of PRE_V4_INDEXES) await store.db.run(ddl);
      await store.db.run('DELETE FROM schema_migrations WHERE version = 4');
      expect(await indexes()).toBe(3);
      await store.migrate();
      expect(await indexes()).toBe(0);
    } finally {
      await store.close();
    }
  });
});
