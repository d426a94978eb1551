/**
 * Schedules in the store: the rows of the `schedules` table (migration 0003_schedules), the
 * statements both databases run alike (`?` placeholders, through each store's `all` and `run`), and
 * the decisions about a schedule's next firing. Firing (claiming a firing and inserting its job in
 * one transaction) is per database: sqlite/fire-schedule.ts, postgres/fire-schedule.ts.
 *
 * A schedule waits for `next_run_at`. Each firing is claimed by a compare-and-set on the row,
 * `UPDATE … WHERE name AND revision AND enabled AND next_run_at = <the firing read>`, in the
 * transaction that inserts the firing's job: one server's update moves next_run_at on, every other
 * server's finds no row and inserts nothing. `revision` counts the schedule's changes, so a firing
 * decided from a schedule that was replaced meanwhile takes nothing either.
 */
import { ConflictError, NotFoundError } from '../../core/errors';
import { firstFiringAfter, type NewSchedule, type ScheduleJob, type ScheduleSpec } from '../../core/schedule';
import type { CreateJob, Job } from '../../core/types';
import { newJobs } from './new-jobs';
import type { All, Run } from './queries';
import type { StoreOptions } from './types';

interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  job: string;
  enabled: number;
  catch_up: number;
  next_run_at: number | null;
  last_run_at: number | null;
  last_job_id: string | null;
  revision: number;
  created_at: number;
  updated_at: number;
}

/** A schedule as stored, times in ms. */
export interface ScheduleRecord {
  name: string;
  cron: string;
  timezone: string;
  job: ScheduleJob;
  enabled: boolean;
  catchUp: boolean;
  nextRunAt: number | null;
  lastRunAt: number | null;
  lastJobId: string | null;
  revision: number;
  createdAt: number;
  updatedAt: number;
}

const msOrNull = (v: number | string | null) => (v === null || v === undefined ? null : Number(v));

