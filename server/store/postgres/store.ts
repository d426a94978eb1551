/**
 * The store on PostgreSQL, through node-postgres's pool; several servers may share the database.
 * Every change of a job or a bot is one call of a botfleet_* function (migrations/0001_initial.ts),
 * so one statement, one transaction and one round trip. The server first reads the rows and decides
 * (store/rules.ts) as on SQLite; the function applies the decision with updates guarded by what was
 * read, and a job that moved in between is a 409 with nothing written. The common report (a bot
 * completing the attempt it runs) is applied as assumed, without the read: the guard checks it.
 * Reads, settings and the outbox's flags are plain statements.
 */
import pg from 'pg';
import { ConflictError, NotFoundError } from '../../../core/errors';
import { EVENT_NOTES, RELEASE_REASONS, utcDay } from '../../../core/job-state';
import type { Logger } from '../../../core/logger';
import type { Bot, CreateJob, Job, ListJobsOptions } from '../../../core/types';
import { postgresLeadership } from '../../leadership';
import { postgresWakeups } from '../../pg-wakeups';
import { migrateToLatest } from '../migrate';
import { newJobs } from '../new-jobs';
import type { PostgresTarget } from '../open';
import * as q from '../queries';
import { SQL } from '../queries';
import { type BotRow, type JobRow, type ResultRow, toBot, toJob } from '../rows';
import {
  type FinishPlan,
  JobChangedError,
  judgeCancel,
  judgeHandBack,
  judgeReport,
  judgeRetry,
  judgeStart,
  type Judged,
  planFinish,
  planRelease,
  reportCall,
  reportNeedsResult,
  retryMaxAttempts,
  sweepReason,
} from '../rules';
import { readSummary } from '../summary';
import type { CreateResult, FencedCall, FinishedAttempt, Store, StoreOptions, SweepResult } from '../types';
import { MIGRATIONS } from './migrations';
import { asApiError, refusal } from './errors';
import { postgresJobControl } from './job-control';
import { postgresSchedules } from './schedules';

/** Servers starting together on one schema make it and migrate one at a time (a session lock, gone with its connection). */
const MIGRATION_LOCK = 727001;

type Finished = { finished: Job | null; job: Job | null };

/** The store's SQL with `?` placeholders as PostgreSQL's `$1, $2, …` (no `?` is inside a literal). */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

export class PostgresStore implements Store {
  private readonly all: q.All = async (sql, args = []) => (await this.query(numbered(sql), args)).rows as never[];
  private readonly run: q.Run = async (sql, args = []) => (await this.query(numbered(sql), args)).rowCount ?? 0;
  readonly schedules = postgresSchedules(this.all, this.run, this.call.bind(this), () => this.opts);
  readonly control = postgresJobControl(this.all, this.call.bind(this));

  constructor(
    private readonly pool: pg.Pool,
    private readonly target: PostgresTarget,
    private readonly opts: StoreOptions,
  ) {}

  private async query(text: string, args: readonly unknown[]) {
    try {
      return await this.pool.query(text, args as unknown[]);
    } catch (err) {
      throw asApiError(err);
    }
  }

  private async one<T>(sql: string, args: readonly unknown[]): Promise<T | undefined> {
    return (await this.all<T>(sql, args))[0];
  }

  /** The rows of one call of a botfleet_* function. */
  private async call<T>(fn: string, args: readonly unknown[], botId = ''): Promise<T[]> {
    const text = `SELECT * FROM ${fn}(${args.map((_, i) => `$${i + 1}`).join(', ')})`;
    try {
      return (await this.query(text, args)).rows as T[];
    } catch (err) {
      throw refusal(err, botId);
    }
  }

