/**
 * The statements SQLite transactions are made of (store.ts): a cache of prepared statements and the
 * writes several calls share: new jobs, ending an attempt, taking back a bot's job, claiming, events.
 * Every method runs inside the caller's synchronous transaction.
 */
import type Database from 'better-sqlite3';
import { EVENT_NOTES, utcDay } from '../../../core/job-state';
import type { Job, JobStatus } from '../../../core/types';
import type { NewJob } from '../new-jobs';
import { SQL } from '../queries';
import { type BotRow, type JobRow, type ResultRow, toJob } from '../rows';
import { claimRefusal, type FinishPlan, judgeReport, type Judged, planRelease, reportNeedsResult } from '../rules';
import type { CreateResult, FencedCall, StoreOptions } from '../types';

/** The claim: one UPDATE takes the highest-priority, oldest due job (through jobs_claimable) and starts an attempt. */
const CLAIM = `UPDATE jobs SET status = ?, bot_id = ?, attempts = attempts + 1, claimed_at = ?, started_at = ?,
    finished_at = NULL, lease_expires_at = ?, deadline_at = CASE WHEN ? AND timeout_ms > 0 THEN ? + timeout_ms END,
    result = NULL
  WHERE seq = (SELECT seq FROM jobs WHERE status = 'pending' AND (run_at IS NULL OR run_at <= ?)
               ORDER BY priority DESC, seq LIMIT 1)
  RETURNING *`;
const INSERT_EVENT =
  'INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note) VALUES (?, ?, ?, ?, ?, ?, ?)';
