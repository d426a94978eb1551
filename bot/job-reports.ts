/**
 * How a job's end is told and logged: what the server made of a report (completed, failed, lease
 * lost), handing a job back unfinished at shutdown (POST /jobs/:id/release: pending again, the
 * attempt not counted), and the counts a runner keeps.
 */
import type { Logger } from '../core/logger';
import type { Job } from '../core/types';
import type { ApiClient, Reply } from './api-client';
import { errorText, JobStoppedAbort, type Outcome } from './job-execution';
import { GaveUp, type Retrier } from './retry';

/** A job whose handler is done (or was stopped), waiting to be reported. */
export interface Finished {
  job: Job;
  /** Names the bot, the job, its type and attempt (and the handler's duration once it ran). */
  log: Logger;
  outcome: Outcome;
  /** How long the handler ran, ms. */
  durationMs: number;
}

export interface RunnerCounts {
  completed: number;
  failed: number;
  leaseLost: number;
  /** Jobs the server told the bot to stop (cancelled while they ran). */
  stopped: number;
  handedBack: number;
}

type Refusal = { status: number; code: string; message: string };

export class JobReports {
  readonly counts: RunnerCounts = { completed: 0, failed: 0, leaseLost: 0, stopped: 0, handedBack: 0 };

  constructor(
    private readonly api: ApiClient,
    private readonly botId: string,
    private readonly retrier: Retrier,
  ) {}

  /** Logs and counts what the server made of a report. */
  settle(f: Finished, r: Reply<Job>): void {
    if (!r.ok) {
      if (r.status === 409 || r.status === 404)
        return this.leaseLost(f.log, f.outcome.kind === 'completed' ? 'complete' : 'fail', r);
      return f.log.error(
        { event: 'report refused', status: r.status, code: r.code, reason: r.message },
        `the server refused the report of job ${f.job.id}`,
      );
    }
    const took = ` in ${f.durationMs} ms`;
    if (f.outcome.kind === 'completed') {
      this.counts.completed++;
      return f.log.info({ event: 'completed' }, `completed job ${f.job.id}${took}`);
    }
    this.counts.failed++;
    const next = r.body.status;
    f.log.info(
      { event: 'failed', error: errorText(f.outcome), next },
      `failed job ${f.job.id}${took}${next === 'pending' ? '; it will be retried' : ''}`,
    );
  }

  /** A handler stopped because the job is no longer this bot's: the work is dropped, nothing is reported. */
  dropped(f: Finished): void {
    const reason = f.outcome.kind === 'aborted' ? f.outcome.reason : null;
    if (!(reason instanceof JobStoppedAbort)) return this.leaseLost(f.log, 'run', { reason: errorText(f.outcome) });
    this.counts.stopped++;
    f.log.warn(
      { event: 'stopped by server', reason: reason.detail },
      `job ${f.job.id} stopped after ${f.durationMs} ms: ${reason.detail}; the work is dropped`,
    );
  }

  /** The server has given the job to someone else (or forgotten it): the work is dropped. */
  leaseLost(log: Logger, step: string, r: Refusal | { reason: string }): void {
    this.counts.leaseLost++;
    const detail = 'reason' in r ? r : { status: r.status, code: r.code, reason: r.message };
    log.warn({ event: 'lease lost', step, ...detail }, 'lease lost; the work is dropped');
  }

  reportAbandoned(f: Finished): void {
    f.log.warn(
      { event: 'report abandoned' },
      `server unreachable during shutdown; job ${f.job.id} goes back to the queue when its lease expires`,
    );
  }

  /**
   * Hands a job back unfinished: the server puts it back to pending without counting the attempt,
   * and another bot runs it. Retries while keepTrying() (until the shutdown deadline); 409 means
   * the job is no longer this bot's, which is logged and left at that.
   */
  async handBack(job: Job, log: Logger, keepTrying: () => boolean): Promise<void> {
    let r: Reply<Job>;
    try {
      r = await this.retrier.untilAnswered(() => this.api.release(job.id, this.botId, job.attempts), keepTrying);
    } catch (err) {
      if (!(err instanceof GaveUp)) throw err;
      return log.warn(
        { event: 'hand-back abandoned' },
        `server unreachable; job ${job.id} goes back to the queue when its lease expires`,
      );
    }
    if (r.ok) {
      this.counts.handedBack++;
      return log.info({ event: 'handed back', next: r.body.status }, `handed back job ${job.id} unfinished`);
    }
    log.warn(
      { event: 'hand-back refused', status: r.status, code: r.code, reason: r.message },
      `job ${job.id} is no longer this bot's; nothing to hand back`,
    );
  }
}
