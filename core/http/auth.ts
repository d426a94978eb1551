/**
 * Roles by bearer token, for every HTTP component (server, controller; the dashboard's sign-in uses
 * the same keyring). Three variables, each a comma-separated list so a token can be rotated without
 * downtime: ADMIN_TOKEN (every state-changing admin route, and every read), BOT_TOKEN (the bot
 * routes only), VIEWER_TOKEN (every read). Only SHA-256 digests of the tokens are kept; a request's
 * token is compared in constant time with every configured token of every role, so the work is the
 * same whichever matches (or none). docs/security.md has the table of routes and roles.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { AppError, ForbiddenError, UnauthorizedError } from '../errors';
import type { Logger } from '../logger';

export const ROLES = ['admin', 'bot', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const TOKEN_VARIABLES: Readonly<Record<Role, string>> = {
  admin: 'ADMIN_TOKEN',
  bot: 'BOT_TOKEN',
  viewer: 'VIEWER_TOKEN',
};

/** The development defaults: every process works with no set-up, warns while one is in use, and refuses them in production. */
export const DEV_TOKENS: Readonly<Record<Role, string>> = {
  admin: 'admin-dev-token-change-me',
  bot: 'bot-dev-token-change-me',
  viewer: 'viewer-dev-token-change-me',
};

/** Published values no deployment may use: the development defaults, and 'admin-secret-token'. */
const KNOWN_DEFAULTS = new Set([...Object.values(DEV_TOKENS), 'admin-secret-token']);

/** Shortest token accepted at all, and with NODE_ENV=production. */
const MIN_LENGTH = 8;
const MIN_PRODUCTION_LENGTH = 16;

/** Which roles satisfy a route's role: admin also reads; a bot token is good for the bot routes only. */
const SATISFIED_BY: Readonly<Record<Role, readonly Role[]>> = {
  admin: ['admin'],
  bot: ['bot'],
  viewer: ['viewer', 'admin'],
};

export type Tokens<R extends Role = Role> = Readonly<Record<R, readonly string[]>>;

export interface TokenSettings<R extends Role> {
  /** Every configured token per role; a process sends the first of its list. */
  tokens: Tokens<R>;
  /** Problems for ConfigError (bad characters, too short; in production unset, default or short). */
  problems: string[];
  /** One line per default token in use, naming the variable (never the value). */
  warnings: string[];
}

/** "a, b,,c " -> ["a", "b", "c"]. */
export function tokenList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/**
 * Reads the token variables of `roles` from env. Unset means the development default; with
 * NODE_ENV=production an unset variable, a known default or a token shorter than 16 characters is
 * a problem (the process refuses to start). A token may not be configured for two roles.
 */
export function readTokens<R extends Role>(env: NodeJS.ProcessEnv, roles: readonly R[]): TokenSettings<R> {
  const production = env.NODE_ENV === 'production';
  const problems: string[] = [];
  const warnings: string[] = [];
  const tokens = {} as Record<R, string[]>;
  const owner = new Map<string, Role>();
  for (const role of roles) {
    const variable = TOKEN_VARIABLES[role];
    const given = tokenList(env[variable]);
    if (given.length === 0 && production) {
      problems.push(`${variable}: must be set when NODE_ENV=production (at least ${MIN_PRODUCTION_LENGTH} characters)`);
      continue;
    }
    const list = given.length > 0 ? given : [DEV_TOKENS[role]];
    for (const t of list) {
      if (!/^[\x21-\x7e]+$/.test(t)) {
        problems.push(
          `${variable}: a token may hold only visible ASCII characters (no spaces; commas separate tokens)`,
        );
      } else if (t.length < MIN_LENGTH) {
        problems.push(`${variable}: each token must be at least ${MIN_LENGTH} characters`);
      } else if (production && KNOWN_DEFAULTS.has(t)) {
        problems.push(`${variable}: is a published default; set your own when NODE_ENV=production`);
      } else if (production && t.length < MIN_PRODUCTION_LENGTH) {
        problems.push(
          `${variable}: each token must be at least ${MIN_PRODUCTION_LENGTH} characters when NODE_ENV=production`,
        );
      }
      const other = owner.get(t);
      if (other && other !== role)
        problems.push(`${variable}: the same token is also in ${TOKEN_VARIABLES[other]}; each role needs its own`);
      owner.set(t, role);
    }
    if (list.some((t) => KNOWN_DEFAULTS.has(t)))
      warnings.push(
        `${variable} is a published default: anyone who knows it has the ${role} role; set your own (docs/security.md)`,
      );
    tokens[role] = list;
  }
  return { tokens, problems: [...new Set(problems)], warnings };
}

