/**
 * One BullMQ worker process (concurrency 1, a no-op processor) for the comparison run. With
 * LATENCY=1 it sends each job's pickup latency to the parent over IPC, measured like the lean
 * client's (data.sentAt is the parent's wall clock in ms).
 *
 * Env: BENCH_REDIS_URL, QUEUE, LATENCY (0|1).
 */
import { Worker } from 'bullmq';
import { z } from 'zod';
import { envInt, envString, loadOrExit, parseEnv } from '../core/config';

const cfg = loadOrExit(() =>
  parseEnv(
    z.object({
      BENCH_REDIS_URL: envString('redis://127.0.0.1:6379'),
      QUEUE: envString('bench'),
      LATENCY: envInt(0, 0, 1),
    }),
    process.env,
  ),
);
const u = new URL(cfg.BENCH_REDIS_URL);
const wallNow = () => performance.timeOrigin + performance.now();

const worker = new Worker(
  cfg.QUEUE,
  async (job) => {
    if (cfg.LATENCY && typeof job.data?.sentAt === 'number') process.send?.({ latencyMs: wallNow() - job.data.sentAt });
    return null;
  },
  { connection: { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null }, concurrency: 1 },
);

worker.waitUntilReady().then(
  () => process.send?.({ ready: true }),
  (err: unknown) => {
    process.stderr.write(`bullmq worker failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);

process.on('SIGTERM', () => {
  void worker.close().finally(() => process.exit(0));
});
