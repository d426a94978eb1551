/**
 * The bot's life: register → heartbeat on its own timer → claim ONE job (long-poll) → start → run
 * its handler → complete or fail → next. Faults: an unreachable server means capped exponential
 * backoff with jitter (one log line per change of state); 404 on heartbeat or claim means register
 * again; 409 on start/complete/fail means the lease was lost: the result is dropped and logged.
 * stop() (SIGTERM): no new claims, the running job gets shutdownGraceMs, then is reported failed
 * as "bot shutting down" so the server retries it.
 */
import { systemClock, type Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Job } from '../core/types';
import { ServerBusyError, ServerUnavailableError, type ApiClient, type Reply } from './api-client';
import { Backoff } from './backoff';
import type { BotConfig } from './config';
import type { HandlerRegistry } from './handlers';
import { LeaseLostAbort, ShutdownAbort, executeJob, type Outcome } from './job-execution';
import { PeriodicTask } from './periodic-task';
import { ServerLink, describe } from './server-link';
import { pause, realSleep, type SleepFn } from './sleep';

/** Time a report still gets after the grace period during shutdown (Kubernetes kills at 30 s). */
const SHUTDOWN_REPORT_MS = 3000;

export type RunnerConfig = Pick<
  BotConfig,
  | 'botId' | 'botName' | 'heartbeatIntervalMs' | 'processingDurationMs' | 'failureRate' | 'claimWaitMs'
  | 'claimPollIntervalMs' | 'shutdownGraceMs' | 'backoffMinMs' | 'backoffMaxMs'
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

class GaveUp extends Error {}
class StopRequested extends Error {}

interface CurrentJob {
  job: Job;
  abort: AbortController;
  /** Set once the server accepted start; only then can a heartbeat tell us the job moved on. */
  started: boolean;
}

export class BotRunner {
  private readonly cfg: RunnerConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly sleep: SleepFn;
  private readonly random: () => number;
  private readonly link: ServerLink;
  private readonly heartbeat: PeriodicTask;
  private readonly stopController = new AbortController();
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
    this.log = deps.log.child({ botId: deps.config.botId });
    this.clock = deps.clock ?? systemClock;
    this.sleep = deps.sleep ?? realSleep;
    this.random = deps.random ?? Math.random;
    this.link = new ServerLink(this.log, this.clock);
    this.heartbeat = new PeriodicTask(this.cfg.heartbeatIntervalMs, () => this.beat(), (err) =>
      this.log.error({ event: 'heartbeat error', err: describe(err) }, 'heartbeat failed'),
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
      if (err instanceof GaveUp) return this.log.info({ event: 'stopped', ...this.stats }, 'stopped before registering');
      throw err;
    }
    this.heartbeat.start();
    try {
      while (!this.stopping) {
        const job = await this.claimNext();
        if (job) await this.process(job);
      }
      if (this.claimAborted) await this.releaseHeldJob('bot shutting down').catch(() => undefined);
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
    if (cur) {
      this.graceTimer = setTimeout(() => cur.abort.abort(new ShutdownAbort()), this.cfg.shutdownGraceMs);
    }
  }

  // ------------------------------------------------------------------ registration and heartbeat

  /** Registers (again); concurrent callers share one attempt. Retries while the server is away. */
  private register(): Promise<void> {
    this.registering ??= this.doRegister().finally(() => (this.registering = null));
    return this.registering;
  }

  private async doRegister(): Promise<void> {
    const r = await this.untilAnswered(
      () => this.deps.api.register(this.cfg.botId, this.cfg.botName),
      () => !this.stopping || this.current !== null,
      this.stopController.signal,
    );
    if (!r.ok) throw new Error(`the server refused to register bot "${this.cfg.botId}": ${r.status} ${r.message}`);
    this.log.info({ event: 'registered', known: r.status === 200, name: r.body.name }, 'registered');
    const held = r.body.currentJobId;
    // The server thinks we hold a job we are not running: we were restarted (kill -9, OOM) under
    // the same id. Release it now instead of letting it wait BOT_DOWN_AFTER_MS.
    if (held && held !== this.current?.job.id) {
      await this.releaseJob(held, 'bot restarted while holding this job').catch((err) =>
        this.log.warn({ event: 'release failed', jobId: held, err: describe(err) }, 'could not release a job left from a previous run'),
      );
    }
  }