/** The header a client sends. */
export const bearer = (token: string): string => `Bearer ${token}`;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The configured tokens of a process, as digests, and the role each belongs to. */
export class Keyring {
  private readonly entries: { role: Role; digest: Buffer }[] = [];

  constructor(tokens: Partial<Tokens>) {
    for (const role of ROLES) for (const t of tokens[role] ?? []) this.entries.push({ role, digest: digest(t) });
  }

  /** The role of a token, or null. Every entry is compared, whichever matches. */
  roleOf(token: string): Role | null {
    const d = digest(token);
    let found: Role | null = null;
    for (const e of this.entries) {
      const same = timingSafeEqual(d, e.digest);
      if (same && found === null) found = e.role;
    }
    return found;
  }

  /** The role of a request's `Authorization: Bearer <token>` header, or null. */
  roleOfHeader(header: string | undefined): Role | null {
    // The scheme is case-insensitive (RFC 7235); the token is everything after the white space.
    const m = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(header ?? '');
    return m ? this.roleOf(m[1]) : null;
  }
}

/** Failed attempts per client: a client over its budget gets 429 before its token is looked at. */
export interface FailureLimiter {
  /** Throws (429) when the client has no attempt left. */
  check(client: string): void;
  /** Counts one failed attempt. */
  take(client: string): void;
}

export interface AuthOptions {
  keyring: Keyring;
  /** Where the audit lines go. */
  log: Logger;
  failures?: FailureLimiter;
  /** Every request to an admin route, per client, before its token is looked at (429 when over). */
  adminRequests?: { hit(client: string): void };
}

const installed = new WeakMap<Koa, AuthOptions>();

/** Gives an app's requireRole() its keyring. */
export function useAuth(app: Koa, options: AuthOptions): void {
  installed.set(app, options);
}

declare module 'koa' {
  interface DefaultState {
    /** The role of the request's token, once requireRole() accepted it. */
    role?: Role;
    /** What an admin action acted on, when the route has no id in its path (the job it created...). */
    auditTarget?: string;
  }
}

/** The client's address: the connection's, or with app.proxy (TRUST_PROXY) the one X-Forwarded-For names. */
export const clientAddress = (ctx: Koa.Context): string => ctx.ip || ctx.req.socket.remoteAddress || 'unknown';

/**
 * Koa middleware: the route needs a token of `role` (or one that satisfies it: admin reads). No
 * token or an unknown one: 401 with `WWW-Authenticate: Bearer`; a known token of another role: 403.
 * A state-changing admin request logs one audit line once answered.
 */
export function requireRole(role: Role): Koa.Middleware {
  return async (ctx, next) => {
    const o = installed.get(ctx.app);
    if (!o) throw new Error(`requireRole('${role}') on an app without useAuth()`);
    const client = clientAddress(ctx);
    if (role === 'admin') o.adminRequests?.hit(client);
    o.failures?.check(client);
    const got = o.keyring.roleOfHeader(ctx.get('authorization'));
    if (got === null) {
      o.failures?.take(client);
      throw new UnauthorizedError(`this route needs "Authorization: Bearer <${TOKEN_VARIABLES[role]}>"`);
    }
    if (!SATISFIED_BY[role].includes(got)) {
      throw new ForbiddenError(`this route needs the ${role} role; the token given has the ${got} role`);
    }
    ctx.state.role = got;
    if (role !== 'admin' || ctx.method === 'GET' || ctx.method === 'HEAD') return next();
    let status = 500;
    try {
      await next();
      status = ctx.status;
    } catch (err) {
      if (err instanceof AppError) status = err.status;
      throw err;
    } finally {
      audit(o.log, ctx, { role: got, status });
    }
  };
}

/**
 * The audit line of one admin action: who (role, client address), what (method and route pattern),
 * on what (`target`: what the caller names, else the route's id or name, else the request's path)
 * and the answer's status. The message is "audit", so `grep '"msg":"audit"'` finds every line.
 */
export function audit(
  log: Logger,
  ctx: Koa.Context,
  o: { role: Role; status: number; action?: string; target?: string },
): void {
  const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? ctx.path;
  const params = (ctx as unknown as { params?: Record<string, string> }).params ?? {};
  const action = o.action ?? `${ctx.method} ${route}`;
  const target = o.target ?? ctx.state.auditTarget ?? params.id ?? params.name ?? ctx.path;
  log.info({ role: o.role, client: clientAddress(ctx), action, target, status: o.status }, 'audit');
}
