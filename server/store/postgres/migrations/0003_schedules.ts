/**
 * PostgreSQL schema, migration 3: cron schedules (server/store/schedules.ts), the schedule a job was
 * made by, and botfleet_fire_schedule, through which a firing creates its job. Frozen: a later
 * change is a new migration file. Imports no live code.
 *
 * Lock order: a firing locks the schedule's row (its compare-and-set), then inserts the job (a new
 * row, a fresh id and no key: it waits for no lock), then the insert trigger of migration 1 takes
 * this transaction's job_counts shard row. No function locks a schedule row after a bot or job row,
 * and the schedule routes lock only a schedule's row, so the order of migration 1 (bot, job,
 * counters) extends to schedule, bot, job, counters, and there is still no cycle to deadlock on.
 */
import type { Knex } from 'knex';

const UP = [
  // The name of the schedule whose firing created the job (its run_at is that firing), else NULL.
  `ALTER TABLE jobs ADD COLUMN schedule TEXT`,
  // job: the JSON of the job each firing creates. revision counts replacements: a firing decided
  // from an older revision takes nothing.
  `CREATE TABLE schedules (name TEXT PRIMARY KEY, cron TEXT NOT NULL, timezone TEXT NOT NULL, job TEXT NOT NULL,
    enabled INTEGER NOT NULL, catch_up INTEGER NOT NULL, next_run_at BIGINT, last_run_at BIGINT, last_job_id TEXT,
    revision INTEGER NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
  // The tick's question: which enabled schedules are due.
  `CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1`,
  // A firing: moves next_run_at from p_due (as the server read it) on to p_next, only if no other
  // server did first and the schedule was not changed meanwhile (revision), and with p_job (JSON:
  // id, type, payload, max_attempts, priority, run_at, timeout_ms; NULL when every due firing is
  // skipped) inserts the firing's job, its event, and records it as the last run. FALSE: nothing taken.
  `CREATE FUNCTION botfleet_fire_schedule(p_name TEXT, p_revision INTEGER, p_due BIGINT, p_next BIGINT, p_job TEXT,
     p_now BIGINT, p_note TEXT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
   DECLARE j jobs;
   BEGIN
     IF p_job IS NOT NULL THEN j := json_populate_record(NULL::jobs, p_job::json); END IF;
     UPDATE schedules SET next_run_at = p_next, last_run_at = COALESCE(j.run_at, last_run_at),
         last_job_id = COALESCE(j.id, last_job_id)
       WHERE name = p_name AND revision = p_revision AND enabled = 1 AND next_run_at = p_due;
     IF NOT FOUND THEN RETURN FALSE; END IF;
     IF p_job IS NULL THEN RETURN TRUE; END IF;
     INSERT INTO jobs (id, type, payload, status, attempts, max_attempts, priority, run_at, timeout_ms, created_at,
         schedule)
       VALUES (j.id, j.type, j.payload, 'pending', 0, j.max_attempts, j.priority, j.run_at, j.timeout_ms, p_now, p_name);
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (j.id, p_now, NULL, 'pending', NULL, 0, p_note);
     RETURN TRUE;
   END $$`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS botfleet_fire_schedule');
  await knex.raw('DROP TABLE schedules');
  await knex.raw('ALTER TABLE jobs DROP COLUMN schedule');
}
