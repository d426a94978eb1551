/**
 * The store on a SQLite file, through better-sqlite3. This process is the file's only writer
 * (file.ts holds a lock) and better-sqlite3 runs statements synchronously, so every call reads,
 * decides (store/rules.ts) and writes inside one synchronous transaction (steps.ts): nothing can move
 * a row between the read and the write, and no two calls interleave.
 */
import type Database from 'better-sqlite3';
import { NotFoundError } from '../../../core/errors';
import { EVENT_NOTES, RELEASE_REASONS } from '../../../core/job-state';
import type { Bot, CreateJob, Job, ListJobsOptions } from '../../../core/types';
import { alwaysLeader } from '../../leadership';
import { soleServer } from '../../pg-wakeups';
import { migrateToLatest } from '../migrate';
import { newJobs } from '../new-jobs';
import * as q from '../queries';
import { SQL } from '../queries';
import { type BotRow, type JobRow, toBot, toJob } from '../rows';
import {
  judgeCancel,
  judgeHandBack,
  judgeRetry,
  judgeStart,
  planRelease,
  reportCall,
  retryMaxAttempts,
  sweepReason,
} from '../rules';
import { readSummary } from '../summary';
import type { CreateResult, FencedCall, FinishedAttempt, Store, StoreOptions, SweepResult } from '../types';
import { MIGRATIONS } from './migrations';
import { sqliteJobControl } from './job-control';
import { sqliteSchedules } from './schedules';
import { SqliteSteps } from './steps';

export class SqliteStore implements Store {
  readonly steps: SqliteSteps;
  private readonly tx: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly all: q.All;
  private readonly run: q.Run;
  readonly schedules;
  readonly control;

  constructor(
    db: Database.Database,
    private readonly file: string,
    private readonly opts: StoreOptions,
    private readonly onClose: () => Promise<void>,
  ) {
    const s = (this.steps = new SqliteSteps(db, opts));
    this.tx = db.transaction((fn: () => unknown) => fn());
    this.all = async (sql, args) => s.rows(sql, args);
    this.run = async (sql, args) => s.exec(sql, args);
    this.schedules = sqliteSchedules(this.all, this.run, s, (fn) => this.atomically(fn), opts);
    this.control = sqliteJobControl(this.all, (fn) => this.atomically(fn));
  }

  /** Runs fn in one transaction (BEGIN IMMEDIATE … COMMIT; a throw rolls it back). */
  private atomically<T>(fn: (s: SqliteSteps) => T): T {
    return this.tx.immediate(() => fn(this.steps)) as T;
  }

  async migrate(): Promise<void> {
    await migrateToLatest(
      { client: 'better-sqlite3', connection: { filename: this.file }, useNullAsDefault: true },
      MIGRATIONS,
    );
  }

  close(): Promise<void> {
    return this.onClose();
  }

  async ping(): Promise<void> {
    this.steps.row('SELECT 1');
  }

  leadership() {
    return alwaysLeader();
  }

  wakeups() {
    return soleServer;
  }

  // ---------------------------------------------------------------- jobs

  async createJobs(inputs: CreateJob[], nowMs: number): Promise<CreateResult[]> {
    const made = newJobs(inputs, nowMs, this.opts);
    return this.atomically((s) => s.insertJobs(made, nowMs));
  }

  getJob(id: string) {
    return q.getJob(this.all, id);
  }

  listJobs(o: ListJobsOptions) {
    return q.listJobs(this.all, o);
  }

  async claimJob(botId: string, nowMs: number): Promise<Job | null> {
    return this.atomically((s) => {
      const got = s.claim(botId, nowMs, false);
      return got ? toJob(got) : null;
    });
  }

  async finishAndClaim(botId: string, finished: FinishedAttempt | null, nowMs: number) {
    return this.atomically((s) => {
      let done: Job | null = null;
      if (finished) {
        const j = s.judge(reportCall(botId, finished), finished);
        if ('repeat' in j) {
          // The answer to this report was lost: the job it handed out is the one the bot holds.
          done = toJob(j.repeat);
          const held = s.row<JobRow>(SQL.heldJob, [botId]);
          if (held) return { finished: done, job: toJob(held) };
        } else done = toJob(s.finish(j.row, j.plan, nowMs));
      }
      const got = s.claim(botId, nowMs, true);
      return { finished: done, job: got ? toJob(got) : null };
    });
  }

