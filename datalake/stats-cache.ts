/**
 * The reader's per-partition aggregates, kept on disk in `<dir>/.stats-cache.json` so that a restart
 * does not re-read every partition (30 days of 1 GB each would take half a minute). It is only a
 * cache: an entry is trusted again only if the file has the same inode and device, is not shorter
 * than the offset, and the last bytes before the offset are unchanged; otherwise the file is read
 * from the start. A missing, unreadable or corrupt cache file just means a full read.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const STATS_CACHE_FILE = '.stats-cache.json';
const TAIL_BYTES = 32;
const VERSION = 1;

export interface Aggregate {
  completed: number;
  failed: number;
  durationSum: number;
  durationCount: number;
}

export interface CacheEntry {
  ino: number;
  dev: number;
  /** Offset just after the last complete line counted. */
  offset: number;
  agg: Aggregate;
  /** base64 of up to 32 bytes ending at `offset`: proves the counted bytes are still the same. */
  tail: string;
  /** False for an entry loaded from disk until its file has been checked against it. */
  verified: boolean;
}

export const emptyAgg = (): Aggregate => ({ completed: 0, failed: 0, durationSum: 0, durationCount: 0 });

/** base64 of the bytes [offset - 32, offset) of a file ('' for offset 0). */
export async function tailOf(file: string, offset: number): Promise<string> {
  if (offset === 0) return '';
  const h = await fs.promises.open(file, 'r');
  try {
    const start = Math.max(0, offset - TAIL_BYTES);
    const buf = Buffer.alloc(offset - start);
    const { bytesRead } = await h.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead).toString('base64');
  } finally {
    await h.close();
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function validEntry(v: unknown): v is Omit<CacheEntry, 'verified'> {
  const e = v as Partial<CacheEntry> | null;
  const a = e?.agg as Partial<Aggregate> | undefined;
  return (
    !!e &&
    isNum(e.ino) &&
    isNum(e.dev) &&
    isNum(e.offset) &&
    typeof e.tail === 'string' &&
    !!a &&
    isNum(a.completed) &&
    isNum(a.failed) &&
    isNum(a.durationSum) &&
    isNum(a.durationCount)
  );
}

/** Entries saved by an earlier process, all unverified; an empty map when there is no usable cache. */
export async function loadStatsCache(dir: string): Promise<Map<string, CacheEntry>> {
  const out = new Map<string, CacheEntry>();
  let doc: { version?: unknown; files?: Record<string, unknown> };
  try {
    doc = JSON.parse(await fs.promises.readFile(path.join(dir, STATS_CACHE_FILE), 'utf8'));
  } catch {
    return out;
  }
  if (doc?.version !== VERSION || typeof doc.files !== 'object' || doc.files === null) return out;
  for (const [day, e] of Object.entries(doc.files)) if (validEntry(e)) out.set(day, { ...e, verified: false });
  return out;
}

/** Writes the cache atomically (temp file + rename); no fsync: losing it costs only a re-read. */
export async function saveStatsCache(dir: string, entries: Map<string, CacheEntry>): Promise<void> {
  const files: Record<string, Omit<CacheEntry, 'verified'>> = {};
  for (const [day, e] of entries) files[day] = { ino: e.ino, dev: e.dev, offset: e.offset, agg: e.agg, tail: e.tail };
  const tmp = path.join(dir, `${STATS_CACHE_FILE}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.promises.writeFile(tmp, JSON.stringify({ version: VERSION, files }));
    await fs.promises.rename(tmp, path.join(dir, STATS_CACHE_FILE));
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}
