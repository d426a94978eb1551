/**
 * The datalake writer's life on a server: started when this server becomes the leader (repair
 * first), stopped when it stops being one or shuts down. Starts and stops run one after another, and
 * a start that finishes after leadership was lost again throws its writer away, so two writers never
 * append to one folder from this process. While the writer cannot start, results wait in the outbox
 * and the start is retried.
 */
import type { Logger } from '../core/logger';
import {
  DatalakeWriter,
  type DatalakeWriterCounters,
  type OutboxSource,
  repairDatalake,
  type VerifyMode,
} from '../datalake';

export class DatalakeDuty {
  private generation = 0;
  private writer: DatalakeWriter | null = null;
  private retry: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly source: OutboxSource,
    private readonly log: Logger,
    private readonly verify: VerifyMode,
    private readonly retryMs = 5000,
  ) {}

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(step, step);
    return this.chain;
  }

  /** Repairs the datalake, then starts the writer. Resolves once started (or scheduled for retry). */
  start(): Promise<void> {
    const gen = ++this.generation;
    return this.enqueue(() => this.tryStart(gen));
  }

  /** Stops the writer; with `flush`, writes what the outbox holds first (shutdown, not loss of leadership). */
  stop(flush: boolean): Promise<void> {
    this.generation++;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    return this.enqueue(async () => {
      const w = this.writer;
      this.writer = null;
      if (!w) return;
      if (flush)
        await w
          .flush()
          .catch((err) =>
            this.log.error({ err: (err as Error).message }, 'datalake flush failed; the outbox keeps the rest'),
          );
      await w.stop();
    });
  }

  notify(): void {
    this.writer?.notify();
  }

  counters(): DatalakeWriterCounters | null {
    return this.writer?.counters() ?? null;
  }

  private async tryStart(gen: number): Promise<void> {
    if (gen !== this.generation) return;
    try {
      await repairDatalake(this.dir, this.source, this.log, { verify: this.verify });
      if (gen !== this.generation) return;
      const w = new DatalakeWriter({ dir: this.dir, source: this.source, log: this.log });
      await w.start();
      if (gen !== this.generation) {
        await w.stop();
        return;
      }
      this.writer = w;
    } catch (err) {
      if (gen !== this.generation) return;
      this.log.error(
        { err: (err as Error).message },
        `datalake writer failed to start; results wait in the outbox; retrying in ${this.retryMs} ms`,
      );
      this.retry = setTimeout(() => void this.enqueue(() => this.tryStart(gen)), this.retryMs);
      this.retry.unref();
    }
  }
}
