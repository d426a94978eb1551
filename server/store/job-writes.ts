/**
 * The write paths of a job's life, each inside the caller's transaction. Every change follows rule 1
 * of DESIGN.md: read the row, let core/job-state decide, apply with an update guarded by the status,
 * bot and attempt that were read. Zero rows changed means someone else moved the job: a 409.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../core/errors';
import { canTransition, statusAfterFailedAttempt, utcDay } from '../../core/job-state';
import type { CreateJob, Job, JobStatus } from '../../core/types';
import { type JobRow, toJob } from './rows';
import { chunks, type Db, insertSql, one, run, sqlByShape, valuesList } from './sql';
import type { FencedCall, StoreOptions } from './types';

/**
 * A job's bot, compared in a form no index matches. A bot's jobs_bot_seq entries are its whole
 * history (every job it ever ran), and a planner that reaches for that index to find the one job a
 * bot holds walks all of it: PostgreSQL does whenever its statistics date from before bots ran jobs
 * (every bot_id NULL, so "bot_id = ?" looks like no row at all), SQLite whenever the other condition
 * is a status list. A report or heartbeat then cost ~6 ms per 30,000 jobs of history and grew
 * without end. Statements that find a bot's held job by id or by status compare `heldBy() = ?`
 * instead; listing a bot's jobs (bot details, `GET /jobs?botId=`) keeps the plain comparison and
 * the index.
 */
export const heldBy = (column = 'bot_id'): string => `COALESCE(${column}, '')`;

/** The jobs a bot holds: at most a few claimed or running jobs, found through jobs_status_seq. */
const HELD_JOBS = `status IN ('claimed', 'running') AND ${heldBy()} = ?`;

/** The statements on the jobs a bot holds: read them (bindings: bot), extend their lease (until, bot). */
export const HELD_SQL = {
  select: `SELECT * FROM jobs WHERE ${HELD_JOBS}`,
  extendLease: `UPDATE jobs SET lease_expires_at = ? WHERE ${HELD_JOBS}`,
};

export interface EventInput {
  jobId: string;
  at: number;
  from: JobStatus | null;
  to: JobStatus;
  botId: string | null;
  attempt: number;
  note: string | null;
}

export async function insertEvents(db: Db, events: EventInput[]): Promise<void> {
  for (const part of chunks(events, 500)) {
    const q = insertSql(
      'job_events',
      part.map((e) => ({
        job_id: e.jobId,
        at: e.at,
        from_status: e.from,
        to_status: e.to,
        bot_id: e.botId,
        attempt: e.attempt,
        note: e.note,
      })),
    );
    await run(db, q.sql, q.bindings);
  }
}

/**
 * A job id: a UUID in the version-7 layout (RFC 9562): 48 bits of ms time, a 12-bit counter that
 * keeps ids of one process increasing within a millisecond (a bulk insert of 10,000 jobs shares one
 * time), then 62 random bits. Ids made in order sort in order, so the unique index on jobs.id,
 * job_events (job_id, seq) and the outbox's result_id grow at their right edge instead of dirtying a
 * random page each: on SQLite every page a transaction touches is one more 4 KB frame written to the
 * WAL at COMMIT (docs/performance.md). Ids stay opaque to clients (API.md).
 */
let lastIdMs = 0;
let idSeq = 0;
/** "tttttttt-tttt-" of lastIdMs: a bulk insert makes thousands of ids in one millisecond. */
let timePart = '';
export function timeOrderedId(nowMs: number): string {
  let ms = Math.max(Math.floor(nowMs), lastIdMs);
  if (ms === lastIdMs && timePart !== '') {
    if (++idSeq > 0xfff) {
      ms++; // the counter is spent: borrow the next millisecond, as RFC 9562 allows
      idSeq = 0;
    }
  } else idSeq = 0;
  if (ms !== lastIdMs || timePart === '') {
    const t = ms.toString(16).padStart(12, '0').slice(-12);
    timePart = `${t.slice(0, 8)}-${t.slice(8, 12)}-`;
  }
  lastIdMs = ms;
  const r = randomUUID(); // xxxxxxxx-xxxx-4xxx-vxxx-xxxxxxxxxxxx: keep the variant and 62 random bits
  return `${timePart}7${idSeq.toString(16).padStart(3, '0')}-${r.slice(19)}`;
}

