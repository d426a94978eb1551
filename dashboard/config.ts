/**
 * Dashboard configuration: the only reader of process.env for the dashboard. Every variable is
 * parsed with zod; main.ts prints every bad one and exits.
 */
import { z } from 'zod';
import { envBool, envHttpUrl, envInt, envLogLevel, envString, parseEnvWithTokens } from '../core/config';
import type { Tokens } from '../core/http/auth';

const DashboardEnv = z.object({
  DASHBOARD_PORT: envInt(3002, 0, 65535),
  DASHBOARD_HOST: envString('0.0.0.0'),
  SERVER_URL: envHttpUrl('http://localhost:3001'),
  CONTROLLER_URL: envHttpUrl('http://localhost:3003'),
  TRUST_PROXY: envBool(false),
  SESSION_TTL_MS: envInt(8 * 3600 * 1000, 60_000, 30 * 24 * 3600 * 1000),
  DASHBOARD_REFRESH_MS: envInt(3000, 500, 600_000),
  DASHBOARD_UPSTREAM_TIMEOUT_MS: envInt(3000, 100, 60_000),
  SHUTDOWN_TIMEOUT_MS: envInt(10_000, 0, 120_000),
  LOG_LEVEL: envLogLevel,
});

export type DashboardConfig = Readonly<{
  port: number;
  host: string;
  serverUrl: string;
  controllerUrl: string;
  /**
   * VIEWER_TOKEN and ADMIN_TOKEN: who may sign in with which role, and what the dashboard sends
   * (the first of each list): the viewer token for reads, the admin token for controls.
   */
  tokens: Tokens<'admin' | 'viewer'>;
  /** One line per default token in use: logged at start and shown on every page. */
  tokenWarnings: readonly string[];
  /** Behind a TLS proxy that sets X-Forwarded-Proto/-Host/-For (origin check, Secure cookie, addresses). */
  trustProxy: boolean;
  sessionTtlMs: number;
  refreshMs: number;
  upstreamTimeoutMs: number;
  shutdownTimeoutMs: number;
  logLevel: string;
}>;

/** Parses the dashboard's variables; throws ConfigError naming every bad one. */
export function loadDashboardConfig(env: NodeJS.ProcessEnv = process.env): DashboardConfig {
  const e = parseEnvWithTokens(DashboardEnv, env, ['admin', 'viewer']);
  return Object.freeze({
    port: e.DASHBOARD_PORT,
    host: e.DASHBOARD_HOST,
    serverUrl: e.SERVER_URL,
    controllerUrl: e.CONTROLLER_URL,
    tokens: e.tokens,
    tokenWarnings: e.tokenWarnings,
    trustProxy: e.TRUST_PROXY,
    sessionTtlMs: e.SESSION_TTL_MS,
    refreshMs: e.DASHBOARD_REFRESH_MS,
    upstreamTimeoutMs: e.DASHBOARD_UPSTREAM_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  });
}

export const DASHBOARD_HELP = `botfleet dashboard: web pages to watch and control the job system.

Usage: npm run dashboard            (node --import tsx dashboard/main.ts)

Environment (defaults in brackets):
  DASHBOARD_PORT                 port to listen on [3002]
  DASHBOARD_HOST                 interface to listen on [0.0.0.0]
  SERVER_URL                     where the job server is [http://localhost:3001]
  CONTROLLER_URL                 where the bot controller is [http://localhost:3003]
  VIEWER_TOKEN                   signs in read-only; sent for every read of server and controller
  ADMIN_TOKEN                    signs in with the controls; sent for every control
                                 (each a comma-separated list, the first is sent; development
                                 defaults with a warning, refused with NODE_ENV=production)
  TRUST_PROXY                    true behind a proxy that sets X-Forwarded-Proto/-Host/-For [false]
  SESSION_TTL_MS                 how long a sign-in lasts [28800000 = 8 h]
  DASHBOARD_REFRESH_MS           how often live parts refresh in the browser [3000]
  DASHBOARD_UPSTREAM_TIMEOUT_MS  time allowed for one call to server or controller [3000]
  SHUTDOWN_TIMEOUT_MS            time a SIGTERM waits for open requests [10000]
  LOG_LEVEL                      fatal|error|warn|info|debug|trace|silent [info]

Pages: / /bots /bots/:id /jobs /jobs/:id /datalake /signin; health: GET /healthz.
The Tailwind stylesheet is built on start when dashboard/public/app.css is missing.
`;
