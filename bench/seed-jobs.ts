/**
 * Seeds a stopped server's SQLite file with many finished jobs, fast (the scale goal's "1,000,000
 * jobs in the database"): one INSERT … SELECT over a recursive counter, so SQLite does the work without a
 * round trip per row. The schema's triggers still run per row and keep job_counts exact; each job
 * gets its creation event and its final event, like a job that ran.
 *
 * No result (outbox) rows: at start-up the datalake repair would rightly append a line for each of
 * them to a recent partition, which would measure the repair, not the scale of the job tables.
 */
import Database from 'better-sqlite3';

export function seedFinishedJobs(file: string, count: number, nowMs = Date.now()): { seconds: number } {
  const t0 = performance.now();
  const db = new Database(file);
  try {
    // Only this process touches the file now: a rollback journal and no fsync make the bulk insert
    // quick; the server switches the file back to WAL when it opens it.
    db.pragma('journal_mode = DELETE');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const before = Number((db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM jobs').get() as { s: number }).s);
    const base = nowMs - count * 50; // spread over the past: one job every 50 ms
    db.transaction(() => {
      db.prepare(
        `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
         INSERT INTO jobs (id, type, payload, status, bot_id, attempts, max_attempts, priority, run_at, key, timeout_ms,
                           created_at, claimed_at, started_at, finished_at, lease_expires_at, deadline_at, result, error)
         SELECT lower(hex(randomblob(16))), 'simulated', '{}', CASE WHEN x % 20 = 0 THEN 'failed' ELSE 'completed' END,
                'seed-bot-' || (x % 8), 1, 1, 0, NULL, NULL, 0,
                ? + x * 50, ? + x * 50 + 1, ? + x * 50 + 1, ? + x * 50 + 3, NULL, NULL,
                CASE WHEN x % 20 = 0 THEN NULL ELSE 'null' END, CASE WHEN x % 20 = 0 THEN 'simulated failure' ELSE NULL END
         FROM c`,
      ).run(count, base, base, base, base);
      db.prepare(
        `INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
         SELECT id, created_at, NULL, 'pending', NULL, 0, 'created' FROM jobs WHERE seq > ? ORDER BY seq`,
      ).run(before);
      db.prepare(
        `INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
         SELECT id, finished_at, 'running', status, bot_id, 1, NULL FROM jobs WHERE seq > ? ORDER BY seq`,
      ).run(before);
    })();
    db.exec('ANALYZE');
  } finally {
    db.close();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}