const INSERT_RESULT = `INSERT INTO results (result_id, job_id, attempt, bot_id, type, status, result, error,
  created_at, claimed_at, started_at, finished_at, duration_ms, day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
// A new job without a key: what varies is bound, the rest is a pending job's constants.
const NEW_JOB = "(?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)";
const NEW_JOBS =
  'INSERT INTO jobs (id, type, payload, max_attempts, priority, run_at, timeout_ms, created_at, status, attempts)';
// A new job with a key: the partial unique index on open keys decides whether it goes in.
const NEW_KEYED_JOB = `INSERT INTO jobs (id, type, payload, max_attempts, priority, run_at, timeout_ms, created_at, status,
  attempts, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT DO NOTHING RETURNING *`;

export class SqliteSteps {
  private readonly statements = new Map<string, Database.Statement>();
  /** The paused flag, read once: this process is the only writer of the file. */
  private pausedFlag: boolean | null = null;

  constructor(
    readonly db: Database.Database,
    private readonly opts: StoreOptions,
  ) {}

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      if (this.statements.size > 500) this.statements.clear(); // bulk inserts of varying sizes
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
  rows<T>(sql: string, args: readonly unknown[] = []): T[] {
    return this.stmt(sql).all(...args) as T[];
  }
  row<T>(sql: string, args: readonly unknown[] = []): T | undefined {
    return this.stmt(sql).get(...args) as T | undefined;
  }
  exec(sql: string, args: readonly unknown[] = []): number {
    return this.stmt(sql).run(...args).changes;
  }

  setPaused(paused: boolean): void {
    this.exec(SQL.setPaused, [String(paused)]);
    this.pausedFlag = paused;
  }

  /** Inserts new jobs; one whose key an open job holds is answered with that job (created: false). */
  insertJobs(made: NewJob[], nowMs: number): CreateResult[] {
    const out: CreateResult[] = new Array(made.length);
    const plain: NewJob[] = [];
    const createdIds: string[] = [];
    made.forEach(({ job, values }, i) => {
      if (job.key === null) {
        plain.push(made[i]);
        createdIds.push(job.id);
        out[i] = { job, created: true };
        return;
      }
      const ins = this.row<JobRow>(NEW_KEYED_JOB, [...values.slice(0, 7), nowMs, job.key]);
      if (ins) createdIds.push(job.id);
      out[i] = ins
        ? { job: toJob(ins), created: true }
        : { job: toJob(this.row<JobRow>(SQL.openJobWithKey, [job.key])!), created: false };
    });
    for (let i = 0; i < plain.length; i += 1000) {
      const part = plain.slice(i, i + 1000);
      this.exec(
        `${NEW_JOBS} VALUES ${repeat(NEW_JOB, part.length)}`,
        part.flatMap((n) => [...n.values.slice(0, 7), nowMs]),
      );
    }
    for (let i = 0; i < createdIds.length; i += 1000) {
      const part = createdIds.slice(i, i + 1000);
      this.exec(
        `INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note)
         SELECT column1, ?, NULL, 'pending', NULL, 0, ? FROM (VALUES ${repeat('(?)', part.length)})`,
        [nowMs, EVENT_NOTES.created, ...part],
      );
    }
    return out;
  }

  paused(): boolean {
    this.pausedFlag ??= this.row<{ value: string }>(SQL.paused)?.value === 'true';
    return this.pausedFlag;
  }

  judge(call: FencedCall, finished: { result: unknown } | { error: string }): Judged {
    const current = this.row<JobRow>(SQL.jobById, [call.jobId]);
    const prior = reportNeedsResult(call, finished)
      ? this.row<ResultRow>(SQL.resultById, [`${call.jobId}:${call.attempt}`])
      : undefined;
    return judgeReport(current, prior, call, finished);
  }

  report(call: FencedCall, finished: { result: unknown } | { error: string }, nowMs: number): Job {
    const j = this.judge(call, finished);
    return toJob('repeat' in j ? j.repeat : this.finish(j.row, j.plan, nowMs));
  }

  /** Ends the held attempt of `row` as planned: the job, its event, its result row (the outbox), the bot. */
  finish(row: JobRow, plan: FinishPlan, nowMs: number): JobRow {
    const back = plan.next === 'pending';
    const fin = this.row<JobRow>(
      `UPDATE jobs SET status = ?, bot_id = ?, finished_at = ?, lease_expires_at = NULL, deadline_at = NULL,
         result = ?, error = ? WHERE id = ? RETURNING *`,
      [plan.next, back ? null : row.bot_id, back ? null : nowMs, plan.resultJson, plan.error, row.id],
    )!;
    this.event(row, nowMs, row.status, plan.next, row.bot_id, plan.note);
    this.insertResult(row, plan.outcome, plan.resultJson, plan.error, nowMs);
    const ok = plan.outcome === 'completed' ? 1 : 0;
    this.exec(
      `UPDATE bots SET current_job_id = NULL, status = 'idle', jobs_completed = jobs_completed + ?,
         jobs_failed = jobs_failed + ? WHERE id = ?`,
      [ok, 1 - ok, row.bot_id],
    );
    return fin;
  }

  /** An admin cancels the job a bot holds: its attempt ends as cancelled (a result line), the bot is idle. */
  cancelHeld(row: JobRow, note: string, nowMs: number): JobRow {
    const fin = this.row<JobRow>(
      `UPDATE jobs SET status = 'cancelled', finished_at = ?, lease_expires_at = NULL, deadline_at = NULL,
         result = NULL, error = ? WHERE id = ? RETURNING *`,
      [nowMs, note, row.id],
    )!;
    this.event(row, nowMs, row.status, 'cancelled', row.bot_id, note);
    this.insertResult(row, 'cancelled', null, note, nowMs);
    this.exec(`UPDATE bots SET current_job_id = NULL, status = 'idle' WHERE id = ?`, [row.bot_id]);
    return fin;
  }

  /** Takes back the job a bot holds (its current job) as a failed attempt with `reason`. */
  takeBack(botId: string, reason: string, nowMs: number): { row: JobRow; next: JobRow } | null {
    const held = this.row<JobRow>(SQL.heldJob, [botId]);
    return held ? { row: held, next: this.finish(held, planRelease(held, reason), nowMs) } : null;
  }

  /** The result row (the datalake's outbox) of the attempt `row` holds, ended at nowMs. */
  private insertResult(row: JobRow, status: string, resultJson: string | null, error: string | null, nowMs: number) {
    const attempt = Number(row.attempts);
    const started = row.started_at === null ? null : Number(row.started_at);
    this.exec(INSERT_RESULT, [
      `${row.id}:${attempt}`,
      row.id,
      attempt,
      row.bot_id,
      row.type,
      status,
      resultJson,
      error,
      row.created_at,
      row.claimed_at,
      row.started_at,
      nowMs,
      started === null ? null : Math.max(0, nowMs - started),
      utcDay(new Date(nowMs).toISOString()),
    ]);
  }

  /** Claims (and with `start` starts) the next job for a bot that may claim; null when nothing is due or paused. */
  claim(botId: string, nowMs: number, start: boolean): JobRow | null {
    const refusal = claimRefusal(this.row<BotRow>(SQL.botById, [botId]), botId);
    if (refusal) throw refusal;
    if (this.paused()) return null;
    const got = this.row<JobRow>(CLAIM, [
      start ? 'running' : 'claimed',
      botId,
      nowMs,
      start ? nowMs : null,
      nowMs + this.opts.botDownAfterMs,
      start ? 1 : 0,
      nowMs,
      nowMs,
    ]);
    if (!got) return null;
    // A bot that claims is alive: the claim counts as its heartbeat.
    this.exec(`UPDATE bots SET status = 'busy', current_job_id = ?, last_heartbeat_at = ? WHERE id = ?`, [
      got.id,
      nowMs,
      botId,
    ]);
    this.event(got, nowMs, 'pending', 'claimed', botId, null);
    if (start) this.event(got, nowMs, 'claimed', 'running', botId, null);
    return got;
  }

  event(job: JobRow, nowMs: number, from: JobStatus, to: JobStatus, botId: string | null, note: string | null) {
    this.exec(INSERT_EVENT, [job.id, nowMs, from, to, botId, Number(job.attempts), note]);
  }
}

const repeated = new Map<string, string>();
/** `tuple, tuple, …` n times, built once per shape (a chunk of 1,000 rows is 8,000 placeholders). */
function repeat(tuple: string, n: number): string {
  const key = `${tuple}|${n}`;
  let text = repeated.get(key);
  if (text === undefined) {
    if (repeated.size > 100) repeated.clear();
    text = Array.from({ length: n }, () => tuple).join(', ');
    repeated.set(key, text);
  }
  return text;
}
