/**
 * Prometheus metrics of the controller (GET /metrics), on a registry of its own so tests can build
 * several apps. Fed by the reconcile loop's report after every pass.
 */
import client from 'prom-client';
import { DrainUnknownError } from './drivers/driver';
import type { ReconcileReport } from './reconcile-loop';

export class ControllerMetrics {
  readonly registry = new client.Registry();
  private readonly desired = new client.Gauge({
    name: 'botfleet_controller_desired_bots',
    help: 'Bots the controller converges to',
    registers: [this.registry],
  });
  private readonly current = new client.Gauge({
    name: 'botfleet_controller_current_bots',
    help: 'Bots the workload is set to run (last observation)',
    registers: [this.registry],
  });
  private readonly ready = new client.Gauge({
    name: 'botfleet_controller_ready_bots',
    help: 'Bots up and ready (last observation)',
    registers: [this.registry],
  });
  private readonly autoscale = new client.Gauge({
    name: 'botfleet_controller_autoscale_enabled',
    help: '1 when autoscale by queue depth is on',
    registers: [this.registry],
  });
  private readonly passes = new client.Counter({
    name: 'botfleet_controller_reconcile_total',
    help: 'Reconcile passes by result (ok, error, postponed: a scale-down waiting for bot activity)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly actions = new client.Counter({
    name: 'botfleet_controller_scale_actions_total',
    help: 'Scale actions started, by direction',
    labelNames: ['direction'],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'botfleet_controller_process_' });
    for (const r of ['ok', 'error', 'postponed']) this.passes.inc({ result: r }, 0);
    for (const d of ['up', 'down']) this.actions.inc({ direction: d }, 0);
  }

  /** Records one reconcile pass. */
  observe(report: ReconcileReport, error: unknown): void {
    this.desired.set(report.desired.replicas);
    this.autoscale.set(report.desired.autoscale.enabled ? 1 : 0);
    if (report.observed) {
      this.current.set(report.observed.current);
      this.ready.set(report.observed.ready);
    }
    if (report.action?.kind === 'scale-up') this.actions.inc({ direction: 'up' });
    if (report.action?.kind === 'scale-down') this.actions.inc({ direction: 'down' });
    this.passes.inc({ result: error === null ? 'ok' : error instanceof DrainUnknownError ? 'postponed' : 'error' });
  }
}
