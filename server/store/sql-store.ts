/**
 * The store on Knex, for SQLite and PostgreSQL alike. The dialects differ only in the claim's
 * `FOR UPDATE SKIP LOCKED` and in the migrations; everything else is the same SQL.
 */
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors';
import { RELEASE_REASONS, utcDay } from '../../core/job-state';
import type { Bot, CreateJob, Job, ListJobsOptions, Page, Summary } from '../../core/types';
import type { OutboxRecord } from '../../datalake/types';
import {
  type EventInput,
  fencedRow,
  finishAttempt,
  getJobRow,
  guardedUpdate,
  HELD_SQL,
  heldBy,
  insertEvents,
  insertJobs,
  type FinishPlan,
  type Outcome,
  planFinish,
  releaseBotJobs,
} from './job-writes';
import { migrate } from './migrations';
import { type BotRow, type EventRow, type JobRow, type ResultRow, toBot, toEvent, toJob, toResultLine } from './rows';
import { chunks, type Executor, one, placeholders, retryRolledBack, run } from './sql';
import type {
  BotWithJobs,
  CreateResult,
  FencedCall,
  FinishedAttempt,
  JobWithEvents,
  Store,
  StoreOptions,
  SweepResult,
} from './types';
import { compile, knexFor } from './knex-sql';
import { readSummary } from './summary';

/**
 * The sweeper's lookups. Claimed and running jobs are at most one per bot, so jobs_status_seq finds
 * them without an index of their own; the bots table is read whole, one row per bot (migration 4).
 */
export const SWEEP_SQL = {
  silentBots: `SELECT id FROM bots WHERE status <> 'down' AND last_heartbeat_at < ?`,
  expiredLeases: `SELECT * FROM jobs WHERE status IN ('claimed', 'running') AND lease_expires_at < ? LIMIT 1000`,
  overdueJobs: `SELECT * FROM jobs WHERE status = 'running' AND deadline_at IS NOT NULL AND deadline_at < ? LIMIT 1000`,
};

