/**
 * Schedules on PostgreSQL (server/store/schedules.ts): a firing is one call of botfleet_fire_schedule
 * (migrations/0003_schedules.ts), so the compare-and-set on the schedule's row and the firing's job
 * are one statement and one transaction.
 */
import { EVENT_NOTES } from '../../../core/job-state';
import type { Job } from '../../../core/types';
import type { All, Run } from '../queries';
import { type Firing, firingJob, type ScheduleRecord, type ScheduleStore, scheduleStore } from '../schedules';
import type { StoreOptions } from '../types';

type Call = <T>(fn: string, args: readonly unknown[]) => Promise<T[]>;

/** `opts` is read at each firing (the store's options). */
export function postgresSchedules(all: All, run: Run, call: Call, opts: () => StoreOptions): ScheduleStore {
  return scheduleStore(all, run, (rec, f, nowMs) => fireSchedule(call, rec, f, nowMs, opts()));
}

async function fireSchedule(
  call: Call,
  rec: ScheduleRecord,
  f: Firing,
  nowMs: number,
  opts: StoreOptions,
): Promise<{ taken: boolean; job: Job | null }> {
  const made = f.fire === null ? null : firingJob(rec, f.fire, nowMs, opts);
  const job = made && {
    id: made.values[0],
    type: made.values[1],
    payload: made.values[2],
    max_attempts: made.values[3],
    priority: made.values[4],
    run_at: made.values[5],
    timeout_ms: made.values[6],
  };
  const args = [rec.name, f.revision, f.due, f.next, job && JSON.stringify(job), nowMs, EVENT_NOTES.created];
  const [row] = await call<{ botfleet_fire_schedule: boolean }>('botfleet_fire_schedule', args);
  const taken = row?.botfleet_fire_schedule === true;
  return { taken, job: taken && made ? made.job : null };
}
