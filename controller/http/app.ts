/** Builds the controller's Koa app (no listen: main.ts and tests do that). */
import Koa from 'koa';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { errorMiddleware } from './errors';
import { controllerRouter, type RouteDeps } from './routes';

export function createControllerApp(deps: RouteDeps & { logger: Logger }): Koa {
  const app = new Koa();
  app.use(errorMiddleware(deps.logger));
  const router = controllerRouter(deps);
  app.use(router.routes());
  app.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new AppError(405, 'method_not_allowed', 'this route does not accept that method'),
      notImplemented: () => new AppError(501, 'not_implemented', 'this method is not implemented'),
    }),
  );
  return app;
}
