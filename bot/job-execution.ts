/**
 * Runs one job's handler and turns whatever happens into an outcome: a result, a job failure (bad
 * payload, unknown type, the handler threw), or an abort (shutdown, lease lost); and says what
 * becomes of the job then. No HTTP here; the runner talks to the server.
 */
import type { Json, Job } from '../core/types';
import type { NextReport } from './api-client';
import type { HandlerContext, HandlerRegistry } from './handlers';

/** Why the runner aborted a running handler. */
export class ShutdownAbort extends Error {
  constructor() {
    super('bot shutting down');
    this.name = 'ShutdownAbort';
  }
}
export class LeaseLostAbort extends Error {
  constructor(detail: string) {
    super(`lease lost: ${detail}`);
    this.name = 'LeaseLostAbort';
  }
}

/** The server says the attempt is no longer this bot's: cancelled by an admin, or moved on. */
export class JobStoppedAbort extends LeaseLostAbort {
  constructor(readonly detail: string) {
    super(detail);
    this.message = `stopped by the server: ${detail}`;
    this.name = 'JobStoppedAbort';
  }
}

export type Outcome =
  | { kind: 'completed'; result: Json }
  | { kind: 'failed'; error: string }
  | { kind: 'aborted'; reason: ShutdownAbort | LeaseLostAbort };

export async function executeJob(registry: HandlerRegistry, job: Job, ctx: HandlerContext): Promise<Outcome> {
  const handler = registry.get(job.type);
  if (!handler) {
    return { kind: 'failed', error: `unknown job type "${job.type}"; this bot runs: ${registry.types().join(', ')}` };
  }
  try {
    // Racing the abort means a handler that ignores its signal still cannot hold the bot past
    // the shutdown grace period; its work is then simply dropped.
    const result = await Promise.race([handler.run(job.payload, ctx), rejectOnAbort(ctx.signal)]);
    return { kind: 'completed', result: result === undefined ? null : result };
  } catch (err) {
    const reason = ctx.signal.reason as unknown;
    if (ctx.signal.aborted && (reason instanceof ShutdownAbort || reason instanceof LeaseLostAbort)) {
      return { kind: 'aborted', reason };
    }
    return { kind: 'failed', error: err instanceof Error ? err.message || err.name : String(err) };
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** The error text of a failed or aborted outcome ('' for a completed one). */
export function errorText(outcome: Outcome): string {
  return outcome.kind === 'failed' ? outcome.error : outcome.kind === 'aborted' ? outcome.reason.message : '';
}

/**
 * What becomes of a job once its handler is done or stopped: a result or a failure is reported
 * (fenced by the job's attempt); a job stopped by shutdown is handed back unfinished (pending again,
 * the attempt not counted); a job taken from the bot while it ran is dropped (the server has moved on).
 */
export type Disposal = { kind: 'report'; report: NextReport } | { kind: 'hand back' } | { kind: 'drop' };

export function disposalOf(job: Job, outcome: Outcome): Disposal {
  if (outcome.kind === 'completed')
    return { kind: 'report', report: { complete: { jobId: job.id, attempt: job.attempts, result: outcome.result } } };
  if (outcome.kind === 'failed')
    return { kind: 'report', report: { fail: { jobId: job.id, attempt: job.attempts, error: outcome.error } } };
  return outcome.reason instanceof ShutdownAbort ? { kind: 'hand back' } : { kind: 'drop' };
}
