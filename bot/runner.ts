/**
 * The bot's life: register → heartbeat on its own timer → claim ONE job (long-poll) → run its
 * handler → report → next. Two ways to talk to the server (CLAIM_MODE):
 *  - next (default): POST /jobs/next reports the finished job and claims-and-starts the next one in
 *    one call, so a busy bot costs one request per job; an idle one long-polls it.
 *  - classic: POST /jobs/claim, /start, /complete or /fail (also used when the server has no
 *    /jobs/next, and for reports during shutdown, where claiming more would be wrong).
 * Faults: an unreachable server means capped exponential backoff with jitter (one log line per
 * change of state); 404 on heartbeat or claim means register again; 409 on a report means the lease
 * was lost: the result is dropped and logged. stop() (SIGTERM): no new claims, the running job gets
 * shutdownGraceMs, then is reported failed as "bot shutting down" so the server retries it.
 */
import { systemClock, type Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Job } from '../core/types';
import {
  ServerBusyError,
  ServerUnavailableError,
  type ApiClient,
  type NextAnswer,
  type NextReport,
  type Reply,
} from './api-client';
import type { BotConfig } from './config';
import type { HandlerRegistry } from './handlers';
import { LeaseLostAbort, ShutdownAbort, errorText, executeJob, reportFor, type Outcome } from './job-execution';
import { PeriodicTask } from './periodic-task';
import { releaseHeldJob } from './release';
import { GaveUp, Retrier } from './retry';
import { ServerLink, describe } from './server-link';
import { pause, realSleep, type SleepFn } from './sleep';

/** Time a report still gets after the grace period during shutdown (Kubernetes kills at 30 s). */
const SHUTDOWN_REPORT_MS = 3000;

export type RunnerConfig = Pick<
  BotConfig,
  | 'botId'
  | 'botName'
  | 'heartbeatIntervalMs'
  | 'processingDurationMs'
  | 'failureRate'
  | 'claimWaitMs'
  | 'claimPollIntervalMs'
  | 'claimMode'
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

interface CurrentJob {
  job: Job;
  abort: AbortController;
  /** Set once the job runs under us; only then can a heartbeat tell us it moved on. */
  started: boolean;
}

/** A job whose handler is done (or was stopped), waiting to be reported. */
interface Finished {
  job: Job;
  log: Logger;
  outcome: Outcome;
}

export class BotRunner {
  private readonly cfg: RunnerConfig;
  private readonly api: ApiClient;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly sleep: SleepFn;
  private readonly random: () => number;
  private readonly link: ServerLink;
  private readonly retrier: Retrier;
  private readonly heartbeat: PeriodicTask;
  private readonly stopController = new AbortController();
  private lean: boolean;
  private stopping = false;
  private stopDeadline = Infinity;
  private graceTimer: NodeJS.Timeout | null = null;
  private current: CurrentJob | null = null;
  private registering: Promise<void> | null = null;
  /** A long-poll claim cut short by stop() may have claimed a job whose answer we never read. */
  private claimAborted = false;
  private stats = { completed: 0, failed: 0, leaseLost: 0 };

  constructor(private readonly deps: RunnerDeps) {
    this.cfg = deps.config;
    this.api = deps.api;
    this.log = deps.log.child({ botId: deps.config.botId });
    this.clock = deps.clock ?? systemClock;
    this.sleep = deps.sleep ?? realSleep;
    this.random = deps.random ?? Math.random;
    this.lean = this.cfg.claimMode === 'next';
    this.link = new ServerLink(this.log, this.clock);
    this.retrier = new Retrier({
      link: this.link,
      log: this.log,
      clock: this.clock,
      sleep: this.sleep,
      backoffMinMs: this.cfg.backoffMinMs,
      backoffMaxMs: this.cfg.backoffMaxMs,
      deadline: () => this.stopDeadline,
    });
    this.heartbeat = new PeriodicTask(
      this.cfg.heartbeatIntervalMs,
      () => this.beat(),
      (err) => this.log.error({ event: 'heartbeat error', err: describe(err) }, 'heartbeat failed'),
    );
  }

