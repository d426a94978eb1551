/** /jobs routes: thin; validation by zod, decisions in the store. */
import type Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors';
import { simulatedBatch } from '../../core/job-state';
import {
  ClaimSchema,
  CompleteSchema,
  CreateJobSchema,
  CreateJobsBatchSchema,
  FailSchema,
  IdSchema,
  ListJobsQuery,
  NextSchema,
  PopulateSchema,
  ReleaseSchema,
  StartSchema,
} from '../../core/types';
import { requireRole } from '../../core/http/auth';
import { parse, singleQuery } from '../../core/http/validate';
import type { AppDeps } from './deps';

const JobIdParam = z.strictObject({ id: IdSchema });

/** While other servers could make jobs claimable without waking this one's claims (PostgreSQL, not listening). */
const POLL_RECHECK_MS = 250;
/** While every change wakes the waiting claims: a guard against a missed wake-up. */
const WOKEN_RECHECK_MS = 5000;

/**
 * Aborts when the client's connection closes before the answer is sent: a long-poll claim stops
 * claiming for a bot that is gone (a job claimed for it would wait for its lease to expire). The
 * response's 'close' fires on disconnect; the request's fires as soon as its body has been read.
 */
function clientGone(ctx: Koa.Context): AbortController {
  const abort = new AbortController();
  ctx.res.once('close', () => abort.abort());
  return abort;
}

