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
import { JobTypeSchema, JsonSchema } from '../../core/types';
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
const EnqueueForm = z.object({
  type: JobTypeSchema,
  payload: z
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
    }),
  maxAttempts: optionalInt(1, 100),
  priority: optionalInt(-1000, 1000),
});

class FormInvalid extends Error {}

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
