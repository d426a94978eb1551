/**
 * Watching and stopping running jobs: progress and log lines from the bot that holds a job (fenced
 * like every bot call), its log for readers, and the bulk actions over a filter.
 */
import type Router from '@koa/router';
import { z } from 'zod';
import { ConflictError } from '../../core/errors';
import { requireRole } from '../../core/http/auth';
import { parse, singleQuery } from '../../core/http/validate';
import { BulkSchema, LogsQuery, LogsSchema, ProgressSchema } from '../../core/job-control';
import { IdSchema, type Job, type JobFilter, type JobStatus } from '../../core/types';
import type { AppDeps } from './deps';

const JobIdParam = z.strictObject({ id: IdSchema });

/** Jobs read and acted on per batch by a bulk action. */
const BULK_BATCH = 200;

export function jobControlRoutes(router: Router, d: AppDeps): void {
  const { store, clock } = d;

  router.post('/jobs/:id/progress', requireRole('bot'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const b = parse(ProgressSchema, ctx.request.json, 'body');
    const job = await store.control.progress(
      { jobId: id, botId: b.botId, attempt: b.attempt },
      b.fraction,
      b.message ?? null,
      clock.now(),
    );
    ctx.body = { jobId: job.id, attempt: job.attempts, progress: job.progress };
  });

  router.post('/jobs/:id/logs', requireRole('bot'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const b = parse(LogsSchema, ctx.request.json, 'body');
    ctx.body = await store.control.appendLogs({ jobId: id, botId: b.botId, attempt: b.attempt }, b.lines, b.dropped);
  });

  router.get('/jobs/:id/logs', requireRole('viewer'), async (ctx) => {
    const { id } = parse(JobIdParam, ctx.params, 'path');
    const q = parse(LogsQuery, singleQuery(ctx.query), 'query');
    ctx.body = await store.control.listLogs(id, q);
  });

  /**
   * Applies `act` to every job matching `filter` whose status is one of `statuses`, a batch of jobs
   * at a time; a job that moved on meanwhile (409) is left out of the count.
   */
  const bulk = async (filter: JobFilter, statuses: readonly JobStatus[], act: (job: Job) => Promise<Job>) => {
    let count = 0;
    for (const status of statuses) {
      if (filter.status && filter.status !== status) continue;
      let cursor: string | undefined;
      do {
        const page = await store.listJobs({ ...filter, status, limit: BULK_BATCH, cursor });
        for (const job of page.items) {
          try {
            await act(job);
            count++;
          } catch (err) {
            if (!(err instanceof ConflictError)) throw err;
          }
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    }
    return count;
  };

  router.post('/jobs/retry', requireRole('admin'), async (ctx) => {
    const filter = parse(BulkSchema, ctx.request.json, 'body');
    const count = await bulk(filter, ['failed', 'cancelled'], (job) => store.retryJob(job.id, clock.now()));
    if (count > 0) d.onJobsAvailable();
    ctx.body = { count };
  });

  router.post('/jobs/cancel', requireRole('admin'), async (ctx) => {
    const filter = parse(BulkSchema, ctx.request.json, 'body');
    const count = await bulk(filter, ['pending', 'claimed', 'running'], (job) => store.cancelJob(job.id, clock.now()));
    if (count > 0) d.onResult();
    ctx.body = { count };
  });
}
