/** HTTP client of the job server (docs/api.md): the only way the dashboard reads or changes jobs. */
import type { NewSchedule, Schedule, ScheduleSpec } from '../core/schedule';
import type { Bot, Job, JobEvent, JobFilter, JobLogLine, Page, Summary } from '../core/types';
import { jsonRequester, type JsonClientOptions } from './upstream';

export type JobWithEvents = Job & { events: JobEvent[] };
interface LostLease {
  jobId: string;
  attempt: number;
  at: string;
  note: string | null;
}
export type BotWithJobs = Bot & { recentJobs?: Job[]; lostLeases?: LostLease[] };

/**
 * GET /datalake/stats: per day and in total. docs/datalake.md names the numbers; view-models.ts reads
 * this shape defensively.
 */
export type DatalakeStats = Record<string, unknown>;

export interface JobListQuery {
  status?: string;
  botId?: string;
  type?: string;
  limit?: number;
  cursor?: string;
}

export interface JobLogsPage {
  attempt: number;
  items: JobLogLine[];
  dropped: number;
  nextCursor: string | null;
  more: boolean;
}

export interface EnqueueInput {
  type: string;
  payload: unknown;
  maxAttempts?: number;
  priority?: number;
}

export type ServerClient = ReturnType<typeof createServerClient>;

export function createServerClient(o: Omit<JsonClientOptions, 'name'>) {
  const req = jsonRequester({ ...o, name: 'server' });
  const enc = encodeURIComponent;
  return {
    baseUrl: o.baseUrl,
    health: () => req<{ status: string }>('/healthz'),
    summary: () => req<Summary>('/metrics/summary'),
    listJobs: (q: JobListQuery) => req<Page<Job>>('/jobs', { query: { ...q } }),
    getJob: (id: string) => req<JobWithEvents>(`/jobs/${enc(id)}`),
    listBots: () => req<{ items: Bot[] }>('/bots'),
    getBot: (id: string) => req<BotWithJobs>(`/bots/${enc(id)}`),
    deleteBot: (id: string) => req<null>(`/bots/${enc(id)}`, { method: 'DELETE', admin: true }),
    datalakeStats: () => req<DatalakeStats>('/datalake/stats'),
    queue: () => req<{ paused: boolean }>('/queue'),
    pauseQueue: () => req<{ paused: boolean }>('/queue/pause', { method: 'POST', admin: true, body: {} }),
    resumeQueue: () => req<{ paused: boolean }>('/queue/resume', { method: 'POST', admin: true, body: {} }),
    populate: (count?: number) =>
      req<{ items: Job[] }>('/jobs/populate', {
        method: 'POST',
        admin: true,
        body: count === undefined ? {} : { count },
      }),
    enqueue: (input: EnqueueInput) => req<Job>('/jobs', { method: 'POST', admin: true, body: input }),
    retryJob: (id: string) => req<Job>(`/jobs/${enc(id)}/retry`, { method: 'POST', admin: true, body: {} }),
    cancelJob: (id: string) => req<Job>(`/jobs/${enc(id)}/cancel`, { method: 'POST', admin: true, body: {} }),
    jobLogs: (id: string, q: { attempt?: number; cursor?: string }) =>
      req<JobLogsPage>(`/jobs/${enc(id)}/logs`, { query: { ...q } }),
    bulk: (action: 'retry' | 'cancel', filter: JobFilter) =>
      req<{ count: number }>(`/jobs/${action}`, { method: 'POST', admin: true, body: filter }),
    listSchedules: () => req<{ items: Schedule[] }>('/schedules'),
    getSchedule: (name: string) => req<Schedule>(`/schedules/${enc(name)}`),
    createSchedule: (input: Omit<NewSchedule, 'enabled'> & { enabled?: boolean }) =>
      req<Schedule>('/schedules', { method: 'POST', admin: true, body: input }),
    replaceSchedule: (name: string, input: ScheduleSpec) =>
      req<Schedule>(`/schedules/${enc(name)}`, { method: 'PUT', admin: true, body: input }),
    deleteSchedule: (name: string) => req<null>(`/schedules/${enc(name)}`, { method: 'DELETE', admin: true }),
    previewSchedule: (cron: string, timezone: string) =>
      req<{ nextRuns: string[] }>('/schedules/preview', { method: 'POST', body: { cron, timezone } }),
    /** The URL a browser would use to download a day; the dashboard proxies it (same origin only). */
    exportPath: (date: string) => `/datalake/export/${enc(date)}`,
  };
}
