/**
 * The contract between the store (which keeps the outbox: result rows committed with the job's final
 * state) and the datalake writer (which appends them to NDJSON partitions).
 */
import type { ResultLine } from '../core/types';

export interface OutboxRecord {
  /** Monotonic sequence of the result row; the order lines are appended in. */
  seq: number;
  line: ResultLine;
}

export interface OutboxSource {
  /** Results not yet marked written, oldest (lowest seq) first, at most `limit`. */
  fetchUnwritten(limit: number): Promise<OutboxRecord[]>;
  /** Marks these results as appended and fsynced. */
  markWritten(seqs: number[]): Promise<void>;
  /** Every result of one UTC day (YYYY-MM-DD of finishedAt), ordered by seq: used to repair a partition. */
  resultsForDay(day: string): Promise<ResultLine[]>;
  /** UTC days that have results in the store, oldest first. */
  days(): Promise<string[]>;
}
