/** /bots routes. */
import type Router from '@koa/router';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors';
import { HeartbeatSchema, type StopOrder } from '../../core/job-control';
import { IdSchema, RegisterBotSchema } from '../../core/types';
import { requireRole } from '../../core/http/auth';
import { parse } from '../../core/http/validate';
import type { AppDeps } from './deps';

const BotIdParam = z.strictObject({ id: IdSchema });

export function botRoutes(router: Router, d: AppDeps): void {
  const { store, clock } = d;

  router.post('/bots/register', requireRole('bot'), async (ctx) => {
    const body = parse(RegisterBotSchema, ctx.request.json, 'body');
    const id = body.id ?? `bot-${Math.random().toString(36).slice(2, 10)}`;
    const { bot, created } = await store.registerBot({ id, name: body.name }, clock.now());
    if (!created) d.onJobsAvailable(); // whatever it held is pending again
    ctx.status = created ? 201 : 200;
    ctx.body = bot;
  });

  router.post('/bots/heartbeat', requireRole('bot'), async (ctx) => {
    const body = parse(HeartbeatSchema, ctx.request.json, 'body');
    const bot = await store.heartbeat(body.botId, clock.now());
    // The attempt of the job it holds: a bot reads nothing else, and needs it to hand that job back.
    const job = bot.currentJobId ? await store.getJob(bot.currentJobId) : null;
    ctx.body = {
      ...bot,
      currentAttempt: job && job.botId === bot.id ? job.attempts : null,
      stop: body.jobId ? await stopOrder(d, bot.id, body.jobId, body.attempt!) : null,
    };
  });

  router.get('/bots', requireRole('viewer'), async (ctx) => {
    ctx.body = { items: await store.listBots() };
  });

  router.get('/bots/:id', requireRole('viewer'), async (ctx) => {
    const { id } = parse(BotIdParam, ctx.params, 'path');
    const bot = await store.getBot(id);
    if (!bot) throw new NotFoundError(`bot ${id} does not exist`);
    ctx.body = bot;
  });

  router.delete('/bots/:id', requireRole('admin'), async (ctx) => {
    const { id } = parse(BotIdParam, ctx.params, 'path');
    if (!(await store.deleteBot(id, clock.now()))) throw new NotFoundError(`bot ${id} does not exist`);
    d.onResult();
    d.onJobsAvailable();
    ctx.status = 204;
  });
}

/**
 * The job a bot says it runs, at `attempt`, when that attempt is no longer its own: the bot stops
 * its handler. The bot names the job only once its claim was answered, so the claim is in the store.
 */
async function stopOrder(d: AppDeps, botId: string, jobId: string, attempt: number): Promise<StopOrder | null> {
  const job = await d.store.getJob(jobId);
  if (!job) return { jobId, attempt, status: 'gone', reason: `job ${jobId} does not exist` };
  const held = job.botId === botId && job.attempts === attempt && ['claimed', 'running'].includes(job.status);
  if (held) return null;
  const cancelled = job.status === 'cancelled' && job.attempts === attempt;
  const reason = cancelled ? (job.error ?? 'cancelled') : `the job is ${job.status} at attempt ${job.attempts}`;
  return { jobId, attempt, status: job.status, reason };
}
