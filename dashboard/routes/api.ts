/**
 * JSON for the live parts (same models as the pages) and the datalake download, proxied so the
 * browser only ever talks to the dashboard.
 */
import { Readable } from 'node:stream';
import { Router } from '@koa/router';
import { NotFoundError, ValidationError } from '../../core/errors';
import { bearer } from '../../core/http/auth';
import { z } from 'zod';
import { AttemptSchema, DateParam } from '../../core/types';
import type { DashboardDeps } from '../deps';
import { loadBot, loadBots, loadDatalake, loadJob, loadJobs, loadOverview } from '../page-data';
import { loadSchedules, previewSchedule } from '../schedules';
import { UpstreamHttpError, UpstreamUnreachableError } from '../upstream';
import { parseId, parseJobsQuery } from './pages';

const LogsQuery = z.strictObject({
  attempt: z.coerce.number().pipe(AttemptSchema).optional(),
  cursor: z.string().min(1).max(200).optional(),
});

export function apiRoutes(d: DashboardDeps): Router {
  const r = new Router();
  const u = { server: d.server, controller: d.controller, now: d.now };

  r.get('/api/overview', async (ctx) => {
    ctx.body = await loadOverview(u);
  });
  r.get('/api/bots', async (ctx) => {
    ctx.body = await loadBots(u);
  });
  r.get('/api/bots/:id', async (ctx) => {
    ctx.body = await loadBot(u, parseId(ctx.params.id, 'bot'));
  });
  r.get('/api/jobs', async (ctx) => {
    ctx.body = await loadJobs(u, parseJobsQuery(ctx.query));
  });
  r.get('/api/jobs/:id', async (ctx) => {
    ctx.body = await loadJob(u, parseId(ctx.params.id, 'job'));
  });
  /** One attempt's log lines after ?cursor= (the job page follows a running job's log with it). */
  r.get('/api/jobs/:id/logs', async (ctx) => {
    const q = LogsQuery.safeParse(ctx.query);
    if (!q.success) throw new ValidationError('give at most one attempt (1 or more) and one cursor');
    const { attempt, cursor } = q.data;
    ctx.body = await d.server.jobLogs(parseId(ctx.params.id, 'job'), { attempt, cursor });
  });
  r.get('/api/datalake', async (ctx) => {
    ctx.body = await loadDatalake(u);
  });

  r.get('/api/schedules', async (ctx) => {
    ctx.body = await loadSchedules(u);
  });
  /**
   * The create form's preview: ?cron=&timezone= → {error: '', words, nextRuns}. A cron the server
   * refuses is an answer too (200 with its reason in `error`): the form checks as it is typed.
   */
  r.get('/api/schedules/preview', async (ctx) => {
    const [cron, timezone] = [ctx.query.cron, ctx.query.timezone || 'UTC'];
    if (typeof cron !== 'string' || typeof timezone !== 'string')
      throw new ValidationError('give one cron and at most one timezone');
    try {
      ctx.body = { error: '', ...(await previewSchedule(u, cron, timezone)) };
    } catch (err) {
      if (!(err instanceof UpstreamHttpError && err.status === 400)) throw err;
      ctx.body = { error: err.message.replace(/^invalid body: body\./, ''), words: '', nextRuns: [] };
    }
  });

  r.get('/datalake/export/:date', async (ctx) => {
    const date = ctx.params.date;
    if (!DateParam.safeParse(date).success) throw new ValidationError('date must be a real day as YYYY-MM-DD');
    let res: Response;
    // The timeout covers only the wait for headers: a large day streams for as long as it takes.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('timed out')), d.config.upstreamTimeoutMs);
    try {
      res = await fetch(`${d.config.serverUrl}/datalake/export/${date}`, {
        headers: { authorization: bearer(d.config.tokens.viewer[0]) },
        signal: abort.signal,
      });
    } catch (err) {
      throw new UpstreamUnreachableError('server', err);
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 404) throw new NotFoundError(`the datalake has no results for ${date}`);
    if (!res.ok || !res.body)
      throw new UpstreamHttpError('server', res.status, 'upstream_error', `the server answered ${res.status}`);
    ctx.type = 'application/x-ndjson';
    ctx.set('Content-Disposition', `attachment; filename="results-${date}.ndjson"`);
    ctx.body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  });

  return r;
}
