/**
 * Schema migrations, applied in order at start-up. Each is a list of statements per dialect; the
 * applied versions are kept in schema_migrations. On PostgreSQL an advisory lock makes concurrent
 * start-ups of several servers take turns.
 *
 * Times are BIGINT ms since the epoch on both backends, so comparisons and indexes are the same.
 */
import { JOB_STATUSES } from '../../core/types';
import type { Knex } from 'knex';
import { heldBy } from './job-writes';
import { ddl, knexFor } from './knex-sql';
import { type Executor, insertSql } from './sql';

type Dialect = 'sqlite' | 'postgres';

/** Counter rows per status on PostgreSQL (the trigger picks one per transaction). */
export const COUNT_SHARDS = 16;

/** The tables, written once with Knex's schema builder and compiled to each dialect (a fresh builder per table: one accumulates its statements). */
function tablesV1(d: Dialect): string[] {
  const k = knexFor(d);
  const ms = (t: Knex.CreateTableBuilder, name: string) => t.bigInteger(name); // ms since the epoch
  return [
    ...ddl(
      k.schema.createTable('jobs', (t) => {
        t.bigIncrements('seq');
        t.text('id').notNullable().unique();
        t.text('type').notNullable();
        t.text('payload').notNullable();
        t.text('status').notNullable();
        t.text('bot_id');
        t.integer('attempts').notNullable().defaultTo(0);
        t.integer('max_attempts').notNullable();
        t.integer('priority').notNullable().defaultTo(0);
        ms(t, 'run_at');
        t.text('key');
        t.bigInteger('timeout_ms').notNullable().defaultTo(0);
        ms(t, 'created_at').notNullable();
        for (const c of ['claimed_at', 'started_at', 'finished_at', 'lease_expires_at', 'deadline_at']) ms(t, c);
        t.text('result');
        t.text('error');
      }),
    ),
    ...ddl(
      k.schema.createTable('job_events', (t) => {
        t.bigIncrements('seq');
        t.text('job_id').notNullable();
        ms(t, 'at').notNullable();
        t.text('from_status');
        t.text('to_status').notNullable();
        t.text('bot_id');
        t.integer('attempt').notNullable();
        t.text('note');
      }),
    ),
    ...ddl(
      k.schema.createTable('bots', (t) => {
        t.text('id').notNullable().primary();
        t.text('name').notNullable();
        t.text('status').notNullable();
        t.text('current_job_id');
        ms(t, 'registered_at').notNullable();
        ms(t, 'last_heartbeat_at').notNullable();
        t.integer('jobs_completed').notNullable().defaultTo(0);
        t.integer('jobs_failed').notNullable().defaultTo(0);
      }),
    ),
    // The outbox of the datalake: one row per finished attempt, committed with the job's state.
    ...ddl(
      k.schema.createTable('results', (t) => {
        t.bigIncrements('seq');
        t.text('result_id').notNullable().unique();
        t.text('job_id').notNullable();
        t.integer('attempt').notNullable();
        t.text('bot_id');
        t.text('type').notNullable();
        t.text('status').notNullable();
        t.text('result');
        t.text('error');
        ms(t, 'created_at').notNullable();
        ms(t, 'claimed_at');
        ms(t, 'started_at');
        ms(t, 'finished_at').notNullable();
        t.bigInteger('duration_ms');
        t.text('day').notNullable();
        t.integer('written').notNullable().defaultTo(0);
      }),
    ),
    // Counts by status, kept by triggers so the summary never counts a million rows.
    ...ddl(
      k.schema.createTable('job_counts', (t) => {
        t.text('status').notNullable();
        t.integer('shard').notNullable();
        t.bigInteger('n').notNullable().defaultTo(0);
        t.primary(['status', 'shard']);
      }),
    ),
    // Finished attempts per UTC minute: throughput and mean duration without scanning results.
    ...ddl(
      k.schema.createTable('finished_minutes', (t) => {
        t.bigInteger('minute').notNullable();
        t.integer('shard').notNullable();
        t.integer('completed').notNullable().defaultTo(0);
        t.integer('failed').notNullable().defaultTo(0);
        t.bigInteger('duration_sum').notNullable().defaultTo(0);
        t.integer('duration_n').notNullable().defaultTo(0);
        t.primary(['minute', 'shard']);
      }),
    ),
    ...ddl(
      k.schema.createTable('settings', (t) => {
        t.text('name').notNullable().primary();
        t.text('value').notNullable();
      }),
    ),
  ];
}