export async function getJobRow(db: Db, id: string): Promise<JobRow | undefined> {
  return one<JobRow>(db, 'SELECT * FROM jobs WHERE id = ?', [id]);
}

/**
 * Inserts jobs; a job whose key matches an unfinished job returns that one instead (created=false).
 * Plain jobs are answered from the values written, not read back (`RETURNING *`): every column but
 * `seq` is set here, and the answer has no `seq`. They go in as multi-row INSERTs that bind only what
 * differs between jobs (a new job's other columns are the constants of a pending job), and their
 * "created" events bind only the job id: a bulk of 10,000 binds 100,000 values instead of 260,000
 * (docs/performance.md, goal 3).
 */
export async function insertJobs(
  db: Db,
  inputs: CreateJob[],
  nowMs: number,
  opts: StoreOptions,
): Promise<{ job: Job; created: boolean }[]> {
  const out: { job: Job; created: boolean }[] = new Array(inputs.length);
  const plain: unknown[][] = []; // the bound values of each plain job, in NEW_JOB_COLUMNS order
  const createdIds: string[] = [];
  const createdAt = new Date(nowMs).toISOString();
  for (let i = 0; i < inputs.length; i++) {
    const j = inputs[i];
    const runAtMs = j.runAt ? Date.parse(j.runAt) : null;
    const job: Job = {
      id: timeOrderedId(nowMs),
      type: j.type,
      payload: j.payload ?? {},
      status: 'pending',
      botId: null,
      attempts: 0,
      maxAttempts: j.maxAttempts ?? opts.defaultMaxAttempts,
      priority: j.priority ?? 0,
      runAt: runAtMs === null ? null : new Date(runAtMs).toISOString(),
      key: j.key ?? null,
      timeoutMs: j.timeoutMs ?? opts.defaultTimeoutMs,
      createdAt,
      claimedAt: null,
      startedAt: null,
      finishedAt: null,
      leaseExpiresAt: null,
      result: null,
      error: null,
    };
    const values = [
      job.id,
      job.type,
      JSON.stringify(job.payload),
      job.maxAttempts,
      job.priority,
      runAtMs,
      job.timeoutMs,
      nowMs,
    ];
    if (job.key === null) {
      plain.push(values);
      createdIds.push(job.id);
      out[i] = { job, created: true };
      continue;
    }
    // Keyed: the partial unique index on open keys decides, even across servers.
    const ins = await run<JobRow>(
      db,
      `INSERT INTO jobs (${NEW_JOB_COLUMNS}, key) VALUES (${NEW_JOB_VALUES}, ?) ON CONFLICT DO NOTHING RETURNING *`,
      [...values, job.key],
    );
    if (ins.rows.length === 1) {
      createdIds.push(job.id);
      out[i] = { job: toJob(ins.rows[0]), created: true };
    } else {
      const existing = await one<JobRow>(
        db,
        `SELECT * FROM jobs WHERE key = ? AND status IN ('pending', 'claimed', 'running')`,
        [job.key],
      );
      if (!existing) throw new ConflictError(`a job with key "${job.key}" is being changed; retry`);
      out[i] = { job: toJob(existing), created: false };
    }
  }
  for (const part of chunks(plain, 1000)) {
    const sql = sqlByShape(
      `new jobs|${part.length}`,
      () => `INSERT INTO jobs (${NEW_JOB_COLUMNS}) VALUES ${valuesList(NEW_JOB_VALUES, part.length)}`,
    );
    await run(db, sql, part.flat());
  }
  for (const part of chunks(createdIds, 1000)) {
    await run(
      db,
      sqlByShape(
        `created events|${part.length}`,
        () => `${CREATED_EVENTS_INSERT} FROM (VALUES ${valuesList('?', part.length)}) AS v`,
      ),
      [nowMs, ...part],
    );
  }
  return out;
}

