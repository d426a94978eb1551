/**
 * Every SWEEP_INTERVAL_MS: bots silent for BOT_DOWN_AFTER_MS are marked down and their jobs taken
 * back; expired leases and timed-out jobs are taken back too (pending again, or failed at maxAttempts).
 * Safe on several servers at once: every change is a guarded update.
 */
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { ServerMetrics } from './metrics';
import type { Store, SweepResult } from './store/types';

export class LeaseSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly metrics: ServerMetrics | null,
    private readonly onReleased: (r: SweepResult) => void = () => {},
  ) {}

  async sweepOnce(): Promise<SweepResult> {
    const r = await this.store.sweep(this.clock.now());
    for (const bot of r.botsDown) this.log.warn({ botId: bot }, 'bot marked down: no heartbeat in time');
    for (const j of r.released) {
      this.log.warn({ jobId: j.jobId, botId: j.botId, to: j.to, reason: j.reason }, 'job taken back from bot');
      this.metrics?.leaseExpiries.inc({ reason: j.reason });
    }
    if (r.botsDown.length) this.metrics?.botsDown.inc(r.botsDown.length);
    if (r.released.length || r.botsDown.length) this.onReleased(r);
    return r;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweepOnce()
        .catch((err) => this.log.warn({ err: (err as Error).message }, 'lease sweep failed; will retry'))
        .finally(() => (this.running = null));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
