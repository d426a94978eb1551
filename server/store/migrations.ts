/**
 * Schema migrations, applied in order at start-up. Each is a list of statements per dialect; the
 * applied versions are kept in schema_migrations. On PostgreSQL an advisory lock makes concurrent
 * start-ups of several servers take turns.
 *
 * Times are BIGINT ms since the epoch on both backends, so comparisons and indexes are the same.
 */
import { JOB_STATUSES } from '../../core/types';
import { type Executor, insertSql } from './sql';

type Dialect = 'sqlite' | 'postgres';

/** Counter rows per status on PostgreSQL (the trigger picks one per transaction). */
export const COUNT_SHARDS = 16;

function schemaV1(d: Dialect): string[] {
  const seqPk = d === 'sqlite' ? 'seq INTEGER PRIMARY KEY AUTOINCREMENT' : 'seq BIGSERIAL PRIMARY KEY';
  const big = d === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const stmts = [
    `CREATE TABLE jobs (
      ${seqPk},
      id TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      status TEXT NOT NULL,
      bot_id TEXT,
      attempts INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL,
      priority INTEGER NOT NULL DEFAULT 0,
      run_at ${big},
      key TEXT,
      timeout_ms ${big} NOT NULL DEFAULT 0,
      created_at ${big} NOT NULL,
      claimed_at ${big},
      started_at ${big},
      finished_at ${big},
      lease_expires_at ${big},
      deadline_at ${big},
      result TEXT,
      error TEXT
    )`,
    // The claim picks from here: highest priority, then oldest.
    `CREATE INDEX jobs_claimable ON jobs (priority DESC, seq) WHERE status = 'pending'`,
    `CREATE INDEX jobs_status_seq ON jobs (status, seq)`,
    `CREATE INDEX jobs_bot_seq ON jobs (bot_id, seq)`,
    `CREATE INDEX jobs_active_lease ON jobs (lease_expires_at) WHERE status IN ('claimed', 'running')`,
    `CREATE INDEX jobs_active_deadline ON jobs (deadline_at) WHERE status = 'running' AND deadline_at IS NOT NULL`,
    // At most one unfinished job per key; a finished one frees its key.
    `CREATE UNIQUE INDEX jobs_open_key ON jobs (key) WHERE key IS NOT NULL AND status IN ('pending', 'claimed', 'running')`,
    `CREATE TABLE job_events (
      ${seqPk},
      job_id TEXT NOT NULL,
      at ${big} NOT NULL,
      from_status TEXT,
      to_status TEXT NOT NULL,
      bot_id TEXT,
      attempt INTEGER NOT NULL,
      note TEXT
    )`,
    `CREATE INDEX job_events_job ON job_events (job_id, seq)`,
    `CREATE INDEX job_events_bot_lost ON job_events (bot_id, seq) WHERE note IS NOT NULL AND from_status IN ('claimed', 'running') AND to_status IN ('pending', 'failed')`,
    `CREATE TABLE bots (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      status TEXT NOT NULL,
      current_job_id TEXT,
      registered_at ${big} NOT NULL,
      last_heartbeat_at ${big} NOT NULL,
      jobs_completed INTEGER NOT NULL DEFAULT 0,
      jobs_failed INTEGER NOT NULL DEFAULT 0
    )`,
    `CREATE INDEX bots_heartbeat ON bots (last_heartbeat_at) WHERE status <> 'down'`,
    // The outbox of the datalake: one row per finished attempt, committed with the job's state.
    `CREATE TABLE results (
      ${seqPk},
      result_id TEXT NOT NULL UNIQUE,
      job_id TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      bot_id TEXT,
      type TEXT NOT NULL,
      status TEXT NOT NULL,
      result TEXT,
      error TEXT,
      created_at ${big} NOT NULL,
      claimed_at ${big},
      started_at ${big},
      finished_at ${big} NOT NULL,
      duration_ms ${big},
      day TEXT NOT NULL,
      written INTEGER NOT NULL DEFAULT 0
    )`,
    `CREATE INDEX results_unwritten ON results (seq) WHERE written = 0`,
    `CREATE INDEX results_day ON results (day, seq)`,
    // Counts by status, kept by triggers so the summary never counts a million rows.
    `CREATE TABLE job_counts (status TEXT NOT NULL, shard INTEGER NOT NULL, n ${big} NOT NULL DEFAULT 0, PRIMARY KEY (status, shard))`,
    // Finished attempts per UTC minute: throughput and mean duration without scanning results.
    `CREATE TABLE finished_minutes (
      minute ${big} NOT NULL, shard INTEGER NOT NULL,
      completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
      duration_sum ${big} NOT NULL DEFAULT 0, duration_n INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (minute, shard))`,
    `CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
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
    // Several servers finish jobs at once: spread the counter rows over shards so that they do not
    // all queue on one row lock.
    stmts.push(
      `CREATE FUNCTION jobs_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE s INTEGER := floor(random() * ${COUNT_SHARDS});
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           UPDATE job_counts SET n = n - 1 WHERE status = OLD.status AND shard = s;
         END IF;
         IF TG_OP IN ('UPDATE', 'INSERT') THEN
           UPDATE job_counts SET n = n + 1 WHERE status = NEW.status AND shard = s;
         END IF;
         RETURN NULL;
       END $$`,
      `CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_count_trigger()`,
      `CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs FOR EACH ROW
         WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION jobs_count_trigger()`,
      `CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_count_trigger()`,
    );
  }
  return stmts;
}

/**
 * PostgreSQL counters without deadlocks. Version 1 drew a random shard per row change and updated the
 * old status's row before the new one's, so two transactions could take two counter rows in opposite
 * orders (a claim pending→running against a complete running→completed in the lean path, two bulk
 * enqueues over different shards) and wait for each other until deadlock_timeout (1 s) broke it with
 * an error (found by the benchmark: 500s on POST /jobs/next with 2 servers). Now one transaction uses
 * one shard (its transaction id) and each change takes its two rows in status-name order.
 */
function countTriggerV2(d: Dialect): string[] {
  if (d === 'sqlite') return [];
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

const MIGRATIONS: { version: number; name: string; statements: (d: Dialect) => string[] }[] = [
  { version: 1, name: 'jobs, events, bots, results, counts, settings', statements: schemaV1 },
  { version: 2, name: 'PostgreSQL job counters: one shard per transaction, rows in a fixed order', statements: countTriggerV2 },
];

/** Seeds one counter row per status (and shard), so new statuses need no migration. */
async function seedCounts(db: Executor, d: Dialect): Promise<void> {
  const shards = d === 'sqlite' ? 1 : COUNT_SHARDS;
  const rows = JOB_STATUSES.flatMap((status) => Array.from({ length: shards }, (_, shard) => ({ status, shard, n: 0 })));
  const q = insertSql('job_counts', rows, 'ON CONFLICT (status, shard) DO NOTHING');
  await db.run(q.sql, q.bindings);
}

export async function migrate(db: Executor): Promise<void> {
  const d = db.dialect;
  await db.transaction(async (trx) => {
    if (d === 'postgres') await trx.run('SELECT pg_advisory_xact_lock(727001)');
    await trx.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set((await trx.run<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const sql of m.statements(d)) await trx.run(sql);
      const q = insertSql('schema_migrations', [{ version: m.version, name: m.name, applied_at: new Date().toISOString() }]);
      await trx.run(q.sql, q.bindings);
    }
    await seedCounts(trx, d);
  });
}