function schemaV1(d: Dialect): string[] {
  const stmts = [
    ...tablesV1(d),
    // Partial indexes and triggers are beyond Knex's builders: plain SQL, the same on both dialects.
    // The claim picks from here: highest priority, then oldest.
    `CREATE INDEX jobs_claimable ON jobs (priority DESC, seq) WHERE status = 'pending'`,
    `CREATE INDEX jobs_status_seq ON jobs (status, seq)`,
    `CREATE INDEX jobs_bot_seq ON jobs (bot_id, seq)`,
    `CREATE INDEX jobs_active_lease ON jobs (lease_expires_at) WHERE status IN ('claimed', 'running')`,
    `CREATE INDEX jobs_active_deadline ON jobs (deadline_at) WHERE status = 'running' AND deadline_at IS NOT NULL`,
    // At most one unfinished job per key; a finished one frees its key.
    `CREATE UNIQUE INDEX jobs_open_key ON jobs (key) WHERE key IS NOT NULL AND status IN ('pending', 'claimed', 'running')`,
    `CREATE INDEX job_events_job ON job_events (job_id, seq)`,
    `CREATE INDEX job_events_bot_lost ON job_events (bot_id, seq) WHERE note IS NOT NULL AND from_status IN ('claimed', 'running') AND to_status IN ('pending', 'failed')`,
    `CREATE INDEX bots_heartbeat ON bots (last_heartbeat_at) WHERE status <> 'down'`,
    `CREATE INDEX results_unwritten ON results (seq) WHERE written = 0`,
    `CREATE INDEX results_day ON results (day, seq)`,
  ];
  if (d === 'sqlite') {
    stmts.push(
      `CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
         INSERT INTO job_counts (status, shard, n) VALUES (NEW.status, 0, 1)
           ON CONFLICT (status, shard) DO UPDATE SET n = n + 1; END`,
      `CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs WHEN OLD.status <> NEW.status BEGIN
         UPDATE job_counts SET n = n - 1 WHERE status = OLD.status AND shard = 0;
         INSERT INTO job_counts (status, shard, n) VALUES (NEW.status, 0, 1)
           ON CONFLICT (status, shard) DO UPDATE SET n = n + 1; END`,
      `CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
         UPDATE job_counts SET n = n - 1 WHERE status = OLD.status AND shard = 0; END`,
    );
  } else {
    // Several servers finish jobs at once: the counter rows are spread over shards so they do not all
    // queue on one row lock. One transaction uses one shard (its transaction id) and each change takes
    // its two rows in status-name order: a shard drawn per row, or old-then-new order, let two
    // transactions take two counter rows in opposite orders and deadlock (found by the benchmark).
    stmts.push(
      ...countTriggerFunction(),
      `CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_count_trigger()`,
      `CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs FOR EACH ROW
         WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION jobs_count_trigger()`,
      `CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_count_trigger()`,
    );
  }
  return stmts;
}

/** The PostgreSQL counter trigger's function (see schemaV1). */
function countTriggerFunction(): string[] {
  return [
    `CREATE OR REPLACE FUNCTION jobs_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE s INTEGER := (txid_current() % ${COUNT_SHARDS})::INTEGER;
     BEGIN
       IF TG_OP = 'UPDATE' AND OLD.status > NEW.status THEN
         UPDATE job_counts SET n = n + 1 WHERE status = NEW.status AND shard = s;
         UPDATE job_counts SET n = n - 1 WHERE status = OLD.status AND shard = s;
         RETURN NULL;
       END IF;
       IF TG_OP IN ('UPDATE', 'DELETE') THEN
         UPDATE job_counts SET n = n - 1 WHERE status = OLD.status AND shard = s;
       END IF;
       IF TG_OP IN ('UPDATE', 'INSERT') THEN
         UPDATE job_counts SET n = n + 1 WHERE status = NEW.status AND shard = s;
       END IF;
       RETURN NULL;
     END $$`,
  ];
}

/**
 * Versions 2 and 6 (its current text), PostgreSQL only: `POST /jobs/next` as one server-side function, so a bot's report and
 * its next claim cost one round trip (and one COMMIT) instead of ~15 (docs/performance.md, goal 6).
 *
 * The server reads the reported job first and decides in JavaScript, as on every other path (fencing
 * and the next status through core/job-state); the function applies that decision with an update
 * guarded by the status, attempt and bot that were read, then claims the next job (and starts it with
 * p_start) with the same SQL as SqlStore.claimIn, which is SQLite's path. Every claim on PostgreSQL
 * goes through here. Lock order as everywhere: this transaction's counter rows (status
 * order, see jobs_count_trigger; taken up front only with a report), the bot, then jobs. Refusals raise SQLSTATE BF404/BF409 with a
 * reason as the message (the whole call is rolled back); SqlStore turns them into 404/409 answers.
 * Returns the finished job first (when p_job is given), then the claimed one (if any).
 */