const encodeCursor = (seq: number): string => Buffer.from(`s:${seq}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const m = /^s:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m)
    throw new ValidationError('cursor is not one this server gave out', [
      { path: 'cursor', message: 'invalid cursor' },
    ]);
  return Number(m[1]);
}

/** The earliest future runAt of a pending job: one step into jobs_delayed (migration 5). */
export function nextRunAtSql(dialect: 'sqlite' | 'postgres'): string {
  return `SELECT run_at FROM jobs ${dialect === 'sqlite' ? 'INDEXED BY jobs_delayed ' : ''}WHERE status = 'pending' AND run_at IS NOT NULL AND run_at > ?
    ORDER BY run_at LIMIT 1`;
}

export class SqlStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';

  constructor(
    /** The executor every statement goes through (SQLite or PostgreSQL). */
    readonly db: Executor,
    private readonly opts: StoreOptions,
    private readonly onClose: () => Promise<void>,
  ) {
    this.dialect = db.dialect;
  }

  async migrate(): Promise<void> {
    await migrate(this.db);
  }

  async close(): Promise<void> {
    await this.onClose();
  }

  async ping(): Promise<void> {
    await this.db.run('SELECT 1');
  }

  private tx<T>(fn: (trx: Executor) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  // ---------------------------------------------------------------- jobs

  async createJobs(inputs: CreateJob[], nowMs: number): Promise<CreateResult[]> {
    return this.tx((trx) => insertJobs(trx, inputs, nowMs, this.opts));
  }

  async getJob(id: string): Promise<JobWithEvents | null> {
    const row = await getJobRow(this.db, id);
    if (!row) return null;
    const events = (await run<EventRow>(this.db, 'SELECT * FROM job_events WHERE job_id = ? ORDER BY seq', [id])).rows;
    return { ...toJob(row), events: events.map(toEvent) };
  }

  async listJobs(o: ListJobsOptions): Promise<Page<Job>> {
    // The one query whose shape depends on the request: built with Knex, run by the executor.
    let q = knexFor(this.dialect)('jobs').select('*');
    if (o.status) q = q.where('status', o.status);
    if (o.botId) q = q.where('bot_id', o.botId);
    if (o.type) q = q.where('type', o.type);
    if (o.cursor) q = q.where('seq', '<', decodeCursor(o.cursor));
    const { sql, bindings } = compile(q.orderBy('seq', 'desc').limit(o.limit + 1));
    const rows = (await run<JobRow>(this.db, sql, bindings)).rows;
    const more = rows.length > o.limit;
    const items = rows.slice(0, o.limit);
    return { items: items.map(toJob), nextCursor: more ? encodeCursor(Number(items[items.length - 1].seq)) : null };
  }

  async claimJob(botId: string, nowMs: number): Promise<Job | null> {
    if (this.dialect === 'postgres')
      return retryRolledBack(async () => (await this.callNext(botId, null, false, nowMs)).job);
    return this.tx(async (trx) => {
      const row = await this.claimIn(trx, botId, nowMs, false);
      return row ? toJob(row) : null;
    });
  }

  async finishAndClaim(
    botId: string,
    finished: FinishedAttempt | null,
    nowMs: number,
  ): Promise<{ finished: Job | null; job: Job | null }> {
    if (this.dialect === 'postgres') return retryRolledBack(() => this.finishAndClaimPg(botId, finished, nowMs));
    return this.tx(async (trx) => {
      let done: Job | null = null;
      if (finished) {
        const report = await this.readReport(
          trx,
          { jobId: finished.jobId, botId, attempt: finished.attempt },
          finished,
        );
        done = toJob(
          'repeat' in report
            ? report.repeat
            : await finishAttempt(trx, this.dialect, report.row, report.outcome, nowMs),
        );
        const held = 'repeat' in report ? await this.heldJob(trx, botId) : undefined;
        if (held) return { finished: done, job: toJob(held) };
      }
      const row = await this.claimIn(trx, botId, nowMs, true);
      return { finished: done, job: row ? toJob(row) : null };
    });
  }

  /**
   * PostgreSQL: the reported job is read and judged here (fence, next status), then one call of the
   * botfleet_next function (migrations.ts) applies the report with a guarded update and claims-and-
   * starts the next job: two round trips and one COMMIT instead of ~15 round trips in a transaction.
   * A job that moved between the read and the call fails the guard: 409, nothing written.
   */
  private async finishAndClaimPg(
    botId: string,
    finished: FinishedAttempt | null,
    nowMs: number,
  ): Promise<{ finished: Job | null; job: Job | null }> {
    if (finished && 'result' in finished) {
      // The common report: a bot completing the running attempt it was handed. Assumed as read
      // (running, this bot, this attempt; core/job-state allows running → completed) and applied
      // by the guard in one round trip. Anything else fails the guard and takes the full path
      // below: read, judge, apply — the same answer, one round trip more.
      const assumed = {
        id: finished.jobId,
        status: 'running',
        attempts: finished.attempt,
        max_attempts: finished.attempt,
      } as JobRow;
      const plan = planFinish(assumed, { kind: 'completed', result: finished.result });
      try {
        return await this.callNext(botId, { row: assumed, plan }, true, nowMs);
      } catch (err) {
        if (!(err instanceof JobChangedError)) throw err;
      }
    }
    const report = finished
      ? await this.readReport(this.db, { jobId: finished.jobId, botId, attempt: finished.attempt }, finished)
      : null;
    if (report && 'repeat' in report) {
      const held = await this.heldJob(this.db, botId);
      return {
        finished: toJob(report.repeat),
        job: held ? toJob(held) : (await this.callNext(botId, null, true, nowMs)).job,
      };
    }
    return this.callNext(
      botId,
      report ? { row: report.row, plan: planFinish(report.row, report.outcome) } : null,
      true,
      nowMs,
    );
  }

  /** One call of botfleet_next: apply a judged report (if any), then claim (and start) the next job. */
  private async callNext(
    botId: string,
    apply: { row: JobRow; plan: FinishPlan } | null,
    start: boolean,
    nowMs: number,
  ): Promise<{ finished: Job | null; job: Job | null }> {
    let rows: JobRow[];
    try {
      rows = (
        await run<JobRow>(this.db, 'SELECT * FROM botfleet_next(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
          botId,
          nowMs,
          nowMs + this.opts.botDownAfterMs,
          start,
          apply?.row.id ?? null,
          apply?.row.status ?? null,
          apply ? Number(apply.row.attempts) : null,
          apply?.plan.next ?? null,
          apply?.plan.resultJson ?? null,
          apply?.plan.error ?? null,
          apply?.plan.note ?? null,
          utcDay(new Date(nowMs).toISOString()),
        ])
      ).rows;
    } catch (err) {
      throw refusalFromFunction(err, botId, apply?.row.id ?? '');
    }
    const finished = apply ? rows[0] : undefined;
    const claimed = apply ? rows[1] : rows[0];
    return { finished: finished ? toJob(finished) : null, job: claimed ? toJob(claimed) : null };
  }

  /**
   * The job a bot holds. Asked when a report is repeated: the bot lost the answer to the first one,
   * so the job that answer handed out is the one it holds, and it gets it again rather than a 409.
   */
  private async heldJob(db: Executor, botId: string): Promise<JobRow | undefined> {
    return one<JobRow>(
      db,
      `SELECT jobs.* FROM bots JOIN jobs ON jobs.id = bots.current_job_id
       WHERE bots.id = ? AND bots.status <> 'down' AND jobs.status IN ('claimed', 'running') AND ${heldBy('jobs.bot_id')} = bots.id`,
      [botId],
    );
  }

  /**
   * Reads a reported job and checks the fence (404 unknown, 409 not this bot's attempt). A report
   * repeated after a lost answer (the same bot, attempt and outcome already recorded) is `repeat`:
   * answered as before, nothing written twice.
   */
  private async readReport(
    db: Executor,
    call: FencedCall,
    finished: { result: unknown } | { error: string },
  ): Promise<{ repeat: JobRow } | { row: JobRow; outcome: Outcome }> {
    const botId = call.botId;
    const current = await getJobRow(db, call.jobId);
    const sameAttempt = (r: JobRow) =>
      r.bot_id === botId && (call.attempt ?? Number(r.attempts)) === Number(r.attempts);
    if ('error' in finished) {
      if (current && call.attempt !== undefined) {
        const prior = await one<ResultRow>(db, 'SELECT * FROM results WHERE result_id = ?', [
          `${call.jobId}:${call.attempt}`,
        ]);
        if (prior && prior.status === 'failed' && prior.bot_id === botId && prior.error === finished.error)
          return { repeat: current };
      }
      const row = await fencedRow(db, call, ['claimed', 'running'], 'failed', current ?? null);
      return { row, outcome: { kind: 'failed', error: finished.error, note: null } };
    }
    if (current && current.status === 'completed' && sameAttempt(current)) return { repeat: current };
    const row = await fencedRow(db, call, ['claimed', 'running'], 'completed', current ?? null);
    return { row, outcome: { kind: 'completed', result: finished.result } };
  }

  /**
   * The claim on SQLite (PostgreSQL's is botfleet_next, migrations.ts): one UPDATE picks and takes
   * the highest-priority, oldest claimable job and starts a new attempt; with `start` the job is
   * running at once (claim-and-start in one step, two events).
   */
  private async claimIn(trx: Executor, botId: string, nowMs: number, start: boolean): Promise<JobRow | null> {
    const bot = await one<BotRow>(trx, 'SELECT * FROM bots WHERE id = ?', [botId]);
    if (!bot) throw botRefusal('bot_unknown', botId, '');
    if (bot.status === 'down') throw botRefusal('bot_down', botId, '');
    if (bot.current_job_id) throw botRefusal('bot_busy', botId, bot.current_job_id);
    if (await this.pausedIn(trx)) return null;
    // SQLite's planner would otherwise pick jobs_status_seq and sort every pending job per claim.
    const claimed = await one<JobRow>(
      trx,
      `UPDATE jobs SET status = ?, bot_id = ?, attempts = attempts + 1, claimed_at = ?, started_at = ?,
         finished_at = NULL, lease_expires_at = ?, deadline_at = CASE WHEN ? = 1 AND timeout_ms > 0 THEN ? + timeout_ms ELSE NULL END,
         result = NULL
       WHERE seq = (SELECT seq FROM jobs INDEXED BY jobs_claimable WHERE status = 'pending' AND (run_at IS NULL OR run_at <= ?)
                    ORDER BY priority DESC, seq LIMIT 1)
         AND status = 'pending'
       RETURNING *`,
      [
        start ? 'running' : 'claimed',
        botId,
        nowMs,
        start ? nowMs : null,
        nowMs + this.opts.botDownAfterMs,
        start ? 1 : 0,
        nowMs,
        nowMs,
      ],
    );
    if (!claimed) return null;
    // A bot that claims is alive: the claim counts as a heartbeat (a bot busy with jobs that take
    // less than a heartbeat interval, or a client that sends none, is not marked down).
    const took = await run(
      trx,
      `UPDATE bots SET status = 'busy', current_job_id = ?, last_heartbeat_at = ? WHERE id = ? AND current_job_id IS NULL AND status <> 'down'`,
      [claimed.id, nowMs, botId],
    );
    if (took.changes !== 1) throw new ConflictError(`bot ${botId} already holds a job`, 'bot_busy');
    const attempt = Number(claimed.attempts);
    const events: EventInput[] = [
      { jobId: claimed.id, at: nowMs, from: 'pending', to: 'claimed', botId, attempt, note: null },
    ];
    if (start)
      events.push({ jobId: claimed.id, at: nowMs, from: 'claimed', to: 'running', botId, attempt, note: null });
    await insertEvents(trx, events);
    return claimed;
  }

  async startJob(call: FencedCall, nowMs: number): Promise<Job> {
    return this.tx(async (trx) => {
      const current = await getJobRow(trx, call.jobId);
      // Repeated start after a lost response: same answer.
      if (
        current &&
        current.status === 'running' &&
        current.bot_id === call.botId &&
        (call.attempt ?? Number(current.attempts)) === Number(current.attempts)
      ) {
        return toJob(current);
      }
      const row = await fencedRow(trx, call, ['claimed'], 'started', current ?? null);
      const timeout = Number(row.timeout_ms);
      const next = await guardedUpdate(trx, row, {
        status: 'running',
        started_at: nowMs,
        deadline_at: timeout > 0 ? nowMs + timeout : null,
      });
      await insertEvents(trx, [
        {
          jobId: row.id,
          at: nowMs,
          from: 'claimed',
          to: 'running',
          botId: call.botId,
          attempt: Number(row.attempts),
          note: null,
        },
      ]);
      return toJob(next);
    });
  }

  async completeJob(call: FencedCall, result: unknown, nowMs: number): Promise<Job> {
    return this.tx(async (trx) => {
      const report = await this.readReport(trx, call, { result });
      return toJob(
        'repeat' in report ? report.repeat : await finishAttempt(trx, this.dialect, report.row, report.outcome, nowMs),
      );
    });
  }

  async failJob(call: FencedCall, error: string, nowMs: number): Promise<Job> {
    return this.tx(async (trx) => {
      const report = await this.readReport(trx, call, { error });
      return toJob(
        'repeat' in report ? report.repeat : await finishAttempt(trx, this.dialect, report.row, report.outcome, nowMs),
      );
    });
  }

  async retryJob(id: string, nowMs: number): Promise<Job> {
    return this.tx(async (trx) => {
      const row = await getJobRow(trx, id);
      if (!row) throw new NotFoundError(`job ${id} does not exist`);
      if (row.status !== 'failed' && row.status !== 'cancelled') {
        throw new ConflictError(
          `job ${id} is ${row.status}; only failed or cancelled jobs can be retried`,
          'not_retryable',
        );
      }
      if (row.key !== null) {
        const open = await one<{ id: string }>(
          trx,
          `SELECT id FROM jobs WHERE key = ? AND status IN ('pending', 'claimed', 'running')`,
          [row.key],
        );
        if (open)
          throw new ConflictError(
            `job ${id} has key "${row.key}", which job ${open.id} holds now; retry that one or wait until it finishes`,
            'key_in_use',
          );
      }
      // One more attempt; attempts never go back, so every attempt keeps its own result line.
      const next = await guardedUpdate(trx, row, {
        status: 'pending',
        bot_id: null,
        max_attempts: Math.max(Number(row.max_attempts), Number(row.attempts) + 1),
        finished_at: null,
        error: null,
        result: null,
      });
      await insertEvents(trx, [
        {
          jobId: id,
          at: nowMs,
          from: row.status,
          to: 'pending',
          botId: null,
          attempt: Number(row.attempts),
          note: 'retried by admin',
        },
      ]);
      return toJob(next);
    });
  }

  async cancelJob(id: string, nowMs: number): Promise<Job> {
    return this.tx(async (trx) => {
      const row = await getJobRow(trx, id);
      if (!row) throw new NotFoundError(`job ${id} does not exist`);
      if (row.status !== 'pending')
        throw new ConflictError(`job ${id} is ${row.status}; only pending jobs can be cancelled`, 'not_cancellable');
      const next = await guardedUpdate(trx, row, { status: 'cancelled', finished_at: nowMs });
      await insertEvents(trx, [
        {
          jobId: id,
          at: nowMs,
          from: 'pending',
          to: 'cancelled',
          botId: null,
          attempt: Number(row.attempts),
          note: 'cancelled by admin',
        },
      ]);
      return toJob(next);
    });
  }

  // ---------------------------------------------------------------- bots

  async registerBot(input: { id: string; name?: string }, nowMs: number): Promise<{ bot: Bot; created: boolean }> {
    return this.tx(async (trx) => {
      const inserted = await one<BotRow>(
        trx,
        `INSERT INTO bots (id, name, status, current_job_id, registered_at, last_heartbeat_at, jobs_completed, jobs_failed)
         VALUES (?, ?, 'idle', NULL, ?, ?, 0, 0) ON CONFLICT (id) DO NOTHING RETURNING *`,
        [input.id, input.name ?? input.id, nowMs, nowMs],
      );
      if (inserted) return { bot: toBot(inserted), created: true };
      // A known bot registering again is a new incarnation: whatever it held, it no longer runs.
      await releaseBotJobs(trx, this.dialect, input.id, 'bot restarted', nowMs);
      const bot = await one<BotRow>(
        trx,
        `UPDATE bots SET status = 'idle', current_job_id = NULL, last_heartbeat_at = ?, name = COALESCE(?, name) WHERE id = ? RETURNING *`,
        [nowMs, input.name ?? null, input.id],
      );
      return { bot: toBot(bot!), created: false };
    });
  }

  async heartbeat(botId: string, nowMs: number): Promise<Bot> {
    return this.tx(async (trx) => {
      const bot = await one<BotRow>(
        trx,
        `UPDATE bots SET last_heartbeat_at = ?,
           status = CASE WHEN current_job_id IS NULL THEN 'idle' ELSE 'busy' END
         WHERE id = ? RETURNING *`,
        [nowMs, botId],
      );
      if (!bot) throw new NotFoundError(`bot ${botId} is not registered; register again`);
      if (bot.current_job_id) {
        await run(trx, HELD_SQL.extendLease, [nowMs + this.opts.botDownAfterMs, botId]);
      }
      return toBot(bot);
    });
  }

  async listBots(): Promise<Bot[]> {
    const rows = (await run<BotRow>(this.db, 'SELECT * FROM bots ORDER BY registered_at DESC, id')).rows;
    return rows.map(toBot);
  }

  async getBot(id: string): Promise<BotWithJobs | null> {
    const bot = await one<BotRow>(this.db, 'SELECT * FROM bots WHERE id = ?', [id]);
    if (!bot) return null;
    const jobs = (await run<JobRow>(this.db, 'SELECT * FROM jobs WHERE bot_id = ? ORDER BY seq DESC LIMIT 20', [id]))
      .rows;
    const lost = (
      await run<EventRow>(
        this.db,
        `SELECT * FROM job_events WHERE bot_id = ? AND note IS NOT NULL AND from_status IN ('claimed', 'running')
           AND to_status IN ('pending', 'failed') ORDER BY seq DESC LIMIT 20`,
        [id],
      )
    ).rows;
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

  async deleteBot(id: string, nowMs: number): Promise<boolean> {
    return this.tx(async (trx) => {
      await releaseBotJobs(trx, this.dialect, id, RELEASE_REASONS.botDeleted, nowMs);
      return (await run(trx, 'DELETE FROM bots WHERE id = ?', [id])).changes === 1;
    });
  }

  // ---------------------------------------------------------------- leases

  async sweep(nowMs: number): Promise<SweepResult> {
    const out: SweepResult = { botsDown: [], released: [] };
    const record = (pairs: { row: JobRow; next: JobRow }[], reason: string) => {
      for (const p of pairs)
        out.released.push({ jobId: p.row.id, botId: p.row.bot_id, to: p.next.status as 'pending' | 'failed', reason });
    };
    const cutoff = nowMs - this.opts.botDownAfterMs;
    const silent = (await run<{ id: string }>(this.db, SWEEP_SQL.silentBots, [cutoff])).rows;
    for (const { id } of silent) {
      await this.tx(async (trx) => {
        const down = await run(
          trx,
          `UPDATE bots SET status = 'down' WHERE id = ? AND status <> 'down' AND last_heartbeat_at < ?`,
          [id, cutoff],
        );
        if (down.changes !== 1) return; // it spoke in the meantime
        out.botsDown.push(id);
        record(
          await releaseBotJobs(trx, this.dialect, id, RELEASE_REASONS.leaseExpired, nowMs),
          RELEASE_REASONS.leaseExpired,
        );
      });
    }
    const expired = (await run<JobRow>(this.db, SWEEP_SQL.expiredLeases, [nowMs])).rows;
    const overdue = (await run<JobRow>(this.db, SWEEP_SQL.overdueJobs, [nowMs])).rows;
    const take = async (row: JobRow, reason: string) => {
      try {
        const next = await this.tx((trx) =>
          finishAttempt(trx, this.dialect, row, { kind: 'failed', error: reason, note: reason }, nowMs),
        );
        record([{ row, next }], reason);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err; // moved on by its bot meanwhile: nothing to take back
      }
    };
    for (const row of expired) await take(row, RELEASE_REASONS.leaseExpired);
    for (const row of overdue) await take(row, RELEASE_REASONS.timedOut);
    return out;
  }

  // ---------------------------------------------------------------- queue, metrics, scheduling

  /**
   * The paused flag. On SQLite this process is the only writer of the file (open.ts holds a lock), so
   * after one read the flag is kept in memory and every claim saves a query; PostgreSQL servers share
   * the flag, so they read it each time.
   */
  private pausedCache: boolean | null = null;

  private async pausedIn(db: Executor): Promise<boolean> {
    if (this.pausedCache !== null) return this.pausedCache;
    const r = await one<{ value: string }>(db, `SELECT value FROM settings WHERE name = 'paused'`);
    const paused = r?.value === 'true';
    if (this.dialect === 'sqlite') this.pausedCache = paused;
    return paused;
  }

  async nextRunAt(nowMs: number): Promise<number | null> {
    const row = await one<{ run_at: number | string }>(this.db, nextRunAtSql(this.dialect), [nowMs]);
    return row ? Number(row.run_at) : null;
  }

  isPaused(): Promise<boolean> {
    return this.pausedIn(this.db);
  }

  async setPaused(paused: boolean): Promise<void> {
    await run(
      this.db,
      `INSERT INTO settings (name, value) VALUES ('paused', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
      [String(paused)],
    );
    if (this.dialect === 'sqlite') this.pausedCache = paused;
  }

  summary(nowMs: number): Promise<Summary> {
    return readSummary(this.db, nowMs);
  }

  async runOncePerPeriod(name: string, intervalMs: number, nowMs: number, fn: () => Promise<void>): Promise<boolean> {
    const period = Math.floor(nowMs / intervalMs);
    // Taking the period is one guarded upsert: only the first server to get there, and never for a
    // period at or before one already taken (a clock stepped back), changes the row.
    const took = await run(
      this.db,
      `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value
       WHERE CAST(settings.value AS BIGINT) < CAST(excluded.value AS BIGINT)`,
      [`period:${name}`, String(period)],
    );
    if (took.changes !== 1) return false;
    await fn();
    return true;
  }

  async pruneResultsBefore(day: string): Promise<number> {
    return (await run(this.db, 'DELETE FROM results WHERE day < ? AND written = 1', [day])).changes;
  }

  // ---------------------------------------------------------------- datalake outbox

  async fetchUnwritten(limit: number): Promise<OutboxRecord[]> {
    const rows = (
      await run<ResultRow>(this.db, 'SELECT * FROM results WHERE written = 0 ORDER BY seq LIMIT ?', [limit])
    ).rows;
    return rows.map((r) => ({ seq: Number(r.seq), line: toResultLine(r) }));
  }

  async markWritten(seqs: number[]): Promise<void> {
    for (const part of chunks(seqs, 500)) {
      await run(this.db, `UPDATE results SET written = 1 WHERE seq IN (${placeholders(part.length)})`, part);
    }
  }

  async resultsForDay(day: string) {
    const rows = (await run<ResultRow>(this.db, 'SELECT * FROM results WHERE day = ? ORDER BY seq', [day])).rows;
    return rows.map(toResultLine);
  }

  /** Results of one day in the store (lets repair confirm a clean partition by count). */
  async countForDay(day: string): Promise<number> {
    const r = await one<{ n: number }>(this.db, 'SELECT COUNT(*) AS n FROM results WHERE day = ?', [day]);
    return Number(r?.n ?? 0);
  }

  async days(): Promise<string[]> {
    return (await run<{ day: string }>(this.db, 'SELECT DISTINCT day FROM results ORDER BY day')).rows.map(
      (r) => r.day,
    );
  }
}

