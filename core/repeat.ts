/**
 * Runs a task now and then every `everyMs` on an unref'd timer, never two at once: a beat that finds
 * the previous run still going is skipped. Errors go to `onError`; stop() waits for the run in progress.
 */
export interface Repeating {
  stop(): Promise<void>;
}

export function repeat(everyMs: number, task: () => Promise<unknown>, onError: (err: unknown) => void): Repeating {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return;
    running = task()
      .then(() => undefined)
      .catch(onError)
      .finally(() => (running = null));
  };
  const timer = setInterval(run, everyMs);
  timer.unref();
  run();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
