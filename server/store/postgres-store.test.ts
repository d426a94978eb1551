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
      const versions = (await store.db.run<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => Number(r.version));
      expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
      await store.createJobs([{ type: 'simulated', payload: {}, priority: 0, maxAttempts: 1 }], 1000);
      await store.registerBot({ id: 'b' }, 1000);
      expect(await store.finishAndClaim('b', null, 1000)).toMatchObject({ finished: null, job: { status: 'running', botId: 'b' } });
    } finally {
      await store.close();
    }
  });

  test('a bare claim that finds nothing locks no row and takes no transaction id (its COMMIT flushes nothing); one that finds a job takes it', async () => {
    const store = (await open()) as SqlStore;
    try {
      await store.migrate();
      await store.registerBot({ id: 'poller' }, 1000);
      const xmax = async () => (await store.db.run<{ x: string }>(`SELECT xmax::text AS x FROM bots WHERE id = 'poller'`)).rows[0].x;
      expect(await xmax()).toBe('0');
      expect(await store.claimJob('poller', 1000)).toBeNull();
      expect(await store.finishAndClaim('poller', null, 1000)).toEqual({ finished: null, job: null });
      await store.createJobs([{ type: 'simulated', payload: {}, priority: 0, maxAttempts: 1, runAt: new Date(5000).toISOString() }], 1000);
      expect(await store.claimJob('poller', 1000)).toBeNull(); // pending, but not due
      expect(await xmax()).toBe('0'); // FOR UPDATE on the bot's row would have left the locker's id here
      await expect(store.claimJob('nobody', 1000)).rejects.toMatchObject({ status: 404 });
      expect(await store.claimJob('poller', 5000)).toMatchObject({ botId: 'poller', status: 'claimed' });
      await expect(store.claimJob('poller', 5000)).rejects.toMatchObject({ status: 409 }); // busy, even with nothing to take
    } finally {
      await store.close();
    }
  });

  test('migration 4 drops the sweeper-only indexes of a database made before it', async () => {
    const store = (await open()) as SqlStore;
    try {
      await store.migrate();
      const indexes = async () =>
        (await store.db.run<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ('jobs_active_lease', 'jobs_active_deadline', 'bots_heartbeat')`)).rows.length;
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
