/** /bots routes. */
import type Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors';
import { BotIdBody, IdSchema, RegisterBotSchema } from '../../core/types';
import { parse } from '../../core/http/validate';
import type { AppDeps } from './deps';

const BotIdParam = z.strictObject({ id: IdSchema });

export function botRoutes(router: Router, admin: Koa.Middleware, d: AppDeps): void {
  const { store, clock } = d;

  router.post('/bots/register', async (ctx) => {
    const body = parse(RegisterBotSchema, ctx.request.json, 'body');
    const id = body.id ?? `bot-${Math.random().toString(36).slice(2, 10)}`;
    const { bot, created } = await store.registerBot({ id, name: body.name }, clock.now());
    if (!created) d.onJobsAvailable(); // whatever it held is pending again
    ctx.status = created ? 201 : 200;
    ctx.body = bot;
  });

  router.post('/bots/heartbeat', async (ctx) => {
    const body = parse(BotIdBody, ctx.request.json, 'body');
    ctx.body = await store.heartbeat(body.botId, clock.now());
  });

  router.get('/bots', async (ctx) => {
    ctx.body = { items: await store.listBots() };
  });

  router.get('/bots/:id', async (ctx) => {
    const { id } = parse(BotIdParam, ctx.params, 'path');
    const bot = await store.getBot(id);
    if (!bot) throw new NotFoundError(`bot ${id} does not exist`);
    ctx.body = bot;
  });

  router.delete('/bots/:id', admin, async (ctx) => {
    const { id } = parse(BotIdParam, ctx.params, 'path');
    if (!(await store.deleteBot(id, clock.now()))) throw new NotFoundError(`bot ${id} does not exist`);
    d.onResult();
    d.onJobsAvailable();
    ctx.status = 204;
  });
}
