/**
 * A bot whose handler floods its log: it holds one long job and sends 1,000 log lines a second to
 * the server (10 batches of 100), and keeps sending after the server says the attempt's log is full,
 * as a careless client would (the real bot then only counts what it drops). The drain goal drains
 * with 4 bots while it runs, to show that one flooding bot does not slow the others' claims.
 */
import { ADMIN, BOT, postJson, sleep } from './http';

const LINES_PER_BATCH = 100;
const BATCHES_PER_SECOND = 10;

export interface LogFlood {
  /** Stops sending, cancels its job; what was sent and what the server kept. */
  stop(): Promise<{ sent: number; stored: number; dropped: number; seconds: number }>;
}

export async function startLogFlood(url: string, botId = 'flooding-bot'): Promise<LogFlood> {
  await postJson(`${url}/bots/register`, { id: botId }, BOT);
  await postJson(`${url}/jobs`, { type: 'simulated', payload: { durationMs: 3_600_000 }, priority: 1000 });
  const { job } = await postJson<{ job: { id: string; attempts: number } | null }>(`${url}/jobs/next`, { botId }, BOT);
  if (!job) throw new Error('the flooding bot got no job');
  let running = true;
  let sent = 0;
  let stored = 0;
  let dropped = 0;
  const t0 = performance.now();
  const loop = (async () => {
    for (let batch = 0; running; batch++) {
      const lines = Array.from({ length: LINES_PER_BATCH }, (_, i) => ({
        at: new Date().toISOString(),
        level: 'info',
        line: `flood line ${batch * LINES_PER_BATCH + i}: ${'x'.repeat(80)}`,
      }));
      const r = await postJson<{ stored: number; dropped: number }>(
        `${url}/jobs/${job.id}/logs`,
        { botId, attempt: job.attempts, lines },
        BOT,
      );
      sent += lines.length;
      stored += r.stored;
      dropped = r.dropped;
      // On schedule: batch k goes at k / BATCHES_PER_SECOND seconds.
      await sleep(Math.max(0, t0 + ((batch + 1) * 1000) / BATCHES_PER_SECOND - performance.now()));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await postJson(`${url}/jobs/${job.id}/cancel`, {}, ADMIN);
      return { sent, stored, dropped, seconds: (performance.now() - t0) / 1000 };
    },
  };
}
