/** Metrics, queue control, datalake, health and the OpenAPI document. */
import type Router from '@koa/router';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors';
import { DateParam } from '../../core/types';
import { openApiDocument } from '../openapi';
import { requireRole } from '../../core/http/auth';
import { parse } from '../../core/http/validate';
import type { AppDeps } from './deps';

const Empty = z.strictObject({});

export function systemRoutes(router: Router, d: AppDeps): void {
  const { store, clock } = d;

  router.get('/metrics/summary', requireRole('viewer'), async (ctx) => {
    ctx.body = await store.summary(clock.now());
  });

  router.get('/metrics', requireRole('viewer'), async (ctx) => {
    d.metrics.observeSummary(await store.summary(clock.now()));
    d.metrics.observeDatalake(d.datalakeCounters());
    ctx.type = d.metrics.registry.contentType;
    ctx.body = await d.metrics.registry.metrics();
  });

  router.get('/queue', requireRole('viewer'), async (ctx) => {
    ctx.body = { paused: await store.isPaused() };
  });
  router.post('/queue/pause', requireRole('admin'), async (ctx) => {
    parse(Empty, ctx.request.json, 'body');
    await store.setPaused(true);
    d.log.info('queue paused');
    ctx.body = { paused: true };
  });
  router.post('/queue/resume', requireRole('admin'), async (ctx) => {
    parse(Empty, ctx.request.json, 'body');
    await store.setPaused(false);
    d.log.info('queue resumed');
    d.onJobsAvailable();
    ctx.body = { paused: false };
  });

  router.get('/datalake/stats', requireRole('viewer'), async (ctx) => {
    ctx.body = await d.reader.stats();
  });

  router.get('/datalake/export/:date', requireRole('viewer'), async (ctx) => {
    const { date } = parse(z.strictObject({ date: DateParam }), ctx.params, 'path');
    const handle = await d.reader.openExport(date);
    if (!handle) throw new NotFoundError(`no datalake data for ${date}`);
    ctx.type = 'application/x-ndjson';
    ctx.length = handle.bytes;
    ctx.set('Content-Disposition', `attachment; filename="results-${date}.ndjson"`);
    ctx.body = handle.stream;
  });

  router.get('/healthz', async (ctx) => {
    try {
      await store.ping();
      ctx.body = { status: 'ok' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', error: { code: 'unavailable', message: 'the database is unreachable' } };
    }
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument();
  });
}
