/** GET /openapi.json, generated from the same zod schemas that validate requests. */
import { z } from 'zod';
import {
  ClaimSchema,
  CompleteSchema,
  CreateJobSchema,
  CreateJobsBatchSchema,
  FailSchema,
  ListJobsQuery,
  NextSchema,
  PopulateSchema,
  RegisterBotSchema,
  ReleaseSchema,
  StartSchema,
} from '../core/types';
import type { Role } from '../core/http/auth';
import { BulkSchema, HeartbeatSchema, LogsQuery, LogsSchema, ProgressSchema } from '../core/job-control';
import { CreateScheduleSchema, PreviewScheduleSchema, ReplaceScheduleSchema } from '../core/schedule';

type Op = {
  summary: string;
  /** Who may call it (docs/security.md): viewer also admits admin; null is open to anyone. */
  role: Role | null;
  body?: z.ZodType;
  query?: z.ZodObject;
  responses: Record<string, string>;
};

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

const ops: Record<string, Record<string, Op>> = {
  '/jobs/populate': {
    post: {
      summary: 'Create a batch of simulated jobs (count defaults to BATCH_SIZE)',
      role: 'admin',
      body: PopulateSchema,
      responses: { 201: '{items: Job[]}' },
    },
  },
  '/jobs': {
    post: {
      summary: 'Enqueue one job, or {jobs: [...]} for many in one transaction',
      role: 'admin',
      body: z.union([CreateJobSchema, CreateJobsBatchSchema]),
      responses: { 201: 'Job created', 200: 'existing job with the same key returned' },
    },
    get: {
      summary: 'List jobs, newest first, keyset-paginated',
      role: 'viewer',
      query: ListJobsQuery,
      responses: { 200: '{items: Job[], nextCursor}' },
    },
  },
  '/jobs/{id}': {
    get: {
      summary: 'One job with its events',
      role: 'viewer',
      responses: { 200: 'Job with events', 404: 'unknown job' },
    },
  },
  '/jobs/claim': {
    post: {
      summary: 'Claim one job (long-poll with waitMs); for clients other than the bots, which use /jobs/next',
      role: 'bot',
      body: ClaimSchema,
      responses: { 200: 'Job (claimed)', 204: 'nothing claimable', 404: 'unknown bot', 409: 'bot down or busy' },
    },
  },
  '/jobs/next': {
    post: {
      summary: 'The bot path: complete or fail the previous attempt and claim-and-start the next job in one call',
      role: 'bot',
      body: NextSchema,
      responses: {
        200: '{finished: Job|null, job: Job (running)|null}',
        404: 'unknown bot or job',
        409: 'stale report, bot down or busy',
      },
    },
  },
  '/jobs/{id}/start': {
    post: {
      summary: 'Start a claimed job (clients that claim with /jobs/claim)',
      role: 'bot',
      body: StartSchema,
      responses: { 200: 'Job (running)', 409: 'not claimed by this bot/attempt' },
    },
  },
  '/jobs/{id}/complete': {
    post: {
      summary: 'Complete a job (idempotent for the same bot and attempt)',
      role: 'bot',
      body: CompleteSchema,
      responses: { 200: 'Job (completed)', 409: 'not running under this bot/attempt' },
    },
  },
  '/jobs/{id}/fail': {
    post: {
      summary: 'Fail an attempt: pending again while attempts < maxAttempts, else failed',
      role: 'bot',
      body: FailSchema,
      responses: { 200: 'Job', 409: 'not running under this bot/attempt' },
    },
  },
  '/jobs/{id}/release': {
    post: {
      summary:
        'Hand back the job this bot holds at this attempt (it is stopping): pending again, the attempt not counted',
      role: 'bot',
      body: ReleaseSchema,
      responses: { 200: 'Job (pending)', 404: 'unknown job', 409: 'not held by this bot at this attempt' },
    },
  },
  '/jobs/{id}/retry': {
    post: {
      summary: 'Give a failed or cancelled job one more attempt',
      role: 'admin',
      responses: { 200: 'Job (pending)', 409: 'not failed or cancelled' },
    },
  },
  '/jobs/{id}/cancel': {
    post: {
      summary: 'Cancel a pending, claimed or running job: cancelled at once, its bot told to stop',
      role: 'admin',
      responses: { 200: 'Job (cancelled)', 409: 'already finished' },
    },
  },
  '/jobs/{id}/progress': {
    post: {
      summary: 'Progress (fraction 0..1, optional message) of the attempt this bot holds',
      role: 'bot',
      body: ProgressSchema,
      responses: { 200: '{jobId, attempt, progress}', 404: 'unknown job', 409: 'not held by this bot at this attempt' },
    },
  },
  '/jobs/{id}/logs': {
    post: {
      summary: 'Log lines of the attempt this bot holds; kept up to 1,000 lines or 256 KiB per attempt',
      role: 'bot',
      body: LogsSchema,
      responses: { 200: '{stored, dropped, full}', 404: 'unknown job', 409: 'not held by this bot at this attempt' },
    },
    get: {
      summary: "One attempt's log lines, oldest first (default: the current attempt), paged by cursor",
      role: 'viewer',
      query: LogsQuery,
      responses: { 200: '{attempt, items, dropped, nextCursor, more}', 404: 'unknown job' },
    },
  },
  '/jobs/retry': {
    post: {
      summary: 'Retry every failed or cancelled job matching the filter',
      role: 'admin',
      body: BulkSchema,
      responses: { 200: '{count}' },
    },
  },
  '/jobs/cancel': {
    post: {
      summary: 'Cancel every pending, claimed or running job matching the filter',
      role: 'admin',
      body: BulkSchema,
      responses: { 200: '{count}' },
    },
  },
  '/bots/register': {
    post: {
      summary: 'Register a bot (idempotent on id)',
      role: 'bot',
      body: RegisterBotSchema,
      responses: { 201: 'new Bot', 200: 'known Bot' },
    },
  },
  '/bots/heartbeat': {
    post: {
      summary: 'Heartbeat; extends the lease of its job; names the job it runs to learn whether to stop it',
      role: 'bot',
      body: HeartbeatSchema,
      responses: {
        200: 'Bot with currentAttempt (the attempt of the job it holds, or null) and stop (null, or the job to stop)',
        404: 'unknown bot: register again',
      },
    },
  },
  '/bots': { get: { summary: 'All bots', role: 'viewer', responses: { 200: '{items: Bot[]}' } } },
  '/bots/{id}': {
    get: {
      summary: 'One bot with its recent jobs and lost leases',
      role: 'viewer',
      responses: { 200: 'Bot', 404: 'unknown bot' },
    },
    delete: {
      summary: 'Remove a bot; its job goes back to pending',
      role: 'admin',
      responses: { 204: 'deleted', 404: 'unknown bot' },
    },
  },
  '/metrics/summary': {
    get: { summary: 'Counts, throughput, success rate', role: 'viewer', responses: { 200: 'Summary' } },
  },
  '/metrics': { get: { summary: 'Prometheus metrics', role: 'viewer', responses: { 200: 'text/plain' } } },
  '/datalake/stats': {
    get: { summary: 'Per-day and total datalake statistics', role: 'viewer', responses: { 200: 'DatalakeStats' } },
  },
  '/datalake/export/{date}': {
    get: {
      summary: 'One day of results as NDJSON, streamed',
      role: 'viewer',
      responses: { 200: 'application/x-ndjson', 400: 'not YYYY-MM-DD', 404: 'no data that day' },
    },
  },
  '/queue': { get: { summary: 'Whether claiming is paused', role: 'viewer', responses: { 200: '{paused}' } } },
  '/queue/pause': { post: { summary: 'Pause claiming', role: 'admin', responses: { 200: '{paused: true}' } } },
  '/queue/resume': { post: { summary: 'Resume claiming', role: 'admin', responses: { 200: '{paused: false}' } } },
  '/openapi.json': { get: { summary: 'This document', role: null, responses: { 200: 'OpenAPI 3.1' } } },
  '/schedules': {
    get: {
      summary: 'Cron schedules, the built-in batch (builtin:populate) first, with their next 5 firings',
      role: 'viewer',
      responses: { 200: '{items: Schedule[]}' },
    },
    post: {
      summary: 'Create a cron schedule: each firing creates the job once, whatever the number of servers',
      role: 'admin',
      body: CreateScheduleSchema,
      responses: { 201: 'Schedule with nextRuns', 409: 'a schedule with this name exists' },
    },
  },
  '/schedules/preview': {
    post: {
      summary: 'The next 5 firings of a cron in a time zone, without saving anything',
      role: 'viewer',
      body: PreviewScheduleSchema,
      responses: { 200: '{cron, timezone, nextRuns}' },
    },
  },
  '/schedules/{name}': {
    get: {
      summary: 'One schedule',
      role: 'viewer',
      responses: { 200: 'Schedule with nextRuns', 404: 'unknown schedule' },
    },
    put: {
      summary: 'Replace a schedule; a changed cron takes effect from its next firing, no instant fires twice',
      role: 'admin',
      body: ReplaceScheduleSchema,
      responses: { 200: 'Schedule', 404: 'unknown schedule', 409: 'the built-in batch is read-only' },
    },
    delete: {
      summary: 'Delete a schedule (its jobs stay)',
      role: 'admin',
      responses: { 204: 'deleted', 404: 'unknown schedule', 409: 'the built-in batch is read-only' },
    },
  },
  '/healthz': {
    get: {
      summary: 'Health: 503 when the database is unreachable',
      role: null,
      responses: { 200: '{status: "ok"}', 503: 'database unreachable' },
    },
  },
};

