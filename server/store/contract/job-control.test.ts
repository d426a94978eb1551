/**
 * The store contract, job control: cancelling a held job, progress and log lines of the attempt a
 * bot holds, their bounds and their fences. Run on SQLite and PostgreSQL alike (testing/stores.ts).
 */
import { ConflictError, NotFoundError } from '../../../core/errors';
import { LOG_LIMITS } from '../../../core/job-control';
import { job, storeContract } from '../testing/stores';

const line = (text: string, at = '2026-01-01T00:00:00.000Z') => ({ at, level: 'info' as const, line: text });

storeContract('job control', (ctx) => {
  const running = async () => {
    const { store, now, bot } = ctx();
    const [{ job: j }] = await store.createJobs([job({ maxAttempts: 3 })], now());
    await bot('b1');
    const { job: got } = await store.finishAndClaim('b1', null, now());
    expect(got).toMatchObject({ id: j.id, status: 'running', attempts: 1 });
    return got!;
  };

  test('cancelling a running job ends it at once: cancelled, no further attempt, an event naming the admin, one cancelled result line, the bot idle', async () => {
    const { store, clock, now } = ctx();
    const j = await running();
    clock.advance(400);
    const cancelled = await store.cancelJob(j.id, now());
    expect(cancelled).toMatchObject({ status: 'cancelled', botId: 'b1', attempts: 1, error: 'cancelled by admin' });
    const full = await store.getJob(j.id);
    expect(full!.events.at(-1)).toMatchObject({
      from: 'running',
      to: 'cancelled',
      botId: 'b1',
      attempt: 1,
      note: 'cancelled by admin',
    });
    const outbox = await store.fetchUnwritten(10);
    expect(outbox.map((o) => o.line)).toEqual([
      expect.objectContaining({
        jobId: j.id,
        attempt: 1,
        status: 'cancelled',
        error: 'cancelled by admin',
        durationMs: 400,
      }),
    ]);
    expect(await store.getBot('b1')).toMatchObject({
      status: 'idle',
      currentJobId: null,
      jobsCompleted: 0,
      jobsFailed: 0,
    });
    // The bot's reports about that attempt change nothing.
    await expect(store.completeJob({ jobId: j.id, botId: 'b1', attempt: 1 }, 1, now())).rejects.toThrow(ConflictError);
    await expect(store.failJob({ jobId: j.id, botId: 'b1', attempt: 1 }, 'x', now())).rejects.toThrow(ConflictError);
    const next = await store.finishAndClaim('b1', { jobId: j.id, attempt: 1, result: 1 }, now()).catch((e) => e);
    expect(next).toBeInstanceOf(ConflictError);
    expect(await store.getJob(j.id)).toMatchObject({ status: 'cancelled' });
    expect(await store.fetchUnwritten(10)).toHaveLength(1);
    // Nothing left to claim, and the bot may claim again.
    expect((await store.finishAndClaim('b1', null, now())).job).toBeNull();
    // A cancelled job can be retried: a fresh attempt.
    expect(await store.retryJob(j.id, now())).toMatchObject({ status: 'pending', attempts: 1 });
  });

  test('cancelling a claimed job ends its attempt too; a finished job cannot be cancelled', async () => {
    const { store, now, bot } = ctx();
    const [{ job: a }, { job: b }] = await store.createJobs([job(), job()], now());
    await bot('b1');
    await store.claimJob('b1', now());
    expect(await store.cancelJob(a.id, now())).toMatchObject({ status: 'cancelled', botId: 'b1' });
    expect((await store.fetchUnwritten(10))[0].line).toMatchObject({ status: 'cancelled', startedAt: null });
    const got = await store.claimJob('b1', now());
    expect(got!.id).toBe(b.id);
    await store.completeJob({ jobId: b.id, botId: 'b1', attempt: 1 }, null, now());
    await expect(store.cancelJob(b.id, now())).rejects.toMatchObject({ code: 'not_cancellable' });
    await expect(store.cancelJob('nope', now())).rejects.toThrow(NotFoundError);
  });

  test('a cancelled attempt counts as neither completed nor failed in the summary throughput', async () => {
    const { store, now } = ctx();
    const j = await running();
    await store.cancelJob(j.id, now());
    const s = await store.summary(now());
    const minute = s.throughput.at(-1)!;
    expect(minute).toMatchObject({ completed: 0, failed: 0 });
    expect(s.jobs.cancelled).toBe(1);
  });

  test('progress: stored for the attempt the bot holds, fenced like a report, gone from view in the next attempt', async () => {
    const { store, clock, now, bot } = ctx();
    const j = await running();
    expect((await store.getJob(j.id))!.progress).toBeNull();
    clock.advance(5);
    const p = await store.control.progress({ jobId: j.id, botId: 'b1', attempt: 1 }, 0.25, 'a quarter', now());
    expect(p.progress).toEqual({ fraction: 0.25, message: 'a quarter', at: new Date(now()).toISOString() });
    expect((await store.getJob(j.id))!.progress).toMatchObject({ fraction: 0.25, message: 'a quarter' });
    await bot('b2');
    const wrongBot = store.control.progress({ jobId: j.id, botId: 'b2', attempt: 1 }, 0.5, null, now());
    await expect(wrongBot).rejects.toMatchObject({ code: 'not_your_job' });
    const wrongAttempt = store.control.progress({ jobId: j.id, botId: 'b1', attempt: 2 }, 0.5, null, now());
    await expect(wrongAttempt).rejects.toMatchObject({ code: 'not_your_job' });
    await expect(store.control.progress({ jobId: 'nope', botId: 'b1', attempt: 1 }, 0.5, null, now())).rejects.toThrow(
      NotFoundError,
    );
    expect((await store.getJob(j.id))!.progress!.fraction).toBe(0.25);
    // The attempt fails and goes back to pending; the next attempt starts without progress.
    await store.failJob({ jobId: j.id, botId: 'b1', attempt: 1 }, 'boom', now());
    await expect(
      store.control.progress({ jobId: j.id, botId: 'b1', attempt: 1 }, 1, null, now()),
    ).rejects.toMatchObject({ code: 'not_your_job' });
    const again = (await store.finishAndClaim('b2', null, now())).job!;
    expect(again).toMatchObject({ id: j.id, attempts: 2, progress: null });
  });

  test('log lines: kept per attempt oldest first, paged by a cursor, fenced, refused after the job ended', async () => {
    const { store, now } = ctx();
    const j = await running();
    const call = { jobId: j.id, botId: 'b1', attempt: 1 };
    const lines = Array.from({ length: 7 }, (_, i) => ({ ...line(`line ${i}`), level: i % 2 ? 'warn' : 'info' }));
    expect(await store.control.appendLogs(call, lines.slice(0, 3) as never, 0)).toEqual({
      stored: 3,
      dropped: 0,
      full: false,
    });
    await store.control.appendLogs(call, lines.slice(3) as never, 2);
    const first = await store.control.listLogs(j.id, { limit: 4 });
    expect(first.attempt).toBe(1);
    expect(first.items.map((l) => l.line)).toEqual(['line 0', 'line 1', 'line 2', 'line 3']);
    expect(first.items[1]).toEqual({ at: '2026-01-01T00:00:00.000Z', attempt: 1, level: 'warn', line: 'line 1' });
    expect(first).toMatchObject({ dropped: 2, more: true });
    const rest = await store.control.listLogs(j.id, { limit: 4, cursor: first.nextCursor! });
    expect(rest.items.map((l) => l.line)).toEqual(['line 4', 'line 5', 'line 6']);
    expect(rest.more).toBe(false);
    const none = await store.control.listLogs(j.id, { limit: 4, cursor: rest.nextCursor! });
    expect(none).toMatchObject({ items: [], nextCursor: rest.nextCursor });
    expect((await store.control.listLogs(j.id, { attempt: 2, limit: 10 })).items).toEqual([]);
    await expect(store.control.appendLogs({ ...call, botId: 'other' }, [line('x')], 0)).rejects.toMatchObject({
      code: 'not_your_job',
    });
    await store.cancelJob(j.id, now());
    await expect(store.control.appendLogs(call, [line('late')], 0)).rejects.toMatchObject({ code: 'not_your_job' });
    await expect(store.control.listLogs('nope', { limit: 1 })).rejects.toThrow(NotFoundError);
    expect((await store.control.listLogs(j.id, { limit: 100 })).items).toHaveLength(7);
  });

  test('an attempt keeps at most 1,000 lines and 256 KiB; the rest is counted as dropped', async () => {
    const { store } = ctx();
    const j = await running();
    const call = { jobId: j.id, botId: 'b1', attempt: 1 };
    const batch = (n: number, text: string) => Array.from({ length: n }, () => line(text));
    for (let i = 0; i < 2; i++)
      expect(await store.control.appendLogs(call, batch(LOG_LIMITS.linesPerBatch, 'x'), 0)).toMatchObject({
        stored: 500,
      });
    expect(await store.control.appendLogs(call, batch(10, 'x'), 5)).toEqual({ stored: 0, dropped: 15, full: true });
    expect((await store.control.listLogs(j.id, { limit: 1 })).dropped).toBe(15);
    // Bytes: 4 KiB lines (multi-byte characters count by their UTF-8 size) fill 256 KiB first.
    await store.failJob(call, 'again', 0);
    const two = (await store.finishAndClaim('b1', null, 0)).job!;
    const big = 'é'.repeat(2048); // 4,096 bytes
    const r = await store.control.appendLogs({ ...call, attempt: two.attempts }, batch(70, big), 0);
    expect(r).toEqual({ stored: 64, dropped: 6, full: true });
    const page = await store.control.listLogs(j.id, { limit: 1000 });
    expect(page).toMatchObject({ attempt: 2, dropped: 6 });
    expect(page.items).toHaveLength(64);
  });
});
