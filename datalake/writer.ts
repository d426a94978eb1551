/**
 * DatalakeWriter: drains the store's outbox into NDJSON partitions.
 *
 * One drain = fetchUnwritten(batch) → group by UTC day → one write + fsync per partition →
 * markWritten(seqs), repeated until the outbox is empty. Drains never overlap: notify() during a
 * drain asks for exactly one more, so a burst of finished jobs becomes a few large batches (group
 * commit) instead of one fsync per job. A timer notifies too, as a safety net for a lost notify.
 *
 * Exactly once: a line is appended before its row is marked, so a crash can only leave lines that
 * are appended but not marked; repairDatalake() finds those at start-up and marks them without
 * appending again. Within one process, rows whose append succeeded but whose markWritten failed are
 * remembered and only marked on the retry.
 */
import fs from 'node:fs';
import type { Logger } from '../core/logger';
import { appendToPartition } from './append';
import { formatLine } from './line-format';
import { dayOf } from './paths';
import type { OutboxRecord, OutboxSource } from './types';

export interface DatalakeWriterOptions {
  dir: string;
  source: OutboxSource;
  log: Logger;
  /** Rows fetched per drain step (default 1000). */
  batchSize?: number;
  /** Safety-net drain period in ms (default 1000; 0 = only on notify). */
  intervalMs?: number;
  /**
   * Least time in ms from the end of one notify-driven drain to the start of the next (default 50). Results
   * finishing one by one would otherwise each cost a file fsync plus an outbox COMMIT, competing with
   * the jobs' own commits for the disk: on PostgreSQL that would hold 4 bots to ~200 jobs/s.
   * Results are safe in the outbox meanwhile.
   */
  coalesceMs?: number;
  /** First retry delay after an error in ms (default 100), doubled per failure up to maxBackoffMs. */
  minBackoffMs?: number;
  /** Longest retry delay in ms (default 30000). */
  maxBackoffMs?: number;
}

export interface DatalakeWriterCounters {
  linesWritten: number;
  bytesWritten: number;
  /** Partition appends (each one write + fsync). */
  appends: number;
  /** Drain steps that ended in an error. */
  errors: number;
  consecutiveErrors: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastWriteAt: string | null;
}

export class DatalakeWriter {
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly coalesceMs: number;
  /** When the last notify-driven drain ended (ms): the next one starts coalesceMs later at the earliest. */
  private lastDrainEnd = 0;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** The notify-driven drain loop, if one is running. */
  private inFlight: Promise<void> | null = null;
  /** Tail of the chain every drain runs on (see exclusive()). */
  private lock: Promise<unknown> = Promise.resolve();
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** seqs appended and fsynced whose markWritten has not succeeded yet: never append them again. */
  private readonly appendedUnmarked = new Set<number>();
  private readonly c: DatalakeWriterCounters = {
    linesWritten: 0,
    bytesWritten: 0,
    appends: 0,
    errors: 0,
    consecutiveErrors: 0,
    lastError: null,
    lastErrorAt: null,
    lastWriteAt: null,
  };

  constructor(private readonly opts: DatalakeWriterOptions) {
    this.batchSize = opts.batchSize ?? 1000;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.coalesceMs = opts.coalesceMs ?? 50;
    this.minBackoffMs = opts.minBackoffMs ?? 100;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    if (!(this.batchSize >= 1)) throw new Error('batchSize must be at least 1');
  }

  /** Creates the folder, starts the safety-net timer and drains what is already waiting. */
  async start(): Promise<void> {
    await fs.promises.mkdir(this.opts.dir, { recursive: true });
    this.stopped = false;
    if (this.intervalMs > 0 && !this.timer) {
      this.timer = setInterval(() => this.notify(), this.intervalMs);
      this.timer.unref();
    }
    this.notify();
  }

  /** Something was committed to the outbox: drain soon. Cheap and safe to call after every result. */
  notify(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.retryTimer) return; // backing off after an error: the retry will pick it up
    this.inFlight = this.drainLoop().finally(() => {
      this.inFlight = null;
    });
  }

  /** Drains everything now (the SIGTERM path). Rejects with the error when the outbox cannot be drained. */
  async flush(): Promise<void> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    await this.exclusive(() => this.drainAll());
  }

  /** Stops the timers and waits for a drain in flight; call flush() first to write what is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = null;
    this.retryTimer = null;
    if (this.inFlight) await this.inFlight;
    await this.lock;
  }

  /** A snapshot of the counters, for /metrics. */
  counters(): DatalakeWriterCounters {
    return { ...this.c };
  }

  /** Runs fn after every earlier drain has settled: drains never overlap, whoever starts them. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Runs drains until no notify arrived during the last one; on error schedules a retry with backoff. */
  private async drainLoop(): Promise<void> {
    for (let first = true; first || (this.again && !this.stopped); first = false) {
      const wait = this.lastDrainEnd + this.coalesceMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, this.coalesceMs)));
      if (this.stopped) return;
      this.again = false;
      try {
        await this.exclusive(() => this.drainAll());
      } catch {
        this.scheduleRetry();
        return;
      } finally {
        this.lastDrainEnd = Date.now();
      }
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(this.c.consecutiveErrors - 1, 30));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.notify();
    }, delay);
    this.retryTimer.unref();
  }

  /** Appends batches until fetchUnwritten returns less than a full batch. Throws on the first error. */
  private async drainAll(): Promise<void> {
    for (;;) {
      let n: number;
      try {
        n = await this.drainBatch();
      } catch (err) {
        this.c.errors++;
        this.c.consecutiveErrors++;
        this.c.lastError = err instanceof Error ? err.message : String(err);
        this.c.lastErrorAt = new Date().toISOString();
        this.opts.log.error({ err, consecutiveErrors: this.c.consecutiveErrors }, 'datalake drain failed; will retry');
        throw err;
      }
      if (this.c.consecutiveErrors > 0) {
        this.opts.log.info({ afterErrors: this.c.consecutiveErrors }, 'datalake writer recovered');
        this.c.consecutiveErrors = 0;
      }
      if (n < this.batchSize) return;
    }
  }

  /** One fetch → append → mark step; returns the number of rows fetched. */
  private async drainBatch(): Promise<number> {
    const records = await this.opts.source.fetchUnwritten(this.batchSize);
    if (records.length === 0) return 0;
    const byDay = new Map<string, OutboxRecord[]>();
    for (const r of records) {
      if (this.appendedUnmarked.has(r.seq)) continue;
      const day = dayOf(r.line.finishedAt);
      const group = byDay.get(day);
      if (group) group.push(r);
      else byDay.set(day, [r]);
    }
    for (const [day, group] of byDay) {
      const data = Buffer.from(group.map((r) => formatLine(r.line)).join(''), 'utf8');
      const bytes = await appendToPartition(this.opts.dir, day, data);
      for (const r of group) this.appendedUnmarked.add(r.seq);
      this.c.linesWritten += group.length;
      this.c.bytesWritten += bytes;
      this.c.appends++;
      this.c.lastWriteAt = new Date().toISOString();
    }
    const seqs = records.map((r) => r.seq);
    await this.opts.source.markWritten(seqs);
    for (const s of seqs) this.appendedUnmarked.delete(s);
    return records.length;
  }
}
