/**
 * ONE contract suite for every store backend (run by sqlite-store.test.ts and postgres-store.test.ts).
 * Time is a ManualClock, so leases, timeouts and schedules are exact.
 */
import { ManualClock } from '../../core/clock';
import { ConflictError, NotFoundError } from '../../core/errors';
import { CreateJobSchema, type CreateJobInput } from '../../core/types';
import type { Store } from './types';

export const STORE_OPTS = { defaultMaxAttempts: 1, defaultTimeoutMs: 0, botDownAfterMs: 120_000 };

/** The sweeper-only indexes as files and databases made before migration 4 have them (its tests recreate them). */
export const PRE_V4_INDEXES = [
  `CREATE INDEX jobs_active_lease ON jobs (lease_expires_at) WHERE status IN ('claimed', 'running')`,
  `CREATE INDEX jobs_active_deadline ON jobs (deadline_at) WHERE status = 'running' AND deadline_at IS NOT NULL`,
  `CREATE INDEX bots_heartbeat ON bots (last_heartbeat_at) WHERE status <> 'down'`,
];

const job = (input: Partial<CreateJobInput> = {}) =>
  CreateJobSchema.parse({ type: 'simulated', payload: {}, ...input });

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let clock: ManualClock;
    const now = () => clock.now();

    beforeEach(async () => {
      store = await open();
      await store.migrate();
      clock = new ManualClock();
    });
    afterEach(async () => {
      await store.close();
    });

    async function bot(id: string) {
      return (await store.registerBot({ id }, now())).bot;
    }

    test('a job goes pending → claimed → running → completed, with an event for each step and one outbox row', async () => {
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

    test('claim: 204-equivalent null when nothing is pending, 404 unknown bot, 409 busy bot', async () => {
      await bot('b1');
      expect(await store.claimJob('b1', now())).toBeNull();
      await expect(store.claimJob('nobody', now())).rejects.toBeInstanceOf(NotFoundError);
      await store.createJobs([job(), job()], now());
      await store.claimJob('b1', now());
      await expect(store.claimJob('b1', now())).rejects.toBeInstanceOf(ConflictError);
    });

    test('createJobs answers each job exactly as it reads back, plain and keyed alike, in input order', async () => {
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

    test('fencing: a stale attempt or another bot gets 409 and changes nothing', async () => {
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
      const [{ job: a }, { job: b }] = await store.createJobs(
        [job({ timeoutMs: 1000 }), job({ maxAttempts: 2 })],
        now(),
      );
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
      await expect(
        store.finishAndClaim('lean', { jobId: a.id, attempt: 2, result: null }, now()),
      ).rejects.toBeInstanceOf(ConflictError);
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

    test('leases: a silent bot goes down, its job is released with "lease expired", its late complete is 409', async () => {
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

    test('pause stops claims; resume lets them through', async () => {
      await store.createJobs([job()], now());
      await bot('a');
      await store.setPaused(true);
      expect(await store.isPaused()).toBe(true);
      expect(await store.claimJob('a', now())).toBeNull();
      await store.setPaused(false);
      expect(await store.claimJob('a', now())).not.toBeNull();
    });

    test('deleting a bot releases its job; re-registering a known bot releases what it held', async () => {
      const [{ job: j }, { job: k }] = await store.createJobs(
        [job({ maxAttempts: 3 }), job({ maxAttempts: 3 })],
        now(),
      );
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

    test('retry and cancel', async () => {
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
      const [{ job: a }] = await store.createJobs([job({ key: 'shared' })], now());
      await store.cancelJob(a.id, now());
      const [{ job: b, created }] = await store.createJobs([job({ key: 'shared' })], now());
      expect(created).toBe(true);
      await expect(store.retryJob(a.id, now())).rejects.toMatchObject({ status: 409, code: 'key_in_use' });
      await store.cancelJob(b.id, now());
      expect((await store.retryJob(a.id, now())).status).toBe('pending');
    });

    test('listJobs: newest first, keyset pages that cover every job once, filters', async () => {
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

    test('summary counts by status without scanning, throughput per minute and success rate', async () => {
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

    test('concurrency: 50 bots claiming 500 jobs at once claim each job exactly once', async () => {
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

    test('bulk create keeps order and makes each job once', async () => {
      const res = await store.createJobs(
        Array.from({ length: 1200 }, (_, i) => job({ payload: { i } })),
        now(),
      );
      expect(res.map((r) => (r.job.payload as { i: number }).i)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
      expect((await store.summary(now())).jobs.pending).toBe(1200);
    });

    test('outbox: results by day and the days known', async () => {
      await store.createJobs([job(), job()], now());
      await bot('a');
      let c = await store.claimJob('a', now());
      await store.completeJob({ jobId: c!.id, botId: 'a' }, 1, now());
      clock.advance(24 * 3600_000);
      c = await store.claimJob('a', now());
      await store.completeJob({ jobId: c!.id, botId: 'a' }, 2, now());
      expect(await store.days()).toEqual(['2026-01-01', '2026-01-02']);
      expect((await store.resultsForDay('2026-01-02')).map((l) => l.result)).toEqual([2]);
      await store.markWritten((await store.fetchUnwritten(10)).map((r) => r.seq));
      expect(await store.pruneResultsBefore('2026-01-02')).toBe(1);
      expect(await store.days()).toEqual(['2026-01-02']);
    });
  });
}