  async startJob(call: FencedCall, nowMs: number): Promise<Job> {
    return this.atomically((s) => {
      const j = judgeStart(s.row<JobRow>(SQL.jobById, [call.jobId]), call);
      if ('repeat' in j) return toJob(j.repeat);
      const started = s.row<JobRow>(
        `UPDATE jobs SET status = 'running', started_at = ?, deadline_at = CASE WHEN timeout_ms > 0 THEN ? + timeout_ms END
         WHERE id = ? RETURNING *`,
        [nowMs, nowMs, call.jobId],
      )!;
      s.event(started, nowMs, 'claimed', 'running', call.botId, null);
      return toJob(started);
    });
  }

  async completeJob(call: FencedCall, result: unknown, nowMs: number): Promise<Job> {
    return this.atomically((s) => s.report(call, { result }, nowMs));
  }

  async failJob(call: FencedCall, error: string, nowMs: number): Promise<Job> {
    return this.atomically((s) => s.report(call, { error }, nowMs));
  }

  async releaseJob(call: Required<FencedCall>, nowMs: number): Promise<Job> {
    return this.atomically((s) => {
      const row = judgeHandBack(s.row<JobRow>(SQL.jobById, [call.jobId]), call);
      const back = s.row<JobRow>(
        `UPDATE jobs SET status = 'pending', attempts = attempts - 1, bot_id = NULL, started_at = NULL,
           lease_expires_at = NULL, deadline_at = NULL WHERE id = ? RETURNING *`,
        [row.id],
      )!;
      s.event(row, nowMs, row.status, 'pending', call.botId, RELEASE_REASONS.handedBack);
      s.exec(`UPDATE bots SET current_job_id = NULL, status = 'idle' WHERE id = ?`, [call.botId]);
      return toJob(back);
    });
  }

  async retryJob(id: string, nowMs: number): Promise<Job> {
    return this.atomically((s) => {
      const found = s.row<JobRow>(SQL.jobById, [id]);
      const holder = found?.key != null ? s.row<JobRow>(SQL.openJobWithKey, [found.key]) : undefined;
      const row = judgeRetry(found, id, holder?.id);
      const next = s.row<JobRow>(
        `UPDATE jobs SET status = 'pending', bot_id = NULL, max_attempts = ?, finished_at = NULL, error = NULL,
           result = NULL WHERE id = ? RETURNING *`,
        [retryMaxAttempts(row), id],
      )!;
      s.event(next, nowMs, row.status, 'pending', null, EVENT_NOTES.retried);
      return toJob(next);
    });
  }

  async cancelJob(id: string, nowMs: number): Promise<Job> {
    return this.atomically((s) => {
      const { row, held } = judgeCancel(s.row<JobRow>(SQL.jobById, [id]), id);
      if (held) return toJob(s.cancelHeld(row, EVENT_NOTES.cancelled, nowMs));
      const next = s.row<JobRow>(`UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? RETURNING *`, [
        nowMs,
        id,
      ])!;
      s.event(next, nowMs, 'pending', 'cancelled', null, EVENT_NOTES.cancelled);
      return toJob(next);
    });
  }

  // ---------------------------------------------------------------- bots

  async registerBot(input: { id: string; name?: string }, nowMs: number): Promise<{ bot: Bot; created: boolean }> {
    return this.atomically((s) => {
      const inserted = s.row<BotRow>(
        `INSERT INTO bots (id, name, status, current_job_id, registered_at, last_heartbeat_at)
         VALUES (?, ?, 'idle', NULL, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING *`,
        [input.id, input.name ?? input.id, nowMs, nowMs],
      );
      if (inserted) return { bot: toBot(inserted), created: true };
      // A known bot registering again is a new incarnation: what it held, it no longer runs.
      s.takeBack(input.id, RELEASE_REASONS.botRestarted, nowMs);
      const bot = s.row<BotRow>(
        `UPDATE bots SET status = 'idle', current_job_id = NULL, last_heartbeat_at = ?, name = COALESCE(?, name)
         WHERE id = ? RETURNING *`,
        [nowMs, input.name ?? null, input.id],
      )!;
      return { bot: toBot(bot), created: false };
    });
  }

