/**
 * The HTTP contract of watching and stopping a running job: progress, log lines, the heartbeat that
 * names the job a bot runs, and the bulk actions. Limits are part of the contract: a body past them
 * is refused (400 naming the field), never cut.
 */
import { z } from 'zod';
import { AttemptSchema, IdSchema, JOB_FILTER, LOG_LEVELS, Text } from './types';

export const LOG_LIMITS = {
  /** Lines and UTF-8 bytes (of the line texts) kept per attempt; the rest is counted as dropped. */
  linesPerAttempt: 1000,
  bytesPerAttempt: 256 * 1024,
  /** Characters of one line, and lines of one POST /jobs/:id/logs. */
  lineChars: 4096,
  linesPerBatch: 500,
} as const;

/** Characters of a progress message. */
export const PROGRESS_MESSAGE_CHARS = 200;

/** POST /jobs/:id/progress (bot): fenced by botId and attempt like every report. */
export const ProgressSchema = z.strictObject({
  botId: IdSchema,
  attempt: AttemptSchema,
  fraction: z.number().min(0).max(1),
  message: Text(PROGRESS_MESSAGE_CHARS).optional().nullable(),
});

export const LogLineSchema = z.strictObject({
  at: z.iso.datetime({ offset: true }),
  level: z.enum(LOG_LEVELS),
  line: z
    .string()
    .max(LOG_LIMITS.lineChars)
    .refine((s) => !s.includes('\u0000'), 'must not contain the NUL character (U+0000)'),
});
export type LogLineInput = z.output<typeof LogLineSchema>;

/** POST /jobs/:id/logs (bot): lines in the order logged; `dropped` counts lines the bot did not send. */
export const LogsSchema = z.strictObject({
  botId: IdSchema,
  attempt: AttemptSchema,
  lines: z.array(LogLineSchema).max(LOG_LIMITS.linesPerBatch),
  dropped: z.int().min(0).max(1_000_000_000).optional().default(0),
});

/** GET /jobs/:id/logs: one attempt's lines, oldest first (default: the job's current attempt). */
export const LogsQuery = z.strictObject({
  attempt: z.coerce.number().pipe(AttemptSchema).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional().default(500),
  cursor: z.string().min(1).max(200).optional(),
});

/** What POST /jobs/:id/logs stored: `full` once the attempt's log is at its bound (send no more lines). */
export interface LogsAnswer {
  stored: number;
  dropped: number;
  full: boolean;
}

/** POST /bots/heartbeat: the job the bot runs (and its attempt), so the answer can say to stop it. */
export const HeartbeatSchema = z
  .strictObject({ botId: IdSchema, jobId: IdSchema.optional(), attempt: AttemptSchema.optional() })
  .refine((b) => (b.jobId === undefined) === (b.attempt === undefined), {
    message: 'give jobId and attempt together',
    path: ['attempt'],
  });

/** The heartbeat's answer about the job the bot named: stop it, and why. */
export interface StopOrder {
  jobId: string;
  attempt: number;
  /** The job's status now (cancelled, or whatever it moved on to). */
  status: string;
  reason: string;
}

/** POST /jobs/retry and POST /jobs/cancel (admin): every job matching the filter. */
export const BulkSchema = z.strictObject({ ...JOB_FILTER });
