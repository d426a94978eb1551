/**
 * Schedules on SQLite (server/store/schedules.ts): a firing is the compare-and-set on the schedule's
 * row and the firing's job, with its event, in one transaction.
 */
import { EVENT_NOTES } from '../../../core/job-state';
import type { Job } from '../../../core/types';
import type { All, Run } from '../queries';
import { type Firing, firingJob, type ScheduleRecord, type ScheduleStore, scheduleStore } from '../schedules';
import type { StoreOptions } from '../types';
import type { SqliteSteps } from './steps';

const TAKE_FIRING = `UPDATE schedules SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at),
    last_job_id = COALESCE(?, last_job_id)
  WHERE name = ? AND revision = ? AND enabled = 1 AND next_run_at = ?`;
const INSERT_JOB = `INSERT INTO jobs (id, type, payload, max_attempts, priority, run_at, timeout_ms, created_at, status,
  attempts, schedule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)`;
const INSERT_CREATED = `INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
  VALUES (?, ?, NULL, 'pending', NULL, 0, ?)`;

export function sqliteSchedules(
  all: All,
  run: Run,
  steps: SqliteSteps,
  atomically: <T>(fn: () => T) => T,
  opts: StoreOptions,
): ScheduleStore {
  return scheduleStore(all, run, async (rec, f, nowMs) => fireSchedule(steps, atomically, rec, f, nowMs, opts));
}

function fireSchedule(
  steps: SqliteSteps,
  atomically: <T>(fn: () => T) => T,
  rec: ScheduleRecord,
  f: Firing,
  nowMs: number,
  opts: StoreOptions,
): { taken: boolean; job: Job | null } {
  const made = f.fire === null ? null : firingJob(rec, f.fire, nowMs, opts);
  return atomically(() => {
    const taken = steps.exec(TAKE_FIRING, [f.next, f.fire, made?.job.id ?? null, rec.name, f.revision, f.due]) === 1;
    if (!taken || !made) return { taken, job: null };
    steps.exec(INSERT_JOB, [...made.values.slice(0, 7), nowMs, rec.name]);
    steps.exec(INSERT_CREATED, [made.job.id, nowMs, EVENT_NOTES.created]);
    return { taken, job: made.job };
  });
}
