/**
 * Runs one job's handler and turns whatever happens into an outcome to report: a result, a job
 * failure (bad payload, unknown type, the handler threw), or an abort (shutdown, lease lost).
 * No HTTP here; the runner reports the outcome.
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
 * What to report for an outcome, fenced by the job's attempt; null when the job was taken from the
 * bot while it ran (nothing to report: the server has moved on).
 */
export function reportFor(job: Job, outcome: Outcome): NextReport | null {
  if (outcome.kind === 'aborted' && outcome.reason instanceof LeaseLostAbort) return null;
  if (outcome.kind === 'completed')
    return { complete: { jobId: job.id, attempt: job.attempts, result: outcome.result } };
  return { fail: { jobId: job.id, attempt: job.attempts, error: errorText(outcome) } };
}
