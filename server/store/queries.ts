/**
 * The statements both databases run with the same SQL (`?` placeholders): reading jobs and bots,
 * listing, the held and overdue jobs the sweep looks at, settings and the datalake's outbox. Each
 * store runs them through its own `all` (rows) and `run` (changed row count).
 */
import { ValidationError } from '../../core/errors';
import type { Job, ListJobsOptions, Page } from '../../core/types';
import type { OutboxRecord } from '../../datalake/types';
import { type BotRow, type EventRow, type JobRow, type ResultRow, toBot, toEvent, toJob, toResultLine } from './rows';
import type { BotWithJobs, JobWithEvents } from './types';

export type All = <T>(sql: string, args?: readonly unknown[]) => Promise<T[]>;
export type Run = (sql: string, args?: readonly unknown[]) => Promise<number>;

export const SQL = {
  jobById: 'SELECT * FROM jobs WHERE id = ?',
  botById: 'SELECT * FROM bots WHERE id = ?',
  /** The job a bot holds: its current job, found by the job's id. */
  heldJob: 'SELECT * FROM jobs WHERE id = (SELECT current_job_id FROM bots WHERE id = ?)',
  openJobWithKey: `SELECT * FROM jobs WHERE key = ? AND status IN ('pending', 'claimed', 'running')`,
  resultById: 'SELECT * FROM results WHERE result_id = ?',
  /** Bots that have not spoken since the cutoff: the bots table is read whole (one row per bot). */
  silentBots: `SELECT id FROM bots WHERE status <> 'down' AND last_heartbeat_at < ?`,
  /** Held jobs (the bots' current jobs) whose lease expired or that ran past their deadline. */
  overdueHeldJobs: `SELECT jobs.* FROM bots JOIN jobs ON jobs.id = bots.current_job_id
    WHERE jobs.lease_expires_at < ? OR (jobs.status = 'running' AND jobs.deadline_at < ?)`,
  paused: `SELECT value FROM settings WHERE name = 'paused'`,
  setPaused: `INSERT INTO settings (name, value) VALUES ('paused', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
  /** Takes a period: only the first server to get there, and never for a period at or before one taken, changes the row. */
  takePeriod: `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value
    WHERE CAST(settings.value AS BIGINT) < CAST(excluded.value AS BIGINT)`,
  pruneResults: 'DELETE FROM results WHERE day < ? AND written = 1',
};

/** The earliest runAt after `nowMs` of a pending job (one step into jobs_delayed), or null. */
export async function nextRunAt(all: All, nowMs: number): Promise<number | null> {
  const [row] = await all<{ run_at: number }>(
    `SELECT run_at FROM jobs WHERE status = 'pending' AND run_at IS NOT NULL AND run_at > ? ORDER BY run_at LIMIT 1`,
    [nowMs],
  );
  return row ? Number(row.run_at) : null;
}

export async function getJob(all: All, id: string): Promise<JobWithEvents | null> {
  const [row] = await all<JobRow>(SQL.jobById, [id]);
  if (!row) return null;
  const events = await all<EventRow>('SELECT * FROM job_events WHERE job_id = ? ORDER BY seq', [id]);
  return { ...toJob(row), events: events.map(toEvent) };
}

const encodeCursor = (seq: number): string => Buffer.from(`s:${seq}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const m = /^s:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m)
    throw new ValidationError('cursor is not one this server gave out', [
      { path: 'cursor', message: 'invalid cursor' },
    ]);
  return Number(m[1]);
}

/** Newest first, keyset-paginated on seq: page 1,000 costs what page 1 does. */
export async function listJobs(all: All, o: ListJobsOptions): Promise<Page<Job>> {
  const where: string[] = [];
  const args: unknown[] = [];
  const filter = (sql: string, value: unknown) => (where.push(sql), args.push(value));
  if (o.status) filter('status = ?', o.status);
  if (o.botId) filter('bot_id = ?', o.botId);
  if (o.type) filter('type = ?', o.type);
  if (o.createdBefore) filter('created_at < ?', Date.parse(o.createdBefore));
  if (o.createdAfter) filter('created_at >= ?', Date.parse(o.createdAfter));
  if (o.cursor) filter('seq < ?', decodeCursor(o.cursor));
  const rows = await all<JobRow>(
    `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
    [...args, o.limit + 1],
  );
  const items = rows.slice(0, o.limit);
  const more = rows.length > o.limit;
  return { items: items.map(toJob), nextCursor: more ? encodeCursor(Number(items[items.length - 1].seq)) : null };
}

export async function listBots(all: All) {
  return (await all<BotRow>('SELECT * FROM bots ORDER BY registered_at DESC, id')).map(toBot);
}

export async function getBot(all: All, id: string): Promise<BotWithJobs | null> {
  const [bot] = await all<BotRow>(SQL.botById, [id]);
  if (!bot) return null;
  const jobs = await all<JobRow>('SELECT * FROM jobs WHERE bot_id = ? ORDER BY seq DESC LIMIT 20', [id]);
  const lost = await all<EventRow>(
    `SELECT * FROM job_events WHERE bot_id = ? AND note IS NOT NULL AND from_status IN ('claimed', 'running')
       AND to_status IN ('pending', 'failed') ORDER BY seq DESC LIMIT 20`,
    [id],
  );
  return {
    ...toBot(bot),
    recentJobs: jobs.map(toJob),
    lostLeases: lost.map((e) => ({
      jobId: e.job_id,
      attempt: Number(e.attempt),
      at: new Date(Number(e.at)).toISOString(),
      note: e.note,
    })),
  };
}

// ---------------------------------------------------------------- the datalake's outbox

export async function fetchUnwritten(all: All, limit: number): Promise<OutboxRecord[]> {
  const rows = await all<ResultRow>('SELECT * FROM results WHERE written = 0 ORDER BY seq LIMIT ?', [limit]);
  return rows.map((r) => ({ seq: Number(r.seq), line: toResultLine(r) }));
}

export async function markWritten(run: Run, seqs: number[]): Promise<void> {
  for (let i = 0; i < seqs.length; i += 500) {
    const part = seqs.slice(i, i + 500);
    await run(`UPDATE results SET written = 1 WHERE seq IN (${part.map(() => '?').join(', ')})`, part);
  }
}

export async function resultsForDay(all: All, day: string) {
  return (await all<ResultRow>('SELECT * FROM results WHERE day = ? ORDER BY seq', [day])).map(toResultLine);
}

export async function countForDay(all: All, day: string): Promise<number> {
  const [r] = await all<{ n: number }>('SELECT COUNT(*) AS n FROM results WHERE day = ?', [day]);
  return Number(r?.n ?? 0);
}

export async function days(all: All): Promise<string[]> {
  return (await all<{ day: string }>('SELECT DISTINCT day FROM results ORDER BY day')).map((r) => r.day);
}
