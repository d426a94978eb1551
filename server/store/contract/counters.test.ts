/** The store contract, the counters behind GET /metrics/summary, and periods taken once across servers. Run on SQLite and PostgreSQL alike (testing/stores.ts). */
import { JOB_STATUSES } from '../../../core/types';
import { job, storeContract, STORE_OPTS } from '../testing/stores';

storeContract('counters', (ctx) => {
  test('summary counts by status without scanning, throughput per minute and success rate', async () => {
    const { store, clock, now, bot } = ctx();
    await store.createJobs(
      Array.from({ length: 4 }, () => job()),
      now(),
    );
    await bot('a');
    for (let i = 0; i < 3; i++) {
      const c = await store.claimJob('a', now());
      await store.startJob({ jobId: c!.id, botId: 'a' }, now());
      clock.advance(100);
      if (i < 2) await store.completeJob({ jobId: c!.id, botId: 'a' }, null, now());
      else await store.failJob({ jobId: c!.id, botId: 'a' }, 'x', now());
    }
    const s = await store.summary(now());
    expect(s.jobs).toMatchObject({ pending: 1, completed: 2, failed: 1, total: 4 });
    expect(s.bots).toMatchObject({ idle: 1, total: 1 });
    expect(s.finished).toEqual({ lastMinute: 3, last5Minutes: 3, lastHour: 3 });
    expect(s.successRate).toBeCloseTo(2 / 3);
    expect(s.meanProcessingMs).toBe(100);
    expect(s.throughput).toHaveLength(60);
    expect(s.throughput.at(-1)).toMatchObject({ completed: 2, failed: 1 });
  });

  test('runOncePerPeriod runs once per period, and never again for a period when the clock steps back', async () => {
    const { store, now } = ctx();
    let runs = 0;
    const fn = async () => {
      runs++;
    };
    expect(await store.runOncePerPeriod('populate', 600_000, now(), fn)).toBe(true);
    expect(await store.runOncePerPeriod('populate', 600_000, now() + 1000, fn)).toBe(false);
    expect(await store.runOncePerPeriod('populate', 600_000, now() - 600_000, fn)).toBe(false);
    expect(await store.runOncePerPeriod('populate', 600_000, now() + 600_000, fn)).toBe(true);
    expect(runs).toBe(2);
  });

  test('the counts by status and of finished attempts stay exact through every kind of change', async () => {
    const { store, clock, now, bot } = ctx();
    const exact = async () => {
      const s = await store.summary(now());
      const listed = Object.fromEntries(
        await Promise.all(
          JOB_STATUSES.map(async (st) => [st, (await store.listJobs({ status: st, limit: 500 })).items.length]),
        ),
      );
      expect({ ...s.jobs }).toEqual({ ...listed, total: 12 });
      expect(s.finished.lastHour).toBe((await store.fetchUnwritten(500)).length);
    };
    const ids = (
      await store.createJobs(
        Array.from({ length: 12 }, (_, i) => job({ maxAttempts: 2, key: i % 4 === 0 ? `k${i}` : undefined })),
        now(),
      )
    ).map((r) => r.job.id);
    for (const b of ['a', 'b', 'c', 'd']) await bot(b);
    await exact();
    const a1 = (await store.claimJob('a', now()))!;
    const b1 = (await store.finishAndClaim('b', null, now())).job!;
    await exact();
    await store.startJob({ jobId: a1.id, botId: 'a', attempt: 1 }, now());
    await store.completeJob({ jobId: a1.id, botId: 'a', attempt: 1 }, 'done', now());
    const b2 = (await store.finishAndClaim('b', { jobId: b1.id, attempt: 1, error: 'once' }, now())).job!;
    await exact();
    const c1 = (await store.finishAndClaim('c', null, now())).job!;
    await store.releaseJob({ jobId: c1.id, botId: 'c', attempt: c1.attempts }, now());
    await store.cancelJob(ids[11], now());
    await exact();
    let a2 = (await store.finishAndClaim('a', null, now())).job!;
    a2 = (await store.finishAndClaim('a', { jobId: a2.id, attempt: a2.attempts, error: 'x' }, now())).job!;
    await store.failJob({ jobId: a2.id, botId: 'a', attempt: a2.attempts }, 'y', now());
    await exact();
    const failed = (await store.listJobs({ status: 'failed', limit: 10 })).items[0];
    await store.retryJob(failed.id, now());
    await store.retryJob(ids[11], now());
    await exact();
    await store.finishAndClaim('c', null, now());
    await store.finishAndClaim('d', null, now());
    await store.deleteBot('c', now()); // its job back to pending
    await store.registerBot({ id: 'd' }, now()); // restarted: its job back
    await exact();
    clock.advance(STORE_OPTS.botDownAfterMs + 1);
    await store.heartbeat('a', now());
    await store.sweep(now()); // b goes down with its job
    expect((await store.getJob(b2.id))!.status).not.toBe('running');
    await exact();
  });
});
