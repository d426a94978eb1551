/**
 * The store-alone context rows of goals 1 and 6 measure a real drain: every job reported once and
 * completed, on a real SQLite file and on the real PostgreSQL. No speed is asserted.
 */
import { dropSchema, describePostgres, freshSchemaUrl } from '../test/helpers/postgres';
import { openBenchStore, reportAndClaimLoops, storeAlone } from './store-alone';

test('SQLite: 3 loops drain 250 jobs, each completed once; no PostgreSQL CPU is claimed', async () => {
  const r = await storeAlone(null, 250, 3);
  expect(r.jobs).toBe(250);
  expect(r.jobsPerSecond).toBeGreaterThan(0);
  expect(r.nodeCpuUs).toBeGreaterThan(0);
  expect(r.postgresCpuUs).toBeNull();
});

test('the loops report exactly the jobs there are and leave every bot idle', async () => {
  const { store, dispose } = await openBenchStore(null);
  try {
    const at = Date.now(); // one registration time: listBots orders ties by id
    for (const id of ['a', 'b']) await store.registerBot({ id }, at);
    await store.createJobs(
      Array.from({ length: 7 }, () => ({ type: 'simulated', payload: {}, priority: 0 })),
      Date.now(),
    );
    expect(await reportAndClaimLoops(store, ['a', 'b'])).toBe(7);
    expect((await store.listBots()).map((b) => [b.id, b.currentJobId])).toEqual([
      ['a', null],
      ['b', null],
    ]);
    expect(await reportAndClaimLoops(store, ['a', 'b'])).toBe(0);
  } finally {
    await dispose();
  }
});

describePostgres('store alone on PostgreSQL', () => {
  test('4 loops drain 200 jobs on a fresh schema; the CPU of its own backends is counted', async () => {
    const { url, schema } = freshSchemaUrl('store_alone');
    try {
      const r = await storeAlone(url, 200, 4);
      expect(r.jobs).toBe(200);
      expect(r.postgresCpuUs).not.toBeNull();
      expect(r.postgresCpuUs!).toBeGreaterThan(0);
    } finally {
      await dropSchema(schema);
    }
  });
});
