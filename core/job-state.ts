/**
 * The job state machine, pure. The store applies what these functions decide with guarded updates
 * (WHERE status = ? AND bot_id = ? AND attempts = ?): zero rows changed is a conflict.
 *
 *   pending ──claim──► claimed ──start──► running ──complete──► completed
 *      ▲                  │                  │
 *      └──── release ─────┴──── fail / lease expired / timed out ──► failed (attempts = maxAttempts)
 *   pending | claimed | running ──cancel──► cancelled (a held attempt ends, its bot told to stop)
 *   failed | cancelled ──retry──► pending
 *   claimed | running ──hand back──► pending, the attempt not counted
 */
import { type CreateJob, CreateJobSchema, type JobStatus } from './types';

const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  pending: ['claimed', 'cancelled'],
  claimed: ['running', 'pending', 'failed', 'completed', 'cancelled'],
  running: ['completed', 'failed', 'pending', 'cancelled'],
  completed: [],
  failed: ['pending'],
  cancelled: ['pending'],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Where an attempt that did not complete leaves its job: pending again while attempts (already
 * counting this one) < maxAttempts, else failed for good.
 */
export function statusAfterFailedAttempt(attempts: number, maxAttempts: number): 'pending' | 'failed' {
  return attempts < maxAttempts ? 'pending' : 'failed';
}

/**
 * Why an attempt ended without the bot reporting it: the one list of release reasons. Each is written
 * as the note of the job's event; all but `handedBack` are also the error of the attempt's failed
 * result line. A handed-back attempt is not counted and writes no result line.
 */
export const RELEASE_REASONS = {
  leaseExpired: 'lease expired',
  timedOut: 'timed out',
  botDeleted: 'bot deleted',
  botRestarted: 'bot restarted',
  handedBack: 'handed back',
} as const;

/** The notes of the events that are not releases. */
export const EVENT_NOTES = {
  created: 'created',
  retried: 'retried by admin',
  cancelled: 'cancelled by admin',
} as const;

/** The UTC day (YYYY-MM-DD) of a time, which names its datalake partition. */
export function utcDay(iso: string): string {
  return iso.slice(0, 10);
}

/** The seed's batch: `count` jobs of type simulated (the scheduler and POST /jobs/populate). */
export function simulatedBatch(count: number): CreateJob[] {
  return Array.from({ length: count }, () => CreateJobSchema.parse({ type: 'simulated', payload: {} }));
}
