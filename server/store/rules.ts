/**
 * The decisions both stores take the same way, as plain functions of the rows they read: the fence
 * of a bot's call, what a report, start, hand-back, retry or cancel does, and what ending an attempt
 * writes. A store reads the rows, asks here, and applies the answer: SQLite in the same synchronous
 * transaction, PostgreSQL in one function call whose updates are guarded by what was read (status,
 * attempt, and for a held job that it is still its bot's current job), where a job that moved
 * meanwhile is a JobChangedError, a 409.
 */
import { ConflictError, NotFoundError } from '../../core/errors';
import { canTransition, RELEASE_REASONS, statusAfterFailedAttempt } from '../../core/job-state';
import type { JobStatus } from '../../core/types';
import type { JobRow, ResultRow } from './rows';
import type { FencedCall, FinishedAttempt } from './types';

/** The guard of an update found the job no longer as it was read. */
export class JobChangedError extends ConflictError {
  constructor(jobId: string) {
    super(`job ${jobId} changed while it was being updated; retry`);
  }
}

export type Refusal = 'bot_unknown' | 'bot_down' | 'bot_busy';

/** Why a bot may not claim: 404 unknown, 409 down, 409 busy with `heldJobId`. */
export function botRefusal(reason: Refusal, botId: string, heldJobId: string | null): Error {
  switch (reason) {
    case 'bot_unknown':
      return new NotFoundError(`bot ${botId} is not registered; POST /bots/register first`);
    case 'bot_down':
      return new ConflictError(`bot ${botId} is down; register again`, 'bot_down');
    case 'bot_busy':
      return new ConflictError(`bot ${botId} already holds job ${heldJobId}`, 'bot_busy');
  }
}

/** The refusal for a bot as read (null: no such bot), or null when it may claim. */
export function claimRefusal(
  bot: { status: string; current_job_id: string | null } | undefined,
  botId: string,
): Error | null {
  if (!bot) return botRefusal('bot_unknown', botId, null);
  if (bot.status === 'down') return botRefusal('bot_down', botId, null);
  if (bot.current_job_id !== null) return botRefusal('bot_busy', botId, bot.current_job_id);
  return null;
}