// A new job: what varies is bound (in this order), the rest is a pending job's constants.
const NEW_JOB_COLUMNS = 'id, type, payload, max_attempts, priority, run_at, timeout_ms, created_at, status, attempts';
const NEW_JOB_VALUES = "?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0";
// Its "created" event: the time is bound once per statement, then one job id per row of VALUES
// (whose column is called column1 by SQLite and PostgreSQL alike).
const CREATED_EVENTS_INSERT =
  "INSERT INTO job_events (job_id, at, from_status, to_status, bot_id, attempt, note) SELECT column1, CAST(? AS BIGINT), NULL, 'pending', NULL, 0, 'created'";

/**
 * Loads a job for a bot's call and checks the fence: 404 unknown job, 409 not this bot's attempt.
 * `loaded` is the row the caller already read in this transaction (null: it does not exist), which
 * saves reading it twice on the hot path.
 */
export async function fencedRow(
  db: Db,
  call: FencedCall,
  allowed: readonly JobStatus[],
  verb: string,
  loaded?: JobRow | null,
): Promise<JobRow> {
  const row = loaded !== undefined ? loaded : await getJobRow(db, call.jobId);
  if (!row) throw new NotFoundError(`job ${call.jobId} does not exist`);
  const attemptOk = call.attempt === undefined || Number(row.attempts) === call.attempt;
  if (row.bot_id !== call.botId || !attemptOk || !allowed.includes(row.status)) {
    throw new ConflictError(
      `job ${call.jobId} cannot be ${verb} by bot ${call.botId}` +
        (call.attempt !== undefined ? ` at attempt ${call.attempt}` : '') +
        `: it is ${row.status}` +
        (row.bot_id ? ` under bot ${row.bot_id} at attempt ${row.attempts}` : '') +
        ' (the lease may have expired and the job moved on)',
      'not_your_job',
    );
  }
  return row;
}

/** Guarded update: applies `set` only if the job is still as `row` was read. Returns the new row. */
export async function guardedUpdate(db: Db, row: JobRow, set: Partial<JobRow>): Promise<JobRow> {
  if (set.status !== undefined && set.status !== row.status && !canTransition(row.status, set.status)) {
    throw new ConflictError(`job ${row.id} cannot go from ${row.status} to ${set.status}`);
  }
  const cols = Object.keys(set);
  const res = await run<JobRow>(
    db,
    `UPDATE jobs SET ${cols.map((c) => `${c} = ?`).join(', ')}
     WHERE id = ? AND status = ? AND attempts = ? AND ${row.bot_id === null ? 'bot_id IS NULL' : `${heldBy()} = ?`}
     RETURNING *`,
    [...Object.values(set), row.id, row.status, row.attempts, ...(row.bot_id === null ? [] : [row.bot_id])],
  );
  if (res.rows.length !== 1) throw new ConflictError(`job ${row.id} changed while it was being updated; retry`);
  return res.rows[0];
}

async function bumpMinute(
  db: Db,
  dialect: 'sqlite' | 'postgres',
  finishedAt: number,
  completed: boolean,
  durationMs: number | null,
): Promise<void> {
  const shard = dialect === 'sqlite' ? 0 : Math.floor(Math.random() * 16);
  await run(
    db,
    `INSERT INTO finished_minutes (minute, shard, completed, failed, duration_sum, duration_n) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (minute, shard) DO UPDATE SET
       completed = finished_minutes.completed + excluded.completed, failed = finished_minutes.failed + excluded.failed,
       duration_sum = finished_minutes.duration_sum + excluded.duration_sum, duration_n = finished_minutes.duration_n + excluded.duration_n`,
    [
      Math.floor(finishedAt / 60000),
      shard,
      completed ? 1 : 0,
      completed ? 0 : 1,
      durationMs ?? 0,
      durationMs === null ? 0 : 1,
    ],
  );
}

export type Outcome = { kind: 'completed'; result: unknown } | { kind: 'failed'; error: string; note: string | null };

