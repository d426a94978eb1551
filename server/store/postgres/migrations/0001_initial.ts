/**
 * PostgreSQL schema, migration 1: the tables, indexes, counter triggers and the botfleet_* functions
 * through which every change of a job or a bot goes (postgres/store.ts calls them; each call is one
 * statement, so one transaction). Frozen: a later change is a new migration file. Imports no live code.
 *
 * Times are BIGINT ms since the epoch. Functions apply what the server decided (core/job-state,
 * store/rules.ts) with updates guarded by what it read, and raise SQLSTATE BF409 'job_changed'
 * (DETAIL: the job) when the job moved meanwhile, BF404 'bot_unknown', BF409 'bot_down' or 'bot_busy'
 * (DETAIL: the job it holds) when a bot may not claim.
 *
 * Lock order, in every function: the bot's row, then the job's row (a claim takes a pending job
 * with SKIP LOCKED, never waiting; new jobs with a key wait only for another batch inserting the
 * same key, and keys go in in key order), then this transaction's job_counts shard row (written by
 * the triggers at the end of a statement that changes a job's status), then its finished_minutes
 * row (the trigger of the result row). After a counter row a transaction waits for no other lock.
 */
import type { Knex } from 'knex';

const JOB_STATUSES = ['pending', 'claimed', 'running', 'completed', 'failed', 'cancelled'];
/** Counter rows per table: a transaction uses one (its id modulo 16), so servers do not queue on one row lock. */
const SHARDS = 16;
const SHARD = `(txid_current() % ${SHARDS})::INTEGER`;
const RAISE_CHANGED = `RAISE EXCEPTION 'job_changed' USING ERRCODE = 'BF409', DETAIL = p_job`;