  private async beat(): Promise<void> {
    const cur = this.current?.started ? this.current : null;
    let r: Reply<{ currentJobId: string | null }>;
    try {
      r = await this.deps.api.heartbeat(this.cfg.botId);
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
      this.log.warn({ event: 'unknown to server' }, 'heartbeat answered 404 (bot deleted or database reset); registering again');
      await this.register();
      if (cur && this.current === cur) await this.checkLease(cur);
      return;
    }
    this.log.warn({ event: 'heartbeat refused', status: r.status, code: r.code, reason: r.message }, 'heartbeat refused');
  }

  /** The heartbeat says we no longer hold the job; confirm on the job itself before dropping the work. */
  private async checkLease(cur: CurrentJob): Promise<void> {
    const r = await this.deps.api.getJob(cur.job.id).catch(() => null);
    if (!r) return; // unreachable: the report will find out
    const j = r.ok ? r.body : null;
    const ours = j && j.botId === this.cfg.botId && j.attempts === cur.job.attempts && (j.status === 'claimed' || j.status === 'running');
    if (!ours && this.current === cur) {
      cur.abort.abort(new LeaseLostAbort(j ? `the job is ${j.status}, attempt ${j.attempts}, bot ${j.botId ?? 'none'}` : 'the job is gone'));
    }
  }

  // ------------------------------------------------------------------ claiming

