/**
 * The controller's HTTP API (docs/controller.md): read the scale, change it, configure autoscale.
 * Reads need the viewer (or admin) token, every change the admin token (core/http/auth.ts); changes
 * go through the loop's serial queue.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ConflictError, UnavailableError, ValidationError, zodDetails } from '../../core/errors';
import type { DesiredState } from '../desired-state';
import type { ScaleDriver } from '../drivers/driver';
import type { ControllerMetrics } from '../metrics';
import type { ReconcileLoop } from '../reconcile-loop';
import { requireRole } from '../../core/http/auth';

export interface RouteDeps {
  loop: ReconcileLoop;
  driver: ScaleDriver;
  maxBots: number;
  bodyLimitBytes: number;
  /** Serves GET /metrics when given. */
  metrics?: ControllerMetrics;
}

interface ScaleView {
  driver: ScaleDriver['name'];
  desired: number;
  current: number;
  ready: number;
  autoscale: DesiredState['autoscale'];
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new ValidationError('the body does not match the schema', zodDetails(r.error.issues));
  return r.data;
}

export function controllerRouter(deps: RouteDeps): Router {
  const { loop, driver, maxBots } = deps;
  const router = new Router();

  const ScaleBody = z.strictObject({ replicas: z.int().min(0).max(maxBots) });
  const AutoscaleBody = z.strictObject({
    enabled: z.boolean(),
    min: z.int().min(0).max(maxBots).optional(),
    max: z.int().min(0).max(maxBots).optional(),
    jobsPerBot: z.int().min(1).max(1_000_000).optional(),
  });

  const view = async (): Promise<ScaleView> => {
    const desired = loop.getDesired();
    let observed = loop.getLastObserved();
    try {
      observed = await driver.observe();
    } catch (err) {
      if (observed === null)
        throw new UnavailableError(`the ${driver.name} driver cannot be read: ${(err as Error).message}`);
    }
    return {
      driver: driver.name,
      desired: desired.replicas,
      current: observed!.current,
      ready: observed!.ready,
      autoscale: { ...desired.autoscale },
    };
  };

  // Parsed by core/http/json-body (size limit, JSON only, depth limit); {} when there is none.
  const body = async (ctx: Context) => ctx.request.json;

  router.get('/healthz', (ctx) => {
    const last = loop.getLastReport();
    ctx.body = { status: 'ok', driver: driver.name, lastReconcile: last ? { at: last.at, error: last.error } : null };
  });

  if (deps.metrics) {
    const registry = deps.metrics.registry;
    router.get('/metrics', requireRole('viewer'), async (ctx) => {
      ctx.type = registry.contentType;
      ctx.body = await registry.metrics();
    });
  }

  router.get('/scale', requireRole('viewer'), async (ctx) => {
    ctx.body = await view();
  });

  // A manual scale turns autoscale off: otherwise the autoscaler would quietly undo the admin's
  // choice once the cool-down ends. PUT /autoscale turns it back on.
  router.put('/scale', requireRole('admin'), async (ctx) => {
    const { replicas } = parse(ScaleBody, await body(ctx));
    await loop.update((d) => ({ replicas, autoscale: { ...d.autoscale, enabled: false } }));
    ctx.body = await view();
  });

  router.post('/scale/add', requireRole('admin'), async (ctx) => {
    await loop.update((d) => {
      if (d.replicas >= maxBots) throw new ConflictError(`already at MAX_BOTS (${maxBots})`, 'max_bots_reached');
      return { replicas: d.replicas + 1, autoscale: { ...d.autoscale, enabled: false } };
    });
    ctx.body = await view();
  });

  router.post('/scale/remove', requireRole('admin'), async (ctx) => {
    await loop.update((d) => {
      if (d.replicas <= 0) throw new ConflictError('there are no bots to remove', 'no_bots');
      return { replicas: d.replicas - 1, autoscale: { ...d.autoscale, enabled: false } };
    });
    ctx.body = await view();
  });

  // Fields left out keep their current values, so {"enabled": false} is enough to switch it off.
  router.put('/autoscale', requireRole('admin'), async (ctx) => {
    const input = parse(AutoscaleBody, await body(ctx));
    await loop.update((d) => {
      const next = {
        enabled: input.enabled,
        min: input.min ?? d.autoscale.min,
        max: input.max ?? d.autoscale.max,
        jobsPerBot: input.jobsPerBot ?? d.autoscale.jobsPerBot,
      };
      if (next.min > next.max)
        throw new ValidationError('min must be at most max', [
          { path: 'min', message: `min (${next.min}) must be at most max (${next.max})` },
        ]);
      return { replicas: d.replicas, autoscale: next };
    });
    ctx.body = await view();
  });

  return router;
}
