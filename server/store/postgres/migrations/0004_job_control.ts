/**
 * PostgreSQL schema, migration 4: watching and stopping a running job. The last progress of a
 * job's attempt, the log lines handlers send (kept per attempt, bounded; job_log_counts holds each
 * attempt's lines, bytes and dropped count), and the functions that change them: cancelling a held
 * job, a progress report, appending log lines. A cancelled attempt counts as neither completed nor
 * failed in throughput. Frozen: a later change is a new migration file. Imports no live code.
 *
 * Lock order as in migration 1: botfleet_cancel_held locks the bot's row, then the job's, then the
 * counters (its triggers). botfleet_progress and botfleet_append_logs lock only the job's row, then
 * (logs) the attempt's job_log_counts row, which no other function locks.
 */
import type { Knex } from 'knex';

const SHARD = `(txid_current() % 16)::INTEGER`;
const RAISE_CHANGED = `RAISE EXCEPTION 'job_changed' USING ERRCODE = 'BF409', DETAIL = p_job`;

const COUNT_RESULT = (failed: string) => `CREATE OR REPLACE FUNCTION botfleet_count_result() RETURNS trigger
  LANGUAGE plpgsql AS $$
   BEGIN
     INSERT INTO finished_minutes AS m (minute, shard, completed, failed, duration_sum, duration_n)
       VALUES (NEW.finished_at / 60000, ${SHARD}, (NEW.status = 'completed')::INTEGER,
         (${failed})::INTEGER, COALESCE(NEW.duration_ms, 0), (NEW.duration_ms IS NOT NULL)::INTEGER)
       ON CONFLICT (minute, shard) DO UPDATE SET completed = m.completed + excluded.completed,
         failed = m.failed + excluded.failed, duration_sum = m.duration_sum + excluded.duration_sum,
         duration_n = m.duration_n + excluded.duration_n;
     RETURN NULL;
   END $$`;