/** The fence of a bot's call: 404 unknown job, 409 `not_your_job` unless this bot holds it at this attempt. */
export function fence(row: JobRow | undefined, call: FencedCall, allowed: readonly JobStatus[], verb: string): JobRow {
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

export type Outcome = { kind: 'completed'; result: unknown } | { kind: 'failed'; error: string; note: string | null };

/** What ending an attempt writes: the job's next status, the result line's status, its result or error, the event's note. */
export interface FinishPlan {
  next: JobStatus;
  outcome: 'completed' | 'failed';
  resultJson: string | null;
  error: string | null;
  note: string | null;
}

export function planFinish(row: Pick<JobRow, 'id' | 'status' | 'attempts' | 'max_attempts'>, o: Outcome): FinishPlan {
  const next: JobStatus =
    o.kind === 'completed' ? 'completed' : statusAfterFailedAttempt(Number(row.attempts), Number(row.max_attempts));
  if (next !== row.status && !canTransition(row.status, next))
    throw new ConflictError(`job ${row.id} cannot go from ${row.status} to ${next}`);
  return {
    next,
    outcome: o.kind,
    resultJson: o.kind === 'completed' ? JSON.stringify(o.result ?? null) : null,
    error: o.kind === 'failed' ? o.error : null,
    note: o.kind === 'failed' ? o.note : null,
  };
}

/** Taking an attempt back from its bot (lease expired, timed out, bot deleted or restarted): a failed attempt. */
export function planRelease(row: JobRow, reason: string): FinishPlan {
  return planFinish(row, { kind: 'failed', error: reason, note: reason });
}

/** Why the sweep takes a held job back at `nowMs`, or null when it may keep it. */
export function sweepReason(row: JobRow, nowMs: number): string | null {
  if (row.lease_expires_at !== null && Number(row.lease_expires_at) < nowMs) return RELEASE_REASONS.leaseExpired;
  if (row.status === 'running' && row.deadline_at !== null && Number(row.deadline_at) < nowMs)
    return RELEASE_REASONS.timedOut;
  return null;
}

/** A report judged: the same answer again (`repeat`, nothing to write), or the attempt to end and how. */
export type Judged = { repeat: JobRow } | { row: JobRow; plan: FinishPlan };

/** Whether judging a report needs the attempt's result row: a repeated fail is recognised by it. */
export const reportNeedsResult = (call: FencedCall, finished: { error: string } | { result: unknown }): boolean =>
  'error' in finished && call.attempt !== undefined;

/**
 * A complete or fail of `call`. Repeated after a lost answer (the same bot, attempt and outcome
 * already recorded: the job completed under it, or its result row failed with the same error) it
 * is answered as before and nothing is written twice.
 */
export function judgeReport(
  current: JobRow | undefined,
  prior: ResultRow | undefined,
  call: FencedCall,
  finished: { result: unknown } | { error: string },
): Judged {
  if ('error' in finished) {
    if (current && prior && prior.status === 'failed' && prior.bot_id === call.botId && prior.error === finished.error)
      return { repeat: current };
    const row = fence(current, call, ['claimed', 'running'], 'failed');
    return { row, plan: planFinish(row, { kind: 'failed', error: finished.error, note: null }) };
  }
  if (
    current &&
    current.status === 'completed' &&
    current.bot_id === call.botId &&
    (call.attempt ?? Number(current.attempts)) === Number(current.attempts)
  )
    return { repeat: current };
  const row = fence(current, call, ['claimed', 'running'], 'completed');
  return { row, plan: planFinish(row, { kind: 'completed', result: finished.result }) };
}

/** The call of a report made through POST /jobs/next. */
export const reportCall = (botId: string, f: FinishedAttempt): FencedCall => ({
  jobId: f.jobId,
  botId,
  attempt: f.attempt,
});

/** A start: the same answer when repeated (running under this bot and attempt), else it must be claimed by it. */
export function judgeStart(current: JobRow | undefined, call: FencedCall): { repeat: JobRow } | { row: JobRow } {
  if (
    current &&
    current.status === 'running' &&
    current.bot_id === call.botId &&
    (call.attempt ?? Number(current.attempts)) === Number(current.attempts)
  )
    return { repeat: current };
  return { row: fence(current, call, ['claimed'], 'started') };
}

/** A hand-back: the job must be claimed or running under this bot at exactly this attempt. */
export function judgeHandBack(current: JobRow | undefined, call: Required<FencedCall>): JobRow {
  return fence(current, call, ['claimed', 'running'], 'handed back');
}

/** A retry: only of a failed or cancelled job whose key no open job holds now (`keyHolder`). */
export function judgeRetry(row: JobRow | undefined, id: string, keyHolder: string | undefined): JobRow {
  if (!row) throw new NotFoundError(`job ${id} does not exist`);
  if (row.status !== 'failed' && row.status !== 'cancelled')
    throw new ConflictError(
      `job ${id} is ${row.status}; only failed or cancelled jobs can be retried`,
      'not_retryable',
    );
  if (keyHolder !== undefined)
    throw new ConflictError(
      `job ${id} has key "${row.key}", which job ${keyHolder} holds now; retry that one or wait until it finishes`,
      'key_in_use',
    );
  return row;
}

/** A retried job gets one more attempt; attempts never go back, so every attempt keeps its own result line. */
export const retryMaxAttempts = (row: JobRow): number => Math.max(Number(row.max_attempts), Number(row.attempts) + 1);

/**
 * A cancel: a pending job is cancelled as it is; a claimed or running one ends its attempt as
 * cancelled at once (a result line, no further attempt) and its bot is told to stop (`held`).
 */
export function judgeCancel(row: JobRow | undefined, id: string): { row: JobRow; held: boolean } {
  if (!row) throw new NotFoundError(`job ${id} does not exist`);
  if (row.status === 'pending') return { row, held: false };
  if ((row.status === 'claimed' || row.status === 'running') && row.bot_id !== null) return { row, held: true };
  throw new ConflictError(
    `job ${id} is ${row.status}; only pending, claimed or running jobs can be cancelled`,
    'not_cancellable',
  );
}

/** Lines and UTF-8 bytes an attempt's log holds so far. */
export interface LogCounts {
  lines: number;
  bytes: number;
}

/**
 * How many of `lines` (from the first) still fit in an attempt's log that holds `counts`: the log
 * keeps its first `maxLines` lines and `maxBytes` bytes, and counts the rest as dropped.
 */
export function linesThatFit(
  counts: LogCounts,
  lines: readonly { line: string }[],
  maxLines: number,
  maxBytes: number,
) {
  let n = 0;
  let bytes = counts.bytes;
  for (const l of lines) {
    const b = Buffer.byteLength(l.line, 'utf8');
    if (counts.lines + n + 1 > maxLines || bytes + b > maxBytes) break;
    bytes += b;
    n++;
  }
  return { n, bytes: bytes - counts.bytes };
}
