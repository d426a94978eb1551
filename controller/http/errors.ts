/**
 * Maps every error to the JSON shape of the API ({"error": {"code", "message", "details"?}}) and
 * unmatched routes to 404. A 5xx says nothing internal; the log keeps the detail. (The server has
 * its own copy; the lead may extract one shared middleware later.)
 */
import type { Context, Next } from 'koa';
import { AppError, NotFoundError } from '../../core/errors';
import type { Logger } from '../../core/logger';

export function errorMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new NotFoundError(`no route ${ctx.method} ${ctx.path}`);
    } catch (err) {
      if (err instanceof AppError) {
        ctx.status = err.status;
        if (err.headers) ctx.set(err.headers);
        ctx.body = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
        return;
      }
      logger.error({ err, method: ctx.method, path: ctx.path }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { error: { code: 'internal', message: 'internal error' } };
    }
  };
}
