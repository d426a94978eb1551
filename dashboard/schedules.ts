/**
 * The schedules page's model: each schedule with its cron in words (cronstrue) and as written, its
 * time zone, next and last run (with a link to the job the last one made), and the controls' URLs.
 * The same model feeds the Eta page and /api/schedules, like every page (page-data.ts).
 */
import cronstrue from 'cronstrue';
import type { Schedule } from '../core/schedule';
import { describeError, type Upstreams } from './page-data';
import { formatTime } from './view-models';

/** "At 06:00, Monday through Friday"; the cron itself when cronstrue cannot say it. */
function cronInWords(cron: string): string {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
  } catch {
    return cron;
  }
}

/** "Every 10 minutes", "Every 2 hours", "Every 90 seconds". */
function everyInWords(ms: number): string {
  if (ms <= 0) return 'Off';
  const [n, unit] =
    ms % 3600_000 === 0 ? [ms / 3600_000, 'hour'] : ms % 60_000 === 0 ? [ms / 60_000, 'minute'] : [ms / 1000, 'second'];
  return `Every ${n === 1 ? '' : `${n} `}${unit}${n === 1 ? '' : 's'}`;
}

export interface ScheduleRow {
  name: string;
  /** The row's element id: /schedules#schedule-<name> (a job page links there). */
  rowId: string;
  builtin: boolean;
  words: string;
  cron: string;
  timezone: string;
  jobType: string;
  catchUp: string;
  enabled: boolean;
  enabledLabel: string;
  nextRun: string;
  nextRuns: string[];
  lastRun: string;
  lastJobId: string;
  lastJobHref: string;
  toggleAction: string;
  toggleLabel: string;
  deleteAction: string;
}

function scheduleRow(s: Schedule): ScheduleRow {
  const path = `/actions/schedules/${encodeURIComponent(s.name)}`;
  return {
    name: s.name,
    rowId: `schedule-${s.name}`,
    builtin: s.builtin,
    words: s.cron
      ? cronInWords(s.cron)
      : `${everyInWords(s.everyMs ?? 0)}: the seed's batch of ${s.batchSize} (POPULATE_INTERVAL_MS, BATCH_SIZE)`,
    cron: s.cron ?? '–',
    timezone: s.timezone,
    jobType: s.job.type,
    catchUp: s.catchUp ? 'catch up' : '',
    enabled: s.enabled,
    enabledLabel: s.enabled ? 'on' : 'off',
    nextRun: s.enabled ? formatTime(s.nextRunAt) : 'disabled',
    nextRuns: s.nextRuns.map((t) => formatTime(t)),
    lastRun: formatTime(s.lastRunAt),
    lastJobId: s.lastJobId ?? '',
    lastJobHref: s.lastJobId ? `/jobs/${encodeURIComponent(s.lastJobId)}` : '',
    toggleAction: `${path}/${s.enabled ? 'disable' : 'enable'}`,
    toggleLabel: s.enabled ? 'Disable' : 'Enable',
    deleteAction: `${path}/delete`,
  };
}

export const BLANK_SCHEDULE_ROW: ScheduleRow = {
  name: '',
  rowId: '',
  builtin: false,
  words: '',
  cron: '',
  timezone: '',
  jobType: '',
  catchUp: '',
  enabled: false,
  enabledLabel: '',
  nextRun: '',
  nextRuns: [],
  lastRun: '',
  lastJobId: '',
  lastJobHref: '',
  toggleAction: '',
  toggleLabel: '',
  deleteAction: '',
};

export async function loadSchedules(u: Upstreams) {
  const now = (u.now ?? Date.now)();
  let items: Schedule[] = [];
  let serverError = '';
  try {
    items = (await u.server.listSchedules()).items;
  } catch (err) {
    serverError = describeError(err);
  }
  return {
    generatedAt: new Date(now).toISOString(),
    serverError,
    rows: items.map(scheduleRow),
    rowsEmpty: items.length === 0,
  };
}

/** The time zones the create form offers (any IANA name the server knows is accepted). */
export const TIME_ZONES = ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')];

/** "2026-12-08 06:00:00 Europe/Berlin · 2026-12-08 05:00:00 UTC": the wall clock of the zone, then UTC. */
function zoneTime(iso: string, timezone: string): string {
  if (timezone === 'UTC') return formatTime(iso);
  const local = new Intl.DateTimeFormat('sv-SE', {
    timeZone: timezone,
    ...{ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' },
    hourCycle: 'h23',
  }).format(new Date(iso));
  return `${local} ${timezone} · ${formatTime(iso)}`;
}

/** The coming firings of a cron as the create form previews them, with the cron in words. */
export async function previewSchedule(u: Upstreams, cron: string, timezone: string) {
  const { nextRuns } = await u.server.previewSchedule(cron, timezone);
  return { words: cronInWords(cron), nextRuns: nextRuns.map((t) => zoneTime(t, timezone)) };
}
