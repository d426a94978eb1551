/** Builds the controller's Koa app (no listen: main.ts and tests do that). */
import Koa from 'koa';
import type { Logger } from '../../core/logger';
import { errorMiddleware } from '../../core/http/errors';
import { jsonBody } from '../../core/http/json-body';
import { controllerRouter, type RouteDeps } from './routes';

export function createControllerApp(deps: RouteDeps & { logger: Logger }): Koa {
  const app = new Koa();
  app.use(errorMiddleware(deps.logger));
  app.use(jsonBody(deps.bodyLimitBytes));
  const router = controllerRouter(deps);
  app.use(router.routes());
  // Without `throw`, the router answers 405/501 with an Allow header and no body; the error
  // middleware then gives them the JSON error shape.
  app.use(router.allowedMethods());
  return app;
}
