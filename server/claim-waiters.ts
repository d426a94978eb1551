/**
 * Long-poll claims: a bot that finds nothing waits here until a job may be claimable (a job was
 * created, released or retried in this process, or the queue resumed) or a short poll interval passes
 * (jobs created by another server on the same PostgreSQL database, or a runAt coming due).
 */
export class ClaimWaiters {
  private waiters = new Set<() => void>();
  private isClosed = false;

  /** Resolves after `ms`, or earlier when notify() or close() is called. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.isClosed || ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Wakes the `count` claims that have waited longest (all by default). New jobs wake one claim
   * each: with many idle bots, waking all of them for one job cost a claim transaction per bot,
   * all but one finding nothing. A woken claim that fails to take the job (its bot was deleted)
   * leaves it to the others' re-check, at most 250 ms later.
   */
  notify(count = Infinity): void {
    const woken: (() => void)[] = [];
    for (const w of this.waiters) {
      if (woken.length >= count) break;
      woken.push(w);
    }
    for (const w of woken) w(); // each removes itself from the set
  }

  /** True once the server is shutting down: long-polls stop waiting and answer. */
  get closed(): boolean {
    return this.isClosed;
  }

  get size(): number {
    return this.waiters.size;
  }

  /** Wakes everyone and refuses further waits (shutdown). */
  close(): void {
    this.isClosed = true;
    this.notify();
  }
}
