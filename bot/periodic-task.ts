/**
 * Runs a task every intervalMs on its own timer, never two at once (a slow heartbeat delays the
 * next one instead of piling up). Used for heartbeats so they continue while a job runs.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.task()
        .catch(this.onError)
        .finally(() => this.schedule());
    }, this.intervalMs);
  }
}
