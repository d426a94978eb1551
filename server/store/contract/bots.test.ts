/** The store contract, bots and their calls: claims and their refusals, reports (POST /jobs/next and complete/fail), fencing, repeats, registration and deletion, many bots at once. Run on SQLite and PostgreSQL alike (testing/stores.ts). */
import { ConflictError, NotFoundError } from '../../../core/errors';
import { job, storeContract, STORE_OPTS } from '../testing/stores';

storeContract('bots', (ctx) => {
  test('claim: 204-equivalent null when nothing is pending, 404 unknown bot, 409 busy bot', async () => {
    const { store, now, bot } = ctx();
    await bot('b1');
    expect(await store.claimJob('b1', now())).toBeNull();
    await expect(store.claimJob('nobody', now())).rejects.toBeInstanceOf(NotFoundError);
    await store.createJobs([job(), job()], now());
    await store.claimJob('b1', now());
    await expect(store.claimJob('b1', now())).rejects.toBeInstanceOf(ConflictError);
  });

  test('fencing: a stale attempt or another bot gets 409 and changes nothing', async () => {
    const { store, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job({ maxAttempts: 3 })], now());
    await bot('a');
    await bot('b');
    await store.claimJob('a', now());
    await store.startJob({ jobId: j.id, botId: 'a', attempt: 1 }, now());
    await expect(store.completeJob({ jobId: j.id, botId: 'b', attempt: 1 }, 'x', now())).rejects.toBeInstanceOf(
      ConflictError,
    );
    await store.failJob({ jobId: j.id, botId: 'a', attempt: 1 }, 'boom', now());
    expect((await store.getJob(j.id))!.status).toBe('pending');
    await store.claimJob('a', now()); // attempt 2, same bot
    await expect(store.completeJob({ jobId: j.id, botId: 'a', attempt: 1 }, 'late', now())).rejects.toBeInstanceOf(
      ConflictError,
    );
    const after = await store.getJob(j.id);
    expect(after).toMatchObject({ status: 'claimed', attempts: 2, botId: 'a', result: null });
  });

  test('finishAndClaim: completes the previous attempt and claims-and-starts the next in one step', async () => {
    const { store, clock, now, bot } = ctx();
    const [{ job: a }, { job: b }] = await store.createJobs([job({ timeoutMs: 1000 }), job({ maxAttempts: 2 })], now());
    await bot('lean');
    const first = await store.finishAndClaim('lean', null, now());
    expect(first.finished).toBeNull();
    expect(first.job).toMatchObject({ id: a.id, status: 'running', attempts: 1, botId: 'lean' });
    expect(first.job!.startedAt).not.toBeNull();
    clock.advance(5);
    const second = await store.finishAndClaim('lean', { jobId: a.id, attempt: 1, result: { ok: 1 } }, now());
    expect(second.finished).toMatchObject({ id: a.id, status: 'completed', result: { ok: 1 } });
    expect(second.job).toMatchObject({ id: b.id, status: 'running' });
    const third = await store.finishAndClaim('lean', { jobId: b.id, attempt: 1, error: 'nope' }, now());
    expect(third.finished).toMatchObject({ id: b.id, status: 'pending' });
    expect(third.job).toMatchObject({ id: b.id, status: 'running', attempts: 2 });
    // A stale report is a 409 and claims nothing.
    await expect(store.finishAndClaim('lean', { jobId: a.id, attempt: 2, result: null }, now())).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await store.getJob(b.id))!.status).toBe('running');
    const events = (await store.getJob(a.id))!.events.map((e) => e.to);
    expect(events).toEqual(['pending', 'claimed', 'running', 'completed']);
    const lines = await store.fetchUnwritten(10);
    expect(lines.map((l) => [l.line.jobId, l.line.status, l.line.durationMs])).toEqual([
      [a.id, 'completed', 5],
      [b.id, 'failed', 0],
    ]);
  });

  test('finishAndClaim: refusals change nothing; a repeated report answers as before; counts, minutes and the bot follow', async () => {
    const { store, clock, now, bot } = ctx();
    const [{ job: a }, { job: b }, { job: c }] = await store.createJobs([job(), job(), job()], now());
    await expect(store.finishAndClaim('ghost', null, now())).rejects.toBeInstanceOf(NotFoundError);
    await bot('lean');
    const first = await store.finishAndClaim('lean', null, now());
    expect(first.job!.id).toBe(a.id);
    // A bare claim while holding a job: 409 bot_busy naming the held job, nothing claimed.
    await expect(store.finishAndClaim('lean', null, now())).rejects.toMatchObject({
      status: 409,
      code: 'bot_busy',
      message: expect.stringContaining(a.id),
    });
    // A report of a job the bot does not hold: 409, and its own job is still running.
    await expect(store.finishAndClaim('lean', { jobId: b.id, attempt: 1, result: 1 }, now())).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await store.getJob(a.id))!.status).toBe('running');
    clock.advance(7);
    const second = await store.finishAndClaim('lean', { jobId: a.id, attempt: 1, result: 'x' }, now());
    expect(second.job!.id).toBe(b.id);
    // The same report again (its answer was lost): the same answer, the job it handed out included.
    const again = await store.finishAndClaim('lean', { jobId: a.id, attempt: 1, result: 'x' }, now());
    expect(again).toMatchObject({
      finished: { id: a.id, status: 'completed', result: 'x' },
      job: { id: b.id, status: 'running', attempts: 1 },
    });
    // Paused: the report is applied, nothing is claimed.
    await store.setPaused(true);
    const third = await store.finishAndClaim('lean', { jobId: b.id, attempt: 1, error: 'boom' }, now());
    expect(third).toMatchObject({ finished: { id: b.id, status: 'failed', error: 'boom' }, job: null });
    const repeated = await store.finishAndClaim('lean', { jobId: b.id, attempt: 1, error: 'boom' }, now());
    expect(repeated).toMatchObject({ finished: { id: b.id, status: 'failed' }, job: null });
    await store.setPaused(false);
    clock.advance(60_000);
    const fourth = await store.finishAndClaim('lean', null, now());
    expect(fourth.job!.id).toBe(c.id);
    // The claim counts as a heartbeat: the bot is not silent although it never sent one.
    expect(new Date((await store.getBot('lean'))!.lastHeartbeatAt).getTime()).toBe(now());
    // A bot that went down cannot report: 409 bot_down, its job is taken back by the sweep only.
    clock.advance(STORE_OPTS.botDownAfterMs + 1);
    await store.sweep(now());
    await expect(store.finishAndClaim('lean', { jobId: c.id, attempt: 1, result: 1 }, now())).rejects.toBeInstanceOf(
      ConflictError,
    );
    const s = await store.summary(now());
    expect(s.jobs).toMatchObject({ completed: 1, failed: 2, pending: 0, running: 0, total: 3 });
    const bot1 = await store.getBot('lean');
    expect(bot1).toMatchObject({ status: 'down', jobsCompleted: 1, jobsFailed: 2 }); // the lease-expired attempt counts as failed
    const lines = await store.fetchUnwritten(10);
    expect(lines.map((l) => [l.line.jobId, l.line.status])).toEqual([
      [a.id, 'completed'],
      [b.id, 'failed'],
      [c.id, 'failed'],
    ]);
    expect(lines[0].line.durationMs).toBe(7);
  });

  test('complete and fail repeated after a lost response answer the same and write one result', async () => {
    const { store, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job()], now());
    await bot('a');
    await store.claimJob('a', now());
    for (let i = 0; i < 5; i++) {
      const r = await store.completeJob({ jobId: j.id, botId: 'a', attempt: 1 }, { v: 1 }, now());
      expect(r.status).toBe('completed');
    }
    expect(await store.fetchUnwritten(10)).toHaveLength(1);
    const [{ job: k }] = await store.createJobs([job({ maxAttempts: 2 })], now());
    await store.claimJob('a', now());
    for (let i = 0; i < 3; i++) await store.failJob({ jobId: k.id, botId: 'a', attempt: 1 }, 'nope', now());
    expect(await store.fetchUnwritten(10)).toHaveLength(2);
    expect((await store.getJob(k.id))!.status).toBe('pending');
  });

  test('maxAttempts: failures go back to pending until the last attempt, then failed', async () => {
    const { store, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job({ maxAttempts: 2 })], now());
    await bot('a');
    await store.claimJob('a', now());
    expect((await store.failJob({ jobId: j.id, botId: 'a' }, 'e1', now())).status).toBe('pending');
    await store.claimJob('a', now());
    const last = await store.failJob({ jobId: j.id, botId: 'a' }, 'e2', now());
    expect(last).toMatchObject({ status: 'failed', attempts: 2, error: 'e2' });
    const lines = await store.fetchUnwritten(10);
    expect(lines.map((l) => [l.line.attempt, l.line.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
  });

  test('deleting a bot releases its job; re-registering a known bot releases what it held', async () => {
    const { store, now, bot } = ctx();
    const [{ job: j }, { job: k }] = await store.createJobs([job({ maxAttempts: 3 }), job({ maxAttempts: 3 })], now());
    await bot('a');
    await store.claimJob('a', now());
    expect(await store.deleteBot('a', now())).toBe(true);
    expect(await store.deleteBot('a', now())).toBe(false);
    expect((await store.getJob(j.id))!.status).toBe('pending');
    const again = await store.registerBot({ id: 'a' }, now());
    expect(again.created).toBe(true);
    await store.claimJob('a', now());
    const re = await store.registerBot({ id: 'a', name: 'renamed' }, now());
    expect(re).toMatchObject({ created: false, bot: { status: 'idle', name: 'renamed', currentJobId: null } });
    expect([(await store.getJob(j.id))!.status, (await store.getJob(k.id))!.status]).toEqual(['pending', 'pending']);
  });

  test('concurrency: 50 bots claiming 500 jobs at once claim each job exactly once', async () => {
    const { store, now, bot } = ctx();
    await store.createJobs(
      Array.from({ length: 500 }, () => job()),
      now(),
    );
    const bots = Array.from({ length: 50 }, (_, i) => `c${i}`);
    for (const b of bots) await bot(b);
    const claimedBy = new Map<string, string>();
    await Promise.all(
      bots.map(async (b) => {
        for (;;) {
          const c = await store.claimJob(b, now());
          if (!c) return;
          if (claimedBy.has(c.id)) throw new Error(`job ${c.id} claimed twice`);
          claimedBy.set(c.id, b);
          await store.completeJob({ jobId: c.id, botId: b, attempt: c.attempts }, null, now());
        }
      }),
    );
    expect(claimedBy.size).toBe(500);
    const s = await store.summary(now());
    expect(s.jobs.completed).toBe(500);
    expect((await store.fetchUnwritten(1000)).length).toBe(500);
  });
});
