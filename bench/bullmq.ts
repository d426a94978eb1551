/**
 * The anchor of the drain and latency goals, measured in the same run: BullMQ 6.7 on Redis with 4 worker processes
 * of concurrency 1 and a no-op processor, default job options (completed jobs are kept, as our
 * results are).
 */
import { Queue } from 'bullmq';
import { nextMessage } from './fleet';
import { sleep, percentile } from './http';
import { memoryOf, spawnTs, type Child } from './processes';

function connectionOf(redisUrl: string) {
  const u = new URL(redisUrl);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

async function startWorkers(redisUrl: string, queue: string, count: number, latency: boolean): Promise<Child[]> {
  const kids = Array.from({ length: count }, () =>
    spawnTs(
      'bench/bullmq-worker.ts',
      { BENCH_REDIS_URL: redisUrl, QUEUE: queue, LATENCY: latency ? '1' : '0' },
      { ipc: true },
    ),
  );
  try {
    await Promise.all(kids.map((k) => nextMessage(k.proc, 'ready')));
  } catch (err) {
    await Promise.all(kids.map((k) => k.stop(1000)));
    throw new Error(`BullMQ workers did not start: ${(err as Error).message}\n${kids[0].output().slice(-1000)}`);
  }
  return kids;
}

export interface BullDrain {
  jobsPerSecond: number;
  seconds: number;
  workerPeakMb: number;
}

/** Adds n jobs to a paused queue, starts the workers, resumes and times until all are completed. */
export async function bullmqDrain(redisUrl: string, workers: number, n: number): Promise<BullDrain> {
  const name = `bench-drain-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection: connectionOf(redisUrl) });
  let kids: Child[] = [];
  try {
    await queue.pause();
    for (let i = 0; i < n; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })),
      );
    }
    kids = await startWorkers(redisUrl, name, workers, false);
    const t0 = performance.now();
    await queue.resume();
    for (;;) {
      await sleep(20);
      const c = await queue.getJobCounts('completed');
      if ((c.completed ?? 0) >= n) break;
      if (performance.now() - t0 > 300_000) throw new Error('BullMQ drain did not finish within 5 minutes');
    }
    const seconds = (performance.now() - t0) / 1000;
    const workerPeakMb = Math.max(...kids.map((k) => memoryOf(k.proc.pid!).peakMb));
    return { jobsPerSecond: n / seconds, seconds, workerPeakMb };
  } finally {
    await Promise.all(kids.map((k) => k.stop(3000)));
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** Pickup latency: one job at a time to one idle worker; ms from before add() to the processor. */
export async function bullmqLatency(redisUrl: string, samples: number): Promise<{ p50: number; p99: number }> {
  const name = `bench-latency-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection: connectionOf(redisUrl) });
  const [kid] = await startWorkers(redisUrl, name, 1, true);
  const lat: number[] = [];
  try {
    await sleep(200);
    for (let i = 0; i < samples; i++) {
      const got = nextMessage(kid.proc, 'latencyMs', 10_000);
      got.catch(() => undefined); // awaited below; if add() throws first, the child's exit must not crash the run
      await queue.add('noop', { sentAt: performance.timeOrigin + performance.now() });
      lat.push(Number((await got).latencyMs));
      await sleep(5); // the worker is idle again, blocked on Redis
    }
  } finally {
    await kid.stop(3000);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}