  async migrate(): Promise<void> {
    const { url, schema } = this.target;
    await migrateToLatest(
      {
        client: 'pg',
        connection: { connectionString: url, ...(schema ? { options: `-c search_path=${schema}` } : {}) },
      },
      MIGRATIONS,
      async (knex) => {
        await knex.raw('SELECT pg_advisory_lock(?, hashtext(?))', [MIGRATION_LOCK, schema ?? 'public']);
        if (schema) await knex.raw(`CREATE SCHEMA IF NOT EXISTS ${schema}`); // a plain identifier (parseDatabaseUrl)
      },
    );
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  async ping(): Promise<void> {
    await this.all('SELECT 1');
  }

  leadership(log: Logger) {
    return postgresLeadership(this.target, log);
  }

  wakeups(log: Logger, onWake: (count?: number) => void) {
    return postgresWakeups(this.target, log, onWake);
  }

  // ---------------------------------------------------------------- jobs

  async createJobs(inputs: CreateJob[], nowMs: number): Promise<CreateResult[]> {
    const made = newJobs(inputs, nowMs, this.opts);
    const jobs = made.map(({ values: [id, type, payload, max_attempts, priority, run_at, timeout_ms, key] }) => {
      return { id, type, payload, max_attempts, priority, run_at, timeout_ms, key: key && asStored(key) };
    });
    const open = await this.call<JobRow>('botfleet_create_jobs', [JSON.stringify(jobs), nowMs, EVENT_NOTES.created]);
    const byKey = new Map(open.map((r) => [r.key, r]));
    return made.map(({ job }) => {
      if (job.key === null) return { job, created: true };
      const row = byKey.get(asStored(job.key));
      if (!row) throw new ConflictError(`a job with key "${job.key}" is being changed; retry`);
      return { job: toJob(row), created: row.id === job.id };
    });
  }

  getJob(id: string) {
    return q.getJob(this.all, id);
  }

  listJobs(o: ListJobsOptions) {
    return q.listJobs(this.all, o);
  }

  async claimJob(botId: string, nowMs: number): Promise<Job | null> {
    return (await this.next(botId, null, nowMs, false)).job;
  }

  async finishAndClaim(botId: string, finished: FinishedAttempt | null, nowMs: number): Promise<Finished> {
    if (finished && 'result' in finished) {
      // Assumed: running under this bot at this attempt. Anything else fails the guard and is read and judged below.
      const { jobId: id, attempt, result } = finished;
      const assumed = { id, status: 'running', attempts: attempt, max_attempts: attempt, bot_id: botId } as JobRow;
      try {
        return await this.next(
          botId,
          { row: assumed, plan: planFinish(assumed, { kind: 'completed', result }) },
          nowMs,
        );
      } catch (err) {
        if (!(err instanceof JobChangedError)) throw err;
      }
    }
    if (!finished) return this.next(botId, null, nowMs);
    const j = await this.judge(reportCall(botId, finished), finished);
    if (!('repeat' in j)) return this.next(botId, j, nowMs);
    // The answer to this report was lost: the job it handed out is the one the bot holds.
    const held = await this.one<JobRow>(SQL.heldJob, [botId]);
    return { finished: toJob(j.repeat), job: held ? toJob(held) : (await this.next(botId, null, nowMs)).job };
  }

  async startJob(call: FencedCall, nowMs: number): Promise<Job> {
    const j = judgeStart(await this.one<JobRow>(SQL.jobById, [call.jobId]), call);
    if ('repeat' in j) return toJob(j.repeat);
    const [row] = await this.call<JobRow>('botfleet_start', [call.botId, call.jobId, Number(j.row.attempts), nowMs]);
    return toJob(row);
  }

  async completeJob(call: FencedCall, result: unknown, nowMs: number): Promise<Job> {
    return this.report(call, { result }, nowMs);
  }

  async failJob(call: FencedCall, error: string, nowMs: number): Promise<Job> {
    return this.report(call, { error }, nowMs);
  }

  async releaseJob(call: Required<FencedCall>, nowMs: number): Promise<Job> {
    const row = judgeHandBack(await this.one<JobRow>(SQL.jobById, [call.jobId]), call);
    const args = [call.botId, row.id, row.status, call.attempt, nowMs, RELEASE_REASONS.handedBack];
    return toJob((await this.call<JobRow>('botfleet_hand_back', args))[0]);
  }

  async retryJob(id: string, nowMs: number): Promise<Job> {
    const found = await this.one<JobRow>(SQL.jobById, [id]);
    const holder = found?.key != null ? await this.one<JobRow>(SQL.openJobWithKey, [found.key]) : undefined;
    const row = judgeRetry(found, id, holder?.id);
    const args = [id, row.status, Number(row.attempts), retryMaxAttempts(row), nowMs, EVENT_NOTES.retried];
    return toJob((await this.call<JobRow>('botfleet_retry', args))[0]);
  }

  async cancelJob(id: string, nowMs: number): Promise<Job> {
    const { row, held } = judgeCancel(await this.one<JobRow>(SQL.jobById, [id]), id);
    if (held) {
      const cancel = [row.bot_id, id, row.status, Number(row.attempts), EVENT_NOTES.cancelled, nowMs, dayOf(nowMs)];
      return toJob((await this.call<JobRow>('botfleet_cancel_held', cancel))[0]);
    }
    const args = [id, Number(row.attempts), nowMs, EVENT_NOTES.cancelled];
    return toJob((await this.call<JobRow>('botfleet_cancel', args))[0]);
  }

  // ---------------------------------------------------------------- bots

  async registerBot(input: { id: string; name?: string }, nowMs: number): Promise<{ bot: Bot; created: boolean }> {
    const [inserted] = await this.call<BotRow>('botfleet_register', [input.id, input.name ?? input.id, nowMs]);
    if (inserted) return { bot: toBot(inserted), created: true };
    // A known bot registering again is a new incarnation: what it held, it no longer runs.
    const { args } = await this.heldPlan(input.id, RELEASE_REASONS.botRestarted, nowMs);
    const [bot] = await this.call<BotRow>('botfleet_restart_bot', [input.id, input.name ?? null, ...args]);
    if (!bot) throw new ConflictError(`bot ${input.id} was deleted while it registered; register again`);
    return { bot: toBot(bot), created: false };
  }

  async heartbeat(botId: string, nowMs: number): Promise<Bot> {
    const [bot] = await this.call<BotRow>('botfleet_heartbeat', [botId, nowMs, nowMs + this.opts.botDownAfterMs]);
    if (!bot) throw new NotFoundError(`bot ${botId} is not registered; register again`);
    return toBot(bot);
  }

  listBots() {
    return q.listBots(this.all);
  }

  getBot(id: string) {
    return q.getBot(this.all, id);
  }

  async deleteBot(id: string, nowMs: number): Promise<boolean> {
    const { args } = await this.heldPlan(id, RELEASE_REASONS.botDeleted, nowMs);
    return (await this.call('botfleet_delete_bot', [id, ...args])).length === 1;
  }

  // ---------------------------------------------------------------- leases

  async sweep(nowMs: number): Promise<SweepResult> {
    const out: SweepResult = { botsDown: [], released: [] };
    const reason = RELEASE_REASONS.leaseExpired;
    const cutoff = nowMs - this.opts.botDownAfterMs;
    for (const { id } of await this.all<{ id: string }>(SQL.silentBots, [cutoff])) {
      const { held, plan, args } = await this.heldPlan(id, reason, nowMs);
      const down = await skipIfMoved(this.call('botfleet_bot_down', [id, cutoff, ...args]));
      if (!down || down.length === 0) continue; // it spoke meanwhile
      out.botsDown.push(id);
      if (held && plan) out.released.push({ jobId: held.id, botId: id, to: plan.next as 'pending' | 'failed', reason });
    }
    for (const row of await this.all<JobRow>(SQL.overdueHeldJobs, [nowMs, nowMs])) {
      const why = sweepReason(row, nowMs)!;
      const plan = planRelease(row, why);
      if (await skipIfMoved(this.call('botfleet_finish', finishArgs(row, plan, nowMs))))
        out.released.push({ jobId: row.id, botId: row.bot_id, to: plan.next as 'pending' | 'failed', reason: why });
    }
    return out;
  }

  // ---------------------------------------------------------------- queue, metrics, scheduling

  nextRunAt(nowMs: number) {
    return q.nextRunAt(this.all, nowMs);
  }

  async isPaused(): Promise<boolean> {
    return (await this.one<{ value: string }>(SQL.paused, []))?.value === 'true';
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.run(SQL.setPaused, [String(paused)]);
  }

  summary(nowMs: number) {
    return readSummary(this.all, nowMs);
  }

  async runOncePerPeriod(name: string, intervalMs: number, nowMs: number, fn: () => Promise<void>): Promise<boolean> {
    if ((await this.run(SQL.takePeriod, [`period:${name}`, String(Math.floor(nowMs / intervalMs))])) !== 1)
      return false;
    await fn();
    return true;
  }

  pruneResultsBefore(day: string): Promise<number> {
    return this.run(SQL.pruneResults, [day]);
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

  // ---------------------------------------------------------------- reads before a call

  private async judge(call: FencedCall, finished: { result: unknown } | { error: string }): Promise<Judged> {
    const current = await this.one<JobRow>(SQL.jobById, [call.jobId]);
    const prior = reportNeedsResult(call, finished)
      ? await this.one<ResultRow>(SQL.resultById, [`${call.jobId}:${call.attempt}`])
      : undefined;
    return judgeReport(current, prior, call, finished);
  }

  private async report(call: FencedCall, finished: { result: unknown } | { error: string }, nowMs: number) {
    const j = await this.judge(call, finished);
    if ('repeat' in j) return toJob(j.repeat);
    return toJob((await this.call<JobRow>('botfleet_finish', finishArgs(j.row, j.plan, nowMs)))[0]);
  }

  /** One call of botfleet_next: end the judged attempt (if any), then claim (and with `start` start) the next job. */
  private async next(
    botId: string,
    apply: { row: JobRow; plan: FinishPlan } | null,
    nowMs: number,
    start = true,
  ): Promise<Finished> {
    const plan = apply
      ? [apply.row.id, apply.row.status, Number(apply.row.attempts), apply.plan.next, apply.plan.resultJson]
      : [null, null, null, null, null];
    const [error, note] = apply ? [apply.plan.error, apply.plan.note] : [null, null];
    const lease = nowMs + this.opts.botDownAfterMs;
    const rows = await this.call<JobRow>(
      'botfleet_next',
      [botId, nowMs, lease, start, ...plan, error, note, dayOf(nowMs)],
      botId,
    );
    const [finished, claimed] = apply ? rows : [null, rows[0]];
    return { finished: finished ? toJob(finished) : null, job: claimed ? toJob(claimed) : null };
  }

  /** The job a bot holds and the arguments that take it back with `reason` (all null when it holds none). */
  private async heldPlan(botId: string, reason: string, nowMs: number) {
    const held = await this.one<JobRow>(SQL.heldJob, [botId]);
    const plan = held ? planRelease(held, reason) : null;
    const job = held ? [held.id, held.status, Number(held.attempts), plan!.next] : [null, null, null, null];
    return { held, plan, args: [...job, reason, nowMs, dayOf(nowMs)] };
  }
}

const dayOf = (nowMs: number) => utcDay(new Date(nowMs).toISOString());

/**
 * A text as PostgreSQL stores it: a lone UTF-16 surrogate becomes U+FFFD, as node-postgres encodes
 * every other parameter (in a JSON document PostgreSQL would refuse its escape).
 */
const asStored = (s: string) =>
  s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

/** botfleet_finish's arguments: p_bot, p_job, p_from, p_attempt, p_next, p_result, p_error, p_note, p_now, p_day. */
function finishArgs(row: JobRow, plan: FinishPlan, nowMs: number): unknown[] {
  const { next, resultJson, error, note } = plan;
  return [row.bot_id, row.id, row.status, Number(row.attempts), next, resultJson, error, note, nowMs, dayOf(nowMs)];
}

/** A sweep's call: false when the job or bot moved meanwhile (its bot reported or spoke), nothing to take back. */
async function skipIfMoved<T>(call: Promise<T>): Promise<T | false> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof JobChangedError) return false;
    throw err;
  }
}
