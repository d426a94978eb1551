/**
 * Pure functions that turn upstream JSON into what a page shows. The same models feed the
 * server-rendered Eta pages and the /api/* JSON that the live parts poll, so the first paint and
 * every refresh agree without a second copy of the formatting in the browser.
 */
import type { Bot, Job, JobProgress, Summary } from '../core/types';

/** "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min"; "–" for null. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Age of an ISO time relative to now: "3 s ago"; "–" when missing. */
export function formatAge(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '–';
  const d = Math.max(0, nowMs - t);
  if (d < 60_000) return `${Math.floor(d / 1000)} s ago`;
  return `${formatDuration(d).replace(/ \d+ s$/, '')} ago`;
}

export function formatPercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '–';
  return `${(rate * 100).toFixed(1)} %`;
}

function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** "2026-11-29 17:23:27 UTC" — the same in every browser, no locale surprises. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
}

export interface BotRow {
  id: string;
  name: string;
  href: string;
  status: string;
  heartbeatAge: string;
  lastHeartbeatAt: string;
  currentJobId: string;
  currentJobHref: string;
  jobsCompleted: number;
  jobsFailed: number;
  deleteAction: string;
  /** The progress of its current job (percent, message), when it reported one. */
  progress: ProgressView;
}

export interface ProgressView {
  has: boolean;
  percent: number;
  text: string;
}

/** A job's last progress for a bar: whole percent, and "42% · step 4 of 10". */
export function progressView(p: JobProgress | null | undefined): ProgressView {
  if (!p) return NO_PROGRESS;
  const percent = Math.round(p.fraction * 100);
  return { has: true, percent, text: p.message ? `${percent}% · ${p.message}` : `${percent}%` };
}

export function botRow(b: Bot, nowMs: number, progress: JobProgress | null = null): BotRow {
  return {
    id: b.id,
    name: b.name,
    href: `/bots/${encodeURIComponent(b.id)}`,
    status: b.status,
    heartbeatAge: formatAge(b.lastHeartbeatAt, nowMs),
    lastHeartbeatAt: formatTime(b.lastHeartbeatAt),
    currentJobId: b.currentJobId ?? '–',
    currentJobHref: b.currentJobId ? `/jobs/${encodeURIComponent(b.currentJobId)}` : '',
    jobsCompleted: b.jobsCompleted,
    jobsFailed: b.jobsFailed,
    deleteAction: `/actions/bots/${encodeURIComponent(b.id)}/delete`,
    progress: progressView(b.currentJobId ? progress : null),
  };
}

export interface JobRow {
  id: string;
  href: string;
  type: string;
  status: string;
  botId: string;
  botHref: string;
  attempts: string;
  createdAt: string;
  finishedAt: string;
  duration: string;
  canRetry: boolean;
  canCancel: boolean;
  retryAction: string;
  cancelAction: string;
  progress: ProgressView;
}

export function jobRow(j: Job): JobRow {
  const ran = j.startedAt && j.finishedAt ? Date.parse(j.finishedAt) - Date.parse(j.startedAt) : null;
  return {
    id: j.id,
    href: `/jobs/${encodeURIComponent(j.id)}`,
    type: j.type,
    status: j.status,
    botId: j.botId ?? '–',
    botHref: j.botId ? `/bots/${encodeURIComponent(j.botId)}` : '',
    attempts: `${j.attempts} / ${j.maxAttempts}`,
    createdAt: formatTime(j.createdAt),
    finishedAt: formatTime(j.finishedAt),
    duration: formatDuration(ran),
    // The server retries failed and cancelled jobs, and cancels unfinished ones (a running one at once).
    canRetry: j.status === 'failed' || j.status === 'cancelled',
    canCancel: j.status === 'pending' || j.status === 'claimed' || j.status === 'running',
    progress: progressView(j.progress),
    retryAction: `/actions/jobs/${encodeURIComponent(j.id)}/retry`,
    cancelAction: `/actions/jobs/${encodeURIComponent(j.id)}/cancel`,
  };
}

interface ChartBar {
  x: number;
  width: number;
  completedY: number;
  completedHeight: number;
  failedY: number;
  failedHeight: number;
  /** Tooltip text: "17:23 UTC: 4 completed, 1 failed". */
  label: string;
}

export interface ThroughputChart {
  width: number;
  height: number;
  /** The scale's top: the busiest minute, at least 1 so an idle hour divides by something. */
  max: number;
  /** Jobs finished in the busiest minute (0 for an idle hour). */
  peak: number;
  bars: ChartBar[];
  totalCompleted: number;
  totalFailed: number;
  /** Text alternative for screen readers. */
  summary: string;
  firstMinute: string;
  lastMinute: string;
}

/**
 * Geometry of the throughput chart: one stacked bar per minute (completed below, failed above),
 * scaled so the busiest minute fills the height. Numbers only, so the SVG needs no escaping.
 */
