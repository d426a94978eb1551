/**
 * Where partitions live and how they are named: `<dir>/results-YYYY-MM-DD.ndjson`, one file per UTC
 * day of `finishedAt`. Every other datalake module goes through these helpers so that a date from a
 * URL can never become a path outside the datalake folder.
 */
import fs from 'node:fs';
import path from 'node:path';

const PARTITION_RE = /^results-(\d{4}-\d{2}-\d{2})\.ndjson$/;
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;

/** True for a real calendar day written as YYYY-MM-DD (rejects 2026-02-30). */
export function isDay(s: string): boolean {
  if (!DAY_RE.test(s)) return false;
  const ms = Date.parse(`${s}T00:00:00.000Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(s);
}

/** The UTC day (YYYY-MM-DD) of an ISO-8601 time; the partition a result with this finishedAt goes to. */
export function dayOf(isoTime: string): string {
  // The store writes toISOString() ("...Z", 24 chars): slicing is exact and avoids a Date per line.
  if (isoTime.length === 24 && isoTime.endsWith('Z') && DAY_RE.test(isoTime.slice(0, 10))) return isoTime.slice(0, 10);
  const ms = Date.parse(isoTime);
  if (Number.isNaN(ms)) throw new Error(`not an ISO-8601 time: ${JSON.stringify(isoTime)}`);
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC day of an epoch time in ms. */
export function dayOfMs(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `day` moved by `delta` whole days (negative goes back). */
export function addDays(day: string, delta: number): string {
  return dayOfMs(Date.parse(`${day}T00:00:00.000Z`) + delta * MS_PER_DAY);
}

export function partitionFileName(day: string): string {
  if (!isDay(day)) throw new Error(`not a YYYY-MM-DD day: ${JSON.stringify(day)}`);
  return `results-${day}.ndjson`;
}

export function partitionPath(dir: string, day: string): string {
  return path.join(dir, partitionFileName(day));
}

/** The day of a partition file name, or null for any other file (temp files, stray files). */
export function dayOfFileName(name: string): string | null {
  const m = PARTITION_RE.exec(name);
  return m && isDay(m[1]) ? m[1] : null;
}

/** Days that have a partition file, oldest first; [] when the folder does not exist yet. */
export async function listPartitionDays(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const days: string[] = [];
  for (const n of names) {
    const d = dayOfFileName(n);
    if (d) days.push(d);
  }
  return days.sort();
}
