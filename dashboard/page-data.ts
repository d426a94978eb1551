/**
 * Loaders: each fetches what one page needs from the server and the controller (in parallel) and
 * returns a plain JSON model. Pages render it with Eta; /api/* returns it to the live parts. A
 * failing upstream becomes a message in the model, never a failed page, except where the page is
 * about one thing that does not exist (404).
 */
import type { Job } from '../core/types';
import type { ControllerClient } from './controller-client';
import type { JobListQuery, ServerClient } from './server-client';
import { UpstreamHttpError, UpstreamUnreachableError } from './upstream';
import {
  botRow,
  datalakeModel,
  formatDuration,
  formatPercent,
  formatTime,
  jobRow,
  throughputChart,
} from './view-models';
import { JOB_STATUSES } from '../core/types';
import { AppError } from '../core/errors';

export interface Upstreams {
  server: ServerClient;
  controller: ControllerClient;
  now?: () => number;
}

/** A short sentence for the page: "the controller is unreachable", or the upstream's own message. */
export function describeError(err: unknown): string {
  if (err instanceof UpstreamUnreachableError) return `The ${err.upstream} is unreachable.`;
  if (err instanceof UpstreamHttpError) return `The ${err.upstream} said: ${err.message}`;
  if (err instanceof AppError) return err.message;
  return 'Something went wrong.';
}

const settled = <T>(r: PromiseSettledResult<T>): { ok: true; value: T } | { ok: false; error: string } =>
  r.status === 'fulfilled' ? { ok: true, value: r.value } : { ok: false, error: describeError(r.reason) };

export async function loadOverview(u: Upstreams) {
  const now = (u.now ?? Date.now)();
  const [summaryR, scaleR, statsR, queueR] = await Promise.allSettled([
    u.server.summary(),
    u.controller.getScale(),
    u.server.datalakeStats(),
    u.server.queue(),
  ]);
  const summary = settled(summaryR);
  const scale = settled(scaleR);
  const stats = settled(statsR);
  const queue = settled(queueR);
  const s = summary.ok ? summary.value : null;
  return {
    generatedAt: new Date(now).toISOString(),
    serverError: summary.ok ? '' : summary.error,
    jobs: JOB_STATUSES.map((status) => ({
      status,
      count: s ? (s.jobs[status] ?? 0) : '–',
      href: `/jobs?status=${status}`,
    })),
    jobsTotal: s ? s.jobs.total : '–',
    bots: {
      idle: s ? s.bots.idle : '–',
      busy: s ? s.bots.busy : '–',
      down: s ? s.bots.down : '–',
      total: s ? s.bots.total : '–',
    },
    finished: {
      lastMinute: s ? s.finished.lastMinute : '–',
      last5Minutes: s ? s.finished.last5Minutes : '–',
      lastHour: s ? s.finished.lastHour : '–',
    },
    successRate: formatPercent(s?.successRate),
    meanProcessing: formatDuration(s?.meanProcessingMs),
    chart: throughputChart(s?.throughput ?? []),
    datalake: stats.ok
      ? { error: '', ...datalakeModel(stats.value).total }
      : { error: stats.error, results: '–', completed: '–', failed: '–', successRate: '–', bytes: '–' },
    queue: queue.ok
      ? { error: '', paused: queue.value.paused, label: queue.value.paused ? 'paused' : 'claiming' }
      : { error: queue.error, paused: false, label: '–' },
    controller: scale.ok
      ? {
          error: '',
          driver: scale.value.driver,
          desired: scale.value.desired,
          current: scale.value.current,
          ready: scale.value.ready,
          autoscale: scale.value.autoscale,
          autoscaleLabel: scale.value.autoscale?.enabled
            ? `on: ${scale.value.autoscale.min}–${scale.value.autoscale.max} bots, ${scale.value.autoscale.jobsPerBot} jobs per bot`
            : 'off',
        }
      : {
          error: scale.error,
          driver: '–',
          desired: '–',
          current: '–',
          ready: '–',
          autoscale: null,
          autoscaleLabel: '–',
        },
  };
}

export async function loadBots(u: Upstreams) {
  const now = (u.now ?? Date.now)();
  const [botsR, scaleR, runningR] = await Promise.allSettled([
    u.server.listBots(),
    u.controller.getScale(),
    u.server.listJobs({ status: 'running', limit: 500 }),
  ]);
  const bots = settled(botsR);
  const scale = settled(scaleR);
  // The progress of each bot's current job (running jobs carry it).
  const running = settled(runningR);
  const progressOf = new Map(running.ok ? running.value.items.map((j) => [j.id, j.progress]) : []);
  return {
    generatedAt: new Date(now).toISOString(),
    serverError: bots.ok ? '' : bots.error,
    rows: bots.ok ? bots.value.items.map((b) => botRow(b, now, progressOf.get(b.currentJobId ?? '') ?? null)) : [],
    rowsEmpty: !bots.ok || bots.value.items.length === 0,
    controller: scale.ok
      ? {
          error: '',
          desired: scale.value.desired,
          current: scale.value.current,
          ready: scale.value.ready,
          autoscale: scale.value.autoscale,
        }
      : { error: scale.error, desired: '–', current: '–', ready: '–', autoscale: null },
  };
}

