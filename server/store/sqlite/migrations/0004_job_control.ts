/**
 * SQLite schema, migration 4: watching and stopping a running job. The last progress of a job's
 * attempt, the log lines handlers send (kept per attempt, bounded; job_log_counts holds each
 * attempt's lines, bytes and dropped count), and throughput that counts a cancelled attempt as
 * neither completed nor failed. Frozen: a later change is a new migration file. Imports no live code.
 */
import type { Knex } from 'knex';

const RESULTS_COUNT = (failed: string) => `CREATE TRIGGER results_count AFTER INSERT ON results BEGIN
    INSERT INTO finished_minutes (minute, shard, completed, failed, duration_sum, duration_n)
      VALUES (NEW.finished_at / 60000, 0, NEW.status = 'completed', ${failed},
        COALESCE(NEW.duration_ms, 0), NEW.duration_ms IS NOT NULL)
      ON CONFLICT (minute, shard) DO UPDATE SET completed = completed + excluded.completed,
        failed = failed + excluded.failed, duration_sum = duration_sum + excluded.duration_sum,
        duration_n = duration_n + excluded.duration_n; END`;

const UP = [
  // The progress of attempt progress_attempt; a later attempt shows none until it reports.
  `ALTER TABLE jobs ADD COLUMN progress_fraction REAL`,
  `ALTER TABLE jobs ADD COLUMN progress_message TEXT`,
  `ALTER TABLE jobs ADD COLUMN progress_at INTEGER`,
  `ALTER TABLE jobs ADD COLUMN progress_attempt INTEGER`,
  `CREATE TABLE job_logs (seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL, attempt INTEGER NOT NULL,
    at INTEGER NOT NULL, level TEXT NOT NULL, line TEXT NOT NULL)`,
  `CREATE INDEX job_logs_attempt ON job_logs (job_id, attempt, seq)`,
  `CREATE TABLE job_log_counts (job_id TEXT NOT NULL, attempt INTEGER NOT NULL, lines INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (job_id, attempt))`,
  `DROP TRIGGER results_count`,
  RESULTS_COUNT(`NEW.status = 'failed'`),
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER results_count');
  await knex.raw(RESULTS_COUNT(`NEW.status <> 'completed'`));
  await knex.raw('DROP TABLE job_log_counts');
  await knex.raw('DROP TABLE job_logs');
  for (const c of ['progress_attempt', 'progress_at', 'progress_message', 'progress_fraction'])
    await knex.raw(`ALTER TABLE jobs DROP COLUMN ${c}`);
}