/** The guard of a report found the job no longer as it was read (or assumed). */
class JobChangedError extends ConflictError {
  constructor(jobId: string) {
    super(`job ${jobId} changed while it was being updated; retry`);
  }
}

type Refusal = 'bot_unknown' | 'bot_down' | 'bot_busy' | 'job_changed';

/** The 404/409 of a claim or report, the same text from the JavaScript path and from botfleet_next. */
function botRefusal(reason: Refusal, botId: string, jobId: string): Error {
  switch (reason) {
    case 'bot_unknown':
      return new NotFoundError(`bot ${botId} is not registered; POST /bots/register first`);
    case 'bot_down':
      return new ConflictError(`bot ${botId} is down; register again`, 'bot_down');
    case 'bot_busy':
      return new ConflictError(`bot ${botId} already holds job ${jobId}`, 'bot_busy');
    case 'job_changed':
      return new JobChangedError(jobId);
  }
}

/** botfleet_next refuses with SQLSTATE BF404/BF409 and the reason as the message; anything else passes through. */
function refusalFromFunction(err: unknown, botId: string, jobId: string): unknown {
  const e = err as { code?: string; message?: string; detail?: string };
  if (e?.code !== 'BF404' && e?.code !== 'BF409') return err;
  const reason = e.message as Refusal;
  return botRefusal(reason, botId, reason === 'bot_busy' ? (e.detail ?? '') : jobId);
}