  get counts(): Readonly<{ completed: number; failed: number; leaseLost: number }> {
    return this.stats;
  }

  /** Runs until stop() and the current job is settled. Rejects only on a fatal error (e.g. a bad BOT_ID). */
  async run(): Promise<void> {
    try {
      await this.register();
    } catch (err) {
      if (err instanceof GaveUp)
        return this.log.info({ event: 'stopped', ...this.stats }, 'stopped before registering');
      throw err;
    }
    this.heartbeat.start();
    let finished: Finished | null = null;
    try {
      while (!this.stopping) {
        const job: Job | null = this.lean ? await this.nextLean(finished) : await this.nextClassic(finished);
        finished = job ? await this.work(job) : null;
      }
      if (finished) await this.report(finished);
      if (this.claimAborted)
        await releaseHeldJob(this.api, this.cfg.botId, 'bot shutting down', this.log).catch(() => undefined);
    } finally {
      this.heartbeat.stop();
      if (this.graceTimer) clearTimeout(this.graceTimer);
    }
    this.log.info({ event: 'stopped', ...this.stats }, 'stopped');
  }

  /** Stop claiming; give the running job shutdownGraceMs, then abort it. Idempotent. */
  stop(signal = 'stop'): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopDeadline = this.clock.now() + this.cfg.shutdownGraceMs + SHUTDOWN_REPORT_MS;
    const cur = this.current;
    this.log.info(
      { event: 'shutting down', signal, jobId: cur?.job.id ?? null, graceMs: this.cfg.shutdownGraceMs },
      cur ? 'shutting down; letting the current job finish' : 'shutting down',
    );
    this.stopController.abort(new StopRequested());
    if (cur) this.graceTimer = setTimeout(() => cur.abort.abort(new ShutdownAbort()), this.cfg.shutdownGraceMs);
  }

  // ------------------------------------------------------------------ registration and heartbeat

  /** Registers (again); concurrent callers share one attempt. Retries while the server is away. */
  private register(): Promise<void> {
    this.registering ??= this.doRegister().finally(() => (this.registering = null));
    return this.registering;
  }

  private async doRegister(): Promise<void> {
    const r = await this.retrier.untilAnswered(
      () => this.api.register(this.cfg.botId, this.cfg.botName),
      () => !this.stopping || this.current !== null,
      this.stopController.signal,
    );
    if (!r.ok) throw new Error(`the server refused to register bot "${this.cfg.botId}": ${r.status} ${r.message}`);
    this.log.info({ event: 'registered', known: r.status === 200, name: r.body.name }, 'registered');
    // A known id registering again is a restarted bot to the server: it has already handed back
    // whatever job the killed predecessor held (docs/api.md), so nothing waits BOT_DOWN_AFTER_MS.
  }

  private async beat(): Promise<void> {
    const cur = this.current?.started ? this.current : null;
    let r: Reply<{ currentJobId: string | null }>;
    try {
      r = await this.api.heartbeat(this.cfg.botId);
      this.link.markUp();
    } catch (err) {
      if (err instanceof ServerBusyError) return this.link.markUp();
      if (!(err instanceof ServerUnavailableError)) throw err;
      return this.link.markDown(err);
    }
    if (r.ok) {
      this.log.debug({ event: 'heartbeat', jobId: cur?.job.id ?? null }, 'heartbeat');
      if (cur && this.current === cur && r.body.currentJobId !== cur.job.id) await this.checkLease(cur);
      return;
    }
    if (r.status === 404) {
      this.log.warn(
        { event: 'unknown to server' },
        'heartbeat answered 404 (bot deleted or database reset); registering again',
      );
      await this.register();
      if (cur && this.current === cur) await this.checkLease(cur);
      return;
    }
    this.log.warn(
      { event: 'heartbeat refused', status: r.status, code: r.code, reason: r.message },
      'heartbeat refused',
    );
  }

  /** The heartbeat says we no longer hold the job; confirm on the job itself before dropping the work. */
  private async checkLease(cur: CurrentJob): Promise<void> {
    const r = await this.api.getJob(cur.job.id).catch(() => null);
    if (!r) return; // unreachable: the report will find out
    const j = r.ok ? r.body : null;
    const ours =
      j &&
      j.botId === this.cfg.botId &&
      j.attempts === cur.job.attempts &&
      (j.status === 'claimed' || j.status === 'running');
    if (!ours && this.current === cur) {
      cur.abort.abort(
        new LeaseLostAbort(
          j ? `the job is ${j.status}, attempt ${j.attempts}, bot ${j.botId ?? 'none'}` : 'the job is gone',
        ),
      );
    }
  }

  // ------------------------------------------------------------------ claiming

  /** POST /jobs/next: reports `finished` (if any) and claims-and-starts the next job. */
  private async nextLean(finished: Finished | null): Promise<Job | null> {
    const report = finished && this.reportOf(finished);
    const f = report ? finished : null;
    const startedAt = this.clock.now();
    let r: Reply<NextAnswer>;
    try {
      this.claimAborted = false;
      // With a report we do not long-poll: its answer should not wait for the next job, and a
      // call carrying a report is never cut short by stop().
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
      if (f && err instanceof GaveUp) return this.reportAbandoned(f);
      return this.claimInterrupted(err);
    }
    if (r.ok) {
      if (f) this.settle(f, { ok: true, status: r.status, body: r.body.finished ?? f.job });
      if (r.body.job) return r.body.job;
      if (!f) await this.idlePause(startedAt);
      return null;
    }
    if (r.status === 405) {
      this.lean = false;
      this.log.info({ event: 'classic claims' }, 'the server has no POST /jobs/next; using claim/start/complete/fail');
      if (f) await this.report(f);
      return null;
    }
    if (f) {
      // 409/404: the report was stale (lease lost). Anything else (413: result too large) goes the
      // classic way, which turns a rejected result into a failure.
      if (r.status === 409 || r.status === 404) this.settle(f, r);
      else await this.report(f);
      return null;
    }
    return this.claimRefused(r);
  }

  /** Reports `finished` with complete/fail, then POST /jobs/claim. */
  private async nextClassic(finished: Finished | null): Promise<Job | null> {
    if (finished) await this.report(finished);
    if (this.stopping) return null;
    const startedAt = this.clock.now();
    let r: Reply<Job | null>;
    try {
      this.claimAborted = false;
      r = await this.retrier.untilAnswered(
        () => this.api.claim(this.cfg.botId, this.cfg.claimWaitMs, this.stopController.signal),
        () => !this.stopping,
        this.stopController.signal,
      );
    } catch (err) {
      return this.claimInterrupted(err);
    }
    if (!r.ok) return this.claimRefused(r);
    if (r.body) return r.body;
    await this.idlePause(startedAt);
    return null;
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
   * queue, a server without long-poll) must not turn into a busy loop.
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
      await this.register().catch((err) => this.ignoreGaveUp(err));
      return null;
    }
    // 409: the server sees us as down or still holding a job. Registering marks us alive and
    // releases a job a previous life of this bot left behind; then wait a little.
    this.log.warn({ event: 'claim refused', status: r.status, code: r.code, reason: r.message }, 'claim refused');
    if (r.status === 409) await this.register().catch((err) => this.ignoreGaveUp(err));
    await pause(this.sleep, this.cfg.backoffMinMs, this.stopController.signal);
    return null;
  }

  private ignoreGaveUp(err: unknown): void {
    if (!(err instanceof GaveUp)) throw err;
  }

  // ------------------------------------------------------------------ one job

  /** Starts the job if the claim did not, runs its handler; null when the job was lost before it ran. */
  private async work(job: Job): Promise<Finished | null> {
    const log = this.log.child({ jobId: job.id, type: job.type, attempt: job.attempts });
    const cur: CurrentJob = { job, abort: new AbortController(), started: job.status === 'running' };
    this.current = cur;
    log.info({ event: 'claimed' }, 'claimed');
    try {
      if (!cur.started) {
        const s = await this.retrier.untilAnswered(
          () => this.api.start(job.id, this.cfg.botId, job.attempts),
          () => this.mayKeepReporting(),
        );
        if (!s.ok) return this.leaseLost(log, 'start', s);
        cur.started = true;
      }
      log.info({ event: 'started' }, 'started');
      const t0 = this.clock.now();
      // Claimed in the instant stop() came in: hand it straight back rather than start new work.
      const outcome: Outcome =
        this.stopping && !this.graceTimer
          ? { kind: 'failed', error: 'bot shutting down' }
          : await executeJob(this.deps.handlers, job, {
              signal: cur.abort.signal,
              log,
              random: this.random,
              sleep: this.sleep,
              settings: { processingDurationMs: this.cfg.processingDurationMs, failureRate: this.cfg.failureRate },
            });
      return { job, log: log.child({ durationMs: this.clock.now() - t0 }), outcome };
    } catch (err) {
      if (!(err instanceof GaveUp)) throw err;
      return this.reportAbandoned({ job, log, outcome: { kind: 'failed', error: 'not started' } });
    } finally {
      this.current = null;
    }
  }

  /** What to tell the server; null (and logged) when the job was taken from us while it ran. */
  private reportOf(f: Finished): NextReport | null {
    const report = reportFor(f.job, f.outcome);
    if (!report) {
      this.stats.leaseLost++;
      f.log.warn({ event: 'lease lost', reason: errorText(f.outcome) }, 'lease lost; work dropped');
    }
    return report;
  }

  /** Reports with complete/fail; a result the server rejects (too large, say) is reported as a failure instead. */
  private async report(f: Finished, retryRejected = true): Promise<void> {
    const body = this.reportOf(f);
    if (!body) return;
    const { api } = this;
    try {
      const r =
        'complete' in body
          ? await this.retrier.untilAnswered(
              () => api.complete(f.job.id, this.cfg.botId, f.job.attempts, body.complete.result),
              () => this.mayKeepReporting(),
            )
          : await this.retrier.untilAnswered(
              () => api.fail(f.job.id, this.cfg.botId, f.job.attempts, body.fail.error),
              () => this.mayKeepReporting(),
            );
      if (!r.ok && r.status !== 409 && r.status !== 404 && retryRejected && 'complete' in body) {
        return this.report(
          { ...f, outcome: { kind: 'failed', error: `the server rejected the result: ${r.status} ${r.message}` } },
          false,
        );
      }
      this.settle(f, r);
    } catch (err) {
      if (!(err instanceof GaveUp)) throw err;
      this.reportAbandoned(f);
    }
  }

  /** Logs and counts what the server made of a report. */
  private settle(f: Finished, r: Reply<Job>): void {
    const step = f.outcome.kind === 'completed' ? 'complete' : 'fail';
    if (!r.ok) {
      if (r.status === 409 || r.status === 404) {
        this.leaseLost(f.log, step, r);
        return;
      }
      return f.log.error(
        { event: 'report refused', status: r.status, code: r.code, reason: r.message },
        'the server refused the report',
      );
    }
    if (f.outcome.kind === 'completed') {
      this.stats.completed++;
      return f.log.info({ event: 'completed' }, 'completed');
    }
    this.stats.failed++;
    const next = r.body.status;
    f.log.info(
      { event: 'failed', error: errorText(f.outcome), next },
      next === 'pending' ? 'failed; will be retried' : 'failed',
    );
  }

  private leaseLost(log: Logger, step: string, r: { status: number; code: string; message: string }): null {
    this.stats.leaseLost++;
    log.warn(
      { event: 'lease lost', step, status: r.status, code: r.code, reason: r.message },
      'lease lost; result dropped',
    );
    return null;
  }

  private reportAbandoned(f: Finished): null {
    f.log.warn(
      { event: 'report abandoned' },
      'server unreachable during shutdown; the job will be released when its lease expires',
    );
    return null;
  }

  /** Reports retry forever while running, and until the shutdown deadline once stopping. */
  private mayKeepReporting(): boolean {
    return !this.stopping || this.clock.now() < this.stopDeadline;
  }
}
