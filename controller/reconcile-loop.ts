/**
 * The operator loop: every RECONCILE_INTERVAL_MS (and right after each change) it re-reads the
 * desired state from its store (so a `kubectl edit` or a hand-edited file takes effect), lets the
 * autoscaler adjust it, observes the driver and applies what reconcile() decides.
 *
 * Everything that reads or writes the desired state runs through one serial queue: reconciles never
 * overlap, and two admins pressing "Add Bot" at once give two more bots, not one.
 */
import { UnavailableError } from '../core/errors';
import type { Logger } from '../core/logger';
import { Autoscaler } from './autoscaler';
import {
  capToMaxBots,
  InvalidStoredStateError,
  sameDesiredState,
  type DesiredState,
  type DesiredStateStore,
} from './desired-state';
import { DrainUnknownError, type ScaleDriver } from './drivers/driver';
import { reconcile, type ObservedState, type ReconcileAction } from './reconcile';
import type { ServerClient } from './server-client';

export interface ReconcileLoopOptions {
  store: DesiredStateStore;
  driver: ScaleDriver;
  server: ServerClient;
  autoscaler: Autoscaler;
  /** Used when the store holds nothing yet; saved on start. */
  defaults: DesiredState;
  maxBots: number;
  intervalMs: number;
  logger: Logger;
  /** Called after every pass with its report and its error (null when it went through). */
  onReport?: (report: ReconcileReport, error: unknown) => void;
}

export interface ReconcileReport {
  at: string;
  desired: DesiredState;
  /** The pass's last observation: after the action when there was one. */
  observed: ObservedState | null;
  action: ReconcileAction | null;
  error: string | null;
}

export class ReconcileLoop {
  private queue: Promise<unknown> = Promise.resolve();
  private desired: DesiredState;
  private lastObserved: ObservedState | null = null;
  private last: ReconcileReport | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** A periodic resync already waits in the queue; do not stack another behind a slow one. */
  private resyncQueued = false;
  private stopped = false;
  /**
   * True once the desired state was read from (or seeded into) the store. Until then nothing is
   * scaled: acting on the defaults while the store is unreachable could undo an operator's choice.
   */
  private known = false;

  constructor(private readonly opts: ReconcileLoopOptions) {
    this.desired = opts.defaults;
  }

