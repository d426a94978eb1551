/**
 * Bot configuration: the only reader of process.env in bot/. Parsed with zod; every bad variable is
 * reported at once (core/config.ts).
 */
import os from 'node:os';
import { z } from 'zod';
import { envFloat, envHttpUrl, envInt, envLogLevel, envString, parseEnvWithTokens } from '../core/config';
import { IdSchema } from '../core/types';

const EnvSchema = z
  .object({
    SERVER_URL: envHttpUrl('http://localhost:3001'),
    // In Kubernetes the host name is the pod name, so `kubectl logs <pod>` and the dashboard agree.
    BOT_ID: envString(os.hostname()).pipe(IdSchema),
    BOT_NAME: envString('').pipe(z.string().max(128)),
    HEARTBEAT_INTERVAL_MS: envInt(30000, 10, 3_600_000),
    PROCESSING_DURATION_MS: envInt(300000, 0, 86_400_000),
    FAILURE_RATE: envFloat(0.15, 0, 1),
    CLAIM_WAIT_MS: envInt(25000, 0, 30000),
    CLAIM_POLL_INTERVAL_MS: envInt(1000, 10, 600_000),
    BOT_SHUTDOWN_GRACE_MS: envInt(25000, 0, 3_600_000),
    BACKOFF_MIN_MS: envInt(500, 1, 3_600_000),
    BACKOFF_MAX_MS: envInt(30000, 1, 3_600_000),
    REQUEST_TIMEOUT_MS: envInt(10000, 100, 600_000),
    BOT_NICE: envInt(10, 0, 19),
    LOG_LEVEL: envLogLevel,
  })
  .superRefine((env, ctx) => {
    if (env.BACKOFF_MIN_MS > env.BACKOFF_MAX_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['BACKOFF_MIN_MS'],
        message: `must not exceed BACKOFF_MAX_MS (${env.BACKOFF_MAX_MS}), got ${env.BACKOFF_MIN_MS}`,
      });
    }
  });

export interface BotConfig {
  serverUrl: string;
  /** Sent as `Authorization: Bearer` on every call: the first of BOT_TOKEN's list. */
  botToken: string;
  /** One line per default token in use, logged at start. */
  tokenWarnings: readonly string[];
  botId: string;
  botName: string;
  heartbeatIntervalMs: number;
  processingDurationMs: number;
  failureRate: number;
  /** Long-poll time of POST /jobs/next while idle; 0 = plain polling every claimPollIntervalMs. */
  claimWaitMs: number;
  /** Pause before the next claim when the server answered 204 without waiting (no long-poll, or paused queue). */
  claimPollIntervalMs: number;
  shutdownGraceMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  requestTimeoutMs: number;
  /** CPU niceness the bot lowers itself to at start (0 = as started); bot/niceness.ts. */
  nice: number;
  logLevel: string;
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadBotConfig(env: NodeJS.ProcessEnv = process.env): Readonly<BotConfig> {
  const e = parseEnvWithTokens(EnvSchema, env, ['bot']);
  return Object.freeze({
    serverUrl: e.SERVER_URL.replace(/\/+$/, ''),
    botToken: e.tokens.bot[0],
    tokenWarnings: e.tokenWarnings,
    botId: e.BOT_ID,
    botName: e.BOT_NAME || e.BOT_ID,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    processingDurationMs: e.PROCESSING_DURATION_MS,
    failureRate: e.FAILURE_RATE,
    claimWaitMs: e.CLAIM_WAIT_MS,
    claimPollIntervalMs: e.CLAIM_POLL_INTERVAL_MS,
    shutdownGraceMs: e.BOT_SHUTDOWN_GRACE_MS,
    backoffMinMs: e.BACKOFF_MIN_MS,
    backoffMaxMs: e.BACKOFF_MAX_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    nice: e.BOT_NICE,
    logLevel: e.LOG_LEVEL,
  });
}

export const BOT_HELP = `npm run bot  (node --import tsx bot/main.ts)

A worker bot: registers with the server, heartbeats on its own timer, and with one POST /jobs/next
per job reports the previous result and claims the next job (long-poll while idle), runs the handler
for its type. SIGTERM/SIGINT: stop claiming, let the current job finish within
BOT_SHUTDOWN_GRACE_MS, else stop it and hand it back unfinished (another bot runs it, the attempt
not counted).

Environment (defaults in brackets):
  SERVER_URL               where the server is [http://localhost:3001]
  BOT_TOKEN                bearer token of the bot role, sent on every call (the first, if a
                           comma-separated list) [a development default; refused with NODE_ENV=production]
  BOT_ID                   this bot's id [the host name; the pod name in Kubernetes]
  BOT_NAME                 display name [BOT_ID]
  HEARTBEAT_INTERVAL_MS    heartbeat period [30000]
  PROCESSING_DURATION_MS   duration of a "simulated" job [300000]
  FAILURE_RATE             share of "simulated" jobs that fail, 0..1 [0.15]
  CLAIM_WAIT_MS            long-poll time of an idle bot's claim, 0..30000; 0 = plain polling [25000]
  CLAIM_POLL_INTERVAL_MS   pause after an immediate "nothing pending" answer [1000]
  BOT_SHUTDOWN_GRACE_MS    time a running job gets to finish on SIGTERM before it is handed back [25000]
  BACKOFF_MIN_MS           first retry delay while the server is unreachable [500]
  BACKOFF_MAX_MS           retry delay cap (exponential, full jitter) [30000]
  REQUEST_TIMEOUT_MS       timeout of one HTTP request (a claim adds CLAIM_WAIT_MS) [10000]
  BOT_NICE                 CPU niceness 0..19 the bot lowers itself to, so a server on the same
                           machine gets the CPU first; 0 = keep the one it was started with [10]
  LOG_LEVEL                fatal|error|warn|info|debug|trace|silent [info]
  LOG_PRETTY               "false" keeps JSON logs on a terminal

Example: BOT_ID=my-bot-4 npm run bot
`;
