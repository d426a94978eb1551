/**
 * The controls. Each is a POST from a plain HTML form (works without JavaScript and by keyboard),
 * allowed only with a live admin session (a viewer's is refused with 403) and that session's CSRF
 * token, answered with a redirect back and a one-time message (post/redirect/get), and logged as an
 * audit line. JSON callers get JSON instead.
 */
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ForbiddenError, UnauthorizedError, zodDetails } from '../../core/errors';
import type { ScheduleJob } from '../../core/schedule';
import { IdSchema, JOB_STATUSES, JobTypeSchema, JsonSchema } from '../../core/types';
import { audit } from '../../core/http/auth';
import type { DashboardDeps } from '../deps';
import { readForm, safeReturnTo, wantsJson } from '../http-helpers';
import { describeError } from '../page-data';
import { parseId } from './pages';
import { csrfMatches, type Session } from '../session';

type Form = Record<string, string>;

const intField = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalInt = (min: number, max: number) =>
  z.preprocess((v) => (v === '' || v === undefined ? undefined : v), intField(min, max).optional());

const ScaleForm = z.object({ replicas: intField(0, 100_000) });
const AutoscaleForm = z
  .object({
    enabled: z.string().optional(),
    min: intField(0, 100_000),
    max: intField(0, 100_000),
    jobsPerBot: intField(1, 1_000_000),
  })
  .refine((a) => a.min <= a.max, { message: 'min must not exceed max', path: ['min'] });
const PopulateForm = z.object({ count: optionalInt(1, 1000) });
const payloadField = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined || s.trim() === '') return {};
    try {
      return JsonSchema.parse(JSON.parse(s));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'payload must be valid JSON' });
      return z.NEVER;
    }
  });
const EnqueueForm = z.object({
  type: JobTypeSchema,
  payload: payloadField,
  maxAttempts: optionalInt(1, 100),
  priority: optionalInt(-1000, 1000),
});
/** The create-schedule form; the server checks the cron and the time zone (and says why in the message). */
const ScheduleForm = EnqueueForm.extend({
  name: z.string().min(1).max(128),
  cron: z.string().min(1).max(256),
  timezone: z.string().max(64).optional(),
  catchUp: z.string().optional(),
});
const checked = (v: string | undefined) => v === 'on' || v === 'true';

class FormInvalid extends Error {}

/** The bulk actions' form: the list's filter and the creation window of the jobs shown (empty: any). */
const optional = <T extends z.ZodType>(s: T) => z.union([z.literal(''), s]).optional();
const BulkForm = z.object({
  status: optional(z.enum(JOB_STATUSES)),
  type: optional(JobTypeSchema),
  botId: optional(IdSchema),
  createdAfter: optional(z.iso.datetime()),
  createdBefore: optional(z.iso.datetime()),
});

function parseForm<S extends z.ZodType>(schema: S, form: Form): z.output<S> {
  const r = schema.safeParse(form);
  if (!r.success) {
    throw new FormInvalid(
      zodDetails(r.error.issues)
        .map((d) => `${d.path}: ${d.message}`)
        .join('; '),
    );
  }
  return r.data;
}

type Handler = (form: Form, ctx: Context) => Promise<string>;

