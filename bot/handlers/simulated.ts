/**
 * "simulated": the seed's job. Takes PROCESSING_DURATION_MS (or payload.durationMs) and fails with
 * probability FAILURE_RATE. Draws exactly one random number per job, so a seeded generator makes the
 * number of failures over N jobs exact. Reports progress after each tenth of its duration.
 */
import { z } from 'zod';
import { JobFailure, defineHandler } from './handler';

/** Progress is reported after each tenth of the duration. */
const STEPS = 10;

export const simulatedHandler = defineHandler({
  type: 'simulated',
  description: 'waits PROCESSING_DURATION_MS (or payload.durationMs), then fails with probability FAILURE_RATE',
  // Loose: batches from the scheduler may carry extra fields (batch number, notes) that we ignore.
  payload: z.looseObject({ durationMs: z.int().min(0).max(86_400_000).optional() }),
  async work(payload, ctx) {
    const durationMs = payload.durationMs ?? ctx.settings.processingDurationMs;
    // A 0 ms job skips the timer (a whole event-loop turn, ~1 ms), the log and the progress, so
    // benchmarks measure the queue.
    if (durationMs > 0) {
      ctx.log.info(`simulating ${durationMs} ms of work in ${STEPS} steps`);
      for (let step = 1; step <= STEPS; step++) {
        await ctx.sleep(
          Math.round((durationMs * step) / STEPS) - Math.round((durationMs * (step - 1)) / STEPS),
          ctx.signal,
        );
        ctx.progress(step / STEPS, `step ${step} of ${STEPS}`);
        ctx.log.info(`step ${step} of ${STEPS} done`);
      }
    } else ctx.signal.throwIfAborted();
    if (ctx.random() < ctx.settings.failureRate) {
      if (durationMs > 0) ctx.log.warn(`failing on purpose (FAILURE_RATE=${ctx.settings.failureRate})`);
      throw new JobFailure(`simulated failure (FAILURE_RATE=${ctx.settings.failureRate})`);
    }
    return { simulated: true, durationMs };
  },
});
