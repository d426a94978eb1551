/** Abortable waiting, injected into the runner and the handlers so tests need not wait for real. */
import { setImmediate as immediate, setTimeout as delay } from 'node:timers/promises';

export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Waits ms; rejects with the signal's reason when it is aborted first. */
export const realSleep: SleepFn = async (ms, signal) => {
  signal?.throwIfAborted();
  try {
    await delay(Math.max(0, ms), undefined, { signal });
  } catch (err) {
    // timers/promises rejects with a generic AbortError; the reason says why (shutdown, lease lost).
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
};

/** Waits ms, or less when the signal fires; never rejects. For idle pauses that a stop cuts short. */
export async function pause(sleep: SleepFn, ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, signal).catch(() => undefined);
}

/**
 * Lets timers and I/O run in the middle of a CPU-bound handler (heartbeats keep going) and stops
 * it promptly when the signal fires.
 */
export async function yieldToEventLoop(signal: AbortSignal): Promise<void> {
  await immediate();
  signal.throwIfAborted();
}
