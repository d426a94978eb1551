/**
 * Start-up repair: makes every finished attempt appear exactly once in the datalake after a crash.
 * Run it before the writer starts and before the server accepts traffic (nothing else may append).
 *
 * 1. Every partition: cut a torn last line (a crash mid-append), remove temp files of a crashed rewrite.
 * 2. The checked days (the newest `recentDays` days known to the files or the store, every partition
 *    with DATALAKE_VERIFY=all, and every day the outbox still has unwritten rows for): scan resultIds,
 *    rewrite the file without later copies of a duplicated id, append results the store has for that
 *    day but the file lacks (in seq order).
 * 3. Drain the outbox: rows whose line is already in its partition (crash between append and
 *    markWritten) are only marked written; the others are appended, then marked.
 * Days outside these sets are only tail-checked, which keeps a clean start-up cheap.
 */
import fs from 'node:fs';
import type { Logger } from '../core/logger';
import type { ResultLine } from '../core/types';
import { appendToPartition } from './append';
import { formatLine } from './line-format';
import { cutTornTail, removeTempFiles, rewriteWithout } from './partition-fix';
import { collectIds, scanPartition } from './partition-scan';
import { dayOf, listPartitionDays, partitionPath } from './paths';
import type { OutboxRecord, OutboxSource } from './types';

export type VerifyMode = 'recent' | 'all';

/**
 * An optional capability of the source: how many results the store has for a day. When it equals the
 * number of distinct resultIds in the partition, nothing can be missing (every line comes from a
 * store row), and repair skips resultsForDay(), which would load the whole day into memory.
 */
export interface CountingOutboxSource extends OutboxSource {
  countForDay(day: string): Promise<number>;
}

function canCount(s: OutboxSource): s is CountingOutboxSource {
  return typeof (s as Partial<CountingOutboxSource>).countForDay === 'function';
}

export interface RepairOptions {
  /** 'recent' (default): full scan of the newest days and those with unwritten rows; 'all': every partition. */
  verify?: VerifyMode;
  /** How many of the newest days get a full scan in 'recent' mode (default 2). */
  recentDays?: number;
  /** Outbox rows per step (default 1000). */
  batchSize?: number;
}

export interface RepairReport {
  partitions: number;
  /** Partitions whose every line was read (resultIds compared with the store). */
  partitionsScanned: number;
  tornTailsCut: number;
  tornBytesCut: number;
  duplicatesDropped: number;
  /** Lines the store had for a scanned day that the partition lacked. */
  missingAppended: number;
  /** Unwritten outbox rows whose line was already there: marked written, not appended again. */
  outboxMarkedOnly: number;
  /** Unwritten outbox rows appended by the repair. */
  outboxAppended: number;
  malformedLines: number;
  tempFilesRemoved: number;
  durationMs: number;
}

