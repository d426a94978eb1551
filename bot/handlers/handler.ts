/**
 * What a job handler is. A handler validates its payload with zod and returns a JSON result, or
 * throws to fail the job (the error message becomes the job's error). It gets a context so that
 * shutdown can abort it (signal), tests can make it exact (random, sleep) and it can log.
 */
import type { z } from 'zod';
import type { Json } from '../../core/types';
import type { SleepFn } from '../sleep';

export interface HandlerSettings {
  /** How long a "simulated" job takes unless its payload says otherwise. */
  processingDurationMs: number;
  /** Probability that a "simulated" job fails, 0..1. */
  failureRate: number;
}

/** A handler's log: each line goes to the bot's stdout and, kept per attempt, to the server (GET /jobs/:id/logs). */
export interface JobLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface HandlerContext {
  /** Fires on shutdown (after the grace period), when the job was cancelled or the bot lost it; stop promptly. */
  signal: AbortSignal;
  log: JobLog;
  /** How far the job is, 0..1, with an optional short message; sent to the server at most once a second. */
  progress(fraction: number, message?: string): void;
  /** Uniform in [0, 1); injected so failure rates can be tested exactly. */
  random: () => number;
  sleep: SleepFn;
  settings: HandlerSettings;
}

export interface JobHandler {
  readonly type: string;
  readonly description: string;
  /** Validates the raw payload (throws InvalidPayloadError) and runs the job. */
  run(rawPayload: unknown, ctx: HandlerContext): Promise<Json>;
}

/** The job itself failed (a bad payload, a simulated failure): a normal outcome, not a bot bug. */
export class JobFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobFailure';
  }
}

export class InvalidPayloadError extends JobFailure {
  constructor(type: string, issues: readonly { path: PropertyKey[]; message: string }[]) {
    const detail = issues.map((i) => `${i.path.map(String).join('.') || '(payload)'}: ${i.message}`).join('; ');
    super(`invalid payload for job type "${type}": ${detail}`);
    this.name = 'InvalidPayloadError';
  }
}

/** Builds a handler whose run() parses the payload with the schema before calling work(). */
export function defineHandler<S extends z.ZodType>(def: {
  type: string;
  description: string;
  payload: S;
  work(payload: z.output<S>, ctx: HandlerContext): Promise<Json>;
}): JobHandler {
  return {
    type: def.type,
    description: def.description,
    async run(rawPayload, ctx) {
      const parsed = def.payload.safeParse(rawPayload);
      if (!parsed.success) throw new InvalidPayloadError(def.type, parsed.error.issues);
      return def.work(parsed.data, ctx);
    },
  };
}