  /** Loads (or seeds) the desired state, reconciles once, then resyncs periodically. Never throws for a failed pass. */
  async start(): Promise<void> {
    await this.exclusive(() => this.reconcileOnce());
    this.timer = setInterval(() => void this.resync(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** A periodic pass; skipped when one is already waiting. */
  resync(): Promise<void> {
    if (this.resyncQueued || this.stopped) return Promise.resolve();
    this.resyncQueued = true;
    return this.exclusive(async () => {
      this.resyncQueued = false;
      await this.reconcileOnce();
    });
  }

  /**
   * Applies a change to the desired state (mutate may throw an AppError to refuse it), saves it,
   * then reconciles at once. Resolves with the saved state; a failed reconcile is retried by the
   * next resync and does not fail the change.
   */
  update(mutate: (current: DesiredState) => DesiredState): Promise<DesiredState> {
    return this.exclusive(async () => {
      const { error } = await this.loadDesired();
      // An invalid stored state may be overwritten by an admin's change (that repairs it); an
      // unreachable store may not, since the change would be based on a guess.
      if (!this.known && error !== null && !(error instanceof InvalidStoredStateError)) {
        throw new UnavailableError(`the desired state cannot be read from ${this.opts.store.location}; retry shortly`);
      }
      const next = mutate(this.desired);
      if (!sameDesiredState(next, this.desired)) {
        try {
          await this.opts.store.save(next);
        } catch (err) {
          this.opts.logger.error({ err: (err as Error).message }, 'cannot save desired state');
          throw new UnavailableError(`the desired state cannot be saved to ${this.opts.store.location}; retry shortly`);
        }
        if (next.replicas !== this.desired.replicas) this.opts.autoscaler.noteChange();
        this.opts.logger.info({ from: this.desired, to: next }, 'desired state changed');
        this.desired = next;
      }
      this.known = true;
      await this.reconcileOnce();
      return this.desired;
    });
  }

  /** The last desired state read or written (never an invalid one). */
  getDesired(): DesiredState {
    return this.desired;
  }

  /** The last observation, for GET /scale when the driver cannot be read right now. */
  getLastObserved(): ObservedState | null {
    return this.lastObserved;
  }

  getLastReport(): ReconcileReport | null {
    return this.last;
  }

  /** Stops the resync timer and waits for the pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Reads the store into this.desired. An invalid stored state (a typo in `kubectl edit`) or an
   * unreachable store keeps the last good state: better to hold steady than to scale on garbage.
   * Returns the stored state (null when none exists), or the error that prevented reading it.
   */
  private async loadDesired(): Promise<{ stored: DesiredState | null; error: Error | null }> {
    let stored: DesiredState | null;
    try {
      stored = await this.opts.store.load();
    } catch (err) {
      const level = err instanceof InvalidStoredStateError ? 'error' : 'warn';
      this.opts.logger[level]({ err: (err as Error).message }, 'cannot read desired state; keeping the last good one');
      return { stored: null, error: err as Error };
    }
    if (stored !== null) {
      const capped = capToMaxBots(stored, this.opts.maxBots);
      if (capped !== stored) {
        this.opts.logger.warn({ stored, maxBots: this.opts.maxBots }, 'stored desired state exceeds MAX_BOTS; capped');
        stored = capped;
      }
      if (this.known && stored.replicas !== this.desired.replicas) this.opts.autoscaler.noteChange();
      this.desired = stored;
      this.known = true;
    }
    return { stored, error: null };
  }

  private async reconcileOnce(): Promise<void> {
    const report: ReconcileReport = {
      at: new Date().toISOString(),
      desired: this.desired,
      observed: null,
      action: null,
      error: null,
    };
    let failure: unknown = null;
    try {
      const { stored, error } = await this.loadDesired();
      if (stored === null && error === null) {
        // First start, or someone deleted the ConfigMap/file: write down what we are converging to.
        await this.opts.store.save(this.desired);
        this.known = true;
        this.opts.logger.info(
          { location: this.opts.store.location, desired: this.desired },
          'saved desired state (none was stored)',
        );
      }
      if (!this.known)
        throw new Error(`the desired state is not known yet (${this.opts.store.location} unreadable); not scaling`);
      await this.applyAutoscale();
      report.desired = this.desired;
      const observed = await this.opts.driver.observe();
      this.lastObserved = observed;
      report.observed = observed;
      const action = reconcile(this.desired, observed, this.opts.maxBots);
      report.action = action;
      if (action.kind !== 'none') {
        this.opts.logger.info({ action, ready: observed.ready }, 'reconciling');
        await this.opts.driver.scale(action.from, action.to);
        this.lastObserved = await this.opts.driver.observe().catch(() => observed);
        report.observed = this.lastObserved;
      }
    } catch (err) {
      failure = err;
      report.error = (err as Error).message;
      const level = err instanceof DrainUnknownError ? 'warn' : 'error';
      this.opts.logger[level]({ err: report.error }, 'reconcile failed; retrying on the next resync');
    }
    this.last = report;
    this.opts.onReport?.(report, failure);
  }

  private async applyAutoscale(): Promise<void> {
    const settings = this.desired.autoscale;
    if (!settings.enabled) return;
    let outstanding: number;
    try {
      const q = await this.opts.server.queueDepth();
      outstanding = q.pending + q.claimed + q.running;
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'autoscale skipped: queue depth unknown');
      return;
    }
    const decision = this.opts.autoscaler.decide(this.desired.replicas, outstanding, settings, this.opts.maxBots);
    if (decision.replicas === this.desired.replicas) {
      if (decision.reason === 'cooldown')
        this.opts.logger.debug(
          { outstanding, cooldownLeftMs: decision.cooldownLeftMs },
          'autoscale scale-down held by cool-down',
        );
      return;
    }
    const next = { ...this.desired, replicas: decision.replicas };
    await this.opts.store.save(next);
    this.opts.logger.info(
      { outstanding, from: this.desired.replicas, to: next.replicas, reason: decision.reason },
      'autoscale changed desired replicas',
    );
    this.desired = next;
  }
}