export function jobRoutes(router: Router, d: AppDeps): void {
  const { store, clock } = d;

  /**
   * A waiting claim's sleep, until woken or until it should look again; false when the bot hung up
   * meanwhile (a job claimed for it now would wait for its lease to expire). When every change that
   * makes a job claimable wakes waiting claims (SQLite: this server is the only writer; PostgreSQL:
   * while it hears the other servers' NOTIFY, server/pg-wakeups.ts), it sleeps until the next runAt
   * comes due, at most WOKEN_RECHECK_MS; otherwise it looks every 250 ms (50 idle bots looking every
   * 250 ms would be 200 empty claims a second). `since`
   * is the generation taken before the claim that found nothing: a wake-up that came after it, while
   * the claim was not waiting yet, ends the sleep at once. `claimedAt` is the time that claim looked
   * at: a runAt after it is still to come for this claim even if it came due since (on a slow
   * machine the claim can find a job not due yet and the next runAt be read after it came due;
   * read at the later time, that job was "not to come" and the claim slept the full 5 s).
   */
  const nap = async (left: number, abort: AbortController, since: number, claimedAt: number): Promise<boolean> => {
    let ms = Math.min(left, POLL_RECHECK_MS);
    if (d.hearsEveryWakeup()) {
      const due = await store.nextRunAt(claimedAt);
      ms = Math.min(left, WOKEN_RECHECK_MS, due === null ? Infinity : due - clock.now());
    }
    await d.waiters.wait(ms, abort.signal, since);
    return !abort.signal.aborted;
  };

  router.post('/jobs/populate', requireRole('admin'), async (ctx) => {
    const body = parse(PopulateSchema, ctx.request.json, 'body');
    const created = await store.createJobs(simulatedBatch(body.count ?? d.config.BATCH_SIZE), clock.now());
    d.metrics.jobsCreated.inc(created.length);
    d.onJobsAvailable();
    ctx.status = 201;
    ctx.body = { items: created.map((c) => c.job) };
  });

  /**
   * `count` new jobs: wake as many waiting long-polls and, if any were waiting, let their claims
   * answer before this enqueue does (one event-loop turn). A bot's pickup is the woken claim's
   * answer; written after the enqueue's, it would wait for that write.
   */
  const announce = async (count: number) => {
    const waiting = d.waiters.size;
    d.onJobsAvailable(count);
    if (waiting > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  };

  router.post('/jobs', requireRole('admin'), async (ctx) => {
    const raw = ctx.request.json;
    if (raw && typeof raw === 'object' && !Array.isArray(raw) && 'jobs' in raw) {
      const body = parse(CreateJobsBatchSchema, raw, 'body');
      const res = await store.createJobs(body.jobs, clock.now());
      const fresh = res.filter((r) => r.created).length;
      d.metrics.jobsCreated.inc(fresh);
      if (fresh > 0) await announce(fresh);
      ctx.state.auditTarget = `${res.length} jobs`;
      ctx.status = 201;
      ctx.body = { items: res.map((r) => r.job), created: fresh };
      return;
    }
    const body = parse(CreateJobSchema, raw, 'body');
    const [res] = await store.createJobs([body], clock.now());
    if (res.created) {
      d.metrics.jobsCreated.inc();
      await announce(1);
    }
    ctx.state.auditTarget = res.job.id;
    ctx.status = res.created ? 201 : 200;
    ctx.body = res.job;
  });

  router.get('/jobs', requireRole('viewer'), async (ctx) => {
    const q = parse(ListJobsQuery, singleQuery(ctx.query), 'query');
    ctx.body = await store.listJobs(q);
  });

  router.post('/jobs/claim', requireRole('bot'), async (ctx) => {
    const body = parse(ClaimSchema, ctx.request.json, 'body');
    const limitKey = `bot:${body.botId}`;
    d.limits.emptyClaims.check(limitKey);
    const deadline = clock.now() + body.waitMs;
    const abort = clientGone(ctx);
    let seen = d.waiters.generation;
    let claimedAt = clock.now();
    let job = await store.claimJob(body.botId, claimedAt);
    for (;;) {
      if (job) {
        d.metrics.claims.inc();
        ctx.body = job;
        return;
      }
      const left = deadline - clock.now();
      if (left <= 0 || abort.signal.aborted || d.waiters.closed) break;
      if (!(await nap(left, abort, seen, claimedAt))) break;
      seen = d.waiters.generation;
      claimedAt = clock.now();
      job = await store.claimJob(body.botId, claimedAt);
    }
    d.limits.emptyClaims.take(limitKey);
    ctx.status = 204;
  });

  router.post('/jobs/next', requireRole('bot'), async (ctx) => {
    const body = parse(NextSchema, ctx.request.json, 'body');
    const limitKey = `bot:${body.botId}`;
    const finished = body.complete ?? body.fail ?? null;
    if (!finished) d.limits.emptyClaims.check(limitKey); // a report always goes through
    const deadline = clock.now() + body.waitMs;
    let seen = d.waiters.generation;
    let claimedAt = clock.now();
    let out = await store.finishAndClaim(body.botId, finished, claimedAt);
    if (out.finished) {
      if (body.complete) d.metrics.completions.inc();
      else d.metrics.failures.inc();
      d.onResult();
      if (out.finished.status === 'pending') d.onJobsAvailable();
    }
    if (!out.job && body.waitMs > 0) {
      const abort = clientGone(ctx);
      while (!out.job && clock.now() < deadline && !abort.signal.aborted && !d.waiters.closed) {
        if (!(await nap(deadline - clock.now(), abort, seen, claimedAt))) break;
        seen = d.waiters.generation;
        claimedAt = clock.now();
        out = { finished: out.finished, job: (await store.finishAndClaim(body.botId, null, claimedAt)).job };
      }
    }
    if (out.job) d.metrics.claims.inc();
    // Only a bare claim that found nothing is polling. A report that finds the queue empty is a bot
    // finishing work, which is never limited (a bot working through jobs that arrive one at a time).
    else if (!finished) d.limits.emptyClaims.take(limitKey);
    ctx.body = out;
  });

  router.post('/jobs/:id/start', requireRole('bot'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const body = parse(StartSchema, ctx.request.json, 'body');
    ctx.body = await store.startJob({ jobId: id, botId: body.botId, attempt: body.attempt }, clock.now());
  });

  router.post('/jobs/:id/complete', requireRole('bot'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const body = parse(CompleteSchema, ctx.request.json, 'body');
    const job = await store.completeJob(
      { jobId: id, botId: body.botId, attempt: body.attempt },
      body.result,
      clock.now(),
    );
    d.metrics.completions.inc();
    d.onResult();
    ctx.body = job;
  });

  router.post('/jobs/:id/fail', requireRole('bot'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const body = parse(FailSchema, ctx.request.json, 'body');
    const job = await store.failJob({ jobId: id, botId: body.botId, attempt: body.attempt }, body.error, clock.now());
    d.metrics.failures.inc();
    d.onResult();
    if (job.status === 'pending') d.onJobsAvailable();
    ctx.body = job;
  });

  router.post('/jobs/:id/release', requireRole('bot'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const body = parse(ReleaseSchema, ctx.request.json, 'body');
    ctx.body = await store.releaseJob({ jobId: id, botId: body.botId, attempt: body.attempt }, clock.now());
    d.onJobsAvailable(1);
  });

  router.post('/jobs/:id/retry', requireRole('admin'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    parse(z.strictObject({}), ctx.request.json, 'body');
    const job = await store.retryJob(id, clock.now());
    d.onJobsAvailable();
    ctx.body = job;
  });

  router.post('/jobs/:id/cancel', requireRole('admin'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    parse(z.strictObject({}), ctx.request.json, 'body');
    const job = await store.cancelJob(id, clock.now());
    if (job.botId !== null) d.onResult(); // a held attempt ended: its result line
    ctx.body = job;
  });

  router.get('/jobs/:id', requireRole('viewer'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const job = await store.getJob(id);
    if (!job) throw new NotFoundError(`job ${id} does not exist`);
    ctx.body = job;
  });
}
