/**
 * Creates a batch of BATCH_SIZE simulated jobs every POPULATE_INTERVAL_MS (0 = off). Periods are
 * numbered from the epoch and taken in the database, so several servers on one PostgreSQL database
 * create exactly one batch per period, and a clock stepped back never repeats one.
 */
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { simulatedBatch } from '../core/job-state';
import { repeat, type Repeating } from '../core/repeat';
import type { Store } from './store/types';

export interface SchedulerOptions {
  intervalMs: number;
  batchSize: number;
  /** How often to check whether a new period began (default min(interval, 1000) ms). */
  tickMs?: number;
}

export class Scheduler {
  private repeating: Repeating | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: SchedulerOptions,
    private readonly onCreated: (count: number) => void = () => {},
  ) {}

  /**
   * Checks once; creates the batch if this call took a new period. Returns whether it did. The batch
   * is created as of the time that took the period, so its createdAt names its period.
   */
  async tick(): Promise<boolean> {
    const { intervalMs, batchSize } = this.opts;
    const now = this.clock.now();
    return this.store.runOncePerPeriod('populate', intervalMs, now, async () => {
      const created = await this.store.createJobs(simulatedBatch(batchSize), now);
      this.log.info({ count: created.length, everyMs: intervalMs }, 'scheduled batch created');
      this.onCreated(created.length);
    });
  }

  start(): void {
    if (this.opts.intervalMs <= 0 || this.repeating) return;
    const every = this.opts.tickMs ?? Math.min(this.opts.intervalMs, 1000);
    this.repeating = repeat(
      every,
      () => this.tick(),
      (err) => this.log.warn({ err: (err as Error).message }, 'scheduler tick failed; will retry'),
    );
  }

  async stop(): Promise<void> {
    await this.repeating?.stop();
    this.repeating = null;
  }
}
