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
      expect(versions).toEqual([1, 2, 3, 4, 5]);
      await store.createJobs([{ type: 'simulated', payload: {}, priority: 0, maxAttempts: 1 }], 1000);
      await store.registerBot({ id: 'b' }, 1000);
      expect(await store.finishAndClaim('b', null, 1000)).toMatchObject({ finished: null, job: { status: 'running', botId: 'b' } });
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
