/**
 * Fires cron schedules. Every server runs this tick (SCHEDULE_TICK_MS); none leads. Each due firing
 * is taken by a compare-and-set on the schedule's row in the transaction that inserts its job
 * (server/store/schedules.ts), so whatever the number of servers a firing makes one job, and a
 * server that loses the race inserts nothing.
 *
 * No burst after downtime: of the firings due at a tick only the latest can make a job; the earlier
 * ones are skipped and logged (how many, the first and the last). With catchUp false the latest runs
 * only when it is less than SCHEDULE_MISFIRE_GRACE_MS late, else it is skipped as well; with catchUp
 * true it runs however late. So a schedule makes at most one job per tick.
 */
import type { Clock } from '../core/clock';
import { firstFiringAfter, latestFiringAtOrBefore } from '../core/schedule';
import type { Logger } from '../core/logger';
import type { Firing, ScheduleRecord } from './store/schedules';
import type { Store } from './store/types';
import { repeat, type Repeating } from '../core/repeat';

export interface ScheduleRunnerOptions {
  tickMs: number;
  /** How late the latest due firing of a schedule without catchUp may still run. */
  misfireGraceMs: number;
}

/** Firings skipped at one tick: how many (counted up to SKIP_COUNT_LIMIT), the first and the last. */
export interface Skipped {
  count: number;
  /** true when there were more than `count`. */
  more: boolean;
  first: number;
  last: number;
}

/** Beyond this many skipped firings (a schedule every second after a long downtime) the count says "more". */
export const SKIP_COUNT_LIMIT = 1000;

/** What a tick at `nowMs` does with a schedule whose next firing is due (nextRunAt <= nowMs). */
export function planFiring(
  rec: ScheduleRecord,
  nowMs: number,
  misfireGraceMs: number,
): Firing & { skipped: Skipped | null } {
  const due = rec.nextRunAt!;
  const latest = Math.max(due, latestFiringAtOrBefore(rec.cron, rec.timezone, nowMs) ?? due);
  const runs = rec.catchUp || nowMs - latest < misfireGraceMs;
  // The due firings before the latest are skipped, and the latest too when it does not run.
  let count = 0;
  let more = false;
  let first: number | null = null;
  let last: number | null = null;
  for (let at: number | null = due; at !== null && at < latest; at = firstFiringAfter(rec.cron, rec.timezone, at)) {
    if (count === SKIP_COUNT_LIMIT) {
      more = true; // too many to walk one by one: the one before the latest ends the list
      last = latestFiringAtOrBefore(rec.cron, rec.timezone, latest - 1) ?? last;
      break;
    }
    first ??= at;
    last = at;
    count++;
  }
  if (!runs) {
    first ??= latest;
    last = latest;
    if (!more) count++;
  }
  const skipped = first === null ? null : { count, more, first, last: last! };
  const next = firstFiringAfter(rec.cron, rec.timezone, Math.max(nowMs, latest));
  return { due, revision: rec.revision, fire: runs ? latest : null, next, skipped };
}

export class ScheduleRunner {
  private repeating: Repeating | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: ScheduleRunnerOptions,
    private readonly onCreated: (count: number) => void = () => {},
  ) {}

  /** Fires what is due now; returns the jobs this server created. */
  async tick(): Promise<number> {
    const now = this.clock.now();
    let created = 0;
    for (const rec of await this.store.schedules.due(now, 100)) {
      try {
        const plan = planFiring(rec, now, this.opts.misfireGraceMs);
        const { taken, job } = await this.store.schedules.fire(rec, plan, now);
        if (!taken) continue; // another server fired it, or it changed meanwhile
        if (plan.skipped) {
          const { count, more, first, last } = plan.skipped;
          this.log.warn(
            { schedule: rec.name, skipped: count, more, first: iso(first), last: iso(last), catchUp: rec.catchUp },
            'schedule skipped missed firings',
          );
        }
        if (job) {
          created++;
          this.log.info({ schedule: rec.name, firing: job.runAt, jobId: job.id }, 'schedule fired');
          this.onCreated(1);
        }
      } catch (err) {
        this.log.warn({ schedule: rec.name, err: (err as Error).message }, 'schedule firing failed; next tick retries');
      }
    }
    return created;
  }

  start(): void {
    if (this.repeating) return;
    this.repeating = repeat(
      this.opts.tickMs,
      () => this.tick(),
      (err) => this.log.warn({ err: (err as Error).message }, 'schedule tick failed; will retry'),
    );
  }

  async stop(): Promise<void> {
    await this.repeating?.stop();
    this.repeating = null;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
