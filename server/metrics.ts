/** Prometheus metrics (GET /metrics), on a registry of our own so tests can build several apps. */
import client from 'prom-client';
import type { Summary } from '../core/types';
import type { DatalakeWriterCounters } from '../datalake';

export class ServerMetrics {
  readonly registry = new client.Registry();
  readonly claims = new client.Counter({
    name: 'botfleet_claims_total',
    help: 'Jobs claimed by bots',
    registers: [this.registry],
  });
  readonly completions = new client.Counter({
    name: 'botfleet_completions_total',
    help: 'Attempts completed',
    registers: [this.registry],
  });
  readonly failures = new client.Counter({
    name: 'botfleet_failures_total',
    help: 'Attempts failed by their bot',
    registers: [this.registry],
  });
  readonly leaseExpiries = new client.Counter({
    name: 'botfleet_lease_expiries_total',
    help: 'Attempts taken back from a bot (lease expired, timed out)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly botsDown = new client.Counter({
    name: 'botfleet_bots_marked_down_total',
    help: 'Bots marked down for silence',
    registers: [this.registry],
  });
  readonly jobsCreated = new client.Counter({
    name: 'botfleet_jobs_created_total',
    help: 'Jobs created',
    registers: [this.registry],
  });
  private readonly datalakeLines = new client.Gauge({
    name: 'botfleet_datalake_lines_written',
    help: 'Datalake lines appended by this process',
    registers: [this.registry],
  });
  private readonly datalakeBytes = new client.Gauge({
    name: 'botfleet_datalake_bytes_written',
    help: 'Datalake bytes appended by this process',
    registers: [this.registry],
  });
  private readonly datalakeErrors = new client.Gauge({
    name: 'botfleet_datalake_write_errors',
    help: 'Datalake drain steps that failed (retried)',
    registers: [this.registry],
  });
  private readonly datalakeWriter = new client.Gauge({
    name: 'botfleet_datalake_writer',
    help: '1 when this process writes the datalake (the leader)',
    registers: [this.registry],
  });
  readonly httpDuration = new client.Histogram({
    name: 'botfleet_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly jobsGauge = new client.Gauge({
    name: 'botfleet_jobs',
    help: 'Jobs by status',
    labelNames: ['status'],
    registers: [this.registry],
  });
  private readonly botsGauge = new client.Gauge({
    name: 'botfleet_bots',
    help: 'Bots by status',
    labelNames: ['status'],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'botfleet_process_' });
  }

  observeDatalake(c: DatalakeWriterCounters | null): void {
    this.datalakeWriter.set(c ? 1 : 0);
    if (!c) return;
    this.datalakeLines.set(c.linesWritten);
    this.datalakeBytes.set(c.bytesWritten);
    this.datalakeErrors.set(c.errors);
  }

  /** Sets the gauges from a summary just before a scrape. */
  observeSummary(s: Summary): void {
    for (const [status, n] of Object.entries(s.jobs)) if (status !== 'total') this.jobsGauge.set({ status }, n);
    for (const [status, n] of Object.entries(s.bots)) if (status !== 'total') this.botsGauge.set({ status }, n);
  }
}
