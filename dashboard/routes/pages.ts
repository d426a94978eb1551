/** The HTML pages. Reading is open to anyone who can reach the dashboard; controls need sign-in. */
import { Router } from '@koa/router';
import { z } from 'zod';
import { JOB_STATUSES } from '../../core/types';
import { NotFoundError, ValidationError, zodDetails } from '../../core/errors';
import type { DashboardDeps } from '../deps';
import { jobsHref, loadBot, loadBots, loadDatalake, loadJob, loadJobs, loadOverview } from '../page-data';
import { BLANK_SCHEDULE_ROW, loadSchedules, TIME_ZONES } from '../schedules';
import { BLANK_BOT_ROW, BLANK_JOB_ROW } from '../view-models';

/** /jobs filter: the server's own limits (docs/api.md), with empty form fields meaning "any". */
const JobsPageQuery = z.object({
  status: z.enum(['', ...JOB_STATUSES]).optional(),
  type: z.string().max(64).optional(),
  botId: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional().default(50),
  cursor: z.string().max(200).optional(),
});

/** Parses the /jobs query, dropping empty fields; throws 400 naming the bad ones. */
export function parseJobsQuery(query: unknown) {
  const r = JobsPageQuery.safeParse(query);
  if (!r.success) throw new ValidationError('the job filter is not valid', zodDetails(r.error.issues));
  const q = r.data;
  return {
    status: q.status || undefined,
    type: q.type || undefined,
    botId: q.botId || undefined,
    limit: q.limit,
    cursor: q.cursor || undefined,
  };
}

const IdParam = z.string().min(1).max(128);
export function parseId(raw: string, what: string): string {
  if (!IdParam.safeParse(raw).success) throw new NotFoundError(`no ${what} with that id`);
  return raw;
}

export function pageRoutes(d: DashboardDeps): Router {
  const r = new Router();
  const u = { server: d.server, controller: d.controller, now: d.now };

  r.get('/', async (ctx) => {
    d.render(ctx, 'overview', { title: 'Overview', nav: 'overview', m: await loadOverview(u) });
  });

  r.get('/bots', async (ctx) => {
    d.render(ctx, 'bots', { title: 'Bots', nav: 'bots', m: await loadBots(u), blank: BLANK_BOT_ROW });
  });

  r.get('/bots/:id', async (ctx) => {
    const id = parseId(ctx.params.id, 'bot');
    const m = await loadBot(u, id);
    d.render(ctx, 'bot', { title: `Bot ${m.bot.name}`, nav: 'bots', m, blank: BLANK_JOB_ROW });
  });

  r.get('/jobs', async (ctx) => {
    const query = parseJobsQuery(ctx.query);
    const m = await loadJobs(u, query);
    d.render(ctx, 'jobs', {
      title: 'Jobs',
      nav: 'jobs',
      m,
      query,
      statuses: JOB_STATUSES,
      blank: BLANK_JOB_ROW,
      apiSrc: jobsHref(query, '/api/jobs'),
      firstHref: jobsHref({ ...query, cursor: undefined }),
    });
  });

  r.get('/jobs/:id', async (ctx) => {
    const id = parseId(ctx.params.id, 'job');
    const m = await loadJob(u, id);
    // The log shown: ?attempt=N, else the job's current attempt.
    const asked = Number(ctx.query.attempt);
    const last = m.attemptNumbers.length;
    const logAttempt = Number.isInteger(asked) && asked >= 1 && asked <= last ? asked : Math.max(1, last);
    d.render(ctx, 'job', { title: `Job ${m.job.id}`, nav: 'jobs', m, logAttempt });
  });

  r.get('/schedules', async (ctx) => {
    const m = await loadSchedules(u);
    d.render(ctx, 'schedules', {
      title: 'Schedules',
      nav: 'schedules',
      m,
      blank: BLANK_SCHEDULE_ROW,
      zones: TIME_ZONES,
    });
  });

  r.get('/datalake', async (ctx) => {
    d.render(ctx, 'datalake', { title: 'Datalake', nav: 'datalake', m: await loadDatalake(u) });
  });

  return r;
}