/** What ending an attempt writes, decided from the row as read: the job's next status and its result or error. */
export interface FinishPlan {
  next: JobStatus;
  resultJson: string | null;
  error: string | null;
  note: string | null;
}

export function planFinish(row: JobRow, outcome: Outcome): FinishPlan {
  const next: JobStatus =
    outcome.kind === 'completed'
      ? 'completed'
      : statusAfterFailedAttempt(Number(row.attempts), Number(row.max_attempts));
  if (next !== row.status && !canTransition(row.status, next))
    throw new ConflictError(`job ${row.id} cannot go from ${row.status} to ${next}`);
  return {
    next,
    resultJson: outcome.kind === 'completed' ? JSON.stringify(outcome.result ?? null) : null,
    error: outcome.kind === 'failed' ? outcome.error : null,
    note: outcome.kind === 'failed' ? outcome.note : null,
  };
}

/**
 * Ends the current attempt of a claimed or running job: the job's new state, its event, the outbox
 * row of the datalake, the minute counters and the bot, in the caller's transaction.
 */
export async function finishAttempt(
  db: Db,
  dialect: 'sqlite' | 'postgres',
  row: JobRow,
  outcome: Outcome,
  nowMs: number,
): Promise<JobRow> {
  // PostgreSQL row locks are taken bot first, then job, in every transaction (claim, heartbeat,
  // sweep, finish): the opposite orders deadlocked a heartbeat against a report of the same bot.
  if (dialect === 'postgres' && row.bot_id !== null)
    await run(db, 'SELECT 1 FROM bots WHERE id = ? FOR UPDATE', [row.bot_id]);
  const attempts = Number(row.attempts);
  const { next, resultJson, error, note } = planFinish(row, outcome);
  const updated = await guardedUpdate(db, row, {
    status: next,
    bot_id: next === 'pending' ? null : row.bot_id,
    finished_at: next === 'pending' ? null : nowMs,
    lease_expires_at: null,
    deadline_at: null,
    result: resultJson,
    error,
  });
  await insertEvents(db, [
    { jobId: row.id, at: nowMs, from: row.status, to: next, botId: row.bot_id, attempt: attempts, note },
  ]);
  const started = row.started_at === null ? null : Number(row.started_at);
  const durationMs = started === null ? null : Math.max(0, nowMs - started);
  const q = insertSql('results', [
    {
      result_id: `${row.id}:${attempts}`,
      job_id: row.id,
      attempt: attempts,
      bot_id: row.bot_id,
      type: row.type,
      status: outcome.kind,
      result: resultJson,
      error,
      created_at: row.created_at,
      claimed_at: row.claimed_at,
      started_at: row.started_at,
      finished_at: nowMs,
      duration_ms: durationMs,
      day: utcDay(new Date(nowMs).toISOString()),
      written: 0,
    },
  ]);
  await run(db, q.sql, q.bindings);
  await bumpMinute(db, dialect, nowMs, outcome.kind === 'completed', durationMs);
  if (row.bot_id !== null) {
    await run(
      db,
      `UPDATE bots SET current_job_id = NULL, status = CASE WHEN status = 'down' THEN 'down' ELSE 'idle' END,
         jobs_completed = jobs_completed + ?, jobs_failed = jobs_failed + ?
       WHERE id = ? AND current_job_id = ?`,
      [outcome.kind === 'completed' ? 1 : 0, outcome.kind === 'completed' ? 0 : 1, row.bot_id, row.id],
    );
  }
  return updated;
}

/** Takes back every job a bot holds (bot down, deleted or restarted). */
export async function releaseBotJobs(
  db: Db,
  dialect: 'sqlite' | 'postgres',
  botId: string,
  reason: string,
  nowMs: number,
): Promise<{ row: JobRow; next: JobRow }[]> {
  const held = (await run<JobRow>(db, HELD_SQL.select, [botId])).rows;
  const out: { row: JobRow; next: JobRow }[] = [];
  for (const row of held) {
    out.push({
      row,
      next: await finishAttempt(db, dialect, row, { kind: 'failed', error: reason, note: reason }, nowMs),
    });
  }
  return out;
}
