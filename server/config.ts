/** The server's configuration: the only reader of process.env for server/. */
import { z } from 'zod';
import { envBool, envInt, envLogLevel, envString, parseEnvWithTokens } from '../core/config';
import { ROLES } from '../core/http/auth';

const schema = z.object({
  SERVER_PORT: envInt(3001, 0, 65535),
  SERVER_HOST: envString('0.0.0.0'),
  DATABASE_URL: envString('sqlite://./data/jobs.db'),
  SQLITE_SYNCHRONOUS: envString('NORMAL').pipe(z.enum(['NORMAL', 'FULL'])),
  PG_POOL_MAX: envInt(10, 1, 200),
  DATALAKE_DIR: envString('./datalake/data'),
  DATALAKE_RETENTION_DAYS: envInt(0, 0, 100000),
  DATALAKE_VERIFY: envString('recent').pipe(z.enum(['recent', 'all'])),
  POPULATE_INTERVAL_MS: envInt(600000, 0),
  BATCH_SIZE: envInt(5, 1, 1000),
  SCHEDULE_TICK_MS: envInt(1000, 10, 60_000),
  SCHEDULE_MISFIRE_GRACE_MS: envInt(60_000, 0),
  BOT_DOWN_AFTER_MS: envInt(120000, 100),
  SWEEP_INTERVAL_MS: envInt(5000, 10),
  MAX_ATTEMPTS: envInt(1, 1, 100),
  JOB_TIMEOUT_MS: envInt(0, 0),
  TRUST_PROXY: envBool(false),
  BODY_LIMIT_BYTES: envInt(1048576, 1024, 64 * 1048576),
  SHUTDOWN_TIMEOUT_MS: envInt(10000, 0),
  RATE_LIMIT_ADMIN_PER_S: envInt(50, 0, 1_000_000),
  RATE_LIMIT_EMPTY_CLAIMS_PER_S: envInt(20, 0, 1_000_000),
  RATE_LIMIT_AUTH_FAILURES_PER_S: envInt(5, 0, 1_000_000),
  LOG_LEVEL: envLogLevel,
});

export type ServerConfig = ReturnType<typeof loadServerConfig>;

/** The settings, plus the tokens of every role (ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN). */
export function loadServerConfig(env: NodeJS.ProcessEnv = process.env) {
  return parseEnvWithTokens(schema, env, ROLES);
}

export const SERVER_HELP = `Usage: npm run server [-- --help]

Runs the job server: the HTTP API on SERVER_PORT (default 3001), the scheduler and cron schedules,
the lease sweeper and the datalake writer. Every setting comes from the environment (see ops/.env.example):

  SERVER_PORT=3001  SERVER_HOST=0.0.0.0
  DATABASE_URL=sqlite://./data/jobs.db      or postgres://user@host:5432/db[?schema=name]
  SQLITE_SYNCHRONOUS=NORMAL                 NORMAL or FULL
  PG_POOL_MAX=10
  DATALAKE_DIR=./datalake/data  DATALAKE_RETENTION_DAYS=0 (keep all)  DATALAKE_VERIFY=recent|all
  POPULATE_INTERVAL_MS=600000 (0 = off)  BATCH_SIZE=5
  SCHEDULE_TICK_MS=1000 (each server fires due cron schedules)  SCHEDULE_MISFIRE_GRACE_MS=60000
  BOT_DOWN_AFTER_MS=120000  SWEEP_INTERVAL_MS=5000  MAX_ATTEMPTS=1  JOB_TIMEOUT_MS=0 (none)
  ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN   bearer tokens of the three roles, each a comma-separated list
      (development defaults, with a warning; refused with NODE_ENV=production; docs/security.md)
  TRUST_PROXY=false (true behind a proxy that sets X-Forwarded-For/-Proto)
  BODY_LIMIT_BYTES=1048576  SHUTDOWN_TIMEOUT_MS=10000
  RATE_LIMIT_ADMIN_PER_S=50 (per client address, burst 2x; 0 = off)
  RATE_LIMIT_AUTH_FAILURES_PER_S=5 (requests refused with 401 per client address, burst 2x; 0 = off)
  RATE_LIMIT_EMPTY_CLAIMS_PER_S=20 (claims that find nothing, per bot, burst 2x; 0 = off)
  LOG_LEVEL=info

Endpoints: docs/api.md, or GET /openapi.json on the running server.`;