function nextFunction(d: Dialect): string[] {
  if (d !== 'postgres') return [];
  return [
    `CREATE OR REPLACE FUNCTION botfleet_next(
       p_bot TEXT, p_now BIGINT, p_lease_until BIGINT, p_start BOOLEAN,
       p_job TEXT, p_from TEXT, p_attempt INTEGER, p_next TEXT,
       p_result TEXT, p_error TEXT, p_note TEXT, p_day TEXT
     ) RETURNS SETOF jobs LANGUAGE plpgsql
     -- The claim must walk jobs_claimable in its order. Right after a bulk enqueue the statistics
     -- still say "few pending jobs" and the planner chose a bitmap scan that sorted every pending job
     -- on each claim (~10 ms with 20,000 pending: 230 jobs/s in the benchmark). No sort is ever needed here.
     SET enable_sort = off
     AS $$
     DECLARE
       s INTEGER;
       b bots;
       fin jobs;
       got jobs;
       ok BOOLEAN;
       dur BIGINT;
       idle BOOLEAN;
     BEGIN
       -- A bare claim with nothing to take (paused, or no pending job due) writes nothing: it reads
       -- the bot without a lock and takes no transaction id, so its COMMIT has nothing to flush
       -- (each empty poll was an fsync). The bot's checks below hold for it all the same.
       -- A report (the hot path) never asks.
       idle := false;
       IF p_job IS NULL THEN
         idle := EXISTS (SELECT 1 FROM settings WHERE name = 'paused' AND value = 'true')
           OR NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'pending' AND (run_at IS NULL OR run_at <= p_now));
       END IF;
       IF idle THEN
         SELECT * INTO b FROM bots WHERE id = p_bot;
       ELSE
         s := (txid_current() % ${COUNT_SHARDS})::INTEGER;
         IF p_job IS NOT NULL THEN
           -- A report and a claim change two jobs' statuses: take every counter row they may touch
           -- now, in the trigger's order, so the two trigger calls cannot cross another transaction's
           -- order. A bare claim changes one status; its trigger takes its two rows in order itself.
           PERFORM 1 FROM job_counts WHERE shard = s ORDER BY status FOR UPDATE;
         END IF;
         SELECT * INTO b FROM bots WHERE id = p_bot FOR UPDATE;
       END IF;
       IF p_job IS NOT NULL THEN
         UPDATE jobs SET status = p_next,
             bot_id = CASE WHEN p_next = 'pending' THEN NULL ELSE bot_id END,
             finished_at = CASE WHEN p_next = 'pending' THEN NULL ELSE p_now END,
             lease_expires_at = NULL, deadline_at = NULL, result = p_result, error = p_error
           -- The bot in a form no index matches (heldBy), so the id finds the row rather than the
           -- bot's whole history in jobs_bot_seq.
           WHERE id = p_job AND status = p_from AND attempts = p_attempt AND ${heldBy()} = p_bot
           RETURNING * INTO fin;
         IF NOT FOUND THEN RAISE EXCEPTION 'job_changed' USING ERRCODE = 'BF409'; END IF;
         ok := p_error IS NULL;
         dur := CASE WHEN fin.started_at IS NULL THEN NULL ELSE GREATEST(0, p_now - fin.started_at) END;
         INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
           VALUES (p_job, p_now, p_from, p_next, p_bot, p_attempt, p_note);
         INSERT INTO results (result_id, job_id, attempt, bot_id, type, status, result, error, created_at,
             claimed_at, started_at, finished_at, duration_ms, day, written)
           VALUES (p_job || ':' || p_attempt, p_job, p_attempt, p_bot, fin.type,
             CASE WHEN ok THEN 'completed' ELSE 'failed' END, p_result, p_error, fin.created_at,
             fin.claimed_at, fin.started_at, p_now, dur, p_day, 0);
         INSERT INTO finished_minutes AS m (minute, shard, completed, failed, duration_sum, duration_n)
           VALUES (p_now / 60000, s, CASE WHEN ok THEN 1 ELSE 0 END, CASE WHEN ok THEN 0 ELSE 1 END,
             COALESCE(dur, 0), CASE WHEN dur IS NULL THEN 0 ELSE 1 END)
           ON CONFLICT (minute, shard) DO UPDATE SET completed = m.completed + excluded.completed,
             failed = m.failed + excluded.failed, duration_sum = m.duration_sum + excluded.duration_sum,
             duration_n = m.duration_n + excluded.duration_n;
         UPDATE bots SET current_job_id = NULL, status = CASE WHEN status = 'down' THEN 'down' ELSE 'idle' END,
             jobs_completed = jobs_completed + CASE WHEN ok THEN 1 ELSE 0 END,
             jobs_failed = jobs_failed + CASE WHEN ok THEN 0 ELSE 1 END
           WHERE id = p_bot AND current_job_id = p_job
           RETURNING * INTO b;
       END IF;
       IF b.id IS NULL THEN RAISE EXCEPTION 'bot_unknown' USING ERRCODE = 'BF404'; END IF;
       IF b.status = 'down' THEN RAISE EXCEPTION 'bot_down' USING ERRCODE = 'BF409'; END IF;
       IF b.current_job_id IS NOT NULL THEN
         RAISE EXCEPTION 'bot_busy' USING ERRCODE = 'BF409', DETAIL = b.current_job_id;
       END IF;
       IF p_job IS NOT NULL THEN RETURN NEXT fin; END IF;
       IF idle OR EXISTS (SELECT 1 FROM settings WHERE name = 'paused' AND value = 'true') THEN RETURN; END IF;
       UPDATE jobs SET status = CASE WHEN p_start THEN 'running' ELSE 'claimed' END, bot_id = p_bot,
           attempts = attempts + 1, claimed_at = p_now, started_at = CASE WHEN p_start THEN p_now END,
           finished_at = NULL, lease_expires_at = p_lease_until,
           deadline_at = CASE WHEN p_start AND timeout_ms > 0 THEN p_now + timeout_ms END, result = NULL
         WHERE seq = (SELECT seq FROM jobs WHERE status = 'pending' AND (run_at IS NULL OR run_at <= p_now)
                      ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
           AND status = 'pending'
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
  ];
}

const MIGRATIONS: { version: number; name: string; statements: (d: Dialect) => string[] }[] = [
  { version: 1, name: 'jobs, events, bots, results, counts, settings', statements: schemaV1 },
  { version: 2, name: 'botfleet_next: report and claim in one call (PostgreSQL)', statements: nextFunction },
  // Pending jobs have no bot: indexing their NULLs cost every bulk insert one more index entry per
  // job and every claim one more page (out of its NULL region) for no query: each one that uses this
  // index asks for `bot_id = ?` (docs/performance.md).
  {
    version: 3,
    name: 'jobs_bot_seq over jobs that have a bot only',
    statements: () => [
      'DROP INDEX jobs_bot_seq',
      'CREATE INDEX jobs_bot_seq ON jobs (bot_id, seq) WHERE bot_id IS NOT NULL',
    ],
  },
  // The sweeper's three lookups had an index each, and every claim, report and heartbeat paid for
  // them: a lease moved in jobs_active_lease, a bot's heartbeat in bots_heartbeat (3-4 of 19 WAL
  // pages a job on SQLite; on PostgreSQL no bot update could be HOT). What they found is small:
  // claimed and running jobs are at most one per bot, and jobs_status_seq finds them; the bots
  // table is read whole (one row per bot) once per sweep (docs/performance.md).
  {
    version: 4,
    name: 'sweeper lookups without their own indexes',
    statements: () => ['DROP INDEX jobs_active_lease', 'DROP INDEX jobs_active_deadline', 'DROP INDEX bots_heartbeat'],
  },
  // A waiting claim on SQLite sleeps until the next runAt comes due instead of re-checking every
  // 250 ms (routes/jobs.ts), so it must find that time at once. Only jobs created with a runAt are
  // in this index, and only while pending: a job without one never touches it.
  {
    version: 5,
    name: 'jobs_delayed: the next runAt of a pending job',
    statements: () => ["CREATE INDEX jobs_delayed ON jobs (run_at) WHERE status = 'pending' AND run_at IS NOT NULL"],
  },
  // botfleet_next again (version 2 on a new database already creates the current one): a bare
  // claim that finds nothing takes no lock and no transaction id, so it commits without a flush.
  { version: 6, name: 'botfleet_next: an empty bare claim writes nothing (PostgreSQL)', statements: nextFunction },
  // And again: the report's fence no longer lets the planner walk the bot's history (heldBy).
  {
    version: 7,
    name: 'botfleet_next: a report finds its job by id, not by the bot (PostgreSQL)',
    statements: nextFunction,
  },
];

/** Seeds one counter row per status (and shard), so new statuses need no migration. */
async function seedCounts(db: Executor, d: Dialect): Promise<void> {
  const shards = d === 'sqlite' ? 1 : COUNT_SHARDS;
  const rows = JOB_STATUSES.flatMap((status) =>
    Array.from({ length: shards }, (_, shard) => ({ status, shard, n: 0 })),
  );
  const q = insertSql('job_counts', rows, 'ON CONFLICT (status, shard) DO NOTHING');
  await db.run(q.sql, q.bindings);
}

export async function migrate(db: Executor): Promise<void> {
  const d = db.dialect;
  await db.transaction(async (trx) => {
    if (d === 'postgres') await trx.run('SELECT pg_advisory_xact_lock(727001)');
    await trx.run(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    const done = new Set(
      (await trx.run<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const sql of m.statements(d)) await trx.run(sql);
      const q = insertSql('schema_migrations', [
        { version: m.version, name: m.name, applied_at: new Date().toISOString() },
      ]);
      await trx.run(q.sql, q.bindings);
    }
    await seedCounts(trx, d);
  });
}