const UP = [
  `ALTER TABLE jobs ADD COLUMN progress_fraction DOUBLE PRECISION, ADD COLUMN progress_message TEXT,
    ADD COLUMN progress_at BIGINT, ADD COLUMN progress_attempt INTEGER`,
  `CREATE TABLE job_logs (seq BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL, attempt INTEGER NOT NULL,
    at BIGINT NOT NULL, level TEXT NOT NULL, line TEXT NOT NULL)`,
  `CREATE INDEX job_logs_attempt ON job_logs (job_id, attempt, seq)`,
  `CREATE TABLE job_log_counts (job_id TEXT NOT NULL, attempt INTEGER NOT NULL, lines INTEGER NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0, dropped BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (job_id, attempt))`,
  COUNT_RESULT(`NEW.status = 'failed'`),
  // An admin cancels the job bot p_bot holds at p_attempt (status p_from, as read): the attempt ends
  // as cancelled (its result row, status cancelled, error p_note), the bot is idle. BF409 if it moved.
  `CREATE FUNCTION botfleet_cancel_held(p_bot TEXT, p_job TEXT, p_from TEXT, p_attempt INTEGER, p_note TEXT,
     p_now BIGINT, p_day TEXT) RETURNS jobs LANGUAGE plpgsql AS $$
   DECLARE fin jobs;
   BEGIN
     PERFORM 1 FROM bots WHERE id = p_bot AND current_job_id = p_job FOR UPDATE;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     UPDATE jobs SET status = 'cancelled', finished_at = p_now, lease_expires_at = NULL, deadline_at = NULL,
         result = NULL, error = p_note
       WHERE id = p_job AND status = p_from AND attempts = p_attempt AND bot_id = p_bot RETURNING * INTO fin;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (p_job, p_now, p_from, 'cancelled', p_bot, p_attempt, p_note);
     INSERT INTO results (result_id, job_id, attempt, bot_id, type, status, result, error, created_at, claimed_at,
         started_at, finished_at, duration_ms, day)
       VALUES (p_job || ':' || p_attempt, p_job, p_attempt, p_bot, fin.type, 'cancelled', NULL, p_note,
         fin.created_at, fin.claimed_at, fin.started_at, p_now,
         CASE WHEN fin.started_at IS NOT NULL THEN GREATEST(0, p_now - fin.started_at) END, p_day);
     UPDATE bots SET current_job_id = NULL, status = 'idle' WHERE id = p_bot;
     RETURN fin;
   END $$`,
  // A progress report of the bot that holds the job at p_attempt; no row when it does not.
  `CREATE FUNCTION botfleet_progress(p_bot TEXT, p_job TEXT, p_attempt INTEGER, p_fraction DOUBLE PRECISION,
     p_message TEXT, p_now BIGINT) RETURNS SETOF jobs LANGUAGE sql AS $$
     UPDATE jobs SET progress_fraction = p_fraction, progress_message = p_message, progress_at = p_now,
         progress_attempt = p_attempt
       WHERE id = p_job AND bot_id = p_bot AND attempts = p_attempt AND status IN ('claimed', 'running')
       RETURNING * $$`,
  // Log lines (p_lines: a JSON array of {at, level, line}) of the bot that holds the job at p_attempt:
  // the first ones that fit in p_max_lines lines and p_max_bytes bytes go in, the rest and p_dropped
  // are counted as dropped. No row when the bot does not hold the job.
  `CREATE FUNCTION botfleet_append_logs(p_bot TEXT, p_job TEXT, p_attempt INTEGER, p_lines TEXT, p_dropped INTEGER,
     p_max_lines INTEGER, p_max_bytes INTEGER) RETURNS TABLE (stored INTEGER, dropped_total BIGINT, lines_total INTEGER)
     LANGUAGE plpgsql AS $$
   DECLARE c job_log_counts; n INTEGER; b BIGINT; total INTEGER;
   BEGIN
     PERFORM 1 FROM jobs WHERE id = p_job AND bot_id = p_bot AND attempts = p_attempt
       AND status IN ('claimed', 'running') FOR SHARE;
     IF NOT FOUND THEN RETURN; END IF;
     INSERT INTO job_log_counts (job_id, attempt) VALUES (p_job, p_attempt) ON CONFLICT DO NOTHING;
     SELECT * INTO c FROM job_log_counts WHERE job_id = p_job AND attempt = p_attempt FOR UPDATE;
     total := json_array_length(p_lines::json);
     WITH l AS (
       SELECT (e.v->>'at')::BIGINT AS at, e.v->>'level' AS level, e.v->>'line' AS line, e.o,
           sum(octet_length(e.v->>'line')) OVER (ORDER BY e.o) AS cum
         FROM json_array_elements(p_lines::json) WITH ORDINALITY AS e(v, o)),
     ins AS (
       INSERT INTO job_logs (job_id, attempt, at, level, line)
         SELECT p_job, p_attempt, l.at, l.level, l.line FROM l
         WHERE c.lines + l.o <= p_max_lines AND c.bytes + l.cum <= p_max_bytes ORDER BY l.o
         RETURNING octet_length(job_logs.line) AS size)
     SELECT count(*), COALESCE(sum(size), 0) INTO n, b FROM ins;
     UPDATE job_log_counts SET lines = job_log_counts.lines + n, bytes = job_log_counts.bytes + b,
         dropped = job_log_counts.dropped + (total - n) + p_dropped
       WHERE job_id = p_job AND attempt = p_attempt
       RETURNING job_log_counts.dropped, job_log_counts.lines INTO dropped_total, lines_total;
     stored := n;
     RETURN NEXT;
   END $$`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of UP) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  for (const fn of ['botfleet_append_logs', 'botfleet_progress', 'botfleet_cancel_held'])
    await knex.raw(`DROP FUNCTION IF EXISTS ${fn}`);
  await knex.raw(COUNT_RESULT(`NEW.status <> 'completed'`));
  await knex.raw('DROP TABLE job_log_counts, job_logs');
  await knex.raw(`ALTER TABLE jobs DROP COLUMN progress_fraction, DROP COLUMN progress_message,
    DROP COLUMN progress_at, DROP COLUMN progress_attempt`);
}
