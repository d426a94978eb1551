/** The store contract, leases: silent bots, heartbeats, timeouts, and a job handed back by its bot. Run on SQLite and PostgreSQL alike (testing/stores.ts). */
import { ConflictError, NotFoundError } from '../../../core/errors';
import { job, storeContract, STORE_OPTS } from '../testing/stores';

storeContract('leases', (ctx) => {
  test('leases: a silent bot goes down, its job is released with "lease expired", its late complete is 409', async () => {
    const { store, clock, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job({ maxAttempts: 2 })], now());
    await bot('a');
    await bot('b');
    await store.claimJob('a', now());
    await store.startJob({ jobId: j.id, botId: 'a' }, now());
    clock.advance(60_000);
    await store.heartbeat('b', now());
    clock.advance(60_000);
    expect((await store.sweep(now())).botsDown).toEqual([]); // exactly at the limit: not yet
    clock.advance(1);
    await store.heartbeat('b', now());
    const swept = await store.sweep(now());
    expect(swept.botsDown).toEqual(['a']);
    expect(swept.released).toEqual([{ jobId: j.id, botId: 'a', to: 'pending', reason: 'lease expired' }]);
    expect((await store.getBot('a'))!.status).toBe('down');
    const ev = (await store.getJob(j.id))!.events.at(-1)!;
    expect(ev).toMatchObject({ from: 'running', to: 'pending', botId: 'a', note: 'lease expired' });
    await expect(store.completeJob({ jobId: j.id, botId: 'a', attempt: 1 }, 'late', now())).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(store.claimJob('a', now())).rejects.toBeInstanceOf(ConflictError); // down
    expect((await store.claimJob('b', now()))!.attempts).toBe(2);
    expect((await store.getBot('a'))!.lostLeases).toHaveLength(1);
    // A down bot that speaks again is back, without its old job.
    expect((await store.heartbeat('a', now())).status).toBe('idle');
  });

  test('heartbeats keep a busy bot and its lease alive', async () => {
    const { store, clock, now, bot } = ctx();
    await store.createJobs([job()], now());
    await bot('a');
    const c = await store.claimJob('a', now());
    for (let i = 0; i < 10; i++) {
      clock.advance(30_000);
      await store.heartbeat('a', now());
      expect((await store.sweep(now())).released).toEqual([]);
    }
    expect((await store.getJob(c!.id))!.status).toBe('claimed');
    expect(Date.parse((await store.getJob(c!.id))!.leaseExpiresAt!)).toBe(now() + 120_000);
  });

  test('timeoutMs: a job running too long is taken back with "timed out" even while its bot heartbeats', async () => {
    const { store, clock, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job({ timeoutMs: 5_000, maxAttempts: 1 })], now());
    await bot('a');
    await store.claimJob('a', now());
    await store.startJob({ jobId: j.id, botId: 'a' }, now());
    clock.advance(5_000);
    await store.heartbeat('a', now());
    expect((await store.sweep(now())).released).toEqual([]);
    clock.advance(1);
    await store.heartbeat('a', now());
    expect((await store.sweep(now())).released).toEqual([
      { jobId: j.id, botId: 'a', to: 'failed', reason: 'timed out' },
    ]);
    await expect(store.completeJob({ jobId: j.id, botId: 'a' }, 'late', now())).rejects.toBeInstanceOf(ConflictError);
    expect((await store.getBot('a'))!.status).toBe('idle');
  });

  test('hand back: a running or claimed job goes back to pending with the attempt not counted; its bot is idle; another bot runs the same attempt', async () => {
    const { store, clock, now, bot } = ctx();
    const [{ job: j }, { job: k }] = await store.createJobs([job({ timeoutMs: 5000 }), job()], now());
    await bot('a');
    await bot('b');
    const running = (await store.finishAndClaim('a', null, now())).job!;
    expect(running).toMatchObject({ id: j.id, status: 'running', attempts: 1 });
    clock.advance(20);
    const back = await store.releaseJob({ jobId: j.id, botId: 'a', attempt: 1 }, now());
    expect(back).toMatchObject({
      id: j.id,
      status: 'pending',
      attempts: 0,
      maxAttempts: 1,
      botId: null,
      startedAt: null,
      leaseExpiresAt: null,
      finishedAt: null,
    });
    expect(await store.getJob(j.id)).toMatchObject(back);
    expect((await store.getJob(j.id))!.events.at(-1)).toMatchObject({
      from: 'running',
      to: 'pending',
      botId: 'a',
      attempt: 1,
      note: 'handed back',
    });
    expect(await store.getBot('a')).toMatchObject({
      status: 'idle',
      currentJobId: null,
      jobsCompleted: 0,
      jobsFailed: 0,
    });
    expect((await store.getBot('a'))!.lostLeases).toEqual([
      { jobId: j.id, attempt: 1, at: new Date(now()).toISOString(), note: 'handed back' },
    ]);
    // A job of maxAttempts 1 is run again, by another bot, at the same attempt number.
    const again = (await store.finishAndClaim('b', null, now())).job!;
    expect(again).toMatchObject({ id: j.id, status: 'running', attempts: 1, botId: 'b' });
    expect(Date.parse(again.startedAt!)).toBe(now());
    // A claimed job (not started yet) is handed back the same way.
    const claimed = (await store.claimJob('a', now()))!;
    expect(claimed).toMatchObject({ id: k.id, status: 'claimed', attempts: 1 });
    expect(await store.releaseJob({ jobId: k.id, botId: 'a', attempt: 1 }, now())).toMatchObject({
      status: 'pending',
      attempts: 0,
      botId: null,
    });
    expect((await store.getJob(k.id))!.events.at(-1)).toMatchObject({
      from: 'claimed',
      to: 'pending',
      note: 'handed back',
    });
    // Nothing of the handed-back attempts is swept later: no lease is left to expire.
    clock.advance(STORE_OPTS.botDownAfterMs + 1);
    await store.heartbeat('b', now());
    expect((await store.sweep(now())).released).toEqual([
      { jobId: j.id, botId: 'b', to: 'failed', reason: 'timed out' },
    ]);
    expect((await store.getJob(k.id))!.status).toBe('pending');
  });

  test('hand back: a stale or foreign attempt is a 409 not_your_job and changes nothing; an unknown job is a 404', async () => {
    const { store, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job({ maxAttempts: 3 })], now());
    await bot('a');
    await bot('b');
    await store.finishAndClaim('a', null, now());
    await store.failJob({ jobId: j.id, botId: 'a', attempt: 1 }, 'first', now());
    await store.finishAndClaim('a', null, now()); // attempt 2
    const before = await store.getJob(j.id);
    for (const call of [
      { jobId: j.id, botId: 'a', attempt: 1 }, // stale
      { jobId: j.id, botId: 'a', attempt: 3 }, // not yet
      { jobId: j.id, botId: 'b', attempt: 2 }, // foreign
    ])
      await expect(store.releaseJob(call, now())).rejects.toMatchObject({ status: 409, code: 'not_your_job' });
    await expect(store.releaseJob({ jobId: 'no-such-job', botId: 'a', attempt: 1 }, now())).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await store.getJob(j.id)).toEqual(before);
    expect(await store.getBot('a')).toMatchObject({ status: 'busy', currentJobId: j.id });
    // Handed back once, a repeat finds the job no longer held: 409 as well.
    await store.releaseJob({ jobId: j.id, botId: 'a', attempt: 2 }, now());
    await expect(store.releaseJob({ jobId: j.id, botId: 'a', attempt: 2 }, now())).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(await store.getJob(j.id)).toMatchObject({ status: 'pending', attempts: 1 });
    // A finished job cannot be handed back.
    const k = (await store.finishAndClaim('b', null, now())).job!;
    await store.completeJob({ jobId: k.id, botId: 'b', attempt: k.attempts }, null, now());
    await expect(store.releaseJob({ jobId: k.id, botId: 'b', attempt: k.attempts }, now())).rejects.toMatchObject({
      code: 'not_your_job',
    });
  });
});