export function throughputChart(
  throughput: Summary['throughput'] | undefined,
  width = 600,
  height = 160,
): ThroughputChart {
  const points = throughput ?? [];
  const peak = Math.max(0, ...points.map((p) => p.completed + p.failed));
  const max = Math.max(1, peak);
  const slot = points.length > 0 ? width / points.length : width;
  const barWidth = Math.max(1, +(slot * 0.8).toFixed(2));
  const scale = (n: number) => +((n / max) * height).toFixed(2);
  let totalCompleted = 0;
  let totalFailed = 0;
  const bars = points.map((p, i) => {
    totalCompleted += p.completed;
    totalFailed += p.failed;
    const completedHeight = scale(p.completed);
    const failedHeight = scale(p.failed);
    const completedY = +(height - completedHeight).toFixed(2);
    return {
      x: +(i * slot + (slot - barWidth) / 2).toFixed(2),
      width: barWidth,
      completedY,
      completedHeight,
      failedY: +(completedY - failedHeight).toFixed(2),
      failedHeight,
      label: `${minuteLabel(p.minute)}: ${p.completed} completed, ${p.failed} failed`,
    };
  });
  return {
    width,
    height,
    max,
    peak,
    bars,
    totalCompleted,
    totalFailed,
    summary: `Last ${points.length} minutes: ${totalCompleted} completed, ${totalFailed} failed; busiest minute ${peak} jobs.`,
    firstMinute: points.length ? minuteLabel(points[0].minute) : '',
    lastMinute: points.length ? minuteLabel(points[points.length - 1].minute) : '',
  };
}

function minuteLabel(iso: string): string {
  const m = /T(\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} UTC` : iso;
}

export interface DatalakeRow {
  date: string;
  results: number;
  completed: number;
  failed: number;
  successRate: string;
  meanDuration: string;
  bytes: string;
  exportHref: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function datalakeRow(raw: Record<string, unknown>, date: string): DatalakeRow {
  const completed = num(raw.completed) ?? 0;
  const failed = num(raw.failed) ?? 0;
  const results = num(raw.results) ?? num(raw.count) ?? completed + failed;
  const rate = num(raw.successRate) ?? (completed + failed > 0 ? completed / (completed + failed) : null);
  return {
    date,
    results,
    completed,
    failed,
    successRate: formatPercent(rate),
    meanDuration: formatDuration(num(raw.meanDurationMs) ?? num(raw.meanDuration)),
    bytes: formatBytes(num(raw.bytes)),
    exportHref: date ? `/datalake/export/${encodeURIComponent(date)}` : '',
  };
}

/**
 * Per-day and total rows of GET /datalake/stats, newest day first. Accepts `days` as an array of
 * objects with `date` (or `day`), or as an object keyed by date; totals under `total` or `totals`.
 */
export function datalakeModel(stats: Record<string, unknown>): { days: DatalakeRow[]; total: DatalakeRow } {
  const rawDays = stats.days ?? stats.perDay ?? [];
  const entries: [string, Record<string, unknown>][] = Array.isArray(rawDays)
    ? rawDays.map((d: Record<string, unknown>) => [String(d.date ?? d.day ?? ''), d])
    : Object.entries(rawDays as Record<string, Record<string, unknown>>);
  const days = entries
    .filter(([date]) => /^\d{4}-\d{2}-\d{2}$/.test(date))
    .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0))
    .map(([date, d]) => datalakeRow(d, date));
  const rawTotal = (stats.total ?? stats.totals ?? null) as Record<string, unknown> | null;
  const total = rawTotal
    ? { ...datalakeRow(rawTotal, ''), date: 'total' }
    : {
        ...datalakeRow(
          {
            completed: days.reduce((n, d) => n + d.completed, 0),
            failed: days.reduce((n, d) => n + d.failed, 0),
          },
          '',
        ),
        date: 'total',
      };
  return { days, total };
}

/** Rows with every field empty: what the Alpine x-for templates are rendered with (x-text fills them). */
const NO_PROGRESS: ProgressView = { has: false, percent: 0, text: '' };
export const BLANK_BOT_ROW: Record<keyof BotRow, string | ProgressView> = {
  id: '',
  name: '',
  href: '',
  status: '',
  heartbeatAge: '',
  lastHeartbeatAt: '',
  currentJobId: '',
  currentJobHref: '',
  jobsCompleted: '',
  jobsFailed: '',
  deleteAction: '',
  progress: NO_PROGRESS,
};
export const BLANK_JOB_ROW: Record<keyof JobRow, string | boolean | ProgressView> = {
  id: '',
  href: '',
  type: '',
  status: '',
  botId: '',
  botHref: '',
  attempts: '',
  createdAt: '',
  finishedAt: '',
  duration: '',
  canRetry: false,
  canCancel: false,
  retryAction: '',
  cancelAction: '',
  progress: NO_PROGRESS,
};
