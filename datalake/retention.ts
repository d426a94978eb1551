/**
 * Retention: deletes partitions older than N days. A partition is kept while its day is one of the
 * N most recent UTC days counting today (N = 7 on the 29th keeps the 23rd..29th). 0 keeps everything.
 * The server runs this daily (DATALAKE_RETENTION_DAYS); the store keeps its rows, and repair never
 * recreates a day that is not among the newest ones it checks.
 */
import fs from 'node:fs';
import type { Logger } from '../core/logger';
import { addDays, dayOfMs, listPartitionDays, partitionPath } from './paths';

export interface RetentionResult {
  /** Days whose partition was deleted, oldest first. */
  deleted: string[];
  /** Bytes freed. */
  bytes: number;
  /** The oldest day kept (null when retention is off). */
  keepFrom: string | null;
}

export async function applyRetention(
  dir: string,
  days: number,
  now: number | Date = Date.now(),
  log?: Logger,
): Promise<RetentionResult> {
  if (!Number.isInteger(days) || days < 0) throw new Error(`retention days must be a whole number >= 0, got ${days}`);
  if (days === 0) return { deleted: [], bytes: 0, keepFrom: null };
  const today = dayOfMs(typeof now === 'number' ? now : now.getTime());
  const keepFrom = addDays(today, -(days - 1));
  const deleted: string[] = [];
  let bytes = 0;
  for (const day of await listPartitionDays(dir)) {
    if (day >= keepFrom) continue; // YYYY-MM-DD compares like dates
    const file = partitionPath(dir, day);
    try {
      const { size } = await fs.promises.stat(file);
      await fs.promises.unlink(file);
      bytes += size;
      deleted.push(day);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (deleted.length > 0) log?.info({ deleted, bytes, keepFrom }, 'datalake retention deleted old partitions');
  return { deleted, bytes, keepFrom };
}
