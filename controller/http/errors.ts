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
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) throw new NotFoundError(`no route ${ctx.method} ${ctx.path}`);
        if (ctx.status === 405) throw new AppError(405, 'method_not_allowed', `${ctx.path} does not accept ${ctx.method} (allowed: ${ctx.response.get('Allow')})`);
        if (ctx.status === 501) throw new AppError(501, 'not_implemented', `method ${ctx.method} is not implemented`);
      }
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
