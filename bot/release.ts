/**
 * Hands back a job the server says this bot holds but the bot is not running (a previous process
 * under the same id was killed, or a claim's answer was lost when a long-poll was cut short), by
 * failing it with a reason so the server retries it now rather than after BOT_DOWN_AFTER_MS.
 */
import type { Logger } from '../core/logger';
import type { ApiClient } from './api-client';

export async function releaseJob(
  api: ApiClient,
  botId: string,
  jobId: string,
  reason: string,
  log: Logger,
): Promise<void> {
  const j = await api.getJob(jobId);
  if (!j.ok || j.body.botId !== botId) return;
  const attempt = j.body.attempts;
  // The server takes a fail for a claimed job as well as a running one.
  if (j.body.status !== 'claimed' && j.body.status !== 'running') return;
  const r = await api.fail(jobId, botId, attempt, reason);
  log.warn(
    { event: 'released', jobId, reason, attempt, next: r.ok ? r.body.status : null },
    `released a job: ${reason}`,
  );
}

/** Releases whatever job the server says this bot holds. */
export async function releaseHeldJob(api: ApiClient, botId: string, reason: string, log: Logger): Promise<void> {
  const r = await api.getBot(botId);
  if (r.ok && r.body.currentJobId) await releaseJob(api, botId, r.body.currentJobId, reason, log);
}
