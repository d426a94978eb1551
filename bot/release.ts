/**
 * Hands back a job the server says this bot holds but the bot is not running (a claim's answer was
 * lost when stop() cut a long-poll short), so it goes back to the queue now, the attempt not
 * counted, rather than when its lease expires.
 */
import type { Logger } from '../core/logger';
import type { ApiClient } from './api-client';

export async function releaseHeldJob(api: ApiClient, botId: string, log: Logger): Promise<void> {
  const b = await api.heartbeat(botId);
  if (!b.ok || !b.body.currentJobId || b.body.currentAttempt === null) return;
  const { currentJobId: jobId, currentAttempt: attempt } = b.body;
  const r = await api.release(jobId, botId, attempt);
  log.warn(
    { event: r.ok ? 'handed back' : 'hand-back refused', jobId, attempt, status: r.status },
    r.ok ? `handed back job ${jobId}, claimed as the bot stopped` : `job ${jobId} is no longer this bot's`,
  );
}
