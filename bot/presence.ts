/**
 * The bot's presence on the server: registering (again, when the server forgot it) and the
 * heartbeat on its own timer, which also notices when the server has taken the running job away.
 */
import type { Logger } from '../core/logger';
import type { Job } from '../core/types';
import {
  ServerBusyError,
  ServerUnavailableError,
  type ApiClient,
  type HeartbeatAnswer,
  type Reply,
} from './api-client';
import { JobStoppedAbort, LeaseLostAbort } from './job-execution';
import { PeriodicTask } from './periodic-task';
import type { Retrier } from './retry';
import { describe, type ServerLink } from './server-link';

/** The job a bot runs now, and how to stop its handler. */
export interface CurrentJob {
  job: Job;
  abort: AbortController;
}

export interface PresenceDeps {
  botId: string;
  botName: string;
  serverUrl: string;
  heartbeatIntervalMs: number;
  api: ApiClient;
  log: Logger;
  link: ServerLink;
  retrier: Retrier;
  /** Fires on stop(): a registration still retrying gives up. */
  stopSignal: AbortSignal;
  /** Whether registering may go on retrying (false once stopping with no job to report). */
  keepRegistering: () => boolean;
  current: () => CurrentJob | null;
}

export class Presence {
  private registering: Promise<void> | null = null;
  private readonly heartbeat: PeriodicTask;

  constructor(private readonly d: PresenceDeps) {
    this.heartbeat = new PeriodicTask(
      d.heartbeatIntervalMs,
      () => this.beat(),
      (err) => d.log.error({ event: 'heartbeat error', err: describe(err) }, 'heartbeat failed'),
    );
  }

  /** Registers (again); concurrent callers share one attempt. Retries while the server is away. */
  register(): Promise<void> {
    this.registering ??= this.doRegister().finally(() => (this.registering = null));
    return this.registering;
  }

  startHeartbeat(): void {
    this.heartbeat.start();
  }

  stopHeartbeat(): void {
    this.heartbeat.stop();
  }

  private async doRegister(): Promise<void> {
    const { d } = this;
    d.log.info({ event: 'registering', serverUrl: d.serverUrl }, `registering with ${d.serverUrl}`);
    const r = await d.retrier.untilAnswered(() => d.api.register(d.botId, d.botName), d.keepRegistering, d.stopSignal);
    if (!r.ok) throw new Error(`the server refused to register bot "${d.botId}": ${r.status} ${r.message}`);
    d.log.info(
      { event: 'registered', known: r.status === 200, name: r.body.name },
      `registered as ${d.botId}${r.status === 200 ? ' (known to the server)' : ''}`,
    );
    // A known id registering again is a restarted bot to the server: it has already handed back
    // whatever job the killed predecessor held (docs/api.md), so nothing waits BOT_DOWN_AFTER_MS.
  }

  private async beat(): Promise<void> {
    const { d } = this;
    const cur = d.current();
    let r: Reply<HeartbeatAnswer>;
    try {
      r = await d.api.heartbeat(d.botId, cur ? { jobId: cur.job.id, attempt: cur.job.attempts } : undefined);
      d.link.markUp();
    } catch (err) {
      if (err instanceof ServerBusyError) return d.link.markUp();
      if (!(err instanceof ServerUnavailableError)) throw err;
      return d.link.markDown(err);
    }
    if (r.ok) {
      d.log.debug({ event: 'heartbeat', jobId: cur?.job.id ?? null }, 'heartbeat');
      const stop = r.body.stop;
      if (cur && d.current() === cur && stop && stop.jobId === cur.job.id && stop.attempt === cur.job.attempts)
        return cur.abort.abort(new JobStoppedAbort(stop.reason));
      if (cur && d.current() === cur && r.body.currentJobId !== cur.job.id) await this.checkLease(cur);
      return;
    }
    if (r.status === 404) {
      d.log.warn(
        { event: 'unknown to server' },
        'heartbeat answered 404 (bot deleted or database reset); registering again',
      );
      await this.register();
      if (cur && d.current() === cur) await this.checkLease(cur);
      return;
    }
    d.log.warn({ event: 'heartbeat refused', status: r.status, code: r.code, reason: r.message }, 'heartbeat refused');
  }

  /**
   * The heartbeat says we no longer hold the job. Its answer may have been written before the
   * claim of this job was (the two calls overlap), so ask once more, now that the claim is answered.
   */
  private async checkLease(cur: CurrentJob): Promise<void> {
    const { d } = this;
    const r = await d.api.heartbeat(d.botId).catch(() => null);
    if (!r) return; // unreachable: the report will find out
    const b = r.ok ? r.body : null;
    const ours = b !== null && b.currentJobId === cur.job.id && b.currentAttempt === cur.job.attempts;
    if (!ours && d.current() === cur) {
      cur.abort.abort(
        new LeaseLostAbort(
          b ? `the server has this bot on job ${b.currentJobId ?? 'none'}` : `the heartbeat answered ${r.status}`,
        ),
      );
    }
  }
}
