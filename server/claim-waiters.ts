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

  /** Wakes every waiting claim. */
  notify(): void {
    const all = [...this.waiters];
    this.waiters.clear();
    for (const w of all) w();
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
