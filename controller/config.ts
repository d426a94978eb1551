/**
 * Controller configuration: the only reader of process.env in controller/. Parsed with zod through
 * the core helpers; every bad variable is reported at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, envBool, envHttpUrl, envInt, envLogLevel, envString, parseEnvWithTokens } from '../core/config';
import { ROLES, TOKEN_VARIABLES, type Tokens } from '../core/http/auth';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { HARD_MAX_BOTS } from './desired-state';

/** How the process driver starts one bot by default: with the bot's V8 flags, as every other start path. */
const DEFAULT_BOT_COMMAND = ['node', ...BOT_NODE_FLAGS, '--import tsx bot/main.ts'].join(' ');

/** Where a pod finds its own namespace (mounted with the service account token). */
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

const k8sName = (def: string) =>
  envString(def).pipe(
    z
      .string()
      .max(253)
      .regex(
        /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
        'must be a Kubernetes object name (lower-case letters, digits, - and .)',
      ),
  );

function defaultNamespace(): string {
  try {
    const ns = fs.readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
    if (ns) return ns;
  } catch {
    /* not in a pod */
  }
  return 'default';
}

/**
 * Splits a command line on whitespace, honouring "double" and 'single' quotes, so that BOT_COMMAND
 * can hold a path with spaces without a shell being involved.
 */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function schema(env: NodeJS.ProcessEnv) {
  const insideKubernetes = Boolean(env.KUBERNETES_SERVICE_HOST);
  return z.object({
    CONTROLLER_PORT: envInt(3003, 0, 65535),
    CONTROLLER_HOST: envString('0.0.0.0'),
    SERVER_URL: envHttpUrl('http://localhost:3001'),
    TRUST_PROXY: envBool(false),
    SCALE_DRIVER: envString(insideKubernetes ? 'kubernetes' : 'process').pipe(z.enum(['process', 'kubernetes'])),
    BOT_REPLICAS: envInt(3, 0, HARD_MAX_BOTS),
    MAX_BOTS: envInt(50, 0, HARD_MAX_BOTS),
    RECONCILE_INTERVAL_MS: envInt(5000, 100, 3_600_000),
    AUTOSCALE_COOLDOWN_MS: envInt(60000, 0, 86_400_000),
    AUTOSCALE_ENABLED: envBool(false),
    AUTOSCALE_MIN: envInt(1, 0, HARD_MAX_BOTS),
    AUTOSCALE_MAX: envInt(10, 0, HARD_MAX_BOTS),
    AUTOSCALE_JOBS_PER_BOT: envInt(5, 1, 1_000_000),
    CONTROLLER_STATE_FILE: envString('./data/controller-state.json'),
    KUBE_NAMESPACE: envString(''),
    KUBECONFIG: envString(''),
    BOTS_DEPLOYMENT: k8sName('botfleet-bots'),
    CONTROLLER_CONFIGMAP: k8sName('botfleet-controller'),
    BOT_COMMAND: envString(DEFAULT_BOT_COMMAND).pipe(
      z.string().refine((s) => splitCommand(s).length > 0, 'must name a program'),
    ),
    BOT_CWD: envString(process.cwd()),
    BOT_ID_PREFIX: envString('bot').pipe(
      z.string().regex(/^[A-Za-z0-9._:@-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 . _ : @ -'),
    ),
    BOT_STOP_GRACE_MS: envInt(30000, 0, 3_600_000),
    BOT_RESTART_BACKOFF_MS: envInt(1000, 10, 600_000),
    BOT_RESTART_BACKOFF_MAX_MS: envInt(30000, 10, 3_600_000),
    CONTROLLER_UPSTREAM_TIMEOUT_MS: envInt(5000, 100, 120_000),
    CONTROLLER_BODY_LIMIT_BYTES: envInt(16384, 64, 10_485_760),
    SHUTDOWN_TIMEOUT_MS: envInt(10000, 0, 600_000),
    LOG_LEVEL: envLogLevel,
  });
}

export interface ControllerConfig {
  port: number;
  host: string;
  serverUrl: string;
  /**
   * ADMIN_TOKEN (its changes, and the server's DELETE /bots/:id), VIEWER_TOKEN (GET /scale, and its
   * reads of the server), BOT_TOKEN (handed to the bots it starts).
   */
  tokens: Tokens;
  /** One line per default token in use, logged at start. */
  tokenWarnings: readonly string[];
  trustProxy: boolean;
  driver: 'process' | 'kubernetes';
  botReplicas: number;
  maxBots: number;
  reconcileIntervalMs: number;
  autoscaleCooldownMs: number;
  autoscale: { enabled: boolean; min: number; max: number; jobsPerBot: number };
  stateFile: string;
  kubeNamespace: string;
  /** KUBECONFIG when set; otherwise the in-cluster service account (or ~/.kube/config outside a pod). */
  kubeconfigFile: string | null;
  inCluster: boolean;
  botsDeployment: string;
  configMapName: string;
  botCommand: string[];
  botCwd: string;
  botIdPrefix: string;
  botStopGraceMs: number;
  botRestartBackoffMs: number;
  botRestartBackoffMaxMs: number;
  serverTimeoutMs: number;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  logLevel: string;
  /** The environment handed to bot child processes: the controller's own without ADMIN_TOKEN and VIEWER_TOKEN. */
  botEnv: Record<string, string>;
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ControllerConfig> {
  const e = parseEnvWithTokens(schema(env), env, ROLES);
  const problems: string[] = [];
  if (e.BOT_REPLICAS > e.MAX_BOTS)
    problems.push(`BOT_REPLICAS: must be at most MAX_BOTS (${e.MAX_BOTS}), got ${e.BOT_REPLICAS}`);
  if (e.AUTOSCALE_MIN > e.AUTOSCALE_MAX)
    problems.push(`AUTOSCALE_MIN: must be at most AUTOSCALE_MAX (${e.AUTOSCALE_MAX}), got ${e.AUTOSCALE_MIN}`);
  if (e.BOT_RESTART_BACKOFF_MS > e.BOT_RESTART_BACKOFF_MAX_MS) {
    problems.push(
      `BOT_RESTART_BACKOFF_MS: must be at most BOT_RESTART_BACKOFF_MAX_MS (${e.BOT_RESTART_BACKOFF_MAX_MS})`,
    );
  }
  if (problems.length > 0) {
    // Same error as parseEnv's, so main.ts prints both kinds the same way.
    throw new ConfigError(problems);
  }
  // A bot gets BOT_TOKEN (the process driver sets it), never the admin or viewer token.
  const botEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (v !== undefined && k !== TOKEN_VARIABLES.admin && k !== TOKEN_VARIABLES.viewer) botEnv[k] = v;
  return Object.freeze({
    port: e.CONTROLLER_PORT,
    host: e.CONTROLLER_HOST,
    serverUrl: e.SERVER_URL.replace(/\/+$/, ''),
    tokens: e.tokens,
    tokenWarnings: e.tokenWarnings,
    trustProxy: e.TRUST_PROXY,
    driver: e.SCALE_DRIVER,
    botReplicas: e.BOT_REPLICAS,
    maxBots: e.MAX_BOTS,
    reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
    autoscaleCooldownMs: e.AUTOSCALE_COOLDOWN_MS,
    autoscale: Object.freeze({
      enabled: e.AUTOSCALE_ENABLED,
      min: Math.min(e.AUTOSCALE_MIN, e.MAX_BOTS),
      max: Math.min(e.AUTOSCALE_MAX, e.MAX_BOTS),
      jobsPerBot: e.AUTOSCALE_JOBS_PER_BOT,
    }),
    stateFile: path.resolve(e.CONTROLLER_STATE_FILE),
    kubeNamespace: e.KUBE_NAMESPACE || defaultNamespace(),
    kubeconfigFile: e.KUBECONFIG ? path.resolve(e.KUBECONFIG.split(path.delimiter)[0]) : null,
    inCluster: Boolean(env.KUBERNETES_SERVICE_HOST),
    botsDeployment: e.BOTS_DEPLOYMENT,
    configMapName: e.CONTROLLER_CONFIGMAP,
    botCommand: splitCommand(e.BOT_COMMAND),
    botCwd: path.resolve(e.BOT_CWD),
    botIdPrefix: e.BOT_ID_PREFIX,
    botStopGraceMs: e.BOT_STOP_GRACE_MS,
    botRestartBackoffMs: e.BOT_RESTART_BACKOFF_MS,
    botRestartBackoffMaxMs: e.BOT_RESTART_BACKOFF_MAX_MS,
    serverTimeoutMs: e.CONTROLLER_UPSTREAM_TIMEOUT_MS,
    bodyLimitBytes: e.CONTROLLER_BODY_LIMIT_BYTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    botEnv,
  });
}

export const HELP = `botfleet controller: keeps the number of bots at the desired count (reconcile loop, no CRDs)

Usage: npm run controller            (node --import tsx controller/main.ts)

HTTP (default port 3003): GET /scale, PUT /scale {replicas}, POST /scale/add, POST /scale/remove,
PUT /autoscale {enabled, min, max, jobsPerBot}, GET /metrics, GET /healthz. Changes need
"Authorization: Bearer <ADMIN_TOKEN>", reads VIEWER_TOKEN or ADMIN_TOKEN; /healthz is open.

Environment (defaults in brackets):
  CONTROLLER_PORT [3003]            port of the HTTP API
  CONTROLLER_HOST [0.0.0.0]         interface to listen on
  SERVER_URL [http://localhost:3001] the job server (bot status, queue depth)
  ADMIN_TOKEN, VIEWER_TOKEN, BOT_TOKEN  bearer tokens, each a comma-separated list (the first is the
                                    one sent): admin for changes and the server's DELETE /bots/:id,
                                    viewer for reads (its own and the server's), bot handed to the
                                    bots it starts [development defaults with a warning; refused
                                    with NODE_ENV=production]
  TRUST_PROXY [false]               true behind a proxy that sets X-Forwarded-For (audit addresses)
  SCALE_DRIVER [process; kubernetes inside a pod]  how bots are run
  BOT_REPLICAS [3]                  desired bots when no saved state exists yet
  MAX_BOTS [50]                     upper bound for every scale
  RECONCILE_INTERVAL_MS [5000]      resync period of the reconcile loop
  AUTOSCALE_COOLDOWN_MS [60000]     no autoscale scale-down this soon after the last change
  AUTOSCALE_ENABLED [false], AUTOSCALE_MIN [1], AUTOSCALE_MAX [10], AUTOSCALE_JOBS_PER_BOT [5]
                                    initial autoscale settings when no saved state exists yet
  CONTROLLER_STATE_FILE [./data/controller-state.json]  desired state (process driver)
  KUBE_NAMESPACE [the pod's namespace, else default]     (kubernetes driver)
  KUBECONFIG [in-cluster service account, else ~/.kube/config]  (kubernetes driver)
  BOTS_DEPLOYMENT [botfleet-bots]   the bots Deployment whose scale is patched
  CONTROLLER_CONFIGMAP [botfleet-controller]  ConfigMap holding the desired state
  BOT_COMMAND [${DEFAULT_BOT_COMMAND}]  command of one bot (process driver)
  BOT_CWD [the working directory]   where bot processes run
  BOT_ID_PREFIX [bot]               bots are named <prefix>-1, <prefix>-2, ...
  BOT_STOP_GRACE_MS [30000]         SIGTERM to SIGKILL delay when stopping a bot
  BOT_RESTART_BACKOFF_MS [1000], BOT_RESTART_BACKOFF_MAX_MS [30000]  restart delays of a dead bot
  CONTROLLER_UPSTREAM_TIMEOUT_MS [5000]  timeout of each call to the server
  CONTROLLER_BODY_LIMIT_BYTES [16384]  largest accepted request body
  SHUTDOWN_TIMEOUT_MS [10000]       time SIGTERM waits for in-flight requests
  LOG_LEVEL [info]                  fatal, error, warn, info, debug, trace or silent
`;