/** One bot, its recent jobs and the leases it lost. Throws the upstream error (404 for an unknown bot). */
export async function loadBot(u: Upstreams, id: string) {
  const now = (u.now ?? Date.now)();
  const bot = await u.server.getBot(id);
  return {
    generatedAt: new Date(now).toISOString(),
    bot: botRow(bot, now),
    registeredAt: formatTime(bot.registeredAt),
    jobs: (bot.recentJobs ?? []).map(jobRow),
    jobsEmpty: (bot.recentJobs ?? []).length === 0,
    lostLeasesEmpty: (bot.lostLeases ?? []).length === 0,
    lostLeases: (bot.lostLeases ?? []).map((l) => ({
      key: `${l.jobId}/${l.attempt}/${l.at}`,
      jobId: l.jobId,
      href: `/jobs/${encodeURIComponent(l.jobId)}`,
      attempt: l.attempt,
      at: formatTime(l.at),
      note: l.note ?? '',
    })),
  };
}

/**
 * A page of jobs. The server pages by keyset cursor, so every page costs the same at a million
 * jobs; the dashboard never counts rows per filter (totals come from the summary).
 */
export async function loadJobs(u: Upstreams, q: JobListQuery) {
  const page = await u.server.listJobs(q);
  return {
    generatedAt: new Date((u.now ?? Date.now)()).toISOString(),
    rows: page.items.map(jobRow),
    rowsEmpty: page.items.length === 0,
    nextCursor: page.nextCursor,
    nextHref: page.nextCursor ? jobsHref({ ...q, cursor: page.nextCursor }) : '',
    bulk: bulkModel(page.items, q),
  };
}

/**
 * "Retry all N shown" / "Cancel all N shown": the page's filter narrowed to the creation times of
 * the jobs shown (oldest to newest), which the server's bulk action applies to every job it matches.
 */
export function bulkModel(items: readonly Job[], q: JobListQuery) {
  const retry = items.filter((j) => j.status === 'failed' || j.status === 'cancelled').length;
  const cancel = items.filter((j) => ['pending', 'claimed', 'running'].includes(j.status)).length;
  const times = items.map((j) => Date.parse(j.createdAt));
  const window = items.length
    ? {
        createdAfter: new Date(Math.min(...times)).toISOString(),
        createdBefore: new Date(Math.max(...times) + 1).toISOString(),
      }
    : { createdAfter: '', createdBefore: '' };
  const jobs = (n: number) => `${n} job${n === 1 ? '' : 's'}`;
  return {
    status: q.status ?? '',
    type: q.type ?? '',
    botId: q.botId ?? '',
    ...window,
    retryCount: retry,
    cancelCount: cancel,
    retryLabel: `Retry all ${retry} shown`,
    cancelLabel: `Cancel all ${cancel} shown`,
    retryConfirm: `Retry ${jobs(retry)} (every failed or cancelled job shown)?`,
    cancelConfirm: `Cancel ${jobs(cancel)} (every pending, claimed or running job shown)? Running ones stop at once.`,
    noRetry: retry === 0,
    noCancel: cancel === 0,
  };
}

/** /jobs with this filter and cursor; empty values are left out so URLs stay short. */
export function jobsHref(q: JobListQuery, base = '/jobs'): string {
  const params = new URLSearchParams();
  for (const k of ['status', 'type', 'botId', 'limit', 'cursor'] as const) {
    const v = q[k];
    if (v !== undefined && v !== '' && !(k === 'limit' && v === 50)) params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${base}?${qs}` : base;
}

export async function loadJob(u: Upstreams, id: string) {
  const job = await u.server.getJob(id);
  const finished = job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled';
  return {
    generatedAt: new Date((u.now ?? Date.now)()).toISOString(),
    job: jobRow(job as Job),
    final: finished,
    /** The attempts there are logs of: 1 to the current one. */
    attemptNumbers: Array.from({ length: job.attempts }, (_, i) => i + 1),
    times: [
      ['Created', formatTime(job.createdAt)],
      ['Run at', formatTime(job.runAt)],
      ['Claimed', formatTime(job.claimedAt)],
      ['Started', formatTime(job.startedAt)],
      ['Finished', formatTime(job.finishedAt)],
      ['Lease expires', formatTime(job.leaseExpiresAt)],
    ].map(([label, value]) => ({ label, value })),
    priority: job.priority,
    key: job.key ?? '–',
    schedule: job.schedule ?? '–',
    scheduleHref: job.schedule ? `/schedules#schedule-${encodeURIComponent(job.schedule)}` : '',
    timeout: job.timeoutMs ? formatDuration(job.timeoutMs) : 'none',
    payload: JSON.stringify(job.payload, null, 2),
    result: job.result === null || job.result === undefined ? '' : JSON.stringify(job.result, null, 2),
    error: job.error ?? '',
    noOutcome: (job.result === null || job.result === undefined) && !job.error,
    events: (job.events ?? []).map((e, i) => ({
      key: `${i}`,
      at: formatTime(e.at),
      from: e.from ?? '–',
      to: e.to,
      botId: e.botId ?? '',
      botHref: e.botId ? `/bots/${encodeURIComponent(e.botId)}` : '',
      attempt: e.attempt ?? '',
      note: e.note ?? '',
    })),
  };
}

export async function loadDatalake(u: Upstreams) {
  const stats = await u.server.datalakeStats();
  const model = datalakeModel(stats);
  return { generatedAt: new Date((u.now ?? Date.now)()).toISOString(), ...model, daysEmpty: model.days.length === 0 };
}
