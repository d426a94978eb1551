/**
 * Long-poll claims: a bot that finds nothing waits here until a job may be claimable (a job was
 * created, released or retried in this process, or the queue resumed) or its nap ends (routes/jobs.ts:
 * on PostgreSQL a short poll interval, for jobs created by another server on the same database; on
 * SQLite the next runAt coming due).
 */
export class ClaimWaiters {
  private waiters = new Set<() => void>();
  private isClosed = false;
  private notified = 0;

  /** Counts notify() calls: taken before a claim, it tells wait() whether one came in meanwhile. */
  get generation(): number {
    return this.notified;
  }

  /**
   * Resolves after `ms`, or earlier when notify() or close() is called. With `since` (a generation
   * taken before the claim that found nothing), resolves at once if notify() was called after it:
   * that wake-up came while the claim was not waiting yet.
   */
  wait(ms: number, signal?: AbortSignal, since?: number): Promise<void> {
    if (this.isClosed || ms <= 0 || signal?.aborted || (since !== undefined && since !== this.notified))
      return Promise.resolve();
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
   * leaves it to the others' next look (routes/jobs.ts: within 5 s; 250 ms on PostgreSQL while not listening).
   */
  notify(count = Infinity): void {
    this.notified++;
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