const TABLES = [
  `CREATE TABLE jobs (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, bot_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0, run_at BIGINT, key TEXT, timeout_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL, claimed_at BIGINT, started_at BIGINT, finished_at BIGINT, lease_expires_at BIGINT,
    deadline_at BIGINT, result TEXT, error TEXT)`,
  `CREATE TABLE job_events (seq BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL, at BIGINT NOT NULL, from_status TEXT,
    to_status TEXT NOT NULL, bot_id TEXT, attempt INTEGER NOT NULL, note TEXT)`,
  `CREATE TABLE bots (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, current_job_id TEXT,
    registered_at BIGINT NOT NULL, last_heartbeat_at BIGINT NOT NULL, jobs_completed INTEGER NOT NULL DEFAULT 0,
    jobs_failed INTEGER NOT NULL DEFAULT 0)`,
  // The outbox of the datalake: one row per finished attempt, committed with the job's state.
  `CREATE TABLE results (seq BIGSERIAL PRIMARY KEY, result_id TEXT NOT NULL UNIQUE, job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL, bot_id TEXT, type TEXT NOT NULL, status TEXT NOT NULL, result TEXT, error TEXT,
    created_at BIGINT NOT NULL, claimed_at BIGINT, started_at BIGINT, finished_at BIGINT NOT NULL, duration_ms BIGINT,
    day TEXT NOT NULL, written INTEGER NOT NULL DEFAULT 0)`,
  // Jobs by status, kept by triggers, so the summary never counts a million rows.
  `CREATE TABLE job_counts (shard INTEGER PRIMARY KEY, ${JOB_STATUSES.map((s) => `${s} BIGINT NOT NULL DEFAULT 0`).join(', ')})`,
  `INSERT INTO job_counts (shard) SELECT generate_series(0, ${SHARDS - 1})`,
  // Finished attempts per UTC minute: throughput and mean duration without scanning results.
  `CREATE TABLE finished_minutes (minute BIGINT NOT NULL, shard INTEGER NOT NULL, completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, duration_sum BIGINT NOT NULL DEFAULT 0, duration_n INTEGER NOT NULL DEFAULT 0,
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
];

const COUNTERS = [
  // New and deleted jobs: one counter update per statement (a bulk enqueue is one statement).
  `CREATE FUNCTION botfleet_count_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE k INTEGER := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END; s INTEGER := ${SHARD};
   BEGIN
     UPDATE job_counts c SET ${JOB_STATUSES.map((s) => `${s} = c.${s} + k * d.${s}`).join(', ')}
       FROM (SELECT ${JOB_STATUSES.map((s) => `count(*) FILTER (WHERE status = '${s}') AS ${s}`).join(', ')} FROM changed) d
       WHERE c.shard = s;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS changed
     FOR EACH STATEMENT EXECUTE FUNCTION botfleet_count_jobs()`,
  `CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS changed
     FOR EACH STATEMENT EXECUTE FUNCTION botfleet_count_jobs()`,
  `CREATE FUNCTION botfleet_count_status() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE s INTEGER := ${SHARD};
   BEGIN
     UPDATE job_counts SET ${JOB_STATUSES.map((s) => `${s} = ${s} + (NEW.status = '${s}')::INTEGER - (OLD.status = '${s}')::INTEGER`).join(', ')}
       WHERE shard = s;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs FOR EACH ROW
     WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION botfleet_count_status()`,
  `CREATE FUNCTION botfleet_count_result() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     INSERT INTO finished_minutes AS m (minute, shard, completed, failed, duration_sum, duration_n)
       VALUES (NEW.finished_at / 60000, ${SHARD}, (NEW.status = 'completed')::INTEGER,
         (NEW.status <> 'completed')::INTEGER, COALESCE(NEW.duration_ms, 0), (NEW.duration_ms IS NOT NULL)::INTEGER)
       ON CONFLICT (minute, shard) DO UPDATE SET completed = m.completed + excluded.completed,
         failed = m.failed + excluded.failed, duration_sum = m.duration_sum + excluded.duration_sum,
         duration_n = m.duration_n + excluded.duration_n;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER results_count AFTER INSERT ON results FOR EACH ROW EXECUTE FUNCTION botfleet_count_result()`,
];

/** Arguments of a planned end of an attempt, shared by the functions that take one. */
const PLAN = 'p_job TEXT, p_from TEXT, p_attempt INTEGER, p_next TEXT';

const JOB_FUNCTIONS = [
  // Jobs in: p_jobs is a JSON array of {id, type, payload, max_attempts, priority, run_at, timeout_ms, key}.
  // Keyed jobs go in key order (two batches with shared keys wait for each other in one order); the
  // answer is the open job of each key of the batch, inserted or already there.
  `CREATE FUNCTION botfleet_create_jobs(p_jobs TEXT, p_now BIGINT, p_note TEXT) RETURNS SETOF jobs LANGUAGE plpgsql AS $$
   BEGIN
     WITH ins AS (
       INSERT INTO jobs (id, type, payload, status, attempts, max_attempts, priority, run_at, key, timeout_ms, created_at)
       SELECT j.id, j.type, j.payload, 'pending', 0, j.max_attempts, j.priority, j.run_at, j.key, j.timeout_ms, p_now
         FROM json_populate_recordset(NULL::jobs, p_jobs::json) WITH ORDINALITY AS j ORDER BY j.key NULLS FIRST, ordinality
       ON CONFLICT DO NOTHING RETURNING id, seq)
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       SELECT id, p_now, NULL, 'pending', NULL, 0, p_note FROM ins ORDER BY seq;
     RETURN QUERY SELECT * FROM jobs WHERE key IN (SELECT j.key FROM json_populate_recordset(NULL::jobs, p_jobs::json) j)
       AND status IN ('pending', 'claimed', 'running');
   END $$`,
  // Ends the attempt as planned: the job, its event, its result row (the outbox) and the bot, which
  // must hold the job as its current one.
  `CREATE FUNCTION botfleet_finish(p_bot TEXT, ${PLAN}, p_result TEXT, p_error TEXT, p_note TEXT, p_now BIGINT,
     p_day TEXT) RETURNS jobs LANGUAGE plpgsql AS $$
   DECLARE fin jobs; ok BOOLEAN := p_error IS NULL;
   BEGIN
     PERFORM 1 FROM bots WHERE id = p_bot AND current_job_id = p_job FOR UPDATE;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     UPDATE jobs SET status = p_next, bot_id = CASE WHEN p_next = 'pending' THEN NULL ELSE bot_id END,
         finished_at = CASE WHEN p_next = 'pending' THEN NULL ELSE p_now END, lease_expires_at = NULL,
         deadline_at = NULL, result = p_result, error = p_error
       WHERE id = p_job AND status = p_from AND attempts = p_attempt RETURNING * INTO fin;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (p_job, p_now, p_from, p_next, p_bot, p_attempt, p_note);
     INSERT INTO results (result_id, job_id, attempt, bot_id, type, status, result, error, created_at, claimed_at,
         started_at, finished_at, duration_ms, day)
       VALUES (p_job || ':' || p_attempt, p_job, p_attempt, p_bot, fin.type,
         CASE WHEN ok THEN 'completed' ELSE 'failed' END, p_result, p_error, fin.created_at, fin.claimed_at,
         fin.started_at, p_now, CASE WHEN fin.started_at IS NOT NULL THEN GREATEST(0, p_now - fin.started_at) END, p_day);
     UPDATE bots SET current_job_id = NULL, status = 'idle', jobs_completed = jobs_completed + ok::INTEGER,
         jobs_failed = jobs_failed + (NOT ok)::INTEGER
       WHERE id = p_bot;
     RETURN fin;
   END $$`,
  `CREATE FUNCTION botfleet_may_claim(b bots, p_bot TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
   BEGIN
     IF b.id IS NULL THEN RAISE EXCEPTION 'bot_unknown' USING ERRCODE = 'BF404', DETAIL = p_bot; END IF;
     IF b.status = 'down' THEN RAISE EXCEPTION 'bot_down' USING ERRCODE = 'BF409', DETAIL = p_bot; END IF;
     IF b.current_job_id IS NOT NULL THEN
       RAISE EXCEPTION 'bot_busy' USING ERRCODE = 'BF409', DETAIL = b.current_job_id;
     END IF;
   END $$`,
  // POST /jobs/next and claims: ends the reported attempt (if any), then claims the next job and
  // starts it with p_start. Returns the finished job first, then the claimed one. A bare claim with
  // nothing to take reads the bot without a lock and writes nothing, so its COMMIT flushes nothing.
  `CREATE FUNCTION botfleet_next(p_bot TEXT, p_now BIGINT, p_lease_until BIGINT, p_start BOOLEAN, ${PLAN},
     p_result TEXT, p_error TEXT, p_note TEXT, p_day TEXT) RETURNS SETOF jobs LANGUAGE plpgsql AS $$
   DECLARE b bots; fin jobs; got jobs;
   BEGIN
     IF p_job IS NULL AND (EXISTS (SELECT 1 FROM settings WHERE name = 'paused' AND value = 'true')
         OR NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'pending' AND (run_at IS NULL OR run_at <= p_now))) THEN
       SELECT * INTO b FROM bots WHERE id = p_bot;
       PERFORM botfleet_may_claim(b, p_bot);
       RETURN;
     END IF;
     IF p_job IS NOT NULL THEN
       fin := botfleet_finish(p_bot, p_job, p_from, p_attempt, p_next, p_result, p_error, p_note, p_now, p_day);
       RETURN NEXT fin;
     END IF;
     SELECT * INTO b FROM bots WHERE id = p_bot FOR UPDATE;
     PERFORM botfleet_may_claim(b, p_bot);
     IF EXISTS (SELECT 1 FROM settings WHERE name = 'paused' AND value = 'true') THEN RETURN; END IF;
     UPDATE jobs SET status = CASE WHEN p_start THEN 'running' ELSE 'claimed' END, bot_id = p_bot,
         attempts = attempts + 1, claimed_at = p_now, started_at = CASE WHEN p_start THEN p_now END,
         finished_at = NULL, lease_expires_at = p_lease_until,
         deadline_at = CASE WHEN p_start AND timeout_ms > 0 THEN p_now + timeout_ms END, result = NULL
       WHERE seq = (SELECT seq FROM jobs WHERE status = 'pending' AND (run_at IS NULL OR run_at <= p_now)
                    ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING * INTO got;
     IF NOT FOUND THEN RETURN; END IF;
     UPDATE bots SET status = 'busy', current_job_id = got.id, last_heartbeat_at = p_now WHERE id = p_bot;
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (got.id, p_now, 'pending', 'claimed', p_bot, got.attempts, NULL);
     IF p_start THEN
       INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
         VALUES (got.id, p_now, 'claimed', 'running', p_bot, got.attempts, NULL);
     END IF;
     RETURN NEXT got;
   END $$`,
  `CREATE FUNCTION botfleet_start(p_bot TEXT, p_job TEXT, p_attempt INTEGER, p_now BIGINT) RETURNS jobs
     LANGUAGE plpgsql AS $$
   DECLARE j jobs;
   BEGIN
     UPDATE jobs SET status = 'running', started_at = p_now,
         deadline_at = CASE WHEN timeout_ms > 0 THEN p_now + timeout_ms END
       WHERE id = p_job AND status = 'claimed' AND attempts = p_attempt
         AND id = (SELECT current_job_id FROM bots WHERE id = p_bot)
       RETURNING * INTO j;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (p_job, p_now, 'claimed', 'running', p_bot, p_attempt, NULL);
     RETURN j;
   END $$`,
  // A bot hands back the job it was stopped in: pending again, the attempt not counted, no result row.
  `CREATE FUNCTION botfleet_hand_back(p_bot TEXT, p_job TEXT, p_from TEXT, p_attempt INTEGER, p_now BIGINT,
     p_note TEXT) RETURNS jobs LANGUAGE plpgsql AS $$
   DECLARE j jobs;
   BEGIN
     PERFORM 1 FROM bots WHERE id = p_bot AND current_job_id = p_job FOR UPDATE;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     UPDATE jobs SET status = 'pending', attempts = attempts - 1, bot_id = NULL, started_at = NULL,
         lease_expires_at = NULL, deadline_at = NULL
       WHERE id = p_job AND status = p_from AND attempts = p_attempt RETURNING * INTO j;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (p_job, p_now, p_from, 'pending', p_bot, p_attempt, p_note);
     UPDATE bots SET current_job_id = NULL, status = 'idle' WHERE id = p_bot;
     RETURN j;
   END $$`,
  `CREATE FUNCTION botfleet_retry(p_job TEXT, p_from TEXT, p_attempt INTEGER, p_max_attempts INTEGER, p_now BIGINT,
     p_note TEXT) RETURNS jobs LANGUAGE plpgsql AS $$
   DECLARE j jobs;
   BEGIN
     UPDATE jobs SET status = 'pending', bot_id = NULL, max_attempts = p_max_attempts, finished_at = NULL,
         error = NULL, result = NULL
       WHERE id = p_job AND status = p_from AND attempts = p_attempt RETURNING * INTO j;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (p_job, p_now, p_from, 'pending', NULL, p_attempt, p_note);
     RETURN j;
   END $$`,
  `CREATE FUNCTION botfleet_cancel(p_job TEXT, p_attempt INTEGER, p_now BIGINT, p_note TEXT) RETURNS jobs
     LANGUAGE plpgsql AS $$
   DECLARE j jobs;
   BEGIN
     UPDATE jobs SET status = 'cancelled', finished_at = p_now
       WHERE id = p_job AND status = 'pending' AND attempts = p_attempt RETURNING * INTO j;
     IF NOT FOUND THEN ${RAISE_CHANGED}; END IF;
     INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
       VALUES (p_job, p_now, 'pending', 'cancelled', NULL, p_attempt, p_note);
     RETURN j;
   END $$`,
];

const BOT_FUNCTIONS = [
  `CREATE FUNCTION botfleet_register(p_bot TEXT, p_name TEXT, p_now BIGINT) RETURNS SETOF bots LANGUAGE sql AS $$
     INSERT INTO bots (id, name, status, current_job_id, registered_at, last_heartbeat_at)
       VALUES (p_bot, p_name, 'idle', NULL, p_now, p_now) ON CONFLICT (id) DO NOTHING RETURNING * $$`,
  `CREATE FUNCTION botfleet_heartbeat(p_bot TEXT, p_now BIGINT, p_lease_until BIGINT) RETURNS SETOF bots
     LANGUAGE plpgsql AS $$
   DECLARE b bots;
   BEGIN
     UPDATE bots SET last_heartbeat_at = p_now, status = CASE WHEN current_job_id IS NULL THEN 'idle' ELSE 'busy' END
       WHERE id = p_bot RETURNING * INTO b;
     IF NOT FOUND THEN RETURN; END IF;
     IF b.current_job_id IS NOT NULL THEN
       UPDATE jobs SET lease_expires_at = p_lease_until WHERE id = b.current_job_id;
     END IF;
     RETURN NEXT b;
   END $$`,
  // Takes back the job bot b (locked by the caller) holds, as planned from what was read: a failed
  // attempt whose error and note are the reason. BF409 when it holds another job (or one, or none) now.
  `CREATE FUNCTION botfleet_take_back(b bots, ${PLAN}, p_reason TEXT, p_now BIGINT, p_day TEXT) RETURNS VOID
     LANGUAGE plpgsql AS $$
   BEGIN
     IF b.current_job_id IS DISTINCT FROM p_job THEN
       RAISE EXCEPTION 'job_changed' USING ERRCODE = 'BF409', DETAIL = COALESCE(p_job, b.current_job_id);
     END IF;
     IF p_job IS NOT NULL THEN
       PERFORM botfleet_finish(b.id, p_job, p_from, p_attempt, p_next, NULL, p_reason, p_reason, p_now, p_day);
     END IF;
   END $$`,
  // A known bot registering again is a new incarnation: what it held, it no longer runs.
  `CREATE FUNCTION botfleet_restart_bot(p_bot TEXT, p_name TEXT, ${PLAN}, p_reason TEXT, p_now BIGINT, p_day TEXT)
     RETURNS SETOF bots LANGUAGE plpgsql AS $$
   DECLARE b bots;
   BEGIN
     SELECT * INTO b FROM bots WHERE id = p_bot FOR UPDATE;
     IF NOT FOUND THEN RETURN; END IF;
     PERFORM botfleet_take_back(b, p_job, p_from, p_attempt, p_next, p_reason, p_now, p_day);
     RETURN QUERY UPDATE bots SET status = 'idle', current_job_id = NULL, last_heartbeat_at = p_now,
         name = COALESCE(p_name, name)
       WHERE id = p_bot RETURNING *;
   END $$`,
  `CREATE FUNCTION botfleet_delete_bot(p_bot TEXT, ${PLAN}, p_reason TEXT, p_now BIGINT, p_day TEXT)
     RETURNS SETOF bots LANGUAGE plpgsql AS $$
   DECLARE b bots;
   BEGIN
     SELECT * INTO b FROM bots WHERE id = p_bot FOR UPDATE;
     IF NOT FOUND THEN RETURN; END IF;
     PERFORM botfleet_take_back(b, p_job, p_from, p_attempt, p_next, p_reason, p_now, p_day);
     RETURN QUERY DELETE FROM bots WHERE id = p_bot RETURNING *;
   END $$`,
  // The sweep: a bot silent since before p_cutoff goes down and its job is taken back; no row when it spoke meanwhile.
  `CREATE FUNCTION botfleet_bot_down(p_bot TEXT, p_cutoff BIGINT, ${PLAN}, p_reason TEXT, p_now BIGINT, p_day TEXT)
     RETURNS SETOF bots LANGUAGE plpgsql AS $$
   DECLARE b bots;
   BEGIN
     SELECT * INTO b FROM bots WHERE id = p_bot AND status <> 'down' AND last_heartbeat_at < p_cutoff FOR UPDATE;
     IF NOT FOUND THEN RETURN; END IF;
     PERFORM botfleet_take_back(b, p_job, p_from, p_attempt, p_next, p_reason, p_now, p_day);
     RETURN QUERY UPDATE bots SET status = 'down' WHERE id = p_bot RETURNING *;
   END $$`,
];

const TABLE_NAMES = ['jobs', 'job_events', 'bots', 'results', 'job_counts', 'finished_minutes', 'settings'];
const FUNCTION_NAMES = [...COUNTERS, ...JOB_FUNCTIONS, ...BOT_FUNCTIONS]
  .map((sql) => /^CREATE FUNCTION (\w+)/.exec(sql)?.[1])
  .filter((n): n is string => n !== undefined);

export async function up(knex: Knex): Promise<void> {
  for (const sql of [...TABLES, ...COUNTERS, ...JOB_FUNCTIONS, ...BOT_FUNCTIONS]) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE ${TABLE_NAMES.join(', ')} CASCADE`);
  for (const name of FUNCTION_NAMES) await knex.raw(`DROP FUNCTION IF EXISTS ${name}`);
}
