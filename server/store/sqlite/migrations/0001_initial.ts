/**
 * SQLite schema, migration 1: the tables, indexes and counter triggers. Frozen: a later change is a
 * new migration file. Imports no live code. Times are INTEGER ms since the epoch.
 */
import type { Knex } from 'knex';

const JOB_STATUSES = ['pending', 'claimed', 'running', 'completed', 'failed', 'cancelled'];

/** `status = s` +1 for NEW and -1 for OLD, for each status: one UPDATE of the one counter row. */
const countChange = (plus: string | null, minus: string | null) =>
  `UPDATE job_counts SET ${JOB_STATUSES.map(
    (s) => `${s} = ${s}${plus ? ` + (${plus}.status = '${s}')` : ''}${minus ? ` - (${minus}.status = '${s}')` : ''}`,
  ).join(', ')} WHERE shard = 0`;

const UP = [
  // seq is the rowid (no AUTOINCREMENT: its sequence table would be one more page written per job).
  `CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, bot_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0, run_at INTEGER, key TEXT, timeout_ms INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL, claimed_at INTEGER, started_at INTEGER, finished_at INTEGER,
    lease_expires_at INTEGER, deadline_at INTEGER, result TEXT, error TEXT)`,
  `CREATE TABLE job_events (seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL, at INTEGER NOT NULL, from_status TEXT,
    to_status TEXT NOT NULL, bot_id TEXT, attempt INTEGER NOT NULL, note TEXT)`,
  `CREATE TABLE bots (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, current_job_id TEXT,
    registered_at INTEGER NOT NULL, last_heartbeat_at INTEGER NOT NULL, jobs_completed INTEGER NOT NULL DEFAULT 0,
    jobs_failed INTEGER NOT NULL DEFAULT 0)`,
  // The outbox of the datalake: one row per finished attempt, committed with the job's state.
  `CREATE TABLE results (seq INTEGER PRIMARY KEY, result_id TEXT NOT NULL UNIQUE, job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL, bot_id TEXT, type TEXT NOT NULL, status TEXT NOT NULL, result TEXT, error TEXT,
    created_at INTEGER NOT NULL, claimed_at INTEGER, started_at INTEGER, finished_at INTEGER NOT NULL,
    duration_ms INTEGER, day TEXT NOT NULL, written INTEGER NOT NULL DEFAULT 0)`,
  // Jobs by status in one row, kept by triggers, so the summary never counts a million rows.
  `CREATE TABLE job_counts (shard INTEGER PRIMARY KEY, ${JOB_STATUSES.map((s) => `${s} INTEGER NOT NULL DEFAULT 0`).join(', ')})`,
  `INSERT INTO job_counts (shard) VALUES (0)`,
  // Finished attempts per UTC minute: throughput and mean duration without scanning results.
  `CREATE TABLE finished_minutes (minute INTEGER NOT NULL, shard INTEGER NOT NULL, completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, duration_sum INTEGER NOT NULL DEFAULT 0, duration_n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, shard))`,
  `CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  // The claim walks this one: highest priority, then oldest. Its columns are the claim's WHERE and
  // ORDER BY, so the planner takes it over jobs_status_seq without being told, with or without statistics.
  `CREATE INDEX jobs_claimable ON jobs (status, priority DESC, seq) WHERE status = 'pending'`,
  `CREATE INDEX jobs_status_seq ON jobs (status, seq)`,
  `CREATE INDEX jobs_bot_seq ON jobs (bot_id, seq) WHERE bot_id IS NOT NULL`,
  // The next runAt of a pending job (a waiting claim sleeps until then); only jobs created with a runAt.
  `CREATE INDEX jobs_delayed ON jobs (status, run_at) WHERE status = 'pending' AND run_at IS NOT NULL`,
  // At most one unfinished job per key; a finished one frees its key.
  `CREATE UNIQUE INDEX jobs_open_key ON jobs (key) WHERE key IS NOT NULL AND status IN ('pending', 'claimed', 'running')`,
  `CREATE INDEX job_events_job ON job_events (job_id, seq)`,
  `CREATE INDEX job_events_bot_lost ON job_events (bot_id, seq)
    WHERE note IS NOT NULL AND from_status IN ('claimed', 'running') AND to_status IN ('pending', 'failed')`,
  `CREATE INDEX results_unwritten ON results (seq) WHERE written = 0`,
  `CREATE INDEX results_day ON results (day, seq)`,
  `CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN ${countChange('NEW', null)}; END`,
  `CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs WHEN OLD.status <> NEW.status
    BEGIN ${countChange('NEW', 'OLD')}; END`,
  `CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN ${countChange(null, 'OLD')}; END`,
  `CREATE TRIGGER results_count AFTER INSERT ON results BEGIN
    INSERT INTO finished_minutes (minute, shard, completed, failed, duration_sum, duration_n)
      VALUES (NEW.finished_at / 60000, 0, NEW.status = 'completed', NEW.status <> 'completed',
        COALESCE(NEW.duration_ms, 0), NEW.duration_ms IS NOT NULL)
      ON CONFLICT (minute, shard) DO UPDATE SET completed = completed + excluded.completed,
        failed = failed + excluded.failed, duration_sum = duration_sum + excluded.duration_sum,
        duration_n = duration_n + excluded.duration_n; END`,
];

const TABLES = ['jobs', 'job_events', 'bots', 'results', 'job_counts', 'finished_minutes', 'settings'];

export async function up(knex: Knex): Promise<void> {
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of TABLES) await knex.raw(`DROP TABLE ${table}`);
}