export function actionRoutes(d: DashboardDeps): Router {
  const r = new Router();

  /** Wraps a control: CSRF and the admin role first, then the call, then the redirect with a message. */
  const control = (run: Handler) => async (ctx: Context) => {
    const form = await readForm(ctx);
    const returnTo = safeReturnTo(form.returnTo ?? ctx.query.returnTo);
    // The app lets no request without a session get here (signInFirst in app.ts).
    const session = ctx.state.session as Session | null;
    if (!session) throw new UnauthorizedError('sign in to the dashboard first');
    if (!csrfMatches(session, form._csrf ?? ctx.get('x-csrf-token'))) {
      d.logger.warn({ path: ctx.path, client: ctx.ip }, 'dashboard control with a missing or wrong CSRF token');
      throw new ForbiddenError('the CSRF token is missing or wrong; reload the page and try again');
    }
    if (session.role !== 'admin') throw new ForbiddenError('controls need a sign-in with the admin token');
    let text: string;
    let status = 200;
    try {
      text = await run(form, ctx);
      d.logger.info({ action: ctx.path }, text);
    } catch (err) {
      if (err instanceof FormInvalid) {
        text = `Not done: ${err.message}`;
        status = 400;
      } else {
        text = `Not done: ${describeError(err)}`;
        status = 502;
        d.logger.warn({ action: ctx.path, err: (err as Error).message }, 'dashboard control failed');
      }
    }
    audit(d.logger, ctx, { role: session.role, status });
    const ok = status === 200;
    if (wantsJson(ctx)) {
      ctx.status = status;
      ctx.body = { ok, message: text };
      return;
    }
    session.flash = { kind: ok ? 'ok' : 'error', text };
    ctx.redirect(returnTo);
    ctx.status = 303;
  };

  r.post(
    '/actions/bots/add',
    control(async () => {
      const s = await d.controller.addBot();
      return `Added a bot: the controller now wants ${s.desired} (running ${s.current}).`;
    }),
  );

  r.post(
    '/actions/scale',
    control(async (form) => {
      const { replicas } = parseForm(ScaleForm, form);
      const s = await d.controller.setReplicas(replicas);
      return `Scaling to ${s.desired} bots (running ${s.current}).`;
    }),
  );

  r.post(
    '/actions/autoscale',
    control(async (form) => {
      const a = parseForm(AutoscaleForm, form);
      const enabled = a.enabled === 'on' || a.enabled === 'true';
      await d.controller.setAutoscale({ enabled, min: a.min, max: a.max, jobsPerBot: a.jobsPerBot });
      return enabled ? `Autoscale on: ${a.min}–${a.max} bots, ${a.jobsPerBot} jobs per bot.` : 'Autoscale off.';
    }),
  );

  r.post(
    '/actions/populate',
    control(async (form) => {
      const { count } = parseForm(PopulateForm, form);
      const res = await d.server.populate(count);
      return `Created ${res.items.length} jobs.`;
    }),
  );

  r.post(
    '/actions/jobs',
    control(async (form) => {
      const e = parseForm(EnqueueForm, form);
      const job = await d.server.enqueue({
        type: e.type,
        payload: e.payload,
        ...(e.maxAttempts !== undefined ? { maxAttempts: e.maxAttempts } : {}),
        ...(e.priority !== undefined ? { priority: e.priority } : {}),
      });
      return `Enqueued job ${job.id} (${job.type}).`;
    }),
  );

  r.post(
    '/actions/schedules',
    control(async (form) => {
      const f = parseForm(ScheduleForm, form);
      const s = await d.server.createSchedule({
        name: f.name,
        cron: f.cron,
        timezone: f.timezone || 'UTC',
        job: { type: f.type, payload: f.payload, priority: f.priority ?? 0, maxAttempts: f.maxAttempts },
        catchUp: checked(f.catchUp),
      });
      return `Schedule ${s.name} created: next run ${s.nextRunAt}.`;
    }),
  );

  /** On and off: the schedule is read and put back with only `enabled` changed. */
  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    r.post(
      `/actions/schedules/:name/${action}`,
      control(async (_form, ctx) => {
        const name = parseId(ctx.params.name, 'schedule');
        const s = await d.server.getSchedule(name);
        const { cron, timezone, job, catchUp } = s;
        if (cron === null) throw new FormInvalid(`${name} is the server's own batch: set POPULATE_INTERVAL_MS`);
        const after = await d.server.replaceSchedule(name, {
          cron,
          timezone,
          job: job as ScheduleJob,
          catchUp,
          enabled,
        });
        return `Schedule ${name} ${enabled ? `enabled: next run ${after.nextRunAt}` : 'disabled'}.`;
      }),
    );
  }

  r.post(
    '/actions/schedules/:name/delete',
    control(async (_form, ctx) => {
      const name = parseId(ctx.params.name, 'schedule');
      await d.server.deleteSchedule(name);
      return `Schedule ${name} deleted; the jobs it made stay.`;
    }),
  );

  r.post(
    '/actions/queue/pause',
    control(async () => {
      await d.server.pauseQueue();
      return 'Claiming paused: bots get no new jobs until you resume.';
    }),
  );

  r.post(
    '/actions/queue/resume',
    control(async () => {
      await d.server.resumeQueue();
      return 'Claiming resumed.';
    }),
  );

  r.post(
    '/actions/bots/:id/delete',
    control(async (_form, ctx) => {
      const id = parseId(ctx.params.id, 'id');
      await d.server.deleteBot(id);
      return `Deleted bot ${id}; its job, if any, went back to pending.`;
    }),
  );

  for (const action of ['retry', 'cancel'] as const)
    r.post(
      `/actions/jobs/bulk/${action}`,
      control(async (form) => {
        const f = parseForm(BulkForm, form);
        const filter = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== '' && v !== undefined));
        const { count } = await d.server.bulk(action, filter);
        return `${action === 'retry' ? 'Retried' : 'Cancelled'} ${count} job${count === 1 ? '' : 's'}.`;
      }),
    );

  r.post(
    '/actions/jobs/:id/retry',
    control(async (_form, ctx) => {
      const job = await d.server.retryJob(parseId(ctx.params.id, 'id'));
      return `Job ${job.id} is ${job.status} again.`;
    }),
  );

  r.post(
    '/actions/jobs/:id/cancel',
    control(async (_form, ctx) => {
      const job = await d.server.cancelJob(parseId(ctx.params.id, 'id'));
      return `Job ${job.id} is ${job.status}.`;
    }),
  );

  return r;
}
