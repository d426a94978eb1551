/**
 * The bot's life: register → heartbeat on its own timer → POST /jobs/next (report the previous job,
 * claim-and-start the next, long-polling while idle) → run its handler → next. One call per job.
 * Faults: an unreachable server means capped exponential backoff with jitter (one log line per
 * change of state); 404 on heartbeat or claim means register again; 409 on a report means the lease
 * was lost: the result is dropped and logged. stop() (SIGTERM): no new work; the running job gets
 * shutdownGraceMs to finish and is reported, else its handler is stopped and the job handed back
 * unfinished (POST /jobs/:id/release), as is a job that arrives after stop().
 */
import { systemClock, type Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Job } from '../core/types';
import type { ApiClient, NextAnswer, Reply } from './api-client';
import type { BotConfig } from './config';
import type { HandlerRegistry } from './handlers';
import { JobReports, type Finished, type RunnerCounts } from './job-reports';
import { JobStoppedAbort, ShutdownAbort, disposalOf, executeJob, type Outcome } from './job-execution';
import { JobTelemetry } from './job-telemetry';
import { Presence, type CurrentJob } from './presence';
import { releaseHeldJob } from './release';
import { GaveUp, Retrier } from './retry';
import { ServerLink, describe } from './server-link';
import { pause, realSleep, type SleepFn } from './sleep';

/** Time a report or hand-back still gets after the grace period during shutdown (Kubernetes kills at 30 s). */
const SHUTDOWN_REPORT_MS = 3000;

export type RunnerConfig = Pick<
  BotConfig,
  | 'botId'
  | 'botName'
  | 'serverUrl'
  | 'heartbeatIntervalMs'
  | 'processingDurationMs'
  | 'failureRate'
  | 'claimWaitMs'
  | 'claimPollIntervalMs'
  | 'shutdownGraceMs'
  | 'backoffMinMs'
  | 'backoffMaxMs'
>;

export interface RunnerDeps {
  config: RunnerConfig;
  api: ApiClient;
  handlers: HandlerRegistry;
  log: Logger;
  /** Drawn by handlers (the simulated failure); seed it in tests for exact failure counts. */
  random?: () => number;
  clock?: Clock;
  sleep?: SleepFn;
}

class StopRequested extends Error {}

export class BotRunner {
  private readonly cfg: RunnerConfig;
  private readonly api: ApiClient;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly sleep: SleepFn;
  private readonly random: () => number;
  private readonly retrier: Retrier;
  private readonly presence: Presence;
  private readonly reports: JobReports;
  private readonly stopController = new AbortController();
  private stopping = false;
  private stopDeadline = Infinity;
  private graceTimer: NodeJS.Timeout | null = null;
  private current: CurrentJob | null = null;
  /** A long-poll cut short by stop() may have claimed a job whose answer we never read. */
  private claimAborted = false;

  constructor(private readonly deps: RunnerDeps) {
    this.cfg = deps.config;
    this.api = deps.api;
    this.log = deps.log.child({ botId: deps.config.botId });
    this.clock = deps.clock ?? systemClock;
    this.sleep = deps.sleep ?? realSleep;
    this.random = deps.random ?? Math.random;
    const link = new ServerLink(this.log, this.clock);
    this.retrier = new Retrier({
      link,
      log: this.log,
      clock: this.clock,
      sleep: this.sleep,
      backoffMinMs: this.cfg.backoffMinMs,
      backoffMaxMs: this.cfg.backoffMaxMs,
      deadline: () => this.stopDeadline,
    });
    this.presence = new Presence({
      ...this.cfg,
      api: this.api,
      log: this.log,
      link,
      retrier: this.retrier,
      stopSignal: this.stopController.signal,
      keepRegistering: () => !this.stopping || this.current !== null,
      current: () => this.current,
    });
    this.reports = new JobReports(this.api, this.cfg.botId, this.retrier);
  }

  get counts(): Readonly<RunnerCounts> {
    return this.reports.counts;
  }

