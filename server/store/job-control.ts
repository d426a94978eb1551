/**
 * Watching a running job, on both databases: the reads of its log (the same SQL on both), and what
 * a refused progress report or log batch answers. Writes are in sqlite/job-control.ts and
 * postgres/job-control.ts.
 */
import { NotFoundError, ValidationError } from '../../core/errors';
import type { LogsAnswer, LogLineInput } from '../../core/job-control';
import type { Job, JobLogLine } from '../../core/types';
import type { All } from './queries';
import { SQL } from './queries';
import { type JobRow, type LogRow, toLogLine } from './rows';
import { fence, JobChangedError } from './rules';
import type { FencedCall } from './types';

export interface LogsPage {
  attempt: number;
  items: JobLogLine[];
  /** Lines of this attempt not kept (past the bound, or never sent by the bot). */
  dropped: number;
  /** Where the next read goes on from (after the last line returned); null while there is no line. */
  nextCursor: string | null;
  /** More lines are there already after this page. */
  more: boolean;
}

export interface JobControlStore {
  /** The progress of the attempt the bot holds. 404 unknown job, 409 `not_your_job`. */
  progress(call: Required<FencedCall>, fraction: number, message: string | null, nowMs: number): Promise<Job>;
  /** Appends log lines to the attempt the bot holds, as many as its bound leaves room for. 404, 409 as progress. */
  appendLogs(call: Required<FencedCall>, lines: LogLineInput[], dropped: number): Promise<LogsAnswer>;
  /** One attempt's lines (default: the job's current attempt), oldest first. 404 unknown job. */
  listLogs(jobId: string, o: { attempt?: number; limit: number; cursor?: string }): Promise<LogsPage>;
}

/** The refusal of a progress report or log batch that changed nothing: 404, 409 not_your_job, or a race. */
export function refusedUpdate(row: JobRow | undefined, call: Required<FencedCall>, verb: string): Error {
  fence(row, call, ['claimed', 'running'], verb);
  return new JobChangedError(call.jobId);
}

const encodeCursor = (seq: number): string => Buffer.from(`l:${seq}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const m = /^l:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m)
    throw new ValidationError('cursor is not one this server gave out', [
      { path: 'cursor', message: 'invalid cursor' },
    ]);
  return Number(m[1]);
}

export async function listLogs(
  all: All,
  jobId: string,
  o: { attempt?: number; limit: number; cursor?: string },
): Promise<LogsPage> {
  const [job] = await all<JobRow>(SQL.jobById, [jobId]);
  if (!job) throw new NotFoundError(`job ${jobId} does not exist`);
  const attempt = o.attempt ?? Number(job.attempts);
  const after = o.cursor ? decodeCursor(o.cursor) : 0;
  const rows = await all<LogRow>(
    'SELECT * FROM job_logs WHERE job_id = ? AND attempt = ? AND seq > ? ORDER BY seq LIMIT ?',
    [jobId, attempt, after, o.limit + 1],
  );
  const [counts] = await all<{ dropped: number }>(
    'SELECT dropped FROM job_log_counts WHERE job_id = ? AND attempt = ?',
    [jobId, attempt],
  );
  const items = rows.slice(0, o.limit);
  const last = items[items.length - 1];
  return {
    attempt,
    items: items.map(toLogLine),
    dropped: Number(counts?.dropped ?? 0),
    // After the last line read: a log that grows is followed from there.
    nextCursor: last ? encodeCursor(Number(last.seq)) : (o.cursor ?? null),
    more: rows.length > o.limit,
  };
}