function toScheduleRecord(r: ScheduleRow): ScheduleRecord {
  return {
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    job: JSON.parse(r.job) as ScheduleJob,
    enabled: Number(r.enabled) === 1,
    catchUp: Number(r.catch_up) === 1,
    nextRunAt: msOrNull(r.next_run_at),
    lastRunAt: msOrNull(r.last_run_at),
    lastJobId: r.last_job_id,
    revision: Number(r.revision),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** What one tick decided for a due schedule (server/schedule-runner.ts). */
export interface Firing {
  /** The due firing as read (next_run_at): the compare-and-set's expected value. */
  due: number;
  /** The schedule's revision as read. */
  revision: number;
  /** The firing a job is made for, or null when every due firing is skipped. */
  fire: number | null;
  /** next_run_at afterwards: the first firing after now. */
  next: number | null;
}

/** A firing's job, ready for either database's insert (the job of the schedule, `runAt` the firing). */
export function firingJob(rec: ScheduleRecord, fire: number, nowMs: number, opts: StoreOptions) {
  const input: CreateJob = { ...rec.job, payload: rec.job.payload ?? {}, runAt: new Date(fire).toISOString() };
  const [made] = newJobs([input], nowMs, opts);
  const job: Job = { ...made.job, schedule: rec.name };
  return { job, values: made.values };
}

/** Claims a firing and, when it makes a job, inserts the job in the same transaction; taken: false when another server (or a change) was first. */
export type FireFn = (rec: ScheduleRecord, f: Firing, nowMs: number) => Promise<{ taken: boolean; job: Job | null }>;

export interface ScheduleStore {
  list(): Promise<ScheduleRecord[]>;
  get(name: string): Promise<ScheduleRecord | null>;
  /** 409 when the name exists. */
  create(s: NewSchedule, nowMs: number): Promise<ScheduleRecord>;
  /** Replaces the schedule (planReplace decides its next firing). 404 unknown. */
  replace(name: string, s: ScheduleSpec, nowMs: number): Promise<ScheduleRecord>;
  /** false when unknown. */
  remove(name: string): Promise<boolean>;
  /** Enabled schedules whose next firing is due at nowMs, the longest waiting first. */
  due(nowMs: number, limit: number): Promise<ScheduleRecord[]>;
  fire: FireFn;
  /** The last period runOncePerPeriod took for `name`, or null. */
  lastPeriod(name: string): Promise<number | null>;
}

/** The first firing strictly after `afterMs` of an enabled schedule, else null. */
function nextFiring(s: { cron: string; timezone: string; enabled: boolean }, afterMs: number): number | null {
  return s.enabled ? firstFiringAfter(s.cron, s.timezone, afterMs) : null;
}

/**
 * next_run_at after a replacement. A changed cron or time zone, or a schedule enabled again, waits
 * for the first firing strictly after max(now, last firing): an instant that fired never fires
 * again, and the time it was disabled is not caught up. Otherwise the firing it waited for stays.
 */
function planReplace(old: ScheduleRecord, s: ScheduleSpec, nowMs: number): number | null {
  if (!s.enabled) return null;
  const moved = s.cron !== old.cron || s.timezone !== old.timezone;
  if (old.enabled && !moved && old.nextRunAt !== null) return old.nextRunAt;
  return nextFiring(s, Math.max(nowMs, old.lastRunAt ?? nowMs));
}

const SQL = {
  list: 'SELECT * FROM schedules ORDER BY name',
  get: 'SELECT * FROM schedules WHERE name = ?',
  insert: `INSERT INTO schedules (name, cron, timezone, job, enabled, catch_up, next_run_at, revision, created_at,
    updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (name) DO NOTHING`,
  replace: `UPDATE schedules SET cron = ?, timezone = ?, job = ?, enabled = ?, catch_up = ?, next_run_at = ?,
    revision = revision + 1, updated_at = ? WHERE name = ? AND revision = ?`,
  remove: 'DELETE FROM schedules WHERE name = ?',
  due: 'SELECT * FROM schedules WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at LIMIT ?',
  setting: 'SELECT value FROM settings WHERE name = ?',
};

/** A replacement that keeps meeting a concurrent one gives up with 409 after this many tries. */
const REPLACE_TRIES = 5;

/** The schedule store of a database: the shared statements through its `all` and `run`, and its own `fire`. */
export function scheduleStore(all: All, run: Run, fire: FireFn): ScheduleStore {
  const get = async (name: string) => {
    const [row] = await all<ScheduleRow>(SQL.get, [name]);
    return row ? toScheduleRecord(row) : null;
  };
  return {
    list: async () => (await all<ScheduleRow>(SQL.list)).map(toScheduleRecord),
    get,
    async create(s, nowMs) {
      const next = nextFiring(s, nowMs);
      const args = [s.name, s.cron, s.timezone, JSON.stringify(s.job), Number(s.enabled), Number(s.catchUp), next];
      if ((await run(SQL.insert, [...args, nowMs, nowMs])) !== 1)
        throw new ConflictError(`a schedule named "${s.name}" exists; PUT /schedules/${s.name} replaces it`);
      return (await get(s.name))!;
    },
    async replace(name, s, nowMs) {
      for (let i = 0; i < REPLACE_TRIES; i++) {
        const old = await get(name);
        if (!old) throw new NotFoundError(`schedule ${name} does not exist`);
        const next = planReplace(old, s, nowMs);
        const args = [s.cron, s.timezone, JSON.stringify(s.job), Number(s.enabled), Number(s.catchUp), next, nowMs];
        if ((await run(SQL.replace, [...args, name, old.revision])) === 1) return (await get(name))!;
      }
      throw new ConflictError(`schedule ${name} is being changed by others; retry`);
    },
    remove: async (name) => (await run(SQL.remove, [name])) === 1,
    due: async (nowMs, limit) => (await all<ScheduleRow>(SQL.due, [nowMs, limit])).map(toScheduleRecord),
    fire,
    async lastPeriod(name) {
      const [row] = await all<{ value: string }>(SQL.setting, [`period:${name}`]);
      return row ? Number(row.value) : null;
    },
  };
}
