/**
 * SQLite schema, migration 3: cron schedules (server/store/schedules.ts) and the schedule a job was
 * made by. Frozen: a later change is a new migration file. Imports no live code. Times are INTEGER
 * ms since the epoch; enabled and catch_up are 0 or 1.
 */
import type { Knex } from 'knex';

const UP = [
  // The name of the schedule whose firing created the job (its run_at is that firing), else NULL.
  `ALTER TABLE jobs ADD COLUMN schedule TEXT`,
  // job: the JSON of the job each firing creates. revision counts replacements: a firing decided
  // from an older revision takes nothing.
  `CREATE TABLE schedules (name TEXT PRIMARY KEY, cron TEXT NOT NULL, timezone TEXT NOT NULL, job TEXT NOT NULL,
    enabled INTEGER NOT NULL, catch_up INTEGER NOT NULL, next_run_at INTEGER, last_run_at INTEGER, last_job_id TEXT,
    revision INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
  // The tick's question: which enabled schedules are due.
  `CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE schedules');
  await knex.raw('ALTER TABLE jobs DROP COLUMN schedule');
}