export async function repairDatalake(
  dir: string,
  source: OutboxSource,
  log: Logger,
  opts: RepairOptions = {},
): Promise<RepairReport> {
  const started = Date.now();
  const verify = opts.verify ?? 'recent';
  const recentDays = opts.recentDays ?? 2;
  const batchSize = opts.batchSize ?? 1000;
  const report: RepairReport = {
    partitions: 0,
    partitionsScanned: 0,
    tornTailsCut: 0,
    tornBytesCut: 0,
    duplicatesDropped: 0,
    missingAppended: 0,
    outboxMarkedOnly: 0,
    outboxAppended: 0,
    malformedLines: 0,
    tempFilesRemoved: 0,
    durationMs: 0,
  };
  await fs.promises.mkdir(dir, { recursive: true });
  report.tempFilesRemoved = await removeTempFiles(dir);

  const fileDays = await listPartitionDays(dir);
  report.partitions = fileDays.length;
  for (const day of fileDays) {
    const cut = await cutTornTail(partitionPath(dir, day));
    if (cut > 0) {
      report.tornTailsCut++;
      report.tornBytesCut += cut;
      log.warn({ day, bytes: cut }, 'datalake: cut a torn last line');
    }
  }

  // Days checked so far; after the check every store result of such a day is in its file.
  const scanned = new Map<string, DayIndex>();
  const verifyDay = async (day: string): Promise<DayIndex> => {
    const known = scanned.get(day);
    if (known) return known;
    const index = await checkPartition(dir, day, source, log, report);
    scanned.set(day, index);
    return index;
  };

  const storeDays = await source.days();
  const union = [...new Set([...fileDays, ...storeDays])].sort();
  const toCheck = new Set(union.slice(-recentDays));
  if (verify === 'all') for (const d of fileDays) toCheck.add(d);
  for (const day of [...toCheck].sort()) {
    await verifyDay(day);
    // In 'all' mode keep memory bounded: the outbox step scans a released day again if it needs it.
    const index = scanned.get(day);
    if (verify === 'all' && index && !index.complete && !union.slice(-recentDays).includes(day)) scanned.delete(day);
  }

  const seen = new Set<number>();
  for (;;) {
    const records = await source.fetchUnwritten(batchSize);
    if (records.length === 0) break;
    const toAppend = new Map<string, OutboxRecord[]>();
    for (const r of records) {
      if (seen.has(r.seq)) throw new Error(`outbox row ${r.seq} is still unwritten after markWritten`);
      seen.add(r.seq);
      const day = dayOf(r.line.finishedAt);
      const index = await verifyDay(day);
      // An outbox row is a store row of its day, so a complete day has its line already.
      if (index.complete || index.ids.has(r.line.resultId)) {
        report.outboxMarkedOnly++;
        continue;
      }
      index.ids.add(r.line.resultId);
      const group = toAppend.get(day);
      if (group) group.push(r);
      else toAppend.set(day, [r]);
    }
    for (const [day, group] of toAppend) {
      await appendToPartition(dir, day, Buffer.from(group.map((r) => formatLine(r.line)).join(''), 'utf8'));
      report.outboxAppended += group.length;
    }
    await source.markWritten(records.map((r) => r.seq));
    if (records.length < batchSize) break;
  }

  report.durationMs = Date.now() - started;
  const repaired =
    report.tornTailsCut +
    report.duplicatesDropped +
    report.missingAppended +
    report.outboxMarkedOnly +
    report.outboxAppended;
  log[repaired > 0 ? 'warn' : 'info']({ ...report, verify }, repaired > 0 ? 'datalake repaired' : 'datalake verified');
  return report;
}

/**
 * What repair knows about a checked day: either every result the store has for it is in the file
 * (`complete`: the number of distinct ids equals the store's count, and every line comes from a
 * store row), or the exact set of ids in the file.
 */
type DayIndex = { complete: true } | { complete: false; ids: Set<string> };

/** Full check of one day: drop duplicated lines, append what the store has and the file lacks. */
async function checkPartition(
  dir: string,
  day: string,
  source: OutboxSource,
  log: Logger,
  report: RepairReport,
): Promise<DayIndex> {
  const file = partitionPath(dir, day);
  const exists = fs.existsSync(file);
  let distinct = 0;
  if (exists) {
    const scan = await scanPartition(file);
    report.partitionsScanned++;
    report.malformedLines += scan.malformed;
    if (scan.malformed > 0)
      log.warn({ day, lines: scan.malformed }, 'datalake: lines that are not results were kept as they are');
    if (scan.duplicates.length > 0) {
      await rewriteWithout(file, scan.duplicates);
      report.duplicatesDropped += scan.duplicates.length;
      log.warn({ day, lines: scan.duplicates.length }, 'datalake: dropped duplicated lines');
    }
    distinct = scan.distinct;
  }
  let results: ResultLine[] | null = null;
  const count = canCount(source) ? await source.countForDay(day) : (results = await source.resultsForDay(day)).length;
  if (count === distinct) return { complete: true };

  results ??= await source.resultsForDay(day);
  const ids = exists ? await collectIds(file) : new Set<string>();
  const missing = results.filter((r) => !ids.has(r.resultId));
  if (missing.length > 0) {
    await appendToPartition(dir, day, Buffer.from(missing.map((r) => formatLine(r)).join(''), 'utf8'));
    for (const r of missing) ids.add(r.resultId);
    report.missingAppended += missing.length;
    log.warn({ day, lines: missing.length }, 'datalake: appended lines the store had and the partition lacked');
  }
  return { complete: false, ids };
}
