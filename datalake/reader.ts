/**
 * Reads the datalake for GET /datalake/stats and GET /datalake/export/:date.
 *
 * stats() keeps, per partition file, the aggregates of the bytes already read and the offset they
 * end at; each call stats the files and reads only what was appended since (one small read per
 * partition on a busy day, nothing at all on a quiet one). A file that shrank or was replaced (new
 * inode: a repair rewrite, a restore) is read again from the start. Calls are serialized so two
 * requests never update the same entry at once. The aggregates are saved in the folder
 * (stats-cache.ts) so that a restarted server does not read every partition again.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { completeLength } from './partition-fix';
import { summarizeLine } from './line-format';
import { scanLines } from './line-scanner';
import { isDay, listPartitionDays, partitionPath } from './paths';
import { type Aggregate, type CacheEntry, emptyAgg, loadStatsCache, saveStatsCache, tailOf } from './stats-cache';

export interface DayStats {
  date: string;
  results: number;
  completed: number;
  failed: number;
  /** completed / results; null when the day has no results. */
  successRate: number | null;
  /** Mean durationMs of the lines that have one; null when none has. */
  meanDurationMs: number | null;
  /** File size in bytes. */
  bytes: number;
}

export interface DatalakeStats {
  /** Newest day first. */
  days: DayStats[];
  total: Omit<DayStats, 'date'> & { days: number };
}

function toStats(agg: Aggregate, bytes: number): Omit<DayStats, 'date'> {
  const results = agg.completed + agg.failed;
  return {
    results,
    completed: agg.completed,
    failed: agg.failed,
    successRate: results > 0 ? agg.completed / results : null,
    meanDurationMs: agg.durationCount > 0 ? agg.durationSum / agg.durationCount : null,
    bytes,
  };
}

export interface ExportHandle {
  stream: Readable;
  /** Bytes the stream will deliver (for Content-Length): whole lines only. */
  bytes: number;
}

export interface DatalakeReaderOptions {
  /** Keep the aggregates in `<dir>/.stats-cache.json` across restarts (default true). */
  persist?: boolean;
  /** Told when the cache file cannot be written (a read-only folder); stats still work. */
  onCacheError?: (err: Error) => void;
}

export class DatalakeReader {
  private cache = new Map<string, CacheEntry>();
  private loaded = false;
  private lock: Promise<unknown> = Promise.resolve();
  /** Bytes read by stats() since the reader was created (tells incremental reads from full ones in tests and metrics). */
  bytesScanned = 0;

  private readonly persist: boolean;

  constructor(
    private readonly dir: string,
    private readonly opts: DatalakeReaderOptions = {},
  ) {
    this.persist = opts.persist ?? true;
  }

  /** Days that have a partition, newest first. */
  async listDays(): Promise<string[]> {
    return (await listPartitionDays(this.dir)).reverse();
  }

  /** Per-day and total aggregates, newest day first; reads only bytes appended since the last call. */
  stats(): Promise<DatalakeStats> {
    const run = this.lock.then(() => this.computeStats());
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * The day's partition as a stream of its complete lines (a line being appended right now is left
   * out), or null when the day has no file. Constant memory whatever the file size.
   */
  async openExport(date: string): Promise<ExportHandle | null> {
    if (!isDay(date)) return null;
    const file = partitionPath(this.dir, date);
    let bytes: number;
    try {
      bytes = await completeLength(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // `end` is inclusive, and an empty range cannot be expressed with it.
    const stream =
      bytes > 0 ? fs.createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 }) : Readable.from([]);
    return { stream, bytes };
  }

  /** openExport(date) without the size: a Readable or null. */
  async exportStream(date: string): Promise<Readable | null> {
    return (await this.openExport(date))?.stream ?? null;
  }

  private async computeStats(): Promise<DatalakeStats> {
    if (!this.loaded && this.persist) this.cache = await loadStatsCache(this.dir);
    this.loaded = true;
    const days = await listPartitionDays(this.dir);
    const present = new Set(days);
    let dirty = false;
    for (const key of this.cache.keys()) {
      if (!present.has(key)) {
        this.cache.delete(key);
        dirty = true;
      }
    }

    const out: DayStats[] = [];
    for (const day of days) {
      const file = partitionPath(this.dir, day);
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted by retention meanwhile
        throw err;
      }
      let entry = this.cache.get(day);
      if (entry && !entry.verified && st.size >= entry.offset && (await tailOf(file, entry.offset)) === entry.tail) {
        entry.verified = true;
      }
      if (!entry || !entry.verified || entry.ino !== st.ino || entry.dev !== st.dev || st.size < entry.offset) {
        entry = { ino: st.ino, dev: st.dev, offset: 0, agg: emptyAgg(), tail: '', verified: true };
        this.cache.set(day, entry);
        dirty = true;
      }
      if (st.size > entry.offset) {
        const agg = entry.agg;
        const { consumedTo } = await scanLines(
          file,
          (bytes) => {
            const s = summarizeLine(bytes.toString('utf8'));
            if (!s) return;
            if (s.status === 'completed') agg.completed++;
            else agg.failed++;
            if (s.durationMs !== null) {
              agg.durationSum += s.durationMs;
              agg.durationCount++;
            }
          },
          { start: entry.offset, end: st.size },
        );
        this.bytesScanned += consumedTo - entry.offset;
        if (consumedTo !== entry.offset) {
          entry.offset = consumedTo;
          if (this.persist) entry.tail = await tailOf(file, consumedTo);
          dirty = true;
        }
      }
      out.push({ date: day, ...toStats(entry.agg, st.size) });
    }

    if (dirty && this.persist) {
      await saveStatsCache(this.dir, this.cache).catch((err: Error) => this.opts.onCacheError?.(err));
    }

    out.reverse();
    const total = emptyAgg();
    let bytes = 0;
    for (const day of days) {
      const e = this.cache.get(day);
      if (!e) continue;
      total.completed += e.agg.completed;
      total.failed += e.agg.failed;
      total.durationSum += e.agg.durationSum;
      total.durationCount += e.agg.durationCount;
    }
    for (const d of out) bytes += d.bytes;
    return { days: out, total: { ...toStats(total, bytes), days: out.length } };
  }
}
