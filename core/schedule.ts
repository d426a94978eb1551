/**
 * Cron schedules: the request schemas of /schedules and the firing times, computed by croner: five
 * fields, or six with seconds first; the aliases @yearly, @annually, @monthly, @weekly, @daily,
 * @midnight and @hourly; IANA time zones, daylight-saving changes handled as croner does (a time
 * that does not exist on the day clocks go forward fires at the first valid time after it; a time
 * that happens twice on the day they go back fires once, at its first occurrence). No I/O here.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { CreateJobSchema, IdSchema, type Json, Text } from './types';

/** Names of schedules the server defines itself (the seed's batch); no user schedule may take one. */
export const BUILTIN_PREFIX = 'builtin:';
export const BUILTIN_POPULATE = `${BUILTIN_PREFIX}populate`;
/** How many coming firings a schedule is shown with. */
export const NEXT_RUNS = 5;

/** croner for `cron` in `timezone`; throws croner's own error for a bad pattern or zone. */
function compile(cron: string, timezone: string): Cron {
  return new Cron(cron, { timezone, paused: true, mode: '5-or-6-parts' });
}

/** Why `timezone` is no IANA time zone this runtime knows, or null. */
export function timezoneProblem(timezone: string): string | null {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return null;
  } catch {
    return `unknown time zone "${timezone}": give an IANA name such as UTC or Europe/Berlin`;
  }
}

/** Why `cron` cannot be a schedule's pattern (in a valid `timezone`), or null. */
export function cronProblem(cron: string, timezone: string): string | null {
  const text = cron.trim();
  // croner also takes an ISO date as a one-off; a schedule recurs.
  if (!text.startsWith('@') && text.split(/\s+/).length < 5)
    return 'a cron has five fields (minute hour day month weekday), six with seconds first, or is an alias such as @hourly';
  let cronJob: Cron;
  try {
    cronJob = compile(text, timezone);
  } catch (err) {
    return (err as Error).message.replace(/^CronPattern: /, '');
  }
  if (!cronJob.nextRun(new Date())) return 'this cron never fires';
  return null;
}

/** The first `n` firings strictly after `afterMs` (ms), fewer when the cron ends. */
export function firingsAfter(cron: string, timezone: string, afterMs: number, n: number): number[] {
  return compile(cron.trim(), timezone)
    .nextRuns(n, new Date(afterMs))
    .map((d) => d.getTime());
}

export function firstFiringAfter(cron: string, timezone: string, afterMs: number): number | null {
  return compile(cron.trim(), timezone).nextRun(new Date(afterMs))?.getTime() ?? null;
}

/** The latest firing at or before `atMs`, or null. Firings fall on whole seconds. */
export function latestFiringAtOrBefore(cron: string, timezone: string, atMs: number): number | null {
  // croner's previous runs are strictly before a reference it reads to the second: the next whole
  // second after atMs's own second makes a firing at exactly that second count.
  const ref = Math.floor(atMs / 1000) * 1000 + 1000;
  const [last] = compile(cron.trim(), timezone).previousRuns(1, new Date(ref));
  return last ? last.getTime() : null;
}

// ---------------------------------------------------------------- request schemas

/** A user schedule's name: an id that does not start with "builtin:". */
const ScheduleNameSchema = IdSchema.refine(
  (s) => !s.startsWith(BUILTIN_PREFIX),
  `names starting with "${BUILTIN_PREFIX}" belong to the server's own schedules`,
);

/** The job each firing creates: the fields of POST /jobs that make sense for every firing alike. */
const ScheduleJobSchema = CreateJobSchema.pick({
  type: true,
  payload: true,
  priority: true,
  maxAttempts: true,
  timeoutMs: true,
});
export type ScheduleJob = z.output<typeof ScheduleJobSchema>;

const cronText = Text(256);
const timezoneText = Text(64).optional().default('UTC');

/** Adds an issue on `cron` or `timezone` when the pair cannot be a schedule. */
function checkCron(v: { cron: string; timezone: string }, ctx: z.RefinementCtx): void {
  const zone = timezoneProblem(v.timezone);
  if (zone) {
    ctx.addIssue({ code: 'custom', path: ['timezone'], message: zone });
    return;
  }
  const problem = cronProblem(v.cron, v.timezone);
  if (problem) ctx.addIssue({ code: 'custom', path: ['cron'], message: problem });
}

const scheduleFields = {
  cron: cronText,
  timezone: timezoneText,
  job: ScheduleJobSchema,
  enabled: z.boolean().optional().default(true),
  catchUp: z.boolean().optional().default(false),
};

/** POST /schedules. */
export const CreateScheduleSchema = z
  .strictObject({ name: ScheduleNameSchema, ...scheduleFields })
  .superRefine(checkCron)
  .transform((v) => ({ ...v, cron: v.cron.trim() }));
/** PUT /schedules/:name: the whole schedule again (the name is the path's). */
export const ReplaceScheduleSchema = z
  .strictObject(scheduleFields)
  .superRefine(checkCron)
  .transform((v) => ({ ...v, cron: v.cron.trim() }));
/** POST /schedules/preview: the coming firings of a cron, for a form before it is saved. */
export const PreviewScheduleSchema = z
  .strictObject({ cron: cronText, timezone: timezoneText })
  .superRefine(checkCron)
  .transform((v) => ({ ...v, cron: v.cron.trim() }));

export type ScheduleSpec = z.output<typeof ReplaceScheduleSchema>;
export type NewSchedule = z.output<typeof CreateScheduleSchema>;

/** A schedule as the API shows it. */
export interface Schedule {
  name: string;
  /** null for the built-in batch, which runs every `everyMs` instead. */
  cron: string | null;
  timezone: string;
  job: ScheduleJob | { type: string; payload: Json };
  enabled: boolean;
  catchUp: boolean;
  /** The firing it waits for (null while disabled). */
  nextRunAt: string | null;
  /** The last firing that made a job. */
  lastRunAt: string | null;
  lastJobId: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  /** The server's own schedule, read-only. */
  builtin: boolean;
  /** Built-in only: the period (POPULATE_INTERVAL_MS) and jobs per batch (BATCH_SIZE). */
  everyMs?: number;
  batchSize?: number;
  /** The next NEXT_RUNS firings from now (empty while disabled). */
  nextRuns: string[];
}