  /** Runs until stop() and the current job is settled. Rejects only on a fatal error (e.g. a bad BOT_ID). */
  async run(): Promise<void> {
    try {
      await this.presence.register();
    } catch (err) {
      if (err instanceof GaveUp)
        return this.log.info({ event: 'stopped', ...this.counts }, 'stopped before registering');
      throw err;
    }
    this.presence.startHeartbeat();
    try {
      let finished: Finished | null = null;
      while (!this.stopping) {
        const job: Job | null = await this.next(finished);
        finished = null;
        if (job && this.stopping) await this.handBack(job, this.jobLog(job, true));
        else if (job) finished = await this.work(job);
      }
      if (finished) await this.settleOnStop(finished);
      if (this.claimAborted)
        await releaseHeldJob(this.api, this.cfg.botId, this.log).catch((err: unknown) =>
          this.log.warn(
            { event: 'hand-back abandoned', err: describe(err) },
            'could not check for a job claimed as the bot stopped; if there is one, it goes back when its lease expires',
          ),
        );
    } finally {
      this.presence.stopHeartbeat();
      if (this.graceTimer) clearTimeout(this.graceTimer);
    }
    this.log.info({ event: 'stopped', ...this.counts }, 'stopped');
  }

  /** Stop claiming; give the running job shutdownGraceMs, then stop it and hand it back. Idempotent. */
  stop(signal = 'stop'): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopDeadline = this.clock.now() + this.cfg.shutdownGraceMs + SHUTDOWN_REPORT_MS;
    const cur = this.current;
    this.log.info(
      { event: 'shutting down', signal, jobId: cur?.job.id ?? null, graceMs: this.cfg.shutdownGraceMs },
      cur
        ? `shutting down (${signal}); job ${cur.job.id} gets ${this.cfg.shutdownGraceMs} ms to finish, then goes back to the queue`
        : `shutting down (${signal})`,
    );
    this.stopController.abort(new StopRequested());
    if (cur) this.graceTimer = setTimeout(() => cur.abort.abort(new ShutdownAbort()), this.cfg.shutdownGraceMs);
  }

  /**
   * POST /jobs/next: reports `finished` (if any) and claims-and-starts the next job. Without a
   * report an idle bot long-polls, cut short by stop(); a report goes with waitMs 0 (its answer
   * must not wait for the next job) and is never cut short.
   */
  private async next(finished: Finished | null): Promise<Job | null> {
    const disposal = finished && disposalOf(finished.job, finished.outcome);
    if (finished && disposal?.kind === 'drop') this.reports.dropped(finished);
    const report = disposal?.kind === 'report' ? disposal.report : null;
    const f = report ? finished : null;
    const startedAt = this.clock.now();
    let r: Reply<NextAnswer>;
    try {
      this.claimAborted = false;
      r = await this.retrier.untilAnswered(
        () =>
          this.api.next(
            this.cfg.botId,
            report ? 0 : this.cfg.claimWaitMs,
            report,
            report ? undefined : this.stopController.signal,
          ),
        report ? () => this.mayKeepReporting() : () => !this.stopping,
        report ? undefined : this.stopController.signal,
      );
    } catch (err) {
      if (f && err instanceof GaveUp) {
        this.reports.reportAbandoned(f);
        return null;
      }
      return this.claimInterrupted(err);
    }
    if (r.ok) {
      if (f) this.reports.settle(f, { ok: true, status: r.status, body: r.body.finished ?? f.job });
      if (r.body.job) return r.body.job;
      if (!f) await this.idlePause(startedAt);
      return null;
    }
    if (!f) return this.claimRefused(r);
    if (r.status === 409 || r.status === 404 || f.outcome.kind !== 'completed') {
      // 409/404: the report was stale (lease lost). A refused failure report is logged as such.
      this.reports.settle(f, r);
      return null;
    }
    // A result the server will not take (413: too large, say) is reported as the job's failure.
    const error = `the server rejected the result: ${r.status} ${r.message}`;
    return this.next({ ...f, outcome: { kind: 'failed', error } });
  }

  private claimInterrupted(err: unknown): null {
    if (this.stopping && (err instanceof StopRequested || err instanceof GaveUp)) {
      this.claimAborted = err instanceof StopRequested;
      return null;
    }
    throw err;
  }

  /**
   * Nothing pending. A long-poll already waited; an immediate "nothing" (polling mode, paused
   * queue) must not turn into a busy loop.
   */
  private async idlePause(startedAt: number): Promise<void> {
    const waited = this.clock.now() - startedAt;
    if (this.cfg.claimWaitMs === 0 || waited < this.cfg.claimWaitMs / 2) {
      await pause(this.sleep, this.cfg.claimPollIntervalMs, this.stopController.signal);
    }
  }

  private async claimRefused(r: { status: number; code: string; message: string }): Promise<null> {
    if (r.status === 404) {
      this.log.warn({ event: 'unknown to server' }, 'claim answered 404; registering again');
      await this.presence.register().catch((err) => this.ignoreGaveUp(err));
      return null;
    }
    // 409: the server sees us as down or still holding a job. Registering marks us alive and
    // releases a job a previous life of this bot left behind; then wait a little.
    this.log.warn({ event: 'claim refused', status: r.status, code: r.code, reason: r.message }, 'claim refused');
    if (r.status === 409) await this.presence.register().catch((err) => this.ignoreGaveUp(err));
    await pause(this.sleep, this.cfg.backoffMinMs, this.stopController.signal);
    return null;
  }

  private ignoreGaveUp(err: unknown): void {
    if (!(err instanceof GaveUp)) throw err;
  }

  /** Logs the claim and runs the job's handler (the job is already running on the server). */
  private async work(job: Job): Promise<Finished> {
    const log = this.jobLog(job, false);
    const cur: CurrentJob = { job, abort: new AbortController() };
    const telemetry = new JobTelemetry({
      api: this.api,
      botId: this.cfg.botId,
      job,
      log,
      onStopped: (detail) => {
        if (this.current === cur) cur.abort.abort(new JobStoppedAbort(detail));
      },
    });
    this.current = cur;
    log.info({ event: 'started' }, `started job ${job.id}`);
    const t0 = this.clock.now();
    try {
      const outcome: Outcome = await executeJob(this.deps.handlers, job, {
        signal: cur.abort.signal,
        log: telemetry.log,
        progress: (fraction, message) => telemetry.progress(fraction, message),
        random: this.random,
        sleep: this.sleep,
        settings: { processingDurationMs: this.cfg.processingDurationMs, failureRate: this.cfg.failureRate },
      });
      // The last progress and lines go before the result: after it, the server takes none.
      if (outcome.kind === 'aborted') telemetry.close();
      else await telemetry.finish();
      const durationMs = this.clock.now() - t0;
      return { job, log: log.child({ durationMs }), outcome, durationMs };
    } finally {
      telemetry.close();
      this.current = null;
    }
  }

  /** A child logger naming the job; logs that it was claimed (and, `late`, that stop() came first). */
  private jobLog(job: Job, late: boolean): Logger {
    const log = this.log.child({ jobId: job.id, type: job.type, attempt: job.attempts });
    log.info(
      { event: 'claimed' },
      `claimed job ${job.id} (${job.type}, attempt ${job.attempts})${late ? ' as the bot stops' : ''}`,
    );
    return log;
  }

  /** The job that was running when stop() came: reported if it finished, handed back if it was stopped. */
  private async settleOnStop(f: Finished): Promise<void> {
    const disposal = disposalOf(f.job, f.outcome);
    if (disposal.kind === 'hand back') return this.handBack(f.job, f.log);
    if (disposal.kind === 'drop') return this.reports.dropped(f);
    // The report claims the next job as well, if one is pending: that one goes straight back.
    const job = await this.next(f);
    if (job) await this.handBack(job, this.jobLog(job, true));
  }

  private handBack(job: Job, log: Logger): Promise<void> {
    return this.reports.handBack(job, log, () => this.mayKeepReporting());
  }

  /** Reports retry forever while running, and until the shutdown deadline once stopping. */
  private mayKeepReporting(): boolean {
    return !this.stopping || this.clock.now() < this.stopDeadline;
  }
}
