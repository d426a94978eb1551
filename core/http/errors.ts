/**
 * The one place errors become HTTP answers, for every Koa app of the project (server, controller):
 * {"error": {"code", "message", "details"?}}. A domain error keeps its status; a database that does
 * not answer is a 503; an unmatched route 404 and a wrong method 405, in the same shape; anything else
 * is a 500 that says nothing internal (the log has the stack).
 *
 * core/http is the part of core that touches requests: Koa middleware shared by the HTTP components.
 */
import type Koa from 'koa';
import { AppError, NotFoundError, UnavailableError } from '../errors';
import type { Logger } from '../logger';

const DB_DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  'SQLITE_BUSY',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  // Still deadlocked or unserializable after the store's retries, too many connections: try again.
  '40P01',
  '40001',
  '53300',
]);

/** True for errors that mean the database is not answering rather than a bug. */
function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; name?: string };
  if (!e) return false;
  if (e.code && DB_DOWN_CODES.has(e.code)) return true;
  if (e.name === 'KnexTimeoutError') return true;
  return /Connection terminated|Knex: Timeout acquiring|connection is closed|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}

function errorBody(err: AppError) {
  return { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
}

export function errorMiddleware(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) throw new NotFoundError(`no route ${ctx.method} ${ctx.path}`);
        if (ctx.status === 405)
          throw new AppError(
            405,
            'method_not_allowed',
            `${ctx.method} is not allowed on ${ctx.path} (allowed: ${ctx.response.get('Allow')})`,
          );
        if (ctx.status === 501) throw new AppError(501, 'not_implemented', `method ${ctx.method} is not implemented`);
      }
    } catch (raw) {
      let err: AppError;
      if (raw instanceof AppError) err = raw;
      else if (isDatabaseUnavailable(raw)) {
        err = new UnavailableError();
        log.warn({ err: (raw as Error).message }, 'database unavailable');
      } else {
        log.error({ err: raw, method: ctx.method, path: ctx.path }, 'unhandled error');
        err = new AppError(500, 'internal', 'internal server error');
      }
      ctx.status = err.status;
      ctx.body = errorBody(err);
      for (const [k, v] of Object.entries(err.headers ?? {})) ctx.set(k, v);
    }
  };
}
