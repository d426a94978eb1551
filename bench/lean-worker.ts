/**
 * A lean client loop (child process of the benchmark): the bot protocol reduced to POST /jobs/next,
 * which reports the previous attempt and claims-and-starts the next job in one call, on the bot's own
 * transport (bot/socket-transport.ts). It does what a bot with PROCESSING_DURATION_MS=0 does, without
 * the bot's logging, heartbeats and retries, so it shows what the route itself can do. With LATENCY=1
 * it sends each job's pickup latency to the parent over IPC (payload.sentAt is the parent's wall
 * clock in ms, fractional).
 *
 * Env: SERVER_URL, BOT_TOKEN, BOT_ID, WAIT_MS (long-poll, default 25000), LATENCY (0|1).
 */
import { z } from 'zod';
import { envInt, envString, loadOrExit, parseEnv } from '../core/config';
import { socketTransport } from '../bot/socket-transport';

const cfg = loadOrExit(() =>
  parseEnv(
    z.object({
      SERVER_URL: envString('http://127.0.0.1:3001'),
      BOT_ID: envString(`lean-${process.pid}`),
      WAIT_MS: envInt(25000, 0, 30000),
      LATENCY: envInt(0, 0, 1),
      BOT_TOKEN: envString('bot-dev-token-change-me'),
    }),
    process.env,
  ),
);

const wallNow = () => performance.timeOrigin + performance.now();
const stop = new AbortController();
let done = 0;

const socket = socketTransport();

async function post(path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  const r = await socket(`${cfg.SERVER_URL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${cfg.BOT_TOKEN}` },
    body: JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

interface NextReply {
  job: { id: string; attempts: number; payload: { sentAt?: number } } | null;
}

async function main(): Promise<void> {
  const reg = await post('/bots/register', { id: cfg.BOT_ID });
  if (reg.status >= 300) throw new Error(`register answered ${reg.status}`);
  process.send?.({ ready: true });
  let held: { jobId: string; attempt: number } | null = null;
  while (!stop.signal.aborted) {
    let r;
    try {
      r = await post(
        '/jobs/next',
        { botId: cfg.BOT_ID, waitMs: cfg.WAIT_MS, ...(held ? { complete: { ...held, result: null } } : {}) },
        stop.signal,
      );
    } catch (err) {
      if (stop.signal.aborted) break;
      throw err;
    }
    if (r.status !== 200) throw new Error(`POST /jobs/next answered ${r.status}: ${JSON.stringify(r.body)}`);
    if (held) done++;
    const job = (r.body as NextReply).job;
    held = job ? { jobId: job.id, attempt: job.attempts } : null;
    if (job && cfg.LATENCY && typeof job.payload.sentAt === 'number')
      process.send?.({ latencyMs: wallNow() - job.payload.sentAt });
  }
  // The job taken by the last answer is finished, so the server's counts add up.
  if (held) {
    await post(`/jobs/${held.jobId}/complete`, { botId: cfg.BOT_ID, attempt: held.attempt, result: null });
    done++;
  }
}

process.on('SIGTERM', () => stop.abort());
main().then(
  () => {
    process.send?.({ done });
    setTimeout(() => process.exit(0), 50);
  },
  (err: unknown) => {
    process.stderr.write(`lean worker failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
