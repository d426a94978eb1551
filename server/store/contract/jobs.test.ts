/** The store contract, jobs: create, read, list, order, keys, delays, pause, retry and cancel. Run on SQLite and PostgreSQL alike (testing/stores.ts). */
import { ConflictError, NotFoundError } from '../../../core/errors';
import { job, storeContract } from '../testing/stores';

storeContract('jobs', (ctx) => {
  test('a job goes pending → claimed → running → completed, with an event for each step and one outbox row', async () => {
    const { store, clock, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job({ payload: { n: 1 } })], now());
    expect(j).toMatchObject({ status: 'pending', attempts: 0, maxAttempts: 1, payload: { n: 1 } });
    await bot('b1');
    const claimed = await store.claimJob('b1', now());
    expect(claimed).toMatchObject({ id: j.id, status: 'claimed', botId: 'b1', attempts: 1 });
    clock.advance(10);
    const running = await store.startJob({ jobId: j.id, botId: 'b1', attempt: 1 }, now());
    expect(running.status).toBe('running');
    clock.advance(250);
    const done = await store.completeJob({ jobId: j.id, botId: 'b1', attempt: 1 }, { answer: 42 }, now());
    expect(done).toMatchObject({ status: 'completed', result: { answer: 42 }, botId: 'b1' });
    const full = await store.getJob(j.id);
    expect(full!.events.map((e) => `${e.from}->${e.to}`)).toEqual([
      'null->pending',
      'pending->claimed',
      'claimed->running',
      'running->completed',
    ]);
    const outbox = await store.fetchUnwritten(10);
    expect(outbox).toHaveLength(1);
    expect(outbox[0].line).toMatchObject({
      jobId: j.id,
      attempt: 1,
      botId: 'b1',
      status: 'completed',
      result: { answer: 42 },
      durationMs: 250,
    });
    await store.markWritten(outbox.map((o) => o.seq));
    expect(await store.fetchUnwritten(10)).toHaveLength(0);
    const b = await store.getBot('b1');
    expect(b).toMatchObject({ status: 'idle', currentJobId: null, jobsCompleted: 1 });
  });

  test('createJobs answers each job exactly as it reads back, plain and keyed alike, in input order', async () => {
    const { store, now } = ctx();
    const inputs = [
      job({
        payload: { n: 1, list: [1, 'two', null, { deep: true }] },
        priority: 7,
        maxAttempts: 3,
        timeoutMs: 5000,
      }),
      job({ runAt: '2030-01-02T03:04:05.678+02:00', payload: 'text' }),
      job({ key: 'k-create', payload: [1, 2] }),
      job({ type: 'other.kind', payload: null }),
    ];
    const created = await store.createJobs(inputs, now());
    expect(created.map((c) => c.created)).toEqual([true, true, true, true]);
    expect(created[1].job.runAt).toBe('2030-01-02T01:04:05.678Z');
    for (const c of created) {
      const { events, ...read } = (await store.getJob(c.job.id))!;
      expect(c.job).toEqual(read);
      expect(events.map((e) => `${e.from}->${e.to} ${e.note}`)).toEqual(['null->pending created']);
    }
  });

  test('priority: higher first, then oldest first; runAt holds a job back until its time', async () => {
    const { store, clock, now, bot } = ctx();
    const ids = (
      await store.createJobs(
        [
          job({ priority: 0 }),
          job({ priority: 5 }),
          job({ priority: 0 }),
          job({ priority: 9, runAt: new Date(now() + 60_000).toISOString() }),
        ],
        now(),
      )
    ).map((r) => r.job.id);
    for (const b of ['a', 'b', 'c', 'd']) await bot(b);
    expect((await store.claimJob('a', now()))!.id).toBe(ids[1]);
    expect((await store.claimJob('b', now()))!.id).toBe(ids[0]);
    expect((await store.claimJob('c', now()))!.id).toBe(ids[2]);
    expect(await store.claimJob('d', now())).toBeNull();
    clock.advance(60_000);
    expect((await store.claimJob('d', now()))!.id).toBe(ids[3]);
  });

  test('nextRunAt: the earliest runAt still to come of a pending job; null when none', async () => {
    const { store, clock, now, bot } = ctx();
    expect(await store.nextRunAt(now())).toBeNull();
    const at = (ms: number) => new Date(now() + ms).toISOString();
    const [, , , soon] = await store.createJobs(
      [
        job({ runAt: at(60_000) }),
        job({ runAt: at(30_000) }),
        job({ runAt: at(-1000) }),
        job({ runAt: at(10_000) }),
        job(),
      ],
      now(),
    );
    await store.cancelJob(soon.job.id, now()); // not pending: not waited for
    expect(await store.nextRunAt(now())).toBe(now() + 30_000);
    clock.advance(30_000);
    expect(await store.nextRunAt(now())).toBe(now() + 30_000); // due now is not "to come"
    for (const b of ['d1', 'd2', 'd3', 'd4']) await bot(b);
    for (const b of ['d1', 'd2', 'd3']) expect(await store.claimJob(b, now())).not.toBeNull(); // the three due jobs
    expect(await store.claimJob('d4', now())).toBeNull();
    clock.advance(30_000);
    expect(await store.nextRunAt(now())).toBeNull();
    expect((await store.claimJob('d4', now()))!.runAt).toBe(at(0));
    expect(await store.nextRunAt(now() - 1)).toBeNull(); // claimed: no longer pending
  });

  test('key: a second job with the key of an unfinished job returns it; once finished the key is free', async () => {
    const { store, now, bot } = ctx();
    const [a] = await store.createJobs([job({ key: 'k1' })], now());
    const [b] = await store.createJobs([job({ key: 'k1' })], now());
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.job.id).toBe(a.job.id);
    await bot('b1');
    await store.claimJob('b1', now());
    await store.completeJob({ jobId: a.job.id, botId: 'b1' }, null, now());
    const [c] = await store.createJobs([job({ key: 'k1' })], now());
    expect(c.created).toBe(true);
    expect(c.job.id).not.toBe(a.job.id);
  });

  test('pause stops claims; resume lets them through', async () => {
    const { store, now, bot } = ctx();
    await store.createJobs([job()], now());
    await bot('a');
    await store.setPaused(true);
    expect(await store.isPaused()).toBe(true);
    expect(await store.claimJob('a', now())).toBeNull();
    await store.setPaused(false);
    expect(await store.claimJob('a', now())).not.toBeNull();
  });

  test('retry and cancel', async () => {
    const { store, now, bot } = ctx();
    const [{ job: j }, { job: k }] = await store.createJobs([job(), job()], now());
    await expect(store.retryJob(j.id, now())).rejects.toBeInstanceOf(ConflictError);
    const c = await store.cancelJob(k.id, now());
    expect(c.status).toBe('cancelled');
    await bot('a');
    await store.claimJob('a', now());
    await store.failJob({ jobId: j.id, botId: 'a' }, 'bad', now());
    const r = await store.retryJob(j.id, now());
    expect(r).toMatchObject({ status: 'pending', attempts: 1, maxAttempts: 2 });
    expect((await store.claimJob('a', now()))!.attempts).toBe(2);
    await expect(store.cancelJob('missing', now())).rejects.toBeInstanceOf(NotFoundError);
  });

  test('retry of a job whose key another open job now holds is a 409, not a crash', async () => {
    const { store, now } = ctx();
    const [{ job: a }] = await store.createJobs([job({ key: 'shared' })], now());
    await store.cancelJob(a.id, now());
    const [{ job: b, created }] = await store.createJobs([job({ key: 'shared' })], now());
    expect(created).toBe(true);
    await expect(store.retryJob(a.id, now())).rejects.toMatchObject({ status: 409, code: 'key_in_use' });
    await store.cancelJob(b.id, now());
    expect((await store.retryJob(a.id, now())).status).toBe('pending');
  });

  test('listJobs: newest first, keyset pages that cover every job once, filters', async () => {
    const { store, now } = ctx();
    const created = (
      await store.createJobs(
        Array.from({ length: 25 }, (_, i) => job({ type: i % 2 ? 'hash' : 'simulated' })),
        now(),
      )
    ).map((r) => r.job.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listJobs({ limit: 10, cursor });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...created].reverse());
    expect((await store.listJobs({ limit: 50, type: 'hash' })).items).toHaveLength(12);
    expect((await store.listJobs({ limit: 50, status: 'running' })).items).toHaveLength(0);
  });

  test('bulk create keeps order and makes each job once', async () => {
    const { store, now } = ctx();
    const res = await store.createJobs(
      Array.from({ length: 1200 }, (_, i) => job({ payload: { i } })),
      now(),
    );
    expect(res.map((r) => (r.job.payload as { i: number }).i)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    expect((await store.summary(now())).jobs.pending).toBe(1200);
  });
});
