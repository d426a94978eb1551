/** Builds the controller's Koa app (no listen: main.ts and tests do that). */
import Koa from 'koa';
import type { Logger } from '../../core/logger';
import { errorMiddleware } from '../../core/http/errors';
import { jsonBody } from '../../core/http/json-body';
import { Keyring, useAuth, type Tokens } from '../../core/http/auth';
import { controllerRouter, type RouteDeps } from './routes';

export function createControllerApp(
  deps: RouteDeps & { logger: Logger; tokens: Partial<Tokens>; trustProxy?: boolean },
): Koa {
  const app = new Koa();
  // Behind one proxy (TRUST_PROXY): ctx.ip is the address that proxy put last in X-Forwarded-For.
  app.proxy = deps.trustProxy ?? false;
  app.maxIpsCount = 1;
  useAuth(app, { keyring: new Keyring(deps.tokens), log: deps.logger });
  app.use(errorMiddleware(deps.logger));
  app.use(jsonBody(deps.bodyLimitBytes));
  const router = controllerRouter(deps);
  app.use(router.routes());
  // Without `throw`, the router answers 405/501 with an Allow header and no body; the error
  // middleware then gives them the JSON error shape.
  app.use(router.allowedMethods());
  return app;
}
