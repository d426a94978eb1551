/**
 * Domain types and the zod schemas of the HTTP contract (docs/api.md).
 * Shared by every component; no I/O here.
 */
import { z } from 'zod';

export const JOB_STATUSES = ['pending', 'claimed', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const BOT_STATUSES = ['idle', 'busy', 'down'] as const;
export type BotStatus = (typeof BOT_STATUSES)[number];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Job {
  id: string;
  type: string;
  payload: Json;
  status: JobStatus;
  botId: string | null;
  attempts: number;
  maxAttempts: number;
  priority: number;
  runAt: string | null;
  key: string | null;
  timeoutMs: number;
  createdAt: string;
  claimedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  leaseExpiresAt: string | null;
  result: Json;
  error: string | null;
  /** The schedule whose firing created the job (its `runAt` is that firing), else null. */
  schedule: string | null;
  /** The last progress its handler reported in the current attempt, null before the first report. */
  progress: JobProgress | null;
}

export interface JobProgress {
  /** 0..1 */
  fraction: number;
  message: string | null;
  at: string;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One line a handler logged in one attempt (GET /jobs/:id/logs). */
export interface JobLogLine {
  at: string;
  attempt: number;
  level: LogLevel;
  line: string;
}

export interface JobEvent {
  at: string;
  from: JobStatus | null;
  to: JobStatus;
  botId: string | null;
  attempt: number;
  note: string | null;
}

export interface Bot {
  id: string;
  name: string;
  status: BotStatus;
  currentJobId: string | null;
  registeredAt: string;
  lastHeartbeatAt: string;
  jobsCompleted: number;
  jobsFailed: number;
}

/** One line of the datalake: one finished attempt. */
export interface ResultLine {
  resultId: string;
  jobId: string;
  attempt: number;
  botId: string | null;
  type: string;
  /** cancelled: an admin cancelled the job while this attempt ran. */
  status: 'completed' | 'failed' | 'cancelled';
  result: Json;
  error: string | null;
  createdAt: string;
  claimedAt: string | null;
  startedAt: string | null;
  finishedAt: string;
  durationMs: number | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Summary {
  jobs: Record<JobStatus, number> & { total: number };
  bots: Record<BotStatus, number> & { total: number };
  finished: { lastMinute: number; last5Minutes: number; lastHour: number };
  /** completed / (completed + failed) over every finished job, null before the first one. */
  successRate: number | null;
  /** mean running time (startedAt → finishedAt) of attempts finished in the last hour, null if none. */
  meanProcessingMs: number | null;
  /** finished attempts per UTC minute over the last hour, oldest first (60 entries). */
  throughput: { minute: string; completed: number; failed: number }[];
}

// ---------------------------------------------------------------- request schemas

/** Ids: opaque, printable, no slashes, 1..128 chars. */
export const IdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, 'ids are 1-128 characters of A-Z a-z 0-9 . _ : @ -')
  .refine((s) => s !== '.' && s !== '..', 'an id cannot be "." or ".." (it would not survive in a URL path)');

/**
 * Free text stored in a column (names, keys, error messages). U+0000 is refused: PostgreSQL text
 * cannot hold it, and both backends must accept the same input.
 */
export const Text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain the NUL character (U+0000)');

/** True when v is a JSON value: null, boolean, finite number, string, or arrays / plain objects of them. */
export function isJson(v: unknown, depth = 0): v is Json {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || depth > 256) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isJson(v[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in v) if (!isJson((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

/**
 * Any JSON value. A plain check rather than a recursive union of zod schemas: a union tries each
 * branch at every node, which made validating 10,000 job payloads cost more than inserting them.
 */
const JsonSchema: z.ZodType<Json> = z.custom<Json>((v) => isJson(v), {
  message: 'must be a JSON value (null, boolean, number, string, array or object)',
});
export { JsonSchema };

export const JobTypeSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_.-]*$/, 'job types are lower-case letters, digits, _ . -, starting with a letter');

export const CreateJobSchema = z.strictObject({
  type: JobTypeSchema,
  payload: JsonSchema.optional().default({}),
  maxAttempts: z.int().min(1).max(100).optional(),
  priority: z.int().min(-1000).max(1000).optional().default(0),
  runAt: z.iso.datetime({ offset: true }).optional().nullable(),
  key: Text(256).optional().nullable(),
  timeoutMs: z
    .int()
    .min(0)
    .max(7 * 24 * 3600 * 1000)
    .optional(),
});
export type CreateJobInput = z.input<typeof CreateJobSchema>;
export type CreateJob = z.output<typeof CreateJobSchema>;

/** POST /jobs accepts one job, or {jobs: [...]} to enqueue many in one transaction. */
export const CreateJobsBatchSchema = z.strictObject({
  jobs: z.array(CreateJobSchema).min(1).max(10000),
});

export const PopulateSchema = z.strictObject({
  count: z.int().min(1).max(1000).optional(),
});

export const ClaimSchema = z.strictObject({
  botId: IdSchema,
  /** Long-poll: wait up to this long for a job before answering 204 (default 0, max 30 s). */
  waitMs: z.int().min(0).max(30000).optional().default(0),
});

/**
 * An attempt number: at most what the databases store (a 32-bit integer column); no job ever
 * reaches more, and a larger one is a 400 naming the field.
 */
export const AttemptSchema = z.int().min(1).max(2_147_483_647);

/** start/complete/fail may name the attempt the bot is working on; a stale attempt gets 409. */
export const StartSchema = z.strictObject({ botId: IdSchema, attempt: AttemptSchema.optional() });
export const CompleteSchema = z.strictObject({
  botId: IdSchema,
  attempt: AttemptSchema.optional(),
  result: JsonSchema.optional().default(null),
});
export const FailSchema = z.strictObject({
  botId: IdSchema,
  attempt: AttemptSchema.optional(),
  error: Text(10000),
});

/** POST /jobs/:id/release: a bot hands back the job it holds at `attempt` (it is stopping); the attempt is exact. */
export const ReleaseSchema = z.strictObject({ botId: IdSchema, attempt: AttemptSchema });

/**
 * POST /jobs/next, the bot path: report the previous attempt (complete or fail) and get the
 * next job, claimed and started, in one call and one transaction.
 */
export const NextSchema = z
  .strictObject({
    botId: IdSchema,
    waitMs: z.int().min(0).max(30000).optional().default(0),
    complete: z
      .strictObject({ jobId: IdSchema, attempt: AttemptSchema, result: JsonSchema.optional().default(null) })
      .optional(),
    fail: z.strictObject({ jobId: IdSchema, attempt: AttemptSchema, error: Text(10000) }).optional(),
  })
  .refine((b) => !(b.complete && b.fail), { message: 'give complete or fail, not both', path: ['fail'] });

export const RegisterBotSchema = z.strictObject({
  id: IdSchema.optional(),
  name: Text(128).optional(),
});

/** Which jobs: the filter of GET /jobs and of the bulk actions (POST /jobs/retry, POST /jobs/cancel). */
export const JOB_FILTER = {
  status: z.enum(JOB_STATUSES).optional(),
  botId: IdSchema.optional(),
  type: JobTypeSchema.optional(),
  /** Created before / at or after this time (ISO 8601). */
  createdBefore: z.iso.datetime({ offset: true }).optional(),
  createdAfter: z.iso.datetime({ offset: true }).optional(),
};
export type JobFilter = z.output<z.ZodObject<typeof JOB_FILTER>>;

export const ListJobsQuery = z.strictObject({
  ...JOB_FILTER,
  limit: z.coerce.number().int().min(1).max(500).optional().default(50),
  cursor: z.string().min(1).max(200).optional(),
});
export type ListJobsOptions = z.output<typeof ListJobsQuery>;

export const DateParam = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'date must be YYYY-MM-DD')
  .refine(
    (s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s),
    'date must be a real calendar day',
  );