/** The security schemes that satisfy a route's role: a viewer route also takes the admin token. */
const ACCEPTED: Record<Role, Role[]> = { viewer: ['viewer', 'admin'], bot: ['bot'], admin: ['admin'] };

let cached: unknown;

export function openApiDocument(): unknown {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [p, methods] of Object.entries(ops)) {
    paths[p] = {};
    for (const [m, op] of Object.entries(methods)) {
      const parameters: unknown[] = [];
      for (const name of ['id', 'name'])
        if (p.includes(`{${name}}`)) parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
      if (p.includes('{date}'))
        parameters.push({
          name: 'date',
          in: 'path',
          required: true,
          schema: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
        });
      if (op.query) {
        for (const [name, s] of Object.entries(op.query.shape))
          parameters.push({ name, in: 'query', required: false, schema: schema(s as z.ZodType) });
      }
      paths[p][m] = {
        summary: op.summary,
        security: op.role === null ? [] : ACCEPTED[op.role].map((r) => ({ [r]: [] })),
        ...(parameters.length ? { parameters } : {}),
        ...(op.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: schema(op.body) } } } }
          : {}),
        responses: Object.fromEntries(
          Object.entries({
            ...op.responses,
            400: 'validation_failed',
            ...(op.role === null
              ? {}
              : { 401: 'unauthorized: no token, or an unknown one', 403: 'forbidden: a token of another role' }),
          }).map(([code, description]) => [
            code,
            {
              description,
              ...(Number(code) >= 400
                ? { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
                : {}),
            },
          ]),
        ),
      };
    }
  }
  cached = {
    openapi: '3.1.0',
    info: {
      title: 'botfleet server',
      version: '0.1.0',
      description: 'Jobs, bots, results and the datalake. See docs/api.md.',
    },
    paths,
    components: {
      securitySchemes: {
        admin: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN: every read and every admin action' },
        viewer: { type: 'http', scheme: 'bearer', description: 'VIEWER_TOKEN: every read' },
        bot: { type: 'http', scheme: 'bearer', description: 'BOT_TOKEN: the bot routes only' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                details: { type: 'array', items: { type: 'object' } },
              },
            },
          },
        },
      },
    },
  };
  return cached;
}