  private async claimNext(): Promise<Job | null> {
    const startedAt = this.clock.now();
    let r: Reply<Job | null>;
    try {
      this.claimAborted = false;
      r = await this.untilAnswered(
        () => this.deps.api.claim(this.cfg.botId, this.cfg.claimWaitMs, this.stopController.signal),
        () => !this.stopping,
        this.stopController.signal,
      );
    } catch (err) {
      if (this.stopping && (err instanceof StopRequested || err instanceof GaveUp)) {
        this.claimAborted = err instanceof StopRequested;
        return null;
      }
      throw err;
    }
    if (r.ok) {
      if (r.body) return r.body;
      // Nothing pending. A long-poll already waited; an immediate 204 (polling mode, paused queue,
      // a server without long-poll) must not turn into a busy loop.
      const waited = this.clock.now() - startedAt;
      if (this.cfg.claimWaitMs === 0 || waited < this.cfg.claimWaitMs / 2) {
        await pause(this.sleep, this.cfg.claimPollIntervalMs, this.stopController.signal);
      }
      return null;
    }
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

  private async process(job: Job): Promise<void> {
    const attempt = job.attempts;
    const log = this.log.child({ jobId: job.id, type: job.type, attempt });
    const cur: CurrentJob = { job, abort: new AbortController(), started: false };
    this.current = cur;
    log.info({ event: 'claimed' }, 'claimed');
    try {
      const s = await this.untilAnswered(() => this.deps.api.start(job.id, this.cfg.botId, attempt), () => this.mayKeepReporting());
      if (!s.ok) return this.leaseLost(log, 'start', s);
      cur.started = true;
      log.info({ event: 'started' }, 'started');
      const t0 = this.clock.now();
      // Claimed in the instant stop() came in: hand it straight back rather than start new work.
      const outcome: Outcome = this.stopping && !this.graceTimer ? { kind: 'failed', error: 'bot shutting down' } : await executeJob(this.deps.handlers, job, {
        signal: cur.abort.signal,
        log,
        random: this.random,
        sleep: this.sleep,
        settings: { processingDurationMs: this.cfg.processingDurationMs, failureRate: this.cfg.failureRate },
      });
      await this.report(log.child({ durationMs: this.clock.now() - t0 }), job, outcome, true);
    } catch (err) {
      if (!(err instanceof GaveUp)) throw err;
      log.warn({ event: 'report abandoned' }, 'server unreachable during shutdown; the job will be released when its lease expires');
    } finally {
      this.current = null;
    }
  }

  /** Reports an outcome; a result the server rejects (too large, say) is reported as a failure instead. */
  private async report(log: Logger, job: Job, outcome: Outcome, retryRejected: boolean): Promise<void> {
    const { api } = this.deps;
    const id = this.cfg.botId;
    if (outcome.kind === 'aborted' && outcome.reason instanceof LeaseLostAbort) {
      this.stats.leaseLost++;
      return log.warn({ event: 'lease lost', reason: outcome.reason.message }, 'lease lost; work dropped');
    }
    const error = outcome.kind === 'failed' ? outcome.error : outcome.kind === 'aborted' ? outcome.reason.message : '';
    const r =
      outcome.kind === 'completed'
        ? await this.untilAnswered(() => api.complete(job.id, id, job.attempts, outcome.result), () => this.mayKeepReporting())
        : await this.untilAnswered(() => api.fail(job.id, id, job.attempts, error), () => this.mayKeepReporting());
    if (r.ok) {
      if (outcome.kind === 'completed') {
        this.stats.completed++;
        return log.info({ event: 'completed' }, 'completed');
      }
      this.stats.failed++;
      return log.info({ event: 'failed', error, next: r.body.status }, r.body.status === 'pending' ? 'failed; will be retried' : 'failed');
    }
    if (r.status === 409 || r.status === 404) return this.leaseLost(log, outcome.kind === 'completed' ? 'complete' : 'fail', r);
    if (retryRejected && outcome.kind === 'completed') {
      return this.report(log, job, { kind: 'failed', error: `the server rejected the result: ${r.status} ${r.message}` }, false);
    }
    log.error({ event: 'report refused', status: r.status, code: r.code, reason: r.message }, 'the server refused the report');
  }

  private leaseLost(log: Logger, step: string, r: { status: number; code: string; message: string }): void {
    this.stats.leaseLost++;
    log.warn({ event: 'lease lost', step, status: r.status, code: r.code, reason: r.message }, 'lease lost; result dropped');
  }

  /** Reports retry forever while running, and until the shutdown deadline once stopping. */
  private mayKeepReporting(): boolean {
    return !this.stopping || this.clock.now() < this.stopDeadline;
  }

  private async releaseHeldJob(reason: string): Promise<void> {
    const r = await this.deps.api.getBot(this.cfg.botId);
    if (r.ok && r.body.currentJobId) await this.releaseJob(r.body.currentJobId, reason);
  }

  /** Fails a job the server says we hold but we are not running, so it is retried now. */
  private async releaseJob(jobId: string, reason: string): Promise<void> {
    const { api } = this.deps;
    const log = this.log.child({ jobId });
    const j = await api.getJob(jobId);
    if (!j.ok || j.body.botId !== this.cfg.botId) return;
    const attempt = j.body.attempts;
    // fail is answered for a running job; a merely claimed one is started first.
    if (j.body.status === 'claimed') await api.start(jobId, this.cfg.botId, attempt);
    else if (j.body.status !== 'running') return;
    const r = await api.fail(jobId, this.cfg.botId, attempt, reason);
    log.warn({ event: 'released', reason, attempt, next: r.ok ? r.body.status : null }, `released a job: ${reason}`);
  }

  // ------------------------------------------------------------------ retries

  /**
   * Calls fn until the server answers (any HTTP answer but 429/5xx), waiting a jittered, growing
   * delay between tries. Throws GaveUp when keepTrying() turns false.
   */
  private async untilAnswered<T>(fn: () => Promise<T>, keepTrying: () => boolean, sleepSignal?: AbortSignal): Promise<T> {
    // Jitter has its own randomness: drawing from the injected generator would shift the
    // simulated failures and make a seeded failure count depend on network hiccups.
    const backoff = new Backoff(this.cfg.backoffMinMs, this.cfg.backoffMaxMs);
    for (;;) {
      try {
        const r = await fn();
        this.link.markUp();
        return r;
      } catch (err) {
        const busy = err instanceof ServerBusyError;
        if (!busy && !(err instanceof ServerUnavailableError)) throw err;
        // 429 means the server is up and wants us slower: wait as told, but it is no outage.
        if (busy) this.link.markUp();
        else this.link.markDown(err);
        if (!keepTrying()) throw new GaveUp(err.message);
        const delay = Math.max(backoff.next(), busy ? err.retryAfterMs : 0);
        const wait = Math.min(delay, Math.max(0, this.stopDeadline - this.clock.now()));
        this.log.debug({ event: 'retry', waitMs: wait, err: err.message }, 'retrying');
        // A signal that already fired (stop, while a job still reports) must not turn the wait into a spin.
        const wake = [sleepSignal, this.link.backSignal].filter((x): x is AbortSignal => x !== undefined && !x.aborted);
        await pause(this.sleep, wait, wake.length > 0 ? AbortSignal.any(wake) : undefined);
        if (!keepTrying()) throw new GaveUp(err.message);
      }
    }
  }
}
