/** Rows of the database ↔ domain objects of core/types.ts. Times: BIGINT ms ↔ ISO strings. */
import type {
  Bot,
  BotStatus,
  Job,
  JobEvent,
  JobLogLine,
  JobStatus,
  Json,
  LogLevel,
  ResultLine,
} from '../../core/types';

export interface JobRow {
  seq: number;
  id: string;
  type: string;
  payload: string;
  status: JobStatus;
  bot_id: string | null;
  attempts: number;
  max_attempts: number;
  priority: number;
  run_at: number | null;
  key: string | null;
  timeout_ms: number;
  created_at: number;
  claimed_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  lease_expires_at: number | null;
  deadline_at: number | null;
  result: string | null;
  error: string | null;
  schedule?: string | null;
  /** The last progress of attempt progress_attempt (migration 4). */
  progress_fraction?: number | null;
  progress_message?: string | null;
  progress_at?: number | null;
  progress_attempt?: number | null;
}

export interface BotRow {
  id: string;
  name: string;
  status: BotStatus;
  current_job_id: string | null;
  registered_at: number;
  last_heartbeat_at: number;
  jobs_completed: number;
  jobs_failed: number;
}

export interface EventRow {
  job_id: string;
  at: number;
  from_status: JobStatus | null;
  to_status: JobStatus;
  bot_id: string | null;
  attempt: number;
  note: string | null;
}

export interface ResultRow {
  seq: number;
  result_id: string;
  job_id: string;
  attempt: number;
  bot_id: string | null;
  type: string;
  status: 'completed' | 'failed' | 'cancelled';
  result: string | null;
  error: string | null;
  created_at: number;
  claimed_at: number | null;
  started_at: number | null;
  finished_at: number;
  duration_ms: number | null;
  day: string;
  written: number;
}

const isoOrNull = (ms: number | string | null): string | null =>
  ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
const iso = (ms: number | string): string => new Date(Number(ms)).toISOString();
const parseJson = (s: string | null): Json => (s === null || s === undefined ? null : (JSON.parse(s) as Json));

export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    type: r.type,
    payload: parseJson(r.payload),
    status: r.status,
    botId: r.bot_id,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    priority: Number(r.priority),
    runAt: isoOrNull(r.run_at),
    key: r.key,
    timeoutMs: Number(r.timeout_ms),
    createdAt: iso(r.created_at),
    claimedAt: isoOrNull(r.claimed_at),
    startedAt: isoOrNull(r.started_at),
    finishedAt: isoOrNull(r.finished_at),
    leaseExpiresAt: isoOrNull(r.lease_expires_at),
    result: parseJson(r.result),
    error: r.error,
    schedule: r.schedule ?? null,
    progress:
      r.progress_at != null && Number(r.progress_attempt) === Number(r.attempts)
        ? { fraction: Number(r.progress_fraction), message: r.progress_message ?? null, at: iso(r.progress_at) }
        : null,
  };
}

export function toBot(r: BotRow): Bot {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    currentJobId: r.current_job_id,
    registeredAt: iso(r.registered_at),
    lastHeartbeatAt: iso(r.last_heartbeat_at),
    jobsCompleted: Number(r.jobs_completed),
    jobsFailed: Number(r.jobs_failed),
  };
}

export function toEvent(r: EventRow): JobEvent {
  return {
    at: iso(r.at),
    from: r.from_status,
    to: r.to_status,
    botId: r.bot_id,
    attempt: Number(r.attempt),
    note: r.note,
  };
}

/** The datalake line of a result row, keys in the order of the API contract. */
export function toResultLine(r: ResultRow): ResultLine {
  return {
    resultId: r.result_id,
    jobId: r.job_id,
    attempt: Number(r.attempt),
    botId: r.bot_id,
    type: r.type,
    status: r.status,
    result: parseJson(r.result),
    error: r.error,
    createdAt: iso(r.created_at),
    claimedAt: isoOrNull(r.claimed_at),
    startedAt: isoOrNull(r.started_at),
    finishedAt: iso(r.finished_at),
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  };
}

export interface LogRow {
  seq: number;
  job_id: string;
  attempt: number;
  at: number;
  level: LogLevel;
  line: string;
}

export const toLogLine = (r: LogRow): JobLogLine => ({
  at: iso(r.at),
  attempt: Number(r.attempt),
  level: r.level,
  line: r.line,
});