  async heartbeat(botId: string, nowMs: number): Promise<Bot> {
    return this.atomically((s) => {
      const bot = s.row<BotRow>(
        `UPDATE bots SET last_heartbeat_at = ?, status = CASE WHEN current_job_id IS NULL THEN 'idle' ELSE 'busy' END
         WHERE id = ? RETURNING *`,
        [nowMs, botId],
      );
      if (!bot) throw new NotFoundError(`bot ${botId} is not registered; register again`);
      if (bot.current_job_id !== null)
        s.exec('UPDATE jobs SET lease_expires_at = ? WHERE id = ?', [
          nowMs + this.opts.botDownAfterMs,
          bot.current_job_id,
        ]);
      return toBot(bot);
    });
  }

  listBots() {
    return q.listBots(this.all);
  }

  getBot(id: string) {
    return q.getBot(this.all, id);
  }

  async deleteBot(id: string, nowMs: number): Promise<boolean> {
    return this.atomically((s) => {
      s.takeBack(id, RELEASE_REASONS.botDeleted, nowMs);
      return s.exec('DELETE FROM bots WHERE id = ?', [id]) === 1;
    });
  }

  // ---------------------------------------------------------------- leases

  async sweep(nowMs: number): Promise<SweepResult> {
    return this.atomically((s) => {
      const out: SweepResult = { botsDown: [], released: [] };
      const record = (row: JobRow, next: JobRow, reason: string) =>
        out.released.push({ jobId: row.id, botId: row.bot_id, to: next.status as 'pending' | 'failed', reason });
      for (const { id } of s.rows<{ id: string }>(SQL.silentBots, [nowMs - this.opts.botDownAfterMs])) {
        const taken = s.takeBack(id, RELEASE_REASONS.leaseExpired, nowMs);
        s.exec(`UPDATE bots SET status = 'down' WHERE id = ?`, [id]);
        out.botsDown.push(id);
        if (taken) record(taken.row, taken.next, RELEASE_REASONS.leaseExpired);
      }
      for (const row of s.rows<JobRow>(SQL.overdueHeldJobs, [nowMs, nowMs])) {
        const reason = sweepReason(row, nowMs)!;
        record(row, s.finish(row, planRelease(row, reason), nowMs), reason);
      }
      return out;
    });
  }

  // ---------------------------------------------------------------- queue, metrics, scheduling

  nextRunAt(nowMs: number) {
    return q.nextRunAt(this.all, nowMs);
  }

  async isPaused(): Promise<boolean> {
    return this.steps.paused();
  }

  async setPaused(paused: boolean): Promise<void> {
    this.steps.setPaused(paused);
  }

  summary(nowMs: number) {
    return readSummary(this.all, nowMs);
  }

  async runOncePerPeriod(name: string, intervalMs: number, nowMs: number, fn: () => Promise<void>): Promise<boolean> {
    if (this.steps.exec(SQL.takePeriod, [`period:${name}`, String(Math.floor(nowMs / intervalMs))]) !== 1) return false;
    await fn();
    return true;
  }

  async pruneResultsBefore(day: string): Promise<number> {
    return this.steps.exec(SQL.pruneResults, [day]);
  }

  // ---------------------------------------------------------------- the datalake's outbox

  fetchUnwritten(limit: number) {
    return q.fetchUnwritten(this.all, limit);
  }
  markWritten(seqs: number[]) {
    return q.markWritten(this.run, seqs);
  }
  resultsForDay(day: string) {
    return q.resultsForDay(this.all, day);
  }
  countForDay(day: string) {
    return q.countForDay(this.all, day);
  }
  days() {
    return q.days(this.all);
  }
}
