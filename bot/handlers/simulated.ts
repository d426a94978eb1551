/**
 * "simulated": the seed's job. Takes PROCESSING_DURATION_MS (or payload.durationMs) and fails with
 * probability FAILURE_RATE. Draws exactly one random number per job, so a seeded generator makes the
 * number of failures over N jobs exact.
 */
import { z } from 'zod';
import { JobFailure, defineHandler } from './handler';

export const simulatedHandler = defineHandler({
  type: 'simulated',
  description: 'waits PROCESSING_DURATION_MS (or payload.durationMs), then fails with probability FAILURE_RATE',
  // Loose: batches from the scheduler may carry extra fields (batch number, notes) that we ignore.
  payload: z.looseObject({ durationMs: z.int().min(0).max(86_400_000).optional() }),
  async work(payload, ctx) {
    const durationMs = payload.durationMs ?? ctx.settings.processingDurationMs;
    // A 0 ms job skips the timer (a whole event-loop turn, ~1 ms) so benchmarks measure the queue.
    if (durationMs > 0) await ctx.sleep(durationMs, ctx.signal);
    else ctx.signal.throwIfAborted();
    if (ctx.random() < ctx.settings.failureRate) {
      throw new JobFailure(`simulated failure (FAILURE_RATE=${ctx.settings.failureRate})`);
    }
    return { simulated: true, durationMs };
  },
});
