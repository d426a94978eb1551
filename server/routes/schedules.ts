/**
 * /schedules routes: cron schedules that create a job at each firing (server/schedule-runner.ts),
 * and the seed's batch (POPULATE_INTERVAL_MS, BATCH_SIZE) shown as the read-only `builtin:populate`.
 */
import type Router from '@koa/router';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../../core/errors';
import { requireRole } from '../../core/http/auth';
import { parse } from '../../core/http/validate';
import {
  BUILTIN_POPULATE,
  BUILTIN_PREFIX,
  CreateScheduleSchema,
  firingsAfter,
  NEXT_RUNS,
  PreviewScheduleSchema,
  ReplaceScheduleSchema,
  type Schedule,
} from '../../core/schedule';
import { IdSchema } from '../../core/types';
import type { ScheduleRecord } from '../store/schedules';
import type { AppDeps } from './deps';

const NameParam = z.strictObject({ name: IdSchema });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A stored schedule as the API shows it, with its coming firings (from the one it waits for). */
function scheduleView(r: ScheduleRecord): Schedule {
  const nextRuns = r.nextRunAt === null ? [] : [r.nextRunAt, ...firingsAfter(r.cron, r.timezone, r.nextRunAt, 4)];
  return {
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    job: r.job,
    enabled: r.enabled,
    catchUp: r.catchUp,
    nextRunAt: iso(r.nextRunAt),
    lastRunAt: iso(r.lastRunAt),
    lastJobId: r.lastJobId,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    builtin: false,
    nextRuns: nextRuns.map((ms) => iso(ms)!),
  };
}

export function scheduleRoutes(router: Router, d: AppDeps): void {
  const { store, clock } = d;

  /**
   * The seed's batch: one per period of POPULATE_INTERVAL_MS, taken in the database
   * (store.runOncePerPeriod). It last ran at the start of the last period taken and runs next at
   * the start of the following one (at once when the current period is not taken yet).
   */
  const builtin = async (): Promise<Schedule> => {
    const every = d.config.POPULATE_INTERVAL_MS;
    const taken = every > 0 ? await store.schedules.lastPeriod('populate') : null;
    const current = every > 0 ? Math.floor(clock.now() / every) : 0;
    const next = every <= 0 ? null : taken !== null && taken >= current ? taken + 1 : current;
    return {
      name: BUILTIN_POPULATE,
      cron: null,
      timezone: 'UTC',
      job: { type: 'simulated', payload: {} },
      enabled: every > 0,
      catchUp: false,
      nextRunAt: next === null ? null : iso(next * every),
      lastRunAt: taken === null ? null : iso(taken * every),
      lastJobId: null,
      createdAt: null,
      updatedAt: null,
      builtin: true,
      everyMs: every,
      batchSize: d.config.BATCH_SIZE,
      nextRuns: next === null ? [] : Array.from({ length: NEXT_RUNS }, (_, i) => iso((next + i) * every)!),
    };
  };

  const readOnly = (name: string) => {
    if (name.startsWith(BUILTIN_PREFIX))
      throw new ConflictError(
        `${name} is the server's own batch, set by POPULATE_INTERVAL_MS and BATCH_SIZE; it cannot be changed here`,
        'builtin_schedule',
      );
  };

  router.get('/schedules', requireRole('viewer'), async (ctx) => {
    const items = [await builtin(), ...(await store.schedules.list()).map(scheduleView)];
    ctx.body = { items };
  });

  router.post('/schedules/preview', requireRole('viewer'), async (ctx) => {
    const body = parse(PreviewScheduleSchema, ctx.request.json, 'body');
    const runs = firingsAfter(body.cron, body.timezone, clock.now(), NEXT_RUNS);
    ctx.body = { cron: body.cron, timezone: body.timezone, nextRuns: runs.map((ms) => iso(ms)) };
  });

  router.post('/schedules', requireRole('admin'), async (ctx) => {
    const body = parse(CreateScheduleSchema, ctx.request.json, 'body');
    const created = await store.schedules.create(body, clock.now());
    ctx.state.auditTarget = created.name;
    d.log.info({ schedule: created.name, cron: created.cron, timezone: created.timezone }, 'schedule created');
    ctx.status = 201;
    ctx.body = scheduleView(created);
  });

  router.get('/schedules/:name', requireRole('viewer'), async (ctx) => {
    const { name } = parse(NameParam, ctx.params, 'path');
    if (name === BUILTIN_POPULATE) {
      ctx.body = await builtin();
      return;
    }
    const found = await store.schedules.get(name);
    if (!found) throw new NotFoundError(`schedule ${name} does not exist`);
    ctx.body = scheduleView(found);
  });

  router.put('/schedules/:name', requireRole('admin'), async (ctx) => {
    const { name } = parse(NameParam, ctx.params, 'path');
    readOnly(name);
    const body = parse(ReplaceScheduleSchema, ctx.request.json, 'body');
    const replaced = await store.schedules.replace(name, body, clock.now());
    d.log.info({ schedule: name, cron: replaced.cron, enabled: replaced.enabled }, 'schedule replaced');
    ctx.body = scheduleView(replaced);
  });

  router.delete('/schedules/:name', requireRole('admin'), async (ctx) => {
    const { name } = parse(NameParam, ctx.params, 'path');
    readOnly(name);
    if (!(await store.schedules.remove(name))) throw new NotFoundError(`schedule ${name} does not exist`);
    d.log.info({ schedule: name }, 'schedule deleted');
    ctx.status = 204;
  });
}
